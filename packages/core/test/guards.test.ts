import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostView } from '../src/backend/host-memory.js';
import { wasmRuntime } from '../src/backend/wasm-runtime.js';
import { AdamW, crossEntropy, initBackend, TESTED_TFJS_MINOR, tfjsVersionMismatch } from '../src/index.js';

// core's guards around TF.js internals, with the conditions they guard against faked on cpu.

beforeAll(async () => {
  await initBackend('cpu');
});

describe('tfjsVersionMismatch', () => {
  it('accepts every patch of the tested minor, names anything else', () => {
    expect(TESTED_TFJS_MINOR).toBe('4.22');
    expect(tfjsVersionMismatch()).toBeUndefined(); // the installed TF.js is the tested one
    expect(tfjsVersionMismatch('4.22.0')).toBeUndefined();
    expect(tfjsVersionMismatch('4.22.7')).toBeUndefined();
    expect(tfjsVersionMismatch('4.23.0')).toBe('TF.js 4.23.0 is not the tested 4.22.x');
    expect(tfjsVersionMismatch('5.22.0')).toMatch(/5\.22\.0 is not the tested/);
    expect(tfjsVersionMismatch('4.2.20')).toMatch(/not the tested/);
    expect(tfjsVersionMismatch('garbage')).toMatch(/TF.js garbage is not the tested/);
  });
});

describe('guardWasmHeap', () => {
  it('does not attach to a backend without emscripten _malloc/_free, and says so', () => {
    // The cpu backend has no emscripten module: the stand-in for a wasm module whose exports changed.
    expect(wasmRuntime.guardHeap()).toBe("the heap guard found no _malloc/_free on TF.js's wasm module");
  });
});

/** Makes the cpu backend's reads (dataSync) return copies until restored. */
function fakeCopyingReads(): () => void {
  const backend = tf.backend() as unknown as { readSync(id: tf.DataId): Float32Array };
  const readSync = backend.readSync;
  backend.readSync = function (this: unknown, id: tf.DataId) {
    return readSync.call(this, id).slice();
  };
  return () => {
    backend.readSync = readSync;
  };
}

/**
 * Makes the cpu backend's store give a copy of a tensor's values on every read of an entry's `values` (a
 * TF.js that changed how it keeps them); writes to the entry still land.
 */
function fakeCopyingStore(): () => void {
  const data = (tf.backend() as unknown as { data: { get(id: tf.DataId): object | undefined } }).data;
  const get = data.get;
  data.get = function (this: unknown, id: tf.DataId) {
    const entry = get.call(this, id);
    if (!entry) return entry;
    return new Proxy(entry, {
      get: (target, key) => {
        const value = Reflect.get(target, key);
        return key === 'values' && value instanceof Float32Array ? value.slice() : value;
      },
    });
  };
  return () => {
    data.get = get;
  };
}

/** Two AdamW steps on [w, b] with fixed gradients; returns the parameters after. */
function twoSteps(): Float32Array[] {
  const init = [tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]), tf.tensor1d([0.1, -0.2])] as const;
  const w = tf.variable(init[0], true, 'w');
  const b = tf.variable(init[1], true, 'b');
  const opt = new AdamW(
    [
      ['w', w],
      ['b', b],
    ],
    { lr: 0.1, weightDecay: 0.01 },
  );
  const grads = { w: tf.tensor2d([1, -2, 0.5, 3], [2, 2]), b: tf.tensor1d([-1, 0.5]) };
  opt.step(grads);
  opt.step(grads);
  const out = [w.dataSync().slice() as Float32Array, b.dataSync().slice() as Float32Array];
  tf.dispose([...init, w, b, grads.w, grads.b]);
  opt.dispose();
  return out;
}

describe('hostView on cpu', () => {
  let restore: (() => void)[] = [];
  afterEach(() => {
    for (const r of restore) r();
    restore = [];
  });

  it("is the backend's own array: a write reaches the tensor, also where reads return copies", () => {
    const t = tf.zeros([3]);
    hostView(t)![1] = 7;
    expect(Array.from(t.dataSync())).toEqual([0, 7, 0]);
    // Read through the backend's data map, not dataSync(): copying reads do not change what it writes to.
    restore.push(fakeCopyingReads());
    hostView(t)![2] = 5;
    expect(Array.from(t.dataSync())).toEqual([0, 7, 5]);
    t.dispose();
  });

  it('is undefined where the store hands out copies or has no data map, so nobody writes into a copy', () => {
    const t = tf.zeros([3]);
    restore.push(fakeCopyingStore());
    expect(hostView(t)).toBeUndefined();
    restore.pop()!();
    const backend = tf.backend() as unknown as { data: unknown };
    const data = backend.data;
    backend.data = undefined;
    restore.push(() => {
      backend.data = data;
    });
    expect(hostView(t)).toBeUndefined();
    restore.pop()!();
    t.dispose();
  });

  it('AdamW on cpu gives the same numbers through a fresh tensor when the store hands out copies, without leaking', () => {
    const before = tf.memory().numTensors;
    const expected = twoSteps();
    expect(tf.memory().numTensors).toBe(before);
    // Sanity: the steps moved the parameters.
    expect(expected[0]![0]).not.toBeCloseTo(0.5, 3);
    for (const fake of [fakeCopyingStore, fakeCopyingReads]) {
      restore.push(fake());
      const got = twoSteps();
      expect(tf.memory().numTensors).toBe(before);
      for (const [i, g] of got.entries()) {
        for (const [j, x] of g.entries()) expect(x).toBeCloseTo(expected[i]![j]!, 6);
      }
      restore.pop()!();
    }
  });

  it('subtractAt (cross-entropy backward, in place) gives the same gradient where reads return copies', () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0.5, -1, 2],
    ]);
    const targets = tf.tensor1d([2, 0], 'int32');
    const grad = () => {
      const g = tf.grad((x: tf.Tensor) => crossEntropy(x, targets))(logits);
      const out = Array.from(g.dataSync());
      g.dispose();
      return out;
    };
    const expected = grad();
    // softmax − onehot over the 2 rows: the target entries are negative.
    expect(expected[2]!).toBeLessThan(0);
    expect(expected[3]!).toBeLessThan(0);
    restore.push(fakeCopyingReads());
    expect(grad()).toEqual(expected);
    tf.dispose([logits, targets]);
  });
});
