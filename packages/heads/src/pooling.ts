import * as tf from '@tensorflow/tfjs';
import { Linear, type Rng } from '@transformer-kit/core';
import { checkHidden } from './check.js';

/** The first position's ([CLS]) state: (B,T,D) → (B,D). */
export function clsToken(hidden: tf.Tensor): tf.Tensor {
  const [b, , d] = checkHidden(hidden);
  return hidden.slice([0, 0, 0], [b, 1, d]).reshape([b, d]);
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

/**
 * BERT's pooler, the one used by BertModel and ClsClassifier: tanh(dense([CLS])), (B,T,D) → (B,D).
 * Params: weight (D, D), bias (HF: pooler.dense.*).
 */
export class Pooler extends Linear {
  constructor(hiddenSize: number, { rng }: { rng?: Rng } = {}) {
    super(hiddenSize, hiddenSize, { rng });
  }
  override forward(hidden: tf.Tensor): tf.Tensor {
    return tf.tanh(super.forward(clsToken(hidden)));
  }
}
