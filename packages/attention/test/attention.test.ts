import * as tf from '@tensorflow/tfjs';
import { initBackend, Module, Rng, ShapeError, seedDropout, valueAndGrads } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionBias,
  causalMask,
  combineMasks,
  KVCache,
  MultiHeadAttention,
  paddingMask,
  setRecompute,
  TransformerBlock,
} from '../src/index.js';
import { defineAttentionSuite } from './attention.suite.js';

/** Blocks in a row, sharing one mask. */
class Stack extends Module {
  readonly blocks: TransformerBlock[];
  constructor(n: number, norm: 'pre' | 'post') {
    super();
    const rng = new Rng(4);
    this.blocks = this.moduleList(
      'blocks',
      Array.from(
        { length: n },
        () =>
          new TransformerBlock({
            hiddenSize: 8,
            numHeads: 2,
            intermediateSize: 16,
            norm,
            activation: 'gelu',
            hiddenDropout: 0.3,
            rng,
          }),
      ),
    );
  }
  forward(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    const bias = attentionBias(mask);
    return this.blocks.reduce((h, b) => b.forward(h, { mask: bias }).output, x);
  }
}

/** Naive attention in plain JS, straight from the definition, for one (b, h). */
function naiveAttention(
  mha: MultiHeadAttention,
  x: number[][][],
  keep: (b: number, t: number, s: number) => boolean,
) {
  const lin = (rows: number[][], l: { weight: tf.Variable; bias?: tf.Variable }) => {
    const w = l.weight.arraySync() as number[][];
    const bias = l.bias ? (l.bias.arraySync() as number[]) : undefined;
    return rows.map((r) =>
      w[0]!.map((_, j) => r.reduce((acc, xi, i) => acc + xi * w[i]![j]!, bias ? bias[j]! : 0)),
    );
  };
  const { numHeads: H, headDim: hd } = mha;
  return x.map((rows, b) => {
    const q = lin(rows, mha.query);
    const k = lin(rows, mha.key);
    const v = lin(rows, mha.value);
    const merged = rows.map(() => new Array<number>(H * hd).fill(0));
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < rows.length; t++) {
        const scores = rows.map((_, s) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[t]![h * hd + i]! * k[s]![h * hd + i]!;
          return d / Math.sqrt(hd);
        });
        const allowed = scores.map((_, s) => keep(b, t, s));
        if (!allowed.some(Boolean)) continue;
        const m = Math.max(...scores.filter((_, s) => allowed[s]));
        const e = scores.map((sc, s) => (allowed[s] ? Math.exp(sc - m) : 0));
        const z = e.reduce((a, c) => a + c, 0);
        for (let s = 0; s < rows.length; s++) {
          for (let i = 0; i < hd; i++) merged[t]![h * hd + i]! += (e[s]! / z) * v[s]![h * hd + i]!;
        }
      }
    }
    return lin(merged, mha.output);
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  // The checks every backend runs (the WebGPU suite runs them too).
  defineAttentionSuite(backend);

  describe(`attention on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it('builds causal, padding and combined masks', () => {
      expect(causalMask(3).cast('int32').arraySync()).toEqual([
        [1, 0, 0],
        [1, 1, 0],
        [1, 1, 1],
      ]);
      // Two new queries after three cached keys: offset 3.
      expect(causalMask(2, 5).cast('int32').arraySync()).toEqual([
        [1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1],
      ]);
      const pad = paddingMask([
        [1, 1, 0],
        [1, 0, 0],
      ]);
      expect(pad.shape).toEqual([2, 1, 1, 3]);
      const both = combineMasks(causalMask(3), pad)!;
      expect(both.shape).toEqual([2, 1, 3, 3]);
      expect(both.cast('int32').arraySync()).toEqual([
        [
          [
            [1, 0, 0],
            [1, 1, 0],
            [1, 1, 0],
          ],
        ],
        [
          [
            [1, 0, 0],
            [1, 0, 0],
            [1, 0, 0],
          ],
        ],
      ]);
      // An additive mask mixes in as a bias.
      const additive = combineMasks(
        causalMask(2),
        tf.tensor2d([
          [0, -5],
          [-3, 0],
        ]),
      )!;
      expect(additive.dtype).toBe('float32');
      expect(additive.arraySync()).toEqual([
        [0, Math.fround(-1e9 - 5)],
        [-3, 0],
      ]);
    });

    it('matches a naive implementation with a causal + padding mask', () => {
      const mha = new MultiHeadAttention({ dim: 8, numHeads: 2, rng: new Rng(1), std: 0.5 });
      const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 3);
      const lengths = [4, 2];
      const mask = combineMasks(
        causalMask(4),
        paddingMask(lengths.map((n) => [0, 1, 2, 3].map((i) => (i < n ? 1 : 0)))),
      );
      const got = mha.forward(x, { mask }).output.arraySync() as number[][][];
      const want = naiveAttention(mha, x.arraySync() as number[][][], (b, t, s) => s <= t && s < lengths[b]!);
      expect(got.flat(2).length).toBe(64);
      got.flat(2).forEach((g, i) => {
        expect(g).toBeCloseTo(want.flat(2)[i]!, 4);
      });
    });

    it('accepts boolean, integer and additive masks alike', () => {
      const mha = new MultiHeadAttention({ dim: 8, numHeads: 2, rng: new Rng(2) });
      const x = tf.randomNormal([1, 3, 8], 0, 1, 'float32', 4);
      const boolOut = mha.forward(x, { mask: causalMask(3) }).output;
      const intOut = mha.forward(x, { mask: causalMask(3).cast('int32') }).output;
      const biasOut = mha.forward(x, { mask: attentionBias(causalMask(3)).bias }).output;
      expect(tf.max(tf.abs(boolOut.sub(intOut))).arraySync()).toBe(0);
      expect(tf.max(tf.abs(boolOut.sub(biasOut))).arraySync()).toBe(0);
    });

    it('returns probabilities (B,H,T,S) for cross-attention with a different key width', () => {
      const mha = new MultiHeadAttention({ dim: 6, numHeads: 3, headDim: 4, kvDim: 10, rng: new Rng(4) });
      const x = tf.randomNormal([2, 3, 6]);
      const kv = tf.randomNormal([2, 5, 10]);
      const { output, attention } = mha.forward(x, {
        kv,
        returnAttention: true,
        mask: paddingMask([
          [1, 1, 1, 0, 0],
          [1, 1, 1, 1, 1],
        ]),
      });
      expect(output.shape).toEqual([2, 3, 6]);
      expect(attention!.shape).toEqual([2, 3, 3, 5]);
      const p = attention!.arraySync() as number[][][][];
      expect(p[0]![1]![2]![3]).toBe(0);
      expect(p[0]![1]![2]!.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
    });

    it('names children so HF layouts map onto them', () => {
      const block = new TransformerBlock({
        hiddenSize: 4,
        numHeads: 2,
        intermediateSize: 8,
        norm: 'post',
        activation: 'gelu',
      });
      expect(block.namedParameters().map(([n]) => n)).toEqual([
        'attn.query.weight',
        'attn.query.bias',
        'attn.key.weight',
        'attn.key.bias',
        'attn.value.weight',
        'attn.value.bias',
        'attn.output.weight',
        'attn.output.bias',
        'attnNorm.weight',
        'attnNorm.bias',
        'mlp.hidden.0.weight',
        'mlp.hidden.0.bias',
        'mlp.out.weight',
        'mlp.out.bias',
        'mlpNorm.weight',
        'mlpNorm.bias',
      ]);
      // Post-LN: the output is layer-normalised (zero mean, unit variance per position).
      const y = block.forward(tf.randomNormal([1, 3, 4], 0, 3)).output;
      const { mean, variance } = tf.moments(y, -1);
      expect(tf.max(tf.abs(mean)).arraySync()).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(variance.sub(1))).arraySync()).toBeLessThan(1e-3);
    });

    it('applies dropout only in training mode and trains (gradients reach every parameter)', () => {
      const block = new TransformerBlock({
        hiddenSize: 8,
        numHeads: 2,
        intermediateSize: 16,
        norm: 'pre',
        activation: 'gelu',
        hiddenDropout: 0.5,
        rng: new Rng(6),
      });
      const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 7);
      block.eval();
      const a = block.forward(x).output;
      const b = block.forward(x).output;
      expect(tf.max(tf.abs(a.sub(b))).arraySync()).toBe(0);
      block.train();
      const c = block.forward(x).output;
      expect(tf.max(tf.abs(a.sub(c))).arraySync()).toBeGreaterThan(0);
      const { grads } = tf.variableGrads(
        () =>
          block
            .forward(x, { mask: causalMask(3) })
            .output.square()
            .mean() as tf.Scalar,
        block.trainableParameters(),
      );
      expect(Object.keys(grads).length).toBe(16);
      for (const g of Object.values(grads)) expect(g.isNaN().any().arraySync()).toBe(0);
    });

    it('recompute gives the plain gradients within 1e-5 (post-LN, padding mask, dropout on)', () => {
      const model = new Stack(2, 'post');
      model.train();
      const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 17);
      const mask = paddingMask(
        tf.tensor2d(
          [
            [1, 1, 1, 1, 1],
            [1, 1, 1, 0, 0],
          ],
          undefined,
          'int32',
        ),
      );
      const vars = model.trainableParameters();
      const run = (on: boolean) => {
        setRecompute(model, on);
        seedDropout(9);
        return valueAndGrads(() => model.forward(x, mask).square().mean() as tf.Scalar, vars);
      };
      const plain = run(false);
      const re = run(true);
      expect(Math.abs(plain.value.dataSync()[0]! - re.value.dataSync()[0]!)).toBeLessThan(1e-6);
      vars.forEach((_, i) => {
        const d = tf.tidy(() => tf.abs(plain.grads[i]!.sub(re.grads[i]!)).max().dataSync()[0]!);
        expect(d).toBeLessThan(1e-5);
      });
      for (const r of [plain, re]) tf.dispose([r.value, ...(r.grads as tf.Tensor[])]);
      tf.dispose([x, mask]);
    });

    it('rejects masks that do not broadcast and inputs of the wrong shape', () => {
      const mha = new MultiHeadAttention({ dim: 4, numHeads: 2 });
      const x = tf.zeros([2, 3, 4]);
      expect(() => mha.forward(x, { mask: tf.ones([2, 3], 'bool') })).toThrow(ShapeError);
      expect(() => mha.forward(x, { mask: tf.ones([2, 3], 'bool') })).toThrow(/does not broadcast/);
      expect(() => mha.forward(tf.zeros([3, 4]))).toThrow(/\(B, T, 4\)/);
      expect(() => mha.forward(tf.zeros([2, 3, 5]))).toThrow(ShapeError);
      expect(() => mha.forward(x, { kv: tf.zeros([1, 3, 4]) })).toThrow(ShapeError);
      expect(() => paddingMask(tf.ones([3]))).toThrow(ShapeError);
      expect(() => combineMasks(tf.ones([2, 3], 'bool'), tf.ones([2, 4], 'bool'))).toThrow(ShapeError);
    });

    it('keeps the tensor count flat across cached decoding and training steps', () => {
      const block = new TransformerBlock({
        hiddenSize: 8,
        numHeads: 2,
        intermediateSize: 16,
        norm: 'pre',
        activation: 'gelu',
        rng: new Rng(7),
      });
      const opt = tf.train.adam(1e-3);
      const x = tf.randomNormal([2, 4, 8]);
      const step = () =>
        opt.minimize(
          () =>
            block
              .forward(x, { mask: causalMask(4) })
              .output.square()
              .mean() as tf.Scalar,
        );
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      block.eval();
      const cache = new KVCache(1);
      const decode = () =>
        tf.tidy(() => {
          block.forward(x.slice([0, 0], [2, 1]), {
            mask: causalMask(1, cache.length + 1),
            cache: cache.layers[0],
          });
        });
      decode();
      const during = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) decode();
      expect(tf.memory().numTensors).toBe(during);
      cache.dispose();
      expect(tf.memory().numTensors).toBe(during - 2);
    });
  });
}
