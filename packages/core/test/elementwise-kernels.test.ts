import * as tf from '@tensorflow/tfjs';
import {
  keepMask,
  dropout as wasmDropout,
  dropoutMask as wasmDropoutMask,
  expShift as wasmExpShift,
  gelu as wasmGelu,
  layerNorm as wasmLayerNorm,
  layerNormGrad as wasmLayerNormGrad,
  logSumExp as wasmLogSumExp,
  sumSquares as wasmSumSquares,
} from '@transformer-kit/backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  crossEntropy,
  dropout,
  gelu,
  geluTanh,
  globalNorm,
  initBackend,
  kernelThreads,
  layerNorm,
  setKernelThreads,
} from '../src/index.js';

// core's element-wise kernels on wasm (@transformer-kit/backend-wasm) against the same formulas in TF.js's own kernels, and with one
// thread against two. Sizes off the vector width (tails) and big enough to split over threads.

/** Largest difference relative to the reference's largest magnitude (at least 1). */
const relDiff = (a: tf.Tensor, ref: tf.Tensor) =>
  tf.tidy(() => tf.max(tf.abs(a.sub(ref))).dataSync()[0]! / Math.max(1, tf.max(tf.abs(ref)).dataSync()[0]!));
const C = Math.sqrt(2 / Math.PI);
const A = 0.044715;
const cdf = (x: tf.Tensor) => tf.erf(x.mul(Math.SQRT1_2)).add(1).mul(0.5);
const tanhGate = (x: tf.Tensor) =>
  tf
    .tanh(x.add(x.pow(3).mul(A)).mul(C))
    .add(1)
    .mul(0.5);
/** Values over the range activations take, the far tails and exact zeros. */
const values = (n: number, seed: number) =>
  tf.tidy(() => tf.randomNormal([n], 0, 3, 'float32', seed).concat(tf.tensor1d([0, -0, 12, -12, 40, -40])));

