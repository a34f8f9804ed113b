import * as tf from '@tensorflow/tfjs';
import {
  InvalidArgumentError,
  initBackend,
  LayerNorm,
  Linear,
  Module,
  RMSNorm,
  Rng,
  ShapeError,
  valueAndGrads,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  alibiBias,
  alibiSlopes,
  type Block,
  type BlockOptions,
  type BlockResult,
  causalBias,
  causalMask,
  forwardBlock,
  KVCache,
  MultiHeadAttention,
  paddingMask,
  Rotary,
  runBlocks,
  setRecompute,
  sinusoidalPositions,
  TransformerBlock,
  type TransformerBlockConfig,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a.sub(b))).arraySync() as number);

const llamaBlock = (over: Partial<TransformerBlockConfig> = {}) =>
  new TransformerBlock({
    hiddenSize: 16,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 24,
    norm: 'pre',
    normalization: 'rms',
    mlp: 'gated',
    activation: 'silu',
    bias: false,
    rotary: { theta: 10000 },
    layerNormEps: 1e-6,
    std: 0.2,
    rng: new Rng(7),
    ...over,
  });

describe('Rotary', () => {
  it("rotates HF's rotate_half halves: (x1 cos − x2 sin, x2 cos + x1 sin)", () => {
    const r = new Rotary({ headDim: 4, theta: 100 });
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 1, 4]);
    const y = r.rotate(x, 3).arraySync() as number[][][][];
    // frequencies 1 and 100^(−1/2) = 0.1 at position 3
    const a = [3, 0.3];
    const want = [
      1 * Math.cos(a[0]!) - 3 * Math.sin(a[0]!),
      2 * Math.cos(a[1]!) - 4 * Math.sin(a[1]!),
      3 * Math.cos(a[0]!) + 1 * Math.sin(a[0]!),
      4 * Math.cos(a[1]!) + 2 * Math.sin(a[1]!),
    ];
    y[0]![0]![0]!.forEach((v, i) => {
      expect(v).toBeCloseTo(want[i]!, 5);
    });
  });

  it('makes q·k depend only on the distance; a fraction leaves the rest of the head alone', () => {
    const r = new Rotary({ headDim: 8, theta: 10000 });
    const q = tf.randomNormal([1, 1, 1, 8], 0, 1, 'float32', 1);
    const k = tf.randomNormal([1, 1, 1, 8], 0, 1, 'float32', 2);
    const dot = (pq: number, pk: number) =>
      tf.tidy(() => r.rotate(q, pq).mul(r.rotate(k, pk)).sum().arraySync() as number);
    expect(dot(5, 2)).toBeCloseTo(dot(13, 10), 4);
    expect(Math.abs(dot(5, 2) - dot(5, 4))).toBeGreaterThan(1e-3);
    const half = new Rotary({ headDim: 8, fraction: 0.5 });
    expect(half.rotaryDim).toBe(4);
    const y = half.rotate(q, 7);
    expect(maxDiff(y.slice([0, 0, 0, 4], [-1, -1, -1, 4]), q.slice([0, 0, 0, 4], [-1, -1, -1, 4]))).toBe(0);
    expect(
      maxDiff(y.slice([0, 0, 0, 0], [-1, -1, -1, 4]), q.slice([0, 0, 0, 0], [-1, -1, -1, 4])),
    ).toBeGreaterThan(1e-3);
  });
});

describe('ALiBi and sinusoidal positions', () => {
  it('has the paper/BLOOM slopes, also for a head count that is not a power of two', () => {
    expect(alibiSlopes(8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i));
    expect(alibiSlopes(12)).toEqual([
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i),
      ...[0.5, 1.5, 2.5, 3.5].map((i) => 2 ** -i),
    ]);
    const b = alibiBias(2, 2, 3).arraySync() as number[][][][];
    // query at absolute position 1 (offset S − T = 1); 2 heads: slopes 2^-4, 2^-8
    expect(b[0]![1]![0]).toEqual([-1 / 256, -0, -1 / 256]);
    expect(b[0]![0]![1]).toEqual([-2 / 16, -1 / 16, -0]);
  });

  it('sinusoidalPositions puts sin at even dims and cos at odd', () => {
    const p = sinusoidalPositions(3, 4).arraySync();
    expect(p[1]![0]).toBeCloseTo(Math.sin(1), 6);
    expect(p[1]![1]).toBeCloseTo(Math.cos(1), 6);
    expect(p[2]![2]).toBeCloseTo(Math.sin(2 / 100), 6);
  });
});

