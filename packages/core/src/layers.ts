import * as tf from '@tensorflow/tfjs';
import { canReadSync } from './env.js';
import { ShapeError } from './errors.js';
import { checkIds } from './ids.js';
import { Module } from './module.js';
import { embedding, layerNorm, linear } from './ops.js';
import type { Rng } from './random.js';
import { rowsPerBinding } from './row-blocks.js';

/**
 * The parameterised building blocks. Weights keep TF.js's natural layout, Linear as (in, out), so the
 * forward pass is a plain matmul; checkpoint loaders state any transposition from HF layouts.
 */

export interface LinearOptions {
  bias?: boolean;
  /** Std of the normal init (GPT-2 / BERT use 0.02). */
  std?: number;
  rng?: Rng;
}

/** What an adapter adds to a Linear's output y for input x (e.g. LoRA's scaling·B·A·x), or y itself. */
export type LinearAdapter = (x: tf.Tensor, y: tf.Tensor) => tf.Tensor;

export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;
  /**
   * Set by adapter libraries (@transformer-kit/lora), not by models: it sees the linear map's own input and
   * output, also where a subclass (BERT's pooler) wraps forward.
   */
  adapter: LinearAdapter | undefined;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    { bias = true, std = 0.02, rng }: LinearOptions = {},
  ) {
    super();
    this.weight = this.param(
      'weight',
      tf.randomNormal([inFeatures, outFeatures], 0, std, 'float32', rng?.nextSeed()),
    );
    this.bias = bias ? this.param('bias', tf.zeros([outFeatures])) : undefined;
  }
  forward(x: tf.Tensor): tf.Tensor {
    const y = linear(x, this.weight, this.bias);
    return this.adapter ? this.adapter(x, y) : y;
  }
}

export class Embedding extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
    { std = 0.02, rng }: { std?: number; rng?: Rng } = {},
  ) {
    super();
    this.weight = this.param(
      'weight',
      tf.randomNormal([numEmbeddings, dim], 0, std, 'float32', rng?.nextSeed()),
    );
  }
  /** ids of any shape → (...ids.shape, dim). Ids are checked where a sync read is cheap (cpu, wasm). */
  forward(ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== 'int32' && ids.dtype !== 'float32')
      throw new ShapeError(`Embedding: ids must be int32 (or integral float32), got ${ids.dtype}`);
    if (canReadSync())
      checkIds(ids.dataSync(), this.numEmbeddings, {
        fix: `this Embedding has ${this.numEmbeddings} rows (numEmbeddings)`,
      });
    return embedding(this.weight, ids);
  }
  /**
   * Rows start .. start + length − 1 → (length, dim): absolute positions, the same values and gradient as
   * forward() of those ids, by one slice (no ids tensor, no gather, no scatter in the backward pass).
   */
  rows(start: number, length: number): tf.Tensor2D {
    const ok = Number.isInteger(start) && Number.isInteger(length) && start >= 0 && length >= 0;
    if (!ok || start + length > this.numEmbeddings)
      throw new ShapeError(
        `Embedding.rows: rows ${start} .. ${start + length - 1} are outside the table's ${this.numEmbeddings} rows`,
      );
    // A table over WebGPU's storage-binding limit is read in row blocks by forward().
    if (rowsPerBinding(this.weight) !== Number.POSITIVE_INFINITY)
      return tf.tidy(() => this.forward(tf.range(start, start + length, 1, 'int32'))) as tf.Tensor2D;
    return this.weight.slice([start, 0], [length, this.dim]) as tf.Tensor2D;
  }
}

export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', tf.ones([dim]));
    this.bias = this.param('bias', tf.zeros([dim]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * Root-mean-square norm (Llama, T5): x / sqrt(mean(x²) + eps) · weight, no centring and no bias. Computed as
 * HF's LlamaRMSNorm does (mean of squares over the last axis, eps inside the root).
 */
export class RMSNorm extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.param('weight', tf.ones([dim]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => x.mul(tf.rsqrt(x.square().mean(-1, true).add(this.eps))).mul(this.weight));
  }
}