describe("core's element-wise kernels (wasm)", () => {
  beforeAll(async () => {
    await initBackend('wasm', { threads: 2 });
  });
  afterAll(async () => {
    await setKernelThreads(1);
  });

  it('GELU, both forms, and their gradients equal the formulas within 1e-5', () => {
    for (const n of [1, 7, 4099, 40001]) {
      tf.tidy(() => {
        const x = values(n, n);
        const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 2 * n);
        const dcdf = x
          .square()
          .mul(-0.5)
          .exp()
          .mul(1 / Math.sqrt(2 * Math.PI));
        const s = tanhGate(x);
        const checks: [tf.Tensor, tf.Tensor][] = [
          [wasmGelu('erf', x), x.mul(cdf(x))],
          [wasmGelu('erfGrad', x, dy), dy.mul(cdf(x).add(x.mul(dcdf)))],
          [wasmGelu('tanh', x), x.mul(s)],
          [
            wasmGelu('tanhGrad', x, dy),
            dy.mul(
              s.add(
                x
                  .mul(s)
                  .mul(tf.sub(1, s))
                  .mul(
                    x
                      .square()
                      .mul(6 * A * C)
                      .add(2 * C),
                  ),
              ),
            ),
          ],
        ];
        for (const [ours, ref] of checks) {
          expect(relDiff(ours, ref)).toBeLessThan(1e-5);
          expect(ours.isNaN().any().dataSync()[0]).toBe(0);
        }
      });
    }
  });

  it('LayerNorm and its input gradient equal the formulas within 1e-5; rows not a multiple of 4 fall back', () => {
    for (const [rows, d] of [
      [3, 8],
      [129, 768],
    ] as const) {
      tf.tidy(() => {
        const x = tf.randomNormal([rows, d], 2, 3, 'float32', rows);
        const gamma = tf.randomNormal([d], 1, 0.5, 'float32', 1);
        const beta = tf.randomNormal([d], 0, 0.5, 'float32', 2);
        const dy = tf.randomNormal([rows, d], 0, 1, 'float32', 3);
        const [y, xhat, rstd] = wasmLayerNorm(x, gamma, beta, 1e-12) as [tf.Tensor, tf.Tensor, tf.Tensor];
        const { mean, variance } = tf.moments(x, -1, true);
        const refRstd = variance.add(1e-12).rsqrt();
        const refXhat = x.sub(mean).mul(refRstd);
        expect(relDiff(rstd, refRstd)).toBeLessThan(1e-5);
        expect(relDiff(xhat, refXhat)).toBeLessThan(1e-5);
        expect(relDiff(y, refXhat.mul(gamma).add(beta))).toBeLessThan(1e-5);
        const g = dy.mul(gamma);
        const refDx = g
          .sub(g.mean(-1, true))
          .sub(refXhat.mul(g.mul(refXhat).mean(-1, true)))
          .mul(refRstd);
        expect(relDiff(wasmLayerNormGrad(dy, xhat, gamma, rstd), refDx)).toBeLessThan(1e-5);
      });
    }
    // The op: d = 6 takes TF.js's kernels, d = 8 core's; both give the formula.
    for (const d of [6, 8]) {
      tf.tidy(() => {
        const x = tf.randomNormal([5, d], 0, 1, 'float32', d);
        const { mean, variance } = tf.moments(x, -1, true);
        const ref = x.sub(mean).mul(variance.add(1e-5).rsqrt());
        expect(relDiff(layerNorm(x, tf.ones([d]), tf.zeros([d])), ref)).toBeLessThan(1e-5);
      });
    }
  });

  it("cross-entropy's log-sum-exp and scaled softmax equal float64 within 2e-6; e^-∞ is exactly 0", () => {
    for (const [rows, v] of [
      [3, 7],
      [9, 50257],
    ] as const) {
      tf.tidy(() => {
        const x = tf.randomNormal([rows, v], 0, 4, 'float32', v) as tf.Tensor2D;
        const shift = tf.randomNormal([rows, 1], 10, 2, 'float32', 1) as tf.Tensor2D;
        const xs = x.arraySync();
        const shifts = shift.dataSync();
        const lse = wasmLogSumExp(x).dataSync();
        const scaled = wasmExpShift(x, shift).dataSync();
        xs.forEach((row, r) => {
          const max = Math.max(...row);
          let sum = 0;
          for (const q of row) sum += Math.exp(q - max);
          // (TF.js's logSumExp, a float32 sum, is ~1e-4 off at this vocabulary.)
          expect(Math.abs(lse[r]! - (max + Math.log(sum)))).toBeLessThan(
            2e-6 * Math.abs(max + Math.log(sum)),
          );
          row.forEach((q, j) => {
            const ref = Math.exp(Math.fround(q - shifts[r]!));
            expect(Math.abs(scaled[r * v + j]! - ref)).toBeLessThanOrEqual(2e-6 * ref);
          });
        });
        // A skipped row (scale 0: shift +∞) gets exactly 0.
        const skipped = wasmExpShift(x, tf.fill([rows, 1], Number.POSITIVE_INFINITY) as tf.Tensor2D);
        expect(skipped.abs().max().dataSync()[0]).toBe(0);
      });
    }
  });

  it("dropout's mask is keepMask's (the hash every backend makes) on one thread and two, keeps 1 − rate, and its apply is exactly compare-and-select", async () => {
    for (const [n, seed, rate] of [
      [5, 0, 0.1],
      [4097, 123456789, 0.5],
      [50003, 2 ** 40 + 7, 0.9],
    ] as const) {
      tf.tidy(() => {
        const ref = Array.from(keepMask(n, rate, seed));
        const keep = wasmDropoutMask([n], rate, seed);
        expect(keep.dtype).toBe('bool');
        expect(Array.from(keep.dataSync())).toEqual(ref);
        const kept = ref.reduce((a, b) => a + b, 0) / n;
        expect(Math.abs(kept - (1 - rate))).toBeLessThan(4 * Math.sqrt((rate * (1 - rate)) / n) + 1e-9);
        const x = tf.randomNormal([n], 0, 1, 'float32', n + 1);
        const expected = tf.where(keep, x.mul(1 / (1 - rate)), tf.zerosLike(x));
        expect(Array.from(wasmDropout(x, keep, 1 / (1 - rate)).dataSync())).toEqual(
          Array.from(expected.dataSync()),
        );
      });
    }
    await setKernelThreads(1);
    const one = wasmDropoutMask([50003], 0.9, 2 ** 40 + 7);
    expect(Array.from(one.dataSync())).toEqual(Array.from(keepMask(50003, 0.9, 2 ** 40 + 7)));
    one.dispose();
    await setKernelThreads(2);
    // Another seed, another mask; a bad rate or seed is refused.
    expect(Array.from(keepMask(4097, 0.5, 1))).not.toEqual(Array.from(keepMask(4097, 0.5, 2)));
    expect(() => keepMask(3, 1, 1)).toThrow(RangeError);
    expect(() => keepMask(3, 0.1, -1)).toThrow(RangeError);
  });

  it('give bitwise the same results on one thread and two, as ops with gradients (ignored targets too)', async () => {
    expect(kernelThreads()).toBe(2);
    const x = tf.randomNormal([97, 768], 0, 2, 'float32', 7);
    const gamma = tf.randomNormal([768], 1, 0.5, 'float32', 8);
    const beta = tf.randomNormal([768], 0, 0.5, 'float32', 9);
    const run = () =>
      tf.tidy(() => {
        const targets = tf.tensor1d(
          Array.from({ length: 97 }, (_, i) => (i % 5 === 4 ? -100 : (i * 37) % 768)),
          'int32',
        );
        const f = (t: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          crossEntropy(dropout(geluTanh(gelu(layerNorm(t, g, b))), 0.1, true, 42), targets);
        const [dx, dg, db] = tf.grads(f)([x, gamma, beta]);
        return [f(x, gamma, beta), dx!, dg!, db!];
      });
    const two = run();
    await setKernelThreads(1);
    const one = run();
    await setKernelThreads(2);
    for (const [i, t] of two.entries()) expect(t.dataSync()).toEqual(one[i]!.dataSync());
    tf.dispose([...one, ...two, x, gamma, beta]);
  });

  it('the sum of squares (gradient norms) equals a float64 sum within 1e-6, bitwise on 1 and 2 threads', async () => {
    const sizes = [0, 3, 65536, 200_001];
    const xs = sizes.map((n, i) => tf.randomNormal([n], 0, 1, 'float32', 20 + i));
    const run = () => xs.map((x) => wasmSumSquares(x).dataSync()[0]!);
    const two = run();
    await setKernelThreads(1);
    const one = run();
    await setKernelThreads(2);
    expect(two).toEqual(one);
    xs.forEach((x, i) => {
      let exact = 0;
      for (const v of x.dataSync()) exact += Math.fround(v * v);
      expect(Math.abs(two[i]! - exact)).toBeLessThanOrEqual(1e-6 * Math.max(1, exact));
    });
    const norm = globalNorm(xs);
    expect(norm.dataSync()[0]).toBeCloseTo(Math.sqrt(two.reduce((a, b) => a + b, 0)), 3);
    tf.dispose([...xs, norm]);
  });

  it('AdamW: the kernel equals the update in float64 within 1e-6, over several staged chunks and a tail, bitwise on 1 and 2 threads', async () => {
    const n = 600_003; // two full 2^18 chunks of the moments' staging, a partial one, and a 3-element tail
    const p0 = tf.randomNormal([n], 0, 1, 'float32', 11).dataSync() as Float32Array;
    const gs = [12, 13, 14].map(
      (seed) => tf.randomNormal([n], 0, 1, 'float32', seed).dataSync() as Float32Array,
    );
    const [lr, b1, b2, eps, wd, scale] = [1e-2, 0.9, 0.999, 1e-8, 0.1, 0.5];
    const train = async (threads: number) => {
      await setKernelThreads(threads);
      // 2-D: decayed (the default rule decays matrices only)
      const w = tf.variable(tf.tensor2d(p0, [3, n / 3]));
      const opt = new AdamW([['w', w]], { lr, weightDecay: wd });
      for (const g of gs) {
        const grad = tf.tensor2d(g, [3, n / 3]);
        opt.step({ [w.name]: grad }, { gradScale: scale });
        grad.dispose();
      }
      const out = w.dataSync().slice();
      opt.dispose();
      w.dispose();
      return out;
    };
    const two = await train(2);
    const one = await train(1);
    await setKernelThreads(2);
    expect(two).toEqual(one);
    const p = Float64Array.from(p0);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    gs.forEach((g, t) => {
      for (let i = 0; i < n; i++) {
        const gi = g[i]! * scale;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        const mHat = m[i]! / (1 - b1 ** (t + 1));
        const vHat = v[i]! / (1 - b2 ** (t + 1));
        p[i] = p[i]! * (1 - lr * wd) - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    });
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(two[i]! - p[i]!));
    expect(worst).toBeLessThan(1e-6);
  });

  it('leave no tensors behind, forward and backward', () => {
    const x = tf.randomNormal([64, 256], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    const ln = (t: tf.Tensor) => layerNorm(t, tf.ones([256]), tf.zeros([256]));
    tf.dispose(tf.tidy(() => tf.grads((t: tf.Tensor) => dropout(gelu(ln(t)), 0.2, true).sum())([x])));
    tf.dispose(tf.tidy(() => geluTanh(dropout(ln(x), 0.2, true))));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
