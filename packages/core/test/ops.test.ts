import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  dropout,
  embedding,
  gelu,
  geluTanh,
  InvalidArgumentError,
  initBackend,
  layerNorm,
  linear,
  matMul,
  matMulTransposed,
  seedDropout,
} from '../src/index.js';

// Each op is checked against a plain TF.js formulation (values and gradients) on every CPU-side backend.
const close = (a: tf.Tensor, b: tf.Tensor, tol = 1e-5) => {
  expect(a.shape).toEqual(b.shape);
  const diff = tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
  expect(diff).toBeLessThan(tol);
};

describe.each(['cpu', 'wasm'] as const)('ops on %s', (backend) => {
  beforeAll(async () => {
    expect((await initBackend(backend)).backend).toBe(backend);
  });

  it('dropout: seedDropout makes the masks repeat; successive masks differ; eval is the identity', () => {
    tf.tidy(() => {
      const x = tf.ones([64, 64]);
      const masks = () => {
        seedDropout(3);
        return [dropout(x, 0.5, true), dropout(x, 0.5, true)].map((t) => Array.from(t.dataSync())) as [
          number[],
          number[],
        ];
      };
      const [a1, a2] = masks();
      const [b1, b2] = masks();
      expect(a1).toEqual(b1);
      expect(a2).toEqual(b2);
      expect(a1).not.toEqual(a2);
      // Inverted dropout: kept values are scaled by 1 / (1 - rate); about half are kept.
      expect(new Set(a1)).toEqual(new Set([0, 2]));
      const kept = a1.filter((v) => v > 0).length / a1.length;
      expect(Math.abs(kept - 0.5)).toBeLessThan(0.05);
      expect(dropout(x, 0.5, false)).toBe(x);
    });
    // A seed the mask hash cannot take, or a rate outside [0, 1): one typed error on every backend.
    const x = tf.ones([4]);
    expect(() => dropout(x, 0.5, true, 1.5)).toThrow(InvalidArgumentError);
    expect(() => dropout(x, 0.5, true, -1)).toThrow(InvalidArgumentError);
    expect(() => dropout(x, 1, true, 3)).toThrow(/rate must be in \[0, 1\)/);
    x.dispose();
  });

  it('matMulTransposed matches tf.matMul with transposeB, gradients included', () => {
    tf.tidy(() => {
      // 9 rows (two 4-row tiles and a ragged one), 13 columns (off the 8-wide tile); and a single row.
      for (const rows of [9, 1]) {
        const a = tf.randomNormal([rows, 6], 0, 1, 'float32', 5) as tf.Tensor2D;
        const b = tf.randomNormal([13, 6], 0, 1, 'float32', 6) as tf.Tensor2D;
        const w = tf.randomNormal([rows, 13], 0, 1, 'float32', 7);
        close(matMulTransposed(a, b), tf.matMul(a, b, false, true), 1e-4);
        const [ga, gb] = tf.grads((x, y) =>
          matMulTransposed(x as tf.Tensor2D, y as tf.Tensor2D)
            .mul(w)
            .sum(),
        )([a, b]);
        const [ra, rb] = tf.grads((x, y) => tf.matMul(x, y, false, true).mul(w).sum())([a, b]);
        close(ga!, ra!, 1e-4);
        close(gb!, rb!, 1e-4);
      }
    });
  });

  it('matMul and linear match tf.matMul, gradients included', () => {
    tf.tidy(() => {
      const a = tf.randomNormal([5, 4], 0, 1, 'float32', 1) as tf.Tensor2D;
      const b = tf.randomNormal([4, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
      const ours = tf.grads((x, y) =>
        matMul(x as tf.Tensor2D, y as tf.Tensor2D)
          .square()
          .sum(),
      );
      const ref = tf.grads((x, y) =>
        tf
          .matMul(x as tf.Tensor2D, y as tf.Tensor2D)
          .square()
          .sum(),
      );
      const [ga, gb] = ours([a, b]);
      const [ra, rb] = ref([a, b]);
      close(ga!, ra!, 1e-4);
      close(gb!, rb!, 1e-4);
      const x3 = tf.randomNormal([2, 5, 4], 0, 1, 'float32', 3);
      const bias = tf.randomNormal([3], 0, 1, 'float32', 4);
      close(
        linear(x3, b, bias),
        tf
          .matMul(x3.reshape([10, 4]), b)
          .add(bias)
          .reshape([2, 5, 3]),
      );
    });
  });

  it('embedding gathers rows and scatter-adds its gradient (duplicates summed)', () => {
    tf.tidy(() => {
      const table = tf.randomNormal([6, 3], 0, 1, 'float32', 5);
      const ids = tf.tensor2d(
        [
          [1, 1, 5],
          [0, 1, 5],
        ],
        [2, 3],
        'int32',
      );
      const out = embedding(table, ids);
      expect(out.shape).toEqual([2, 3, 3]);
      close(out, tf.gather(table, ids.reshape([-1])).reshape([2, 3, 3]));
      const weights = tf.randomNormal([2, 3, 3], 0, 1, 'float32', 6);
      const g = tf.grad((t) => embedding(t, ids).mul(weights).sum())(table);
      // Row r of the gradient is the sum of the weights at positions whose id is r.
      const w = weights.reshape([6, 3]).arraySync() as number[][];
      const expected = [
        [...w[3]!],
        w[0]!.map((v, j) => v + w[1]![j]! + w[4]![j]!),
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ];
      expected.push(w[2]!.map((v, j) => v + w[5]![j]!));
      close(g, tf.tensor2d(expected), 1e-5);
    });
  });

  it('layerNorm normalises the last axis', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([3, 8], 2, 3, 'float32', 7);
      const y = layerNorm(x, tf.ones([8]), tf.zeros([8]));
      const { mean, variance } = tf.moments(y, -1);
      close(mean, tf.zeros([3]), 1e-5);
      close(variance, tf.ones([3]), 1e-3);
    });
  });

  it('gelu (erf) and gelu_new (tanh) match their formulas at known points', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([-3, -1, 0, 0.5, 2]);
      // Reference values: torch.nn.functional.gelu(x) and gelu(x, approximate='tanh').
      close(gelu(x), tf.tensor1d([-0.0040496, -0.1586553, 0, 0.3457312, 1.9544997]), 1e-5);
      close(geluTanh(x), tf.tensor1d([-0.0036374, -0.158808, 0, 0.345714, 1.9545977]), 1e-5);
    });
  });

  it('crossEntropy skips the ignore index and matches -log softmax', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [1, 2, 3],
        [0, 0, 0],
        [5, 1, 1],
      ]);
      const loss = crossEntropy(logits, tf.tensor1d([2, -100, 0], 'int32')).dataSync()[0]!;
      const l0 = -Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)));
      const l2 = -Math.log(Math.exp(5) / (Math.exp(5) + 2 * Math.exp(1)));
      expect(loss).toBeCloseTo((l0 + l2) / 2, 5);
      const g = tf.grad((l) => crossEntropy(l, tf.tensor1d([2, -100, 0], 'int32')))(logits);
      close(g.slice([1, 0], [1, 3]), tf.zeros([1, 3]));
    });
  });
});
