import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@transformer-kit/core';
import { InvalidArgumentError, Linear, Module, reshape, ShapeError } from '@transformer-kit/core';
import { type AttentionBias, attentionBias, checkMaskShape, type Mask } from './mask.js';
import { alibiBias, Rotary, type RotaryConfig } from './positions.js';
import { attend } from './probs.js';

/** A module with forward(x) → same shape: a norm, an MLP, or anything the block is given as a part. */
export type Layer = Module & { forward(x: tf.Tensor): tf.Tensor };

export interface MultiHeadAttentionConfig {
  /** Model width: the query input's last dim and the output's. */
  dim: number;
  numHeads: number;
  /** Size of each head; default dim / numHeads. heads × headDim may differ from dim if given. */
  headDim?: number;
  /** Width of the key/value input for cross-attention; default dim. */
  kvDim?: number;
  /** Dropout on the attention probabilities (training only). */
  dropout?: number;
  /** Biases on the four projections (default true). */
  bias?: boolean;
  /** Biases on query/key/value only (Qwen2: true with outputBias false); default `bias`. */
  qkvBias?: boolean;
  /** Bias on the output projection; default `bias`. */
  outputBias?: boolean;
  /**
   * Key/value heads (GQA; 1 = MQA); default numHeads. Each serves numHeads / numKvHeads query heads, and
   * the KV cache holds only these.
   */
  numKvHeads?: number;
  /** Norm of each query and key head before the scores (Qwen3, OLMo2 `q_norm`/`k_norm`): built per headDim. */
  qkNorm?: (headDim: number) => Layer;
  /** Rotary positions on queries and keys (self-attention; positions continue from the cache length). */
  rotary?: Omit<RotaryConfig, 'headDim'>;
  /** ALiBi: a per-head linear distance bias added to the scores. */
  alibi?: boolean;
  /** Names used in errors for `dim` (a block says 'hiddenSize'). */
  dimName?: string;
  /** Init std of the projections (default 0.02) and of the output projection (default std). */
  std?: number;
  outputStd?: number;
  rng?: Rng;
}

/**
 * Keys and values of one layer for incremental decoding, (B, numKvHeads, S, headDim) each. `cross` holds a
 * cross-attention sub-layer's keys/values of the encoder output: computed on the first step, reused after.
 */
export interface LayerKV {
  k?: tf.Tensor4D;
  v?: tf.Tensor4D;
  cross?: { k?: tf.Tensor4D; v?: tf.Tensor4D };
}

/**
 * Keys and values of every layer, grown by one step per forward pass. The tensors live outside any tidy;
 * call `dispose()` when done.
 */
export class KVCache {
  readonly layers: LayerKV[];
  constructor(numLayers: number) {
    this.layers = Array.from({ length: numLayers }, () => ({}));
  }
  /** Number of positions cached so far. */
  get length(): number {
    return this.layers[0]?.k?.shape[2] ?? 0;
  }
  dispose(): void {
    for (const l of this.layers) {
      tf.dispose([l.k, l.v, l.cross?.k, l.cross?.v].filter((t): t is tf.Tensor4D => t !== undefined));
      l.k = undefined;
      l.v = undefined;
      l.cross = undefined;
    }
  }
}

export interface AttentionOptions {
  /** Key/value input (B, S, kvDim) for cross-attention; default: x itself (self-attention). */
  kv?: tf.Tensor;
  /** Keep-mask or additive bias broadcastable to (B, H, T, S), or a prepared AttentionBias. */
  mask?: Mask | AttentionBias;
  /**
   * This layer's KV cache. Self-attention: cached keys/values are prepended and the new ones appended.
   * Cross-attention (`kv` given, or `fixedKV`): filled from `kv` once, then reused as is (`kv` may be omitted).
   */
  cache?: LayerKV;
  /** The cache holds fixed keys/values (an encoder's) instead of growing: set by cross-attention. */
  fixedKV?: boolean;
  /** Also return the attention probabilities (B, H, T, S). */
  returnAttention?: boolean;
}

export interface AttentionResult {
  output: tf.Tensor;
  attention?: tf.Tensor;
}

/**
 * Multi-head scaled dot-product attention with separate query/key/value/output projections (separate
 * projections are faster than slicing a fused one on wasm; GPT-2's fused c_attn is split at load time).
 */