describe('GQA', () => {
  it('equals full multi-head attention with each key/value head repeated', () => {
    const gqa = new MultiHeadAttention({ dim: 8, numHeads: 4, numKvHeads: 2, rng: new Rng(3), std: 0.3 });
    const full = new MultiHeadAttention({ dim: 8, numHeads: 4, rng: new Rng(9) });
    // head h of the full module uses kv head floor(h / 2): repeat each kv head's 2 columns twice
    const rep = (w: tf.Tensor) =>
      tf.tidy(() => {
        const [a, b] = tf.split(w, 2, -1);
        return tf.concat([a!, a!, b!, b!], -1);
      });
    full.loadStateDict({
      'query.weight': gqa.query.weight,
      'query.bias': gqa.query.bias!,
      'key.weight': rep(gqa.key.weight),
      'key.bias': rep(gqa.key.bias!),
      'value.weight': rep(gqa.value.weight),
      'value.bias': rep(gqa.value.bias!),
      'output.weight': gqa.output.weight,
      'output.bias': gqa.output.bias!,
    });
    const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 4);
    expect(gqa.key.weight.shape).toEqual([8, 4]);
    expect(
      maxDiff(
        gqa.forward(x, { mask: causalMask(5) }).output,
        full.forward(x, { mask: causalMask(5) }).output,
      ),
    ).toBeLessThan(1e-6);
  });
});

