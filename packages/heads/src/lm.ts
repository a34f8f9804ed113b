import * as tf from '@tensorflow/tfjs';
import {
  type Activation,
  activate,
  embedding,
  IGNORE_INDEX,
  InvalidArgumentError,
  LayerNorm,
  Linear,
  linearCrossEntropy,
  Module,
  matMul,
  matMulTransposed,
  type Rng,
  rowBlock,
  rowsPerBinding,
  ShapeError,
} from '@transformer-kit/core';
import { checkHidden } from './check.js';

/*
 * Vocabulary heads. Decoders tied to an embedding table (V, D) project with the table's transpose
 * (core's matMulTransposed: on wasm its kernel reads the table transposed; no transposed copy is made).
 */

/** hidden (N, D) @ table (V, D)ᵀ → (N, V), gradients flowing into both. */
function projectTied(x: tf.Tensor, table: tf.Tensor): tf.Tensor {
  const block = rowsPerBinding(table);
  if (block === Number.POSITIVE_INFINITY) return matMulTransposed(x as tf.Tensor2D, table as tf.Tensor2D);
  // WebGPU, a table over one storage binding (GPT-2's on a 128 MiB device): vocabulary chunks that fit.
  const parts: tf.Tensor[] = [];
  for (let c0 = 0; c0 < table.shape[0]!; c0 += block) {
    const size = Math.min(block, table.shape[0]! - c0);
    parts.push(matMulTransposed(x as tf.Tensor2D, rowBlock(table as tf.Tensor2D, c0, size)));
  }
  const logits = tf.concat(parts, 1);
  tf.dispose(parts);
  return logits;
}

/**
 * Hidden states at `positions` (B, P) of each row: (B,T,D) → (B,P,D). Written as an embedding lookup into
 * the flattened (B·T, D) states, so the gradient is a scatter-add that runs on wasm (tf.gather's does not).
 * Positions must be integers in [0, T).
 */
export function gatherPositions(hidden: tf.Tensor, positions: tf.Tensor): tf.Tensor {
  const [b, t, d] = checkHidden(hidden);
  if (positions.rank !== 2 || positions.shape[0] !== b) {
    throw new ShapeError(`positions must be (batch=${b}, numPositions), got shape [${positions.shape}]`);
  }
  const p = positions.shape[1]!;
  const flat = positions.cast('int32').add(tf.range(0, b * t, t, 'int32').expandDims(1));
  return embedding(hidden.reshape([b * t, d]), flat).reshape([b, p, d]);
}

export interface MaskedLMHeadOptions {
  /** Activation of the transform (BERT: 'gelu'). */
  activation?: Activation;
  layerNormEps?: number;
  rng?: Rng;
}

/**
 * BERT's masked-LM head: dense → activation → LayerNorm → decoder tied to the word embeddings, + bias.
 * With `positions` it gathers the masked positions first, so the (expensive) vocabulary projection runs on
 * ~15% of the tokens. Params: dense.*, layerNorm.*, bias (the tied table belongs to the backbone).
 */
export class MaskedLMHead extends Module {
  readonly dense: Linear;
  readonly layerNorm: LayerNorm;
  readonly bias: tf.Variable;
  readonly activation: Activation;
  readonly vocabSize: number;
  constructor(
    readonly hiddenSize: number,
    /** The word-embedding table (V, D) the decoder shares; not owned by the head. */
    readonly tiedEmbedding: tf.Variable,
    { activation = 'gelu', layerNormEps = 1e-12, rng }: MaskedLMHeadOptions = {},
  ) {
    super();
    if (tiedEmbedding.rank !== 2 || tiedEmbedding.shape[1] !== hiddenSize) {
      throw new ShapeError(`tied embedding must be (vocab, ${hiddenSize}), got [${tiedEmbedding.shape}]`);
    }
    this.vocabSize = tiedEmbedding.shape[0]!;
    this.dense = this.module('dense', new Linear(hiddenSize, hiddenSize, { rng }));
    this.layerNorm = this.module('layerNorm', new LayerNorm(hiddenSize, layerNormEps));
    this.bias = this.param('bias', tf.zeros([this.vocabSize]));
    this.activation = activation;
  }
  /** hidden (B,T,D) → logits (B,P,V) at `positions` (B,P), or (B,T,V) at every position without them. */
  forward(hidden: tf.Tensor, positions?: tf.Tensor): tf.Tensor {
    checkHidden(hidden, undefined, this.hiddenSize);
    const x = positions ? gatherPositions(hidden, positions) : hidden;
    const lead = x.shape.slice(0, -1);
    const h = this.transform(x);
    return projectTied(h.reshape([-1, this.hiddenSize]), this.tiedEmbedding)
      .add(this.bias)
      .reshape([...lead, this.vocabSize]);
  }
  /**
   * Mean cross-entropy of the logits `forward(hidden, positions)` would give against `labels` (B, P) (or
   * (B, T) without positions), `ignoreIndex` skipped, by core's linearCrossEntropy: the logits are never
   * materialised (chunked over the vocabulary).
   */
  loss(hidden: tf.Tensor, labels: tf.Tensor, positions?: tf.Tensor, ignoreIndex = IGNORE_INDEX): tf.Scalar {
    checkHidden(hidden, undefined, this.hiddenSize);
    const x = positions ? gatherPositions(hidden, positions) : hidden;
    if (!tf.util.arraysEqual(labels.shape, x.shape.slice(0, -1))) {
      throw new ShapeError(`labels must have shape [${x.shape.slice(0, -1)}], got [${labels.shape}]`);
    }
    return linearCrossEntropy(this.transform(x), this.tiedEmbedding, labels, {
      bias: this.bias,
      ignoreIndex,
    });
  }
  private transform(x: tf.Tensor): tf.Tensor {
    return this.layerNorm.forward(activate(this.dense.forward(x), this.activation));
  }
}

