import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_MATMUL, batchMatMul, TRANSPOSE_2D, type WasmRuntime, WasmRuntimeError } from '../src/index.js';
import { startWasm } from './setup.js';

// The runtime alone, on TF.js's wasm backend, with no @transformer-kit package: what a user of only this
// package (or core's adapter) gets.

let runtime: WasmRuntime;
beforeAll(async () => {
  runtime = await startWasm();
});
afterAll(async () => {
  await runtime.setThreads(1);
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0]!);

describe('WasmRuntime', () => {
  it('registers its kernels on the current wasm backend and says which build runs', async () => {
    expect(runtime.active).toBe(true);
    expect(runtime.unavailable).toBe('');
    expect(['relaxed-simd', 'simd']).toContain(runtime.variant);
    expect(tf.getKernel(BATCH_MATMUL, 'wasm')).toBeDefined();
    expect(tf.getKernel(TRANSPOSE_2D, 'wasm')).toBeDefined();
    // Registering again is a no-op, not a second registration.
    expect(await runtime.register()).toBe(true);
  });

  it('its products equal tf.matMul for every flag pair, with a bias, and leave no tensors', () => {
    const before = tf.memory().numTensors;
    let seed = 1;
    for (const [n, m, k, s] of [
      [2, 5, 7, 9],
      [1, 1, 32, 64],
      [3, 33, 40, 50],
    ] as const) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          tf.tidy(() => {
            const a = tf.randomNormal(tA ? [n, k, m] : [n, m, k], 0, 1, 'float32', seed++);
            const b = tf.randomNormal(tB ? [n, s, k] : [n, k, s], 0, 1, 'float32', seed++);
            const bias = tf.randomNormal([s], 0, 1, 'float32', seed++);
            const got = batchMatMul(a, b, tA, tB, bias);
            expect(got.shape).toEqual([n, m, s]);
            expect(maxDiff(got, tf.matMul(a, b, tA, tB).add(bias))).toBeLessThan(1e-4);
          });
        }
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('its fused table computes the reference formulas and declines shapes its SIMD cannot take', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([6, 12], 0, 1, 'float32', 7);
      const cdf = x.div(Math.SQRT2).erf().add(1).mul(0.5);
      expect(maxDiff(runtime.fused.gelu('erf', x), x.mul(cdf))).toBeLessThan(1e-5);
      const [g, b] = [tf.ones([12]), tf.zeros([12])];
      const [y] = runtime.fused.layerNorm(x, g, b, 1e-5)!;
      const { mean, variance } = tf.moments(x, -1, true);
      expect(maxDiff(y!, x.sub(mean).div(variance.add(1e-5).sqrt()))).toBeLessThan(1e-4);
      // Rows of 6 floats are not a multiple of the vector width: declined, the caller composes TF.js ops.
      expect(runtime.fused.layerNorm(x.reshape([12, 6]), tf.ones([6]), tf.zeros([6]), 1e-5)).toBeUndefined();
      expect(runtime.fused.sumSquares(x).dataSync()[0]).toBeCloseTo(x.square().sum().dataSync()[0]!, 3);
    });
  });

  it('AdamW updates the host moments in place and returns the new parameters', () => {
    const p = tf.tensor1d([0.5, -1, 2, 0.25, 3]);
    const g = tf.tensor1d([1, -2, 0.5, 3, -1]);
    const [m, v] = [new Float32Array(5), new Float32Array(5)];
    const k = {
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      stepSize: 0.1 / 0.1,
      sqrtBc2: Math.sqrt(0.001),
      gradScale: 1,
      decayFactor: 1,
    };
    const next = runtime.fused.adamWHost(p, g, m, v, k);
    // First step: m = 0.1 g, v = 0.001 g², and each weight moves by lr against its gradient's sign.
    for (const [i, want] of [0.1, -0.2, 0.05, 0.3, -0.1].entries()) expect(m[i]).toBeCloseTo(want, 6);
    for (const [i, g2] of [1, 4, 0.25, 9, 1].entries()) expect(v[i]).toBeCloseTo(0.001 * g2, 6);
    const got = Array.from(next.dataSync());
    for (const [i, want] of [0.4, -0.9, 1.9, 0.15, 3.1].entries()) expect(got[i]).toBeCloseTo(want, 5);
    tf.dispose([p, g, next]);
  });

  it('on two threads gives bitwise the same products as on one', async () => {
    const a = tf.randomNormal([1, 256, 384], 0, 1, 'float32', 11);
    const b = tf.randomNormal([1, 384, 512], 0, 1, 'float32', 12);
    const one = batchMatMul(a, b, false, false);
    expect(await runtime.setThreads(2)).toBe(2);
    expect(runtime.threads).toBe(2);
    const two = batchMatMul(a, b, false, false);
    expect(Array.from(two.dataSync())).toEqual(Array.from(one.dataSync()));
    expect(await runtime.setThreads(1)).toBe(1);
    tf.dispose([a, b, one, two]);
  });

  it('heapView is the tensor on the heap; a TF.js whose view were a copy gets undefined, never a copy', () => {
    const t = tf.zeros([4]);
    const view = runtime.heapView(t)!;
    view[2] = 5;
    expect(Array.from(t.dataSync())).toEqual([0, 0, 5, 0]);
    const backend = tf.backend() as unknown as { typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
    const fromHeap = backend.typedArrayFromHeap;
    backend.typedArrayFromHeap = function (this: unknown, info: tf.TensorInfo) {
      return fromHeap.call(this, info).slice();
    };
    try {
      expect(runtime.heapView(t)).toBeUndefined();
    } finally {
      backend.typedArrayFromHeap = fromHeap;
    }
    expect(runtime.heapView(tf.tensor1d([1], 'int32'))).toBeUndefined();
    t.dispose();
  });
});

describe('the heap guard', () => {
  it('counts live bytes, and past the budget raises its own branded error before anything is written', () => {
    const stats = runtime.heapStats()!;
    expect(stats.liveBytes).toBeGreaterThan(0); // the kernels' scratch at least
    const x = tf.zeros([1024]);
    expect(runtime.heapStats()!.liveBytes).toBeGreaterThanOrEqual(stats.liveBytes + 4096);
    const previous = runtime.heap.setBudget(runtime.heapStats()!.liveBytes + 1024);
    try {
      const before = tf.memory().numTensors;
      let err: unknown;
      try {
        tf.tidy(() => x.add(1));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WasmRuntimeError);
      expect((err as WasmRuntimeError).code).toBe('OUT_OF_MEMORY');
      expect((err as WasmRuntimeError).details?.requested).toBe(4096);
      expect((err as Error).message).toMatch(/wasm heap full: a 0 MB tensor does not fit/);
      // The brand core's TransformerKitError recognises (this package imports no core).
      expect((err as Record<symbol, unknown>)[Symbol.for('transformer-kit.error')]).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      runtime.heap.setBudget(previous);
    }
    expect(Array.from(x.add(1).dataSync().slice(0, 2))).toEqual([1, 1]);
    x.dispose();
  });
});