describe('open block', () => {
  it('keeps the old parameter names by default and builds the parts it is given', () => {
    const gpt = new TransformerBlock({
      hiddenSize: 8,
      numHeads: 2,
      intermediateSize: 16,
      norm: 'pre',
      activation: 'gelu',
    });
    expect(gpt.namedParameters().map(([k]) => k)).toEqual([
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
    const llama = llamaBlock({ qkNorm: true });
    expect(llama.namedParameters().map(([k, v]) => `${k}:${v.shape}`)).toEqual([
      'attn.query.weight:16,16',
      'attn.key.weight:16,8',
      'attn.value.weight:16,8',
      'attn.output.weight:16,16',
      'attn.qNorm.weight:4',
      'attn.kNorm.weight:4',
      'attnNorm.weight:16',
      'mlp.gate.weight:16,24',
      'mlp.up.weight:16,24',
      'mlp.down.weight:24,16',
      'mlpNorm.weight:16',
    ]);
    const custom = new TransformerBlock({
      hiddenSize: 8,
      numHeads: 2,
      intermediateSize: 16,
      norm: 'pre',
      activation: 'gelu',
      normalization: (d) => new RMSNorm(d),
      mlp: (d) => new Linear(d, d),
    });
    expect(custom.mlp).toBeInstanceOf(Linear);
    expect(custom.attnNorm).toBeInstanceOf(RMSNorm);
  });

  it('cached decoding equals the full pass (rotary, GQA, RMSNorm, SwiGLU, qk-norm)', () => {
    const block = llamaBlock({ qkNorm: true });
    block.eval();
    const x = tf.randomNormal([2, 6, 16], 0, 1, 'float32', 5);
    const full = block.forward(x, { mask: causalBias(6) }).output;
    const before = tf.memory().numTensors;
    const cache = new KVCache(1);
    const steps: tf.Tensor[] = [];
    for (const [s, n] of [
      [0, 3],
      [3, 1],
      [4, 2],
    ] as const) {
      steps.push(
        block.forward(x.slice([0, s], [-1, n]), {
          mask: causalMask(n, s + n),
          cache: cache.layers[0],
        }).output,
      );
    }
    expect(cache.layers[0]!.k!.shape).toEqual([2, 2, 6, 4]);
    expect(maxDiff(tf.concat(steps, 1), full)).toBeLessThan(1e-5);
    tf.dispose(steps);
    cache.dispose();
    // only the step masks (made outside any tidy here) remain
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(6 + 3);
  });

  it('parallel residual is x + attn(N1 x) + mlp(N2 x)', () => {
    const b = new TransformerBlock({
      hiddenSize: 8,
      numHeads: 2,
      intermediateSize: 16,
      norm: 'pre',
      activation: 'gelu_tanh',
      parallelResidual: true,
      std: 0.3,
      rng: new Rng(2),
    });
    const x = tf.randomNormal([1, 4, 8], 0, 1, 'float32', 8);
    const mask = causalMask(4);
    const want = tf.tidy(() =>
      x.add(b.attn.forward(b.attnNorm.forward(x), { mask }).output).add(b.mlp.forward(b.mlpNorm.forward(x))),
    );
    expect(maxDiff(b.forward(x, { mask }).output, want)).toBeLessThan(1e-6);
  });

  it('ALiBi in a block: output differs from no positions, and is shift-invariant with a causal mask', () => {
    const b = llamaBlock({ rotary: undefined, alibi: true, numKvHeads: undefined });
    const x = tf.randomNormal([1, 4, 16], 0, 1, 'float32', 3);
    const a = b.forward(x, { mask: causalMask(4) }).output;
    const plain = llamaBlock({ rotary: undefined, numKvHeads: undefined });
    expect(maxDiff(a, plain.forward(x, { mask: causalMask(4) }).output)).toBeGreaterThan(1e-3);
  });

  it('a stray kv option does not turn self-attention into cross-attention', () => {
    const b = llamaBlock();
    const x = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 3);
    const other = tf.randomNormal([1, 5, 16], 0, 1, 'float32', 4);
    const plain = b.forward(x).output;
    const stray = b.forward(x, { kv: other } as BlockOptions).output;
    expect(maxDiff(plain, stray)).toBe(0);
  });

  it('errors use the block field names', () => {
    expect(() => llamaBlock({ hiddenSize: 10, numHeads: 4 })).toThrow(
      /hiddenSize 10 is not divisible by numHeads 4/,
    );
    expect(() => llamaBlock({ numKvHeads: 3 })).toThrow(
      /numKvHeads must be a positive integer dividing numHeads 4/,
    );
    expect(() => llamaBlock().forward(tf.zeros([1, 2, 8]))).toThrow(/hiddenSize = 16/);
    expect(() => llamaBlock({ normalization: 'batch' as 'rms' })).toThrow(InvalidArgumentError);
  });
});

describe('cross-attention', () => {
  const decoder = () =>
    new TransformerBlock({
      hiddenSize: 8,
      numHeads: 2,
      intermediateSize: 16,
      norm: 'pre',
      activation: 'gelu',
      crossAttention: { kvDim: 6 },
      std: 0.3,
      rng: new Rng(5),
    });

  it('registers crossAttn/crossAttnNorm, needs the encoder, and its cache reuses the encoder keys', () => {
    const b = decoder();
    b.eval();
    expect(b.namedParameters().map(([k]) => k)).toContain('crossAttn.key.weight');
    expect(b.crossAttn!.key.weight.shape).toEqual([6, 8]);
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 1);
    const enc = tf.randomNormal([2, 5, 6], 0, 1, 'float32', 2);
    const encMask = paddingMask([
      [1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0],
    ]);
    expect(() => b.forward(x, { mask: causalMask(4) })).toThrow(/pass the encoder output as `encoder`/);
    const full = b.forward(x, { mask: causalMask(4), encoder: enc, encoderMask: encMask }).output;
    const cache = new KVCache(1);
    const steps: tf.Tensor[] = [];
    for (let i = 0; i < 4; i++) {
      steps.push(
        b.forward(x.slice([0, i], [-1, 1]), {
          mask: causalMask(1, i + 1),
          cache: cache.layers[0],
          encoderMask: encMask,
          // the encoder output is only needed on the first step
          ...(i === 0 ? { encoder: enc } : {}),
        }).output,
      );
      expect(cache.layers[0]!.cross!.k!.shape).toEqual([2, 2, 5, 4]);
      expect(cache.length).toBe(i + 1);
    }
    expect(maxDiff(tf.concat(steps, 1), full)).toBeLessThan(1e-5);
    // the padded encoder positions are not attended: changing them changes nothing
    const enc2 = tf.concat([enc.slice([0, 0], [-1, 3]), tf.randomNormal([2, 2, 6], 0, 5, 'float32', 9)], 1);
    const row1 = (e: tf.Tensor) =>
      b.forward(x, { mask: causalMask(4), encoder: e, encoderMask: encMask }).output.slice([1], [1]);
    expect(maxDiff(row1(enc), row1(enc2))).toBeLessThan(1e-6);
    cache.dispose();
    expect(cache.layers[0]!.cross).toBeUndefined();
  });

  it('the encoder gets its gradient through runBlocks', () => {
    const b = decoder();
    const x = tf.randomNormal([1, 3, 8], 0, 1, 'float32', 1);
    const enc = tf.randomNormal([1, 2, 6], 0, 1, 'float32', 2);
    const g = tf.grad((e: tf.Tensor) => runBlocks([b], x, { mask: causalMask(3), encoder: e }).output.sum())(
      enc,
    );
    expect(tf.max(tf.abs(g)).arraySync() as number).toBeGreaterThan(1e-4);
  });
});

