import * as tf from '@tensorflow/tfjs';
import {
  dropout,
  gelu,
  geluTanh,
  InvalidArgumentError,
  Linear,
  Module,
  type Rng,
  ShapeError,
} from '@transformer-kit/core';

/*
 * Classification heads. Each takes the backbone's hidden states (B,T,D) and the attention mask (B,T)
 * (1 = real token, 0 = padding) and returns logits. The MLP between the pooled vector and the output layer
 * is configurable; with no hidden layers and the pooler on, ClsClassifier is exactly BERT's
 * BertForSequenceClassification head (pooler → dropout → classifier).
 */

export type Activation = 'gelu' | 'gelu_tanh' | 'relu' | 'tanh';

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'gelu':
      return gelu(x);
    case 'gelu_tanh':
      return geluTanh(x);
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    default:
      throw new InvalidArgumentError(
        `unknown activation '${activation as string}'; valid: gelu, gelu_tanh, relu, tanh`,
      );
  }
}

export interface MlpOptions {
  /** Sizes of the hidden layers between the pooled vector and the logits (default none). */
  hiddenSizes?: number[];
  /** Activation after each hidden layer (default 'gelu'). */
  activation?: Activation;
  /** Dropout before each Linear (default 0.1, BERT's hidden_dropout_prob). */
  dropout?: number;
  rng?: Rng;
}

/** dropout → Linear → activation, repeated, then dropout → Linear to `numClasses`. Params: hidden.i.*, out.*. */
export class Mlp extends Module {
  readonly hidden: Linear[];
  readonly out: Linear;
  readonly activation: Activation;
  readonly dropoutRate: number;
  constructor(
    inDim: number,
    numClasses: number,
    { hiddenSizes = [], activation = 'gelu', dropout = 0.1, rng }: MlpOptions = {},
  ) {
    super();
    if (!Number.isInteger(numClasses) || numClasses < 1)
      throw new InvalidArgumentError(`numClasses must be a positive integer, got ${numClasses}`);
    if (dropout < 0 || dropout >= 1)
      throw new InvalidArgumentError(`dropout must be in [0, 1), got ${dropout}`);
    const dims = [inDim, ...hiddenSizes];
    this.hidden = this.moduleList(
      'hidden',
      hiddenSizes.map((h, i) => new Linear(dims[i]!, h, { rng })),
    );
    this.out = this.module('out', new Linear(dims[dims.length - 1]!, numClasses, { rng }));
    this.activation = activation;
    this.dropoutRate = dropout;
  }
  forward(x: tf.Tensor): tf.Tensor {
    for (const layer of this.hidden)
      x = activate(layer.forward(dropout(x, this.dropoutRate, this.training)), this.activation);
    return this.out.forward(dropout(x, this.dropoutRate, this.training));
  }
}

/** Checks hidden (B,T,D) against the mask (B,T); returns [B, T, D]. */
export function checkHidden(
  hidden: tf.Tensor,
  attentionMask?: tf.Tensor,
  dim?: number,
): [number, number, number] {
  if (hidden.rank !== 3)
    throw new ShapeError(`hidden states must be (batch, seq, dim), got shape [${hidden.shape}]`);
  const [b, t, d] = hidden.shape as [number, number, number];
  if (dim !== undefined && d !== dim)
    throw new ShapeError(`hidden size ${d} does not match the head's ${dim}`);
  if (
    attentionMask &&
    (attentionMask.rank !== 2 || attentionMask.shape[0] !== b || attentionMask.shape[1] !== t)
  ) {
    throw new ShapeError(
      `attention mask shape [${attentionMask.shape}] does not match hidden states (batch ${b}, seq ${t})`,
    );
  }
  return [b, t, d];
}

export interface ClsClassifierOptions extends MlpOptions {
  /** BERT's pooler (dense + tanh on the [CLS] vector) in front of the MLP (default true). */
  pooler?: boolean;
}

/** The first position's ([CLS]) hidden state → optional pooler → MLP → logits (B, numClasses). */
export class ClsClassifier extends Module {
  readonly pooler: Linear | undefined;
  readonly mlp: Mlp;
  constructor(
    readonly hiddenSize: number,
    readonly numClasses: number,
    { pooler = true, ...mlp }: ClsClassifierOptions = {},
  ) {
    super();
    this.pooler = pooler
      ? this.module('pooler', new Linear(hiddenSize, hiddenSize, { rng: mlp.rng }))
      : undefined;
    this.mlp = this.module('mlp', new Mlp(hiddenSize, numClasses, mlp));
  }
  /** The pooled vector (B, D): tanh(dense([CLS])) with the pooler, the raw [CLS] state without. */
  pool(hidden: tf.Tensor): tf.Tensor {
    const [b, , d] = checkHidden(hidden, undefined, this.hiddenSize);
    const cls = hidden.slice([0, 0, 0], [b, 1, d]).reshape([b, d]);
    return this.pooler ? tf.tanh(this.pooler.forward(cls)) : cls;
  }
  /** `attentionMask` is accepted for a uniform head signature; [CLS] is never padding. */
  forward(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
    checkHidden(hidden, attentionMask, this.hiddenSize);
    return this.mlp.forward(this.pool(hidden));
  }
}

/** Mean of the hidden states over real tokens (padding excluded) → MLP → logits: a bag-of-vectors baseline. */
export class MeanPoolClassifier extends Module {
  readonly mlp: Mlp;
  constructor(
    readonly hiddenSize: number,
    readonly numClasses: number,
    options: MlpOptions = {},
  ) {
    super();
    this.mlp = this.module('mlp', new Mlp(hiddenSize, numClasses, options));
  }
  forward(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
    checkHidden(hidden, attentionMask, this.hiddenSize);
    return this.mlp.forward(meanPool(hidden, attentionMask));
  }
}

/** Padding-aware mean over T: (B,T,D), (B,T) → (B,D). Rows with no real token give zeros. */
export function meanPool(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
  if (!attentionMask) return hidden.mean(1);
  // A real float32 buffer: on WebGPU a cast from int32 only relabels the int buffer, and reducing that view
  // over T compiles an invalid transpose shader (tfjs-backend-webgpu 4.22), a silently wrong mean.
  const keep = attentionMask.notEqual(0).expandDims(2);
  const m = tf.where(keep, tf.ones(keep.shape), tf.zeros(keep.shape));
  return hidden.mul(m).sum(1).div(m.sum(1).maximum(1));
}

/** Per-token logits (B, T, numClasses), e.g. for NER. With no hidden layers: BERT's token-classification head. */
export class TokenClassifier extends Module {
  readonly mlp: Mlp;
  constructor(
    readonly hiddenSize: number,
    readonly numClasses: number,
    options: MlpOptions = {},
  ) {
    super();
    this.mlp = this.module('mlp', new Mlp(hiddenSize, numClasses, options));
  }
  forward(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
    checkHidden(hidden, attentionMask, this.hiddenSize);
    return this.mlp.forward(hidden);
  }
}
