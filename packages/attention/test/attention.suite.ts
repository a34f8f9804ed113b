import * as tf from '@tensorflow/tfjs';
import {
  type BackendName,
  batchMatMul,
  initBackend,
  Rng,
  seedDropout,
  valueAndGrads,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attend,
  attentionBias,
  attentionProbs,
  causalMask,
  combineMasks,
  KVCache,
  MultiHeadAttention,
  paddingMask,
  TransformerBlock,
} from '../src/index.js';

/*
 * The attention checks every backend runs: attention.test.ts calls this on cpu and wasm, attention.webgpu.test.ts
 * on webgpu. Results are read back asynchronously only (TF.js's WebGPU backend has no sync read in Node).
 */

const maxAbs = async (a: tf.Tensor, b: tf.Tensor) => {
  const d = tf.tidy(() => tf.max(tf.abs(a.sub(b))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
};

const block = () =>
  new TransformerBlock({
    hiddenSize: 8,
    numHeads: 2,
    intermediateSize: 16,
    norm: 'pre',
    activation: 'gelu_tanh',
    rng: new Rng(5),
  }).eval();

export function defineAttentionSuite(backend: BackendName): void {
  describe(`attention on ${backend}`, () => {
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
    });

    it('attend (dropout, grouped heads, padding) = scores, probabilities, dropout, product composed, in value and gradients; keeps no (B, H, T, S) float tensor', async () => {
      // 4 query heads over 2 key/value heads.
      const q = tf.randomNormal([2, 4, 3, 6], 0, 1, 'float32', 21);
      const k = tf.randomNormal([2, 2, 5, 6], 0, 1, 'float32', 22);
      const v = tf.randomNormal([2, 2, 5, 6], 0, 1, 'float32', 23);
      const w = tf.randomNormal([2, 4, 3, 6], 0, 1, 'float32', 24);
      const bias = attentionBias(
        paddingMask(
          tf.tensor2d([
            [1, 1, 1, 0, 0],
            [1, 1, 1, 1, 1],
          ]),
        ),
      );
      const saved: tf.Tensor[] = [];
      seedDropout(5);
      const fused = valueAndGrads(() => {
        const y = attend(q, k, v, 0.5, bias, 0.3, true).output.mul(w).sum() as tf.Scalar;
        const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] } }).state
          .activeTape;
        for (const node of tape) saved.push(...(node.saved ?? []));
        return y;
      }, [q, k, v]);
      seedDropout(5);
      const composed = valueAndGrads(() => {
        const scores = batchMatMul(q.reshape([2, 2, 6, 6]), k, true).reshape([2, 4, 3, 5]);
        const { dropped } = attentionProbs(scores, 0.5, bias, 0.3, true);
        const out = batchMatMul(dropped.reshape([2, 2, 6, 5]), v).reshape([2, 4, 3, 6]);
        return out.mul(w).sum() as tf.Scalar;
      }, [q, k, v]);
      expect(await maxAbs(fused.value, composed.value)).toBeLessThan(1e-5);
      for (let i = 0; i < 3; i++)
        expect(await maxAbs(fused.grads[i]!, composed.grads[i]!)).toBeLessThan(1e-5);
      // Dropout really dropped and the padded keys got nothing: a zero gradient would also match.
      const total = fused.grads[0]!.abs().sum();
      expect((await total.data())[0]!).toBeGreaterThan(0);
      const keys = fused.grads[1]!.slice([0, 0, 3, 0], [1, 2, 2, 6]).abs().sum();
      expect((await keys.data())[0]!).toBe(0);
      tf.dispose([total, keys]);
      const wide = saved.filter((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, [2, 4, 3, 5]));
      expect(wide.length).toBe(0);
      expect(saved.filter((t) => t.dtype === 'bool').map((t) => t.shape)).toEqual([[2, 4, 3, 5]]);
      tf.dispose([
        q,
        k,
        v,
        w,
        bias.bias,
        fused.value,
        composed.value,
        ...fused.grads,
        ...composed.grads,
      ] as tf.Tensor[]);
    });

    it('gives zeros, not NaN, for a query with nothing to attend to (attention and a left-padded block)', async () => {
      const mha = new MultiHeadAttention({ dim: 4, numHeads: 1, rng: new Rng(3) });
      const x = tf.randomNormal([1, 2, 4], 0, 1, 'float32', 5);
      const mask = tf.tensor2d(
        [
          [0, 0],
          [1, 1],
        ],
        [2, 2],
        'bool',
      );
      const { output, attention } = mha.forward(x, { mask, returnAttention: true });
      const probs = (await attention!.array()) as number[][][][];
      expect(probs[0]![0]![0]).toEqual([0, 0]);
      expect(probs[0]![0]![1]![0]! + probs[0]![0]![1]![1]!).toBeCloseTo(1, 6);
      // The blocked row's output is just the output projection's bias (zeros at init).
      expect(((await output.array()) as number[][][])[0]![0]).toEqual([0, 0, 0, 0]);
      expect(await output.isNaN().any().array()).toBe(0);
      tf.dispose([x, mask, output, attention!]);
      mha.dispose();

      // In a block: left padding on row 1, so its first query sees nothing.
      const b = block();
      const h = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 6);
      const combined = combineMasks(
        causalMask(5),
        paddingMask([
          [1, 1, 1, 1, 1],
          [0, 1, 1, 1, 1],
        ]),
      )!;
      const r = b.forward(h, { mask: combined, returnAttention: true });
      const p = (await r.attention!.array()) as number[][][][];
      expect(p[1]![0]![0]).toEqual([0, 0, 0, 0, 0]);
      expect(p[0]![1]![4]!.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
      expect(await r.output.isNaN().any().array()).toBe(0);
      tf.dispose([h, combined, r.output, r.attention!]);
      b.dispose();
    });

    it('decodes with a KV cache exactly like a full causal pass (a prompt then tokens; one token at a time)', async () => {
      const b = block();
      const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 6);
      const full = b.forward(x, { mask: causalMask(5) }).output;
      // Prompt of 2, then one token at a time; the causal offset comes from the cache length.
      const cache = new KVCache(1);
      const steps: tf.Tensor[] = [];
      for (const [start, end] of [
        [0, 2],
        [2, 3],
        [3, 4],
        [4, 5],
      ] as const) {
        const past = cache.length;
        steps.push(
          b.forward(x.slice([0, start], [2, end - start]), {
            mask: causalMask(end - start, past + end - start),
            cache: cache.layers[0],
          }).output,
        );
      }
      expect(cache.length).toBe(5);
      const inc = tf.concat(steps, 1);
      expect(await maxAbs(full, inc)).toBeLessThan(1e-5);
      // Every token alone: a single query attends to every cached key, so no mask is needed.
      const single = new KVCache(1);
      const ones: tf.Tensor[] = [];
      for (let t = 0; t < 5; t++)
        ones.push(b.forward(x.slice([0, t], [2, 1]), { cache: single.layers[0] }).output);
      const byOne = tf.concat(ones, 1);
      expect(await maxAbs(full, byOne)).toBeLessThan(1e-5);
      tf.dispose([x, full, inc, byOne, ...steps, ...ones]);
      cache.dispose();
      single.dispose();
      b.dispose();
    });
  });
}