describe('masks in the user’s words', () => {
  it('a (B, S) mask is never read as (T, S), and the error names paddingMask()', () => {
    const mha = new MultiHeadAttention({ dim: 4, numHeads: 1 });
    const x = tf.randomNormal([3, 3, 4]);
    const raw = tf.tensor2d(
      [
        [1, 1, 0],
        [1, 0, 0],
        [1, 1, 1],
      ],
      [3, 3],
      'int32',
    );
    expect(() => mha.forward(x, { mask: raw })).toThrow(ShapeError);
    expect(() => mha.forward(x, { mask: raw })).toThrow(/ambiguous.*paddingMask\(mask\) → \(B, 1, 1, S\)/);
    expect(() => mha.forward(x, { mask: paddingMask(raw) })).not.toThrow();
    // B = T = 3 with a real causal mask is fine
    expect(() => mha.forward(x, { mask: causalMask(3) })).not.toThrow();
    expect(() => mha.forward(x, { mask: tf.ones([2, 2, 3]) })).toThrow(/causalMask\(T, S\)/);
  });
});

/** A user's own block (no TransformerBlock inside): norm → linear, with the documented interface. */
class TinyBlock extends Module implements Block {
  recompute = false;
  readonly norm = this.module('norm', new LayerNorm(4));
  readonly fc = this.module('fc', new Linear(4, 4, { std: 0.5, rng: new Rng(1) }));
  forward(x: tf.Tensor, options: BlockOptions = {}): BlockResult {
    return forwardBlock(this, x, options, (h) => ({
      output: h.add(this.fc.forward(this.norm.forward(h)).tanh()),
    }));
  }
}

describe('any Block', () => {
  it('runBlocks and setRecompute take a custom block; recompute gives the same gradients', () => {
    class Net extends Module {
      readonly blocks = this.moduleList('blocks', [new TinyBlock(), new TinyBlock()]);
    }
    const net = new Net();
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 3);
    const grads = (on: boolean) => {
      setRecompute(net, on);
      expect(net.blocks.every((b) => b.recompute === on)).toBe(true);
      const { grads } = valueAndGrads(
        () => runBlocks(net.blocks, x).output.square().sum() as tf.Scalar,
        net.parameters(),
      );
      return grads;
    };
    const a = grads(false);
    const b = grads(true);
    a.forEach((g, i) => {
      expect(maxDiff(g!, b[i]!)).toBeLessThan(1e-5);
    });
  });
});
