import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@transformer-kit/core';
import {
  batchMatMul,
  InvalidArgumentError,
  Linear,
  Module,
  reshape,
  ShapeError,
} from '@transformer-kit/core';
import { type AttentionBias, attentionBias, checkBroadcast, type Mask } from './mask.js';
import { attentionProbs } from './probs.js';

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
  /** Init std of the projections (default 0.02) and of the output projection (default std). */
  std?: number;
  outputStd?: number;
  rng?: Rng;
}

/** Keys and values of one layer for incremental decoding, (B, H, S, headDim) each. */
export interface LayerKV {
  k?: tf.Tensor4D;
  v?: tf.Tensor4D;
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
      tf.dispose([l.k, l.v].filter((t): t is tf.Tensor4D => t !== undefined));
      l.k = undefined;
      l.v = undefined;
    }
  }
}

export interface AttentionOptions {
  /** Key/value input (B, S, kvDim) for cross-attention; default: x itself (self-attention). */
  kv?: tf.Tensor;
  /** Keep-mask or additive bias broadcastable to (B, H, T, S), or a prepared AttentionBias. */
  mask?: Mask | AttentionBias;
  /** This layer's KV cache: its keys/values are prepended and the new ones appended (self-attention). */
  cache?: LayerKV;
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

  constructor(config: MultiHeadAttentionConfig) {
    super();
    const { dim, numHeads, bias = true, std = 0.02, rng } = config;
    if (!Number.isInteger(numHeads) || numHeads < 1)
      throw new InvalidArgumentError(`numHeads must be a positive integer, got ${numHeads}`);
    if (config.headDim === undefined && dim % numHeads !== 0) {
      throw new InvalidArgumentError(
        `dim ${dim} is not divisible by numHeads ${numHeads}; pass headDim explicitly`,
      );
    }
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = config.headDim ?? dim / numHeads;
    this.kvDim = config.kvDim ?? dim;
    this.dropoutRate = config.dropout ?? 0;
    const inner = this.numHeads * this.headDim;
    this.query = this.module('query', new Linear(dim, inner, { bias, std, rng }));
    this.key = this.module('key', new Linear(this.kvDim, inner, { bias, std, rng }));
    this.value = this.module('value', new Linear(this.kvDim, inner, { bias, std, rng }));
    this.output = this.module('output', new Linear(inner, dim, { bias, std: config.outputStd ?? std, rng }));
  }

  /** x (B, T, dim) → output (B, T, dim) and, if asked, probabilities (B, H, T, S). */
  forward(x: tf.Tensor, options: AttentionOptions = {}): AttentionResult {
    const { kv, mask, cache, returnAttention = false } = options;
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(`attention input must be (B, T, ${this.dim}), got [${x.shape}]`);
    }
    const src = kv ?? x;
    if (src.rank !== 3 || src.shape[0] !== x.shape[0] || src.shape[2] !== this.kvDim) {
      throw new ShapeError(
        `attention key/value input must be (${x.shape[0]}, S, ${this.kvDim}), got [${src.shape}]`,
      );
    }
    const [b, t] = x.shape as [number, number, number];
    const q = this.splitHeads(this.query.forward(x));
    let k = this.splitHeads(this.key.forward(src));
    let v = this.splitHeads(this.value.forward(src));
    if (cache) {
      if (cache.k && cache.v) {
        k = tf.concat([cache.k, k], 2);
        v = tf.concat([cache.v, v], 2);
      }
      // The cache outlives the caller's tidy; the previous step's tensors are no longer needed.
      tf.dispose([cache.k, cache.v].filter((c): c is tf.Tensor4D => c !== undefined));
      cache.k = tf.keep(k);
      cache.v = tf.keep(v);
    }
    const s = k.shape[2];
    const scores = batchMatMul(q, k, true);
    let prepared: AttentionBias | undefined;
    if (mask) {
      prepared = attentionBias(mask);
      checkBroadcast([b, this.numHeads, t, s], prepared.bias.shape, 'attention mask (B,H,T,S)', {
        to: true,
      });
    }
    const { probs, dropped } = attentionProbs(
      scores,
      1 / Math.sqrt(this.headDim),
      prepared,
      this.dropoutRate,
      this.training,
      returnAttention,
    );
    const attended = batchMatMul(dropped, v);
    const merged = reshape(attended.transpose([0, 2, 1, 3]), [b, t, this.numHeads * this.headDim]);
    const output = this.output.forward(merged);
    return returnAttention ? { output, attention: probs } : { output };
  }

  /** (B, T, H·hd) → (B, H, T, hd). */
  private splitHeads(y: tf.Tensor): tf.Tensor4D {
    const [b, t] = y.shape as [number, number, number];
    return reshape(y, [b, t, this.numHeads, this.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  }
}
