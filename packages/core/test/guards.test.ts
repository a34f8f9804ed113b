import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostView } from '../src/backend/host-memory.js';
import { guardWasmHeap } from '../src/backend/wasm-heap.js';
import { AdamW, initBackend, TESTED_TFJS_MINOR, tfjsVersionMismatch } from '../src/index.js';

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
    expect(guardWasmHeap()).toBe("the heap guard found no _malloc/_free on TF.js's wasm module");
  });
});

/** Makes the cpu backend's reads return copies (what a future TF.js might do) until restored. */
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
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  it("is the backend's own array: a write reaches the tensor", () => {
    const t = tf.zeros([3]);
    const view = hostView(t)!;
    view[1] = 7;
    expect(Array.from(t.dataSync())).toEqual([0, 7, 0]);
    t.dispose();
  });

  it('is undefined where reads return copies, so nobody writes into one', () => {
    restore = fakeCopyingReads();
    const t = tf.zeros([3]);
    expect(hostView(t)).toBeUndefined();
    t.dispose();
  });

  it('AdamW on cpu keeps updating (same numbers) when reads return copies, without leaking', () => {
    const before = tf.memory().numTensors;
    const expected = twoSteps();
    expect(tf.memory().numTensors).toBe(before);
    // Sanity: the steps moved the parameters.
    expect(expected[0]![0]).not.toBeCloseTo(0.5, 3);
    restore = fakeCopyingReads();
    const got = twoSteps();
    expect(tf.memory().numTensors).toBe(before);
    for (const [i, g] of got.entries()) {
      for (const [j, x] of g.entries()) expect(x).toBeCloseTo(expected[i]![j]!, 6);
    }
  });
});