export class MultiHeadAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly output: Linear;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dim: number;
  readonly kvDim: number;
  readonly dropoutRate: number;
  readonly numKvHeads: number;
  readonly qNorm: Layer | undefined;
  readonly kNorm: Layer | undefined;
  readonly rotary: Rotary | undefined;
  readonly alibi: boolean;
  readonly #dimName: string;

  constructor(config: MultiHeadAttentionConfig) {
    super();
    const { dim, numHeads, bias = true, std = 0.02, rng } = config;
    const dimName = config.dimName ?? 'dim';
    this.#dimName = dimName;
    if (!Number.isInteger(numHeads) || numHeads < 1)
      throw new InvalidArgumentError(`numHeads must be a positive integer, got ${numHeads}`);
    if (config.headDim === undefined && dim % numHeads !== 0) {
      throw new InvalidArgumentError(
        `${dimName} ${dim} is not divisible by numHeads ${numHeads}; pass headDim explicitly`,
      );
    }
    const numKvHeads = config.numKvHeads ?? numHeads;
    if (!Number.isInteger(numKvHeads) || numKvHeads < 1 || numHeads % numKvHeads !== 0)
      throw new InvalidArgumentError(
        `numKvHeads must be a positive integer dividing numHeads ${numHeads}, got ${numKvHeads}`,
      );
    this.dim = dim;
    this.numHeads = numHeads;
    this.numKvHeads = numKvHeads;
    this.headDim = config.headDim ?? dim / numHeads;
    this.kvDim = config.kvDim ?? dim;
    this.dropoutRate = config.dropout ?? 0;
    const inner = this.numHeads * this.headDim;
    const kvInner = numKvHeads * this.headDim;
    const qkvBias = config.qkvBias ?? bias;
    this.query = this.module('query', new Linear(dim, inner, { bias: qkvBias, std, rng }));
    this.key = this.module('key', new Linear(this.kvDim, kvInner, { bias: qkvBias, std, rng }));
    this.value = this.module('value', new Linear(this.kvDim, kvInner, { bias: qkvBias, std, rng }));
    this.output = this.module(
      'output',
      new Linear(inner, dim, { bias: config.outputBias ?? bias, std: config.outputStd ?? std, rng }),
    );
    this.qNorm = config.qkNorm ? this.module('qNorm', config.qkNorm(this.headDim)) : undefined;
    this.kNorm = config.qkNorm ? this.module('kNorm', config.qkNorm(this.headDim)) : undefined;
    this.rotary = config.rotary ? new Rotary({ headDim: this.headDim, ...config.rotary }) : undefined;
    this.alibi = config.alibi ?? false;
  }

  /** x (B, T, dim) → output (B, T, dim) and, if asked, probabilities (B, H, T, S). */
  forward(x: tf.Tensor, options: AttentionOptions = {}): AttentionResult {
    const { kv, mask, cache, returnAttention = false } = options;
    const fixed = options.fixedKV ?? kv !== undefined;
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(
        `attention input must be (B, T, ${this.dim}) (${this.dimName} = ${this.dim}), got [${x.shape}]`,
      );
    }
    const [b, t] = x.shape as [number, number, number];
    let q = this.splitHeads(this.query.forward(x), this.numHeads);
    if (this.qNorm) q = this.qNorm.forward(q) as tf.Tensor4D;
    let k: tf.Tensor4D;
    let v: tf.Tensor4D;
    if (fixed && cache?.k && cache.v) {
      // Cross-attention after the first step: the encoder's keys/values are already projected.
      k = cache.k;
      v = cache.v;
    } else {
      const src = kv ?? x;
      if (src.rank !== 3 || src.shape[0] !== b || src.shape[2] !== this.kvDim) {
        throw new ShapeError(
          `attention key/value input must be (${b}, S, ${this.kvDim}), got [${src.shape}]`,
        );
      }
      k = this.splitHeads(this.key.forward(src), this.numKvHeads);
      v = this.splitHeads(this.value.forward(src), this.numKvHeads);
      if (this.kNorm) k = this.kNorm.forward(k) as tf.Tensor4D;
      const past = fixed ? 0 : (cache?.k?.shape[2] ?? 0);
      if (this.rotary) {
        q = this.rotary.rotate(q, past) as tf.Tensor4D;
        k = this.rotary.rotate(k, past) as tf.Tensor4D;
      }
      if (cache) {
        if (!fixed && cache.k && cache.v) {
          k = tf.concat([cache.k, k], 2);
          v = tf.concat([cache.v, v], 2);
        }
        // The cache outlives the caller's tidy; the previous step's tensors are no longer needed.
        tf.dispose([cache.k, cache.v].filter((c): c is tf.Tensor4D => c !== undefined));
        cache.k = tf.keep(k);
        cache.v = tf.keep(v);
      }
    }
    const s = k.shape[2];
    let prepared: AttentionBias | undefined;
    if (mask) {
      checkMaskShape(mask, [b, this.numHeads, t, s]);
      prepared = attentionBias(mask);
    }
    if (this.alibi) {
      const slopes = alibiBias(this.numHeads, t, s);
      prepared = prepared ? { ...prepared, bias: prepared.bias.add(slopes) } : { bias: slopes };
    }
    const { probs, output: attended } = attend(
      q,
      k,
      v,
      1 / Math.sqrt(this.headDim),
      prepared,
      this.dropoutRate,
      this.training,
      returnAttention,
    );
    const merged = reshape(attended.transpose([0, 2, 1, 3]), [b, t, this.numHeads * this.headDim]);
    const output = this.output.forward(merged);
    return returnAttention ? { output, attention: probs } : { output };
  }

  get dimName(): string {
    return this.#dimName;
  }

  /** (B, T, H·hd) → (B, H, T, hd). */
  splitHeads(y: tf.Tensor, heads = this.numHeads): tf.Tensor4D {
    const [b, t] = y.shape as [number, number, number];
    return reshape(y, [b, t, heads, this.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  }
}
