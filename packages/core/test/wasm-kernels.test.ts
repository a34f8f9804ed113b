import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain .mjs build script, no types
import { compileKernel } from '../scripts/build-kernels.mjs';
import { batchMatMul, initBackend, sumLeading, transpose2d } from '../src/index.js';
import { hasWasmKernels, WASM_BATCH_MATMUL, WASM_TRANSPOSE_2D } from '../src/kernels/wasm-kernels.js';

// core's SIMD kernel against TF.js's own BatchMatMul (a scalar loop on wasm, but exact).
const run = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) =>
  tf.engine().runKernel(WASM_BATCH_MATMUL, { a, b }, { transposeA, transposeB }) as tf.Tensor;
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0]!);

describe("core's wasm kernels", () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is registered on wasm (SIMD) and used by batchMatMul', () => {
    expect(hasWasmKernels()).toBe(true);
    const a = tf.ones([2, 4, 3]);
    const b = tf.ones([2, 3, 8]);
    const profileKernels: string[] = [];
    return tf
      .profile(() => batchMatMul(a, b))
      .then((p) => {
        for (const k of p.kernels) profileKernels.push(k.name);
        expect(profileKernels).toContain(WASM_BATCH_MATMUL);
        expect(profileKernels).not.toContain('BatchMatMul');
      });
  });

  it('equals tf.matMul for every flag pair and for sizes off the 4x8 tile', () => {
    // (batch, M, K, N): tile-aligned, ragged M and N, single row / column / inner dim.
    const shapes = [
      [3, 8, 16, 8],
      [2, 5, 7, 9],
      [1, 1, 32, 64],
      [4, 64, 1, 3],
      [2, 13, 64, 1],
      [64, 64, 32, 64],
    ] as const;
    let seed = 1;
    for (const [n, m, k, s] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          tf.tidy(() => {
            const a = tf.randomNormal(tA ? [n, k, m] : [n, m, k], 0, 1, 'float32', seed++);
            const b = tf.randomNormal(tB ? [n, s, k] : [n, k, s], 0, 1, 'float32', seed++);
            const got = run(a, b, tA, tB);
            expect(got.shape).toEqual([n, m, s]);
            expect(maxDiff(got, tf.matMul(a, b, tA, tB))).toBeLessThan(1e-4);
          });
        }
      }
    }
  });

  it('gradients of batchMatMul equal tf.matMul gradients (plain and transposeB, rank 4)', () => {
    const a = tf.randomNormal([2, 3, 17, 5], 0, 1, 'float32', 8);
    const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 9);
    const c = tf.randomNormal([2, 3, 6, 5], 0, 1, 'float32', 10);
    for (const [y, tB] of [
      [b, false],
      [c, true],
    ] as const) {
      const w = tf.randomNormal([2, 3, 17, 6], 0, 1, 'float32', 11);
      const fast = tf.grads((p, q) => batchMatMul(p, q, tB).mul(w).sum())([a, y]);
      const ref = tf.grads((p, q) => tf.matMul(p, q, false, tB).mul(w).sum())([a, y]);
      fast.forEach((g, i) => {
        expect(g.shape).toEqual(ref[i]!.shape);
        expect(maxDiff(g, ref[i]!)).toBeLessThan(1e-4);
      });
    }
  });

  it('adds a bias to every row; its gradient is the column sum of dy', () => {
    const a = tf.randomNormal([3, 5, 7], 0, 1, 'float32', 21);
    const b = tf.randomNormal([3, 7, 9], 0, 1, 'float32', 22);
    const bias = tf.randomNormal([9], 0, 1, 'float32', 23);
    const w = tf.randomNormal([3, 5, 9], 0, 1, 'float32', 24);
    const kernel = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
      tf
        .engine()
        .runKernel(
          WASM_BATCH_MATMUL,
          { a: p, b: q, bias: r },
          { transposeA: false, transposeB: false },
        ) as tf.Tensor;
    expect(maxDiff(kernel(a, b, bias), tf.matMul(a, b).add(bias))).toBeLessThan(1e-4);
    const fast = tf.grads((p, q, r) => kernel(p, q, r).mul(w).sum())([a, b, bias]);
    const ref = tf.grads((p, q, r) => tf.matMul(p, q).add(r).mul(w).sum())([a, b, bias]);
    fast.forEach((g, i) => {
      expect(maxDiff(g, ref[i]!)).toBeLessThan(1e-4);
    });
  });

  it('leaves no tensors behind, forward and backward', () => {
    const a = tf.randomNormal([4, 9, 8]);
    const b = tf.randomNormal([4, 11, 8]);
    const step = () => tf.tidy(() => tf.grads((p, q) => batchMatMul(p, q, true).sum())([a, b]));
    tf.dispose(step());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('transpose2d equals tf.transpose and runs the kernel; sumLeading equals sum over leading axes', async () => {
    for (const [r, c] of [
      [1, 1],
      [3, 7],
      [1024, 128],
      [65, 1],
    ] as const) {
      const x = tf.randomNormal([r, c], 0, 1, 'float32', r + c);
      expect(maxDiff(transpose2d(x as tf.Tensor2D), tf.transpose(x))).toBe(0);
      const y = tf.randomNormal([2, r, c], 0, 1, 'float32', r * c);
      expect(maxDiff(sumLeading(y), y.sum([0, 1]))).toBeLessThan(1e-3);
    }
    const p = await tf.profile(() => transpose2d(tf.ones([4, 5])));
    expect(p.kernels.map((k) => k.name)).toContain(WASM_TRANSPOSE_2D);
  });

  it('clone shares the buffer (tensors are immutable) and disposing one keeps the other', () => {
    const x = tf.tensor([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
  });

  it('rejects operands whose leading dims differ', () => {
    expect(() => batchMatMul(tf.ones([2, 8, 4]), tf.ones([3, 4, 5]))).toThrow(/leading dims/);
  });

  it('committed bytes match matmul.wat (scripts/build-kernels.mjs)', async () => {
    const committed = readFileSync(join(__dirname, '..', 'src', 'kernels', 'matmul.wasm.ts'), 'utf8');
    expect(await compileKernel('matmul.wat')).toBe(committed);
  });
});
