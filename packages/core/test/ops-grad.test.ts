import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchMatMul,
  dropout,
  dropoutLinear,
  gelu,
  geluTanh,
  initBackend,
  layerNorm,
  linear,
  matMul,
  matMulTransposed,
  valueAndGrads,
} from '../src/index.js';

// The fast ops have hand-written gradients; check each against autodiff of the textbook formula.
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0]!);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`hand-written gradients on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it('frozen right operands (trainable false) get no gradient; dx is unchanged', () => {
      const x = tf.randomNormal([5, 6], 0, 1, 'float32', 1) as tf.Tensor2D;
      const w = tf.variable(tf.randomNormal([6, 4], 0, 1, 'float32', 2)) as tf.Variable<tf.Rank.R2>;
      const wt = tf.variable(tf.randomNormal([4, 6], 0, 1, 'float32', 3)) as tf.Variable<tf.Rank.R2>;
      const b = tf.variable(tf.randomNormal([4], 0, 1, 'float32', 4));
      const fns = [() => matMul(x, w), () => matMulTransposed(x, wt), () => linear(x, w, b)];
      for (const f of fns) {
        const loss = () => f().square().sum() as tf.Scalar;
        const full = valueAndGrads(loss, [x, w, wt, b]);
        for (const v of [w, wt, b]) v.trainable = false;
        const frozen = valueAndGrads(loss, [x, w, wt, b]);
        for (const v of [w, wt, b]) v.trainable = true;
        expect(maxDiff(frozen.value, full.value)).toBe(0);
        expect(maxDiff(frozen.grads[0]!, full.grads[0]!)).toBeLessThan(1e-4);
        expect(frozen.grads.slice(1)).toEqual([null, null, null]);
        expect(full.grads.slice(1).some((g) => g !== null)).toBe(true);
        tf.dispose([full.value, frozen.value, ...[...full.grads, ...frozen.grads].filter((g) => g !== null)]);
      }
      tf.dispose([x, w, wt, b]);
    });

    it('gelu and geluTanh', () => {
      const x = tf.linspace(-4, 4, 41);
      const refErf = (v: tf.Tensor) => v.mul(tf.erf(v.mul(Math.SQRT1_2)).add(1)).mul(0.5);
      const refTanh = (v: tf.Tensor) =>
        v.mul(tf.tanh(v.add(v.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1)).mul(0.5);
      for (const [fast, ref] of [
        [gelu, refErf],
        [geluTanh, refTanh],
      ] as const) {
        expect(maxDiff(fast(x), ref(x))).toBeLessThan(1e-6);
        expect(
          maxDiff(tf.grad((v) => fast(v).square().sum())(x), tf.grad((v) => ref(v).square().sum())(x)),
        ).toBeLessThan(1e-5);
      }
    });

    it('layerNorm (input, gain and bias gradients)', () => {
      const x = tf.randomNormal([2, 3, 8], 1, 2, 'float32', 1);
      const g = tf.randomNormal([8], 1, 0.3, 'float32', 2);
      const b = tf.randomNormal([8], 0, 0.3, 'float32', 3);
      const w = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 4);
      const ref = (v: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
        const { mean, variance } = tf.moments(v, -1, true);
        return v.sub(mean).div(variance.add(1e-5).sqrt()).mul(gg).add(bb);
      };
      expect(maxDiff(layerNorm(x, g, b), ref(x, g, b))).toBeLessThan(1e-5);
      const fastG = tf.grads((v, gg, bb) => layerNorm(v, gg, bb).mul(w).sum())([x, g, b]);
      const refG = tf.grads((v, gg, bb) => ref(v, gg, bb).mul(w).sum())([x, g, b]);
      fastG.forEach((t, i) => {
        expect(maxDiff(t, refG[i]!)).toBeLessThan(1e-4);
      });
    });

    it('linear with bias', () => {
      const x = tf.randomNormal([2, 5, 6], 0, 1, 'float32', 5);
      const w = tf.randomNormal([6, 4], 0, 1, 'float32', 6);
      const b = tf.randomNormal([4], 0, 1, 'float32', 7);
      const ref = (v: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf
          .matMul(v.reshape([10, 6]), ww)
          .add(bb)
          .reshape([2, 5, 4]);
      expect(maxDiff(linear(x, w, b), ref(x, w, b))).toBeLessThan(1e-5);
      const fastG = tf.grads((v, ww, bb) => linear(v, ww, bb).square().sum())([x, w, b]);
      const refG = tf.grads((v, ww, bb) => ref(v, ww, bb).square().sum())([x, w, b]);
      fastG.forEach((t, i) => {
        expect(maxDiff(t, refG[i]!)).toBeLessThan(1e-4);
      });
    });

    it('batchMatMul, plain and with transposeB', () => {
      const a = tf.randomNormal([2, 3, 16, 5], 0, 1, 'float32', 8);
      const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 9);
      const c = tf.randomNormal([2, 3, 6, 5], 0, 1, 'float32', 10);
      expect(maxDiff(batchMatMul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
      expect(maxDiff(batchMatMul(a, c, true), tf.matMul(a, c, false, true))).toBeLessThan(1e-5);
      const fastG = tf.grads((x, y) => batchMatMul(x, y, true).square().sum())([a, c]);
      const refG = tf.grads((x, y) => tf.matMul(x, y, false, true).square().sum())([a, c]);
      fastG.forEach((t, i) => {
        expect(maxDiff(t, refG[i]!)).toBeLessThan(1e-4);
      });
    });

    it('batchMatMul with transposeA, value and gradients', () => {
      const a = tf.randomNormal([2, 3, 5, 16], 0, 1, 'float32', 11);
      const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 12);
      expect(maxDiff(batchMatMul(a, b, false, true), tf.matMul(a, b, true, false))).toBeLessThan(1e-5);
      const fastG = tf.grads((x, y) => batchMatMul(x, y, false, true).square().sum())([a, b]);
      const refG = tf.grads((x, y) => tf.matMul(x, y, true, false).square().sum())([a, b]);
      fastG.forEach((t, i) => {
        expect(maxDiff(t, refG[i]!)).toBeLessThan(1e-4);
      });
      tf.dispose([a, b, ...fastG, ...refG]);
    });

    it('dropoutLinear = linear(dropout(x)) in value and gradients, keeping x and a 1-byte mask, not a dropped copy', () => {
      const x = tf.randomNormal([3, 4, 6], 0, 1, 'float32', 13);
      const w = tf.variable(tf.randomNormal([6, 5], 0, 1, 'float32', 14)) as tf.Variable<tf.Rank.R2>;
      const saved: tf.Tensor[] = [];
      const fused = valueAndGrads(() => {
        const y = dropoutLinear(x, w, 0.4, true, 77).square().sum() as tf.Scalar;
        const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] } }).state
          .activeTape;
        for (const node of tape) saved.push(...(node.saved ?? []));
        return y;
      }, [x, w]);
      const ref = valueAndGrads(
        () =>
          linear(dropout(x, 0.4, true, 77), w)
            .square()
            .sum() as tf.Scalar,
        [x, w],
      );
      expect(Math.abs(fused.value.dataSync()[0]! - ref.value.dataSync()[0]!)).toBeLessThan(1e-4);
      expect(maxDiff(fused.grads[0]!, ref.grads[0]!)).toBeLessThan(1e-4);
      expect(maxDiff(fused.grads[1]!, ref.grads[1]!)).toBeLessThan(1e-4);
      // Some entries were dropped, so the check above compared a real mask.
      expect(tf.tidy(() => fused.grads[1]!.abs().sum().dataSync()[0]!)).toBeGreaterThan(0);
      const xSized = saved.filter((t) => t.size === x.size && t.dtype === 'float32');
      expect(xSized.map((t) => t.dataId)).toEqual([x.dataId]);
      expect(saved.filter((t) => t.dtype === 'bool').map((t) => t.size)).toEqual([x.size]);
      tf.dispose([x, w, fused.value, ref.value, ...fused.grads, ...ref.grads] as tf.Tensor[]);
    });
  });
}
