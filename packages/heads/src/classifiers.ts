import type * as tf from '@tensorflow/tfjs';
import { Mlp, type MlpOptions, Module } from '@transformer-kit/core';
import { checkHidden } from './check.js';
import { clsToken, meanPool, Pooler } from './pooling.js';

/*
 * Classification heads. Each takes the backbone's hidden states (B,T,D) and the attention mask (B,T)
 * (1 = real token, 0 = padding) and returns logits. The MLP between the pooled vector and the output layer
 * is configurable; with no hidden layers and the pooler on, ClsClassifier is exactly BERT's
 * BertForSequenceClassification head (pooler → dropout → classifier).
 */

/** What a head's MLP takes (core's Mlp): hidden sizes, activation, dropout (default 0.1, BERT's), rng. */
export type HeadOptions = Pick<MlpOptions, 'hiddenSizes' | 'activation' | 'dropout' | 'rng'>;

const headMlp = (inDim: number, numClasses: number, { dropout = 0.1, ...o }: HeadOptions) =>
  new Mlp(inDim, numClasses, { ...o, dropout });

export interface ClsClassifierOptions extends HeadOptions {
  /** BERT's pooler (dense + tanh on the [CLS] vector) in front of the MLP (default true). */
  pooler?: boolean;
}

/** The first position's ([CLS]) hidden state → optional pooler → MLP → logits (B, numClasses). */
export class ClsClassifier extends Module {
  readonly pooler: Pooler | undefined;
  readonly mlp: Mlp;
  constructor(
    readonly hiddenSize: number,
    readonly numClasses: number,
    { pooler = true, ...mlp }: ClsClassifierOptions = {},
  ) {
    super();
    this.pooler = pooler ? this.module('pooler', new Pooler(hiddenSize, { rng: mlp.rng })) : undefined;
    this.mlp = this.module('mlp', headMlp(hiddenSize, numClasses, mlp));
  }
  /** The pooled vector (B, D): tanh(dense([CLS])) with the pooler, the raw [CLS] state without. */
  pool(hidden: tf.Tensor): tf.Tensor {
    checkHidden(hidden, undefined, this.hiddenSize);
    return this.pooler ? this.pooler.forward(hidden) : clsToken(hidden);
  }
  /** `attentionMask` is accepted for a uniform head signature; [CLS] is never padding. */
  forward(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
    checkHidden(hidden, attentionMask, this.hiddenSize);
    return this.mlp.forward(this.pool(hidden));
  }
}

/** A head that pools the hidden states (or not) and applies an MLP. Params: mlp.* */
abstract class PoolingHead extends Module {
  readonly mlp: Mlp;
  constructor(
    readonly hiddenSize: number,
    readonly numClasses: number,
    options: HeadOptions = {},
  ) {
    super();
    this.mlp = this.module('mlp', headMlp(hiddenSize, numClasses, options));
  }
  protected abstract pool(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor;
  forward(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
    checkHidden(hidden, attentionMask, this.hiddenSize);
    return this.mlp.forward(this.pool(hidden, attentionMask));
  }
}

/** Mean of the hidden states over real tokens (padding excluded) → MLP → logits: a bag-of-vectors baseline. */
export class MeanPoolClassifier extends PoolingHead {
  protected pool(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor {
    return meanPool(hidden, attentionMask);
  }
}

/** Per-token logits (B, T, numClasses), e.g. for NER. With no hidden layers: BERT's token-classification head. */
export class TokenClassifier extends PoolingHead {
  protected pool(hidden: tf.Tensor): tf.Tensor {
    return hidden;
  }
}
