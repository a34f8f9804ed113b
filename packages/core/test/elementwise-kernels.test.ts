import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropout, gelu, geluTanh, initBackend, layerNorm } from '../src/index.js';
import {
  kernelThreads,
  setKernelThreads,
  wasmDropout,
  wasmGelu,
  wasmKeepMask,
  wasmLayerNorm,
  wasmLayerNormGrad,
} from '../src/kernels/wasm-kernels.js';

// core's element-wise kernels (kernels.wat) against the same formulas in TF.js's own kernels, and with one
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

  it("dropout's mask and apply equal compare-and-select exactly, tails included", () => {
    for (const n of [5, 4097, 50003]) {
      tf.tidy(() => {
        const u = tf.randomUniform([n], 0, 1, 'float32', n);
        const x = tf.randomNormal([n], 0, 1, 'float32', n + 1);
        const keep = wasmKeepMask(u, 0.1);
        expect(keep.dtype).toBe('bool');
        expect(Array.from(keep.dataSync())).toEqual(Array.from(u.greaterEqual(0.1).dataSync()));
        const ref = tf.where(keep, x.mul(1 / 0.9), tf.zerosLike(x));
        expect(Array.from(wasmDropout(x, keep, 1 / 0.9).dataSync())).toEqual(Array.from(ref.dataSync()));
      });
    }
  });

  it('give bitwise the same results on one thread and two, as ops with gradients', async () => {
    expect(kernelThreads()).toBe(2);
    const x = tf.randomNormal([97, 768], 0, 2, 'float32', 7);
    const gamma = tf.randomNormal([768], 1, 0.5, 'float32', 8);
    const beta = tf.randomNormal([768], 0, 0.5, 'float32', 9);
    const run = () =>
      tf.tidy(() => {
        const f = (t: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          dropout(geluTanh(gelu(layerNorm(t, g, b))), 0.1, true, 42)
            .square()
            .sum();
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