export interface LMHeadOptions {
  /** Share this (V, D) embedding table as the decoder (GPT-2, BERT); else the head owns `weight` (D, V). */
  tiedEmbedding?: tf.Variable;
  /** Vocabulary size; required when untied. */
  vocabSize?: number;
  bias?: boolean;
  rng?: Rng;
}

/** Next-token (or any per-position) vocabulary projection: hidden (B,T,D) → logits (B,T,V). */
export class LMHead extends Module {
  readonly weight: tf.Variable | undefined;
  readonly bias: tf.Variable | undefined;
  readonly tiedEmbedding: tf.Variable | undefined;
  readonly vocabSize: number;
  constructor(
    readonly hiddenSize: number,
    { tiedEmbedding, vocabSize, bias = false, rng }: LMHeadOptions = {},
  ) {
    super();
    if (tiedEmbedding) {
      if (tiedEmbedding.rank !== 2 || tiedEmbedding.shape[1] !== hiddenSize) {
        throw new ShapeError(`tied embedding must be (vocab, ${hiddenSize}), got [${tiedEmbedding.shape}]`);
      }
      this.vocabSize = tiedEmbedding.shape[0]!;
      this.tiedEmbedding = tiedEmbedding;
    } else {
      if (!vocabSize || !Number.isInteger(vocabSize) || vocabSize < 1) {
        throw new InvalidArgumentError('an untied LMHead needs a positive integer vocabSize');
      }
      this.vocabSize = vocabSize;
      this.weight = this.param(
        'weight',
        tf.randomNormal([hiddenSize, vocabSize], 0, 0.02, 'float32', rng?.nextSeed()),
      );
    }
    this.bias = bias ? this.param('bias', tf.zeros([this.vocabSize])) : undefined;
  }
  forward(hidden: tf.Tensor): tf.Tensor {
    const [b, t] = checkHidden(hidden, undefined, this.hiddenSize);
    const x = hidden.reshape([b * t, this.hiddenSize]);
    let logits = this.tiedEmbedding
      ? projectTied(x, this.tiedEmbedding)
      : matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D);
    if (this.bias) logits = logits.add(this.bias);
    return logits.reshape([b, t, this.vocabSize]);
  }
  /**
   * Mean cross-entropy of `forward(hidden)` against targets (B, T), `ignoreIndex` skipped, by core's
   * linearCrossEntropy: the (B·T, V) logits are never materialised (chunked over the vocabulary).
   */
  loss(hidden: tf.Tensor, targets: tf.Tensor, ignoreIndex = IGNORE_INDEX): tf.Scalar {
    const [b, t] = checkHidden(hidden, undefined, this.hiddenSize);
    if (targets.rank !== 2 || targets.shape[0] !== b || targets.shape[1] !== t) {
      throw new ShapeError(`targets must have shape [${b},${t}], got [${targets.shape}]`);
    }
    const weight = (this.tiedEmbedding ?? this.weight)!;
    return linearCrossEntropy(hidden, weight, targets, {
      transposed: this.tiedEmbedding !== undefined,
      bias: this.bias,
      ignoreIndex,
    });
  }
}
