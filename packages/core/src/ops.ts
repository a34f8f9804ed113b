import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';

/*
 * The few primitives every model is made of, written so that they train on every backend and run at
 * speed on wasm. Model code uses these instead of tf.matMul / tf.gather, so kernel gaps stay here:
 *  - wasm's matMul is fast (XNNPACK) only for plain 2-D, non-transposed operands, so gradients are
 *    formed with explicit transposes and plain 2-D products;
 *  - wasm has no UnsortedSegmentSum, so the gradient of an embedding lookup is a scatter-add (ScatterNd).
 */

/** Plain 2-D product a (M,K) @ b (K,N) whose gradients are plain 2-D products too. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulWithGrad(a, b) as tf.Tensor2D;
}

const matMulWithGrad = tf.customGrad((...args) => {
  const [x, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, y]);
  return {
    value: tf.matMul(x, y),
    gradFunc: (dy, [sx, sy]) => [
      tf.matMul(dy as tf.Tensor2D, tf.transpose(sy as tf.Tensor2D)),
      tf.matMul(tf.transpose(sx as tf.Tensor2D), dy as tf.Tensor2D),
    ],
  };
});

/** x (..., in) @ weight (in, out) + bias (out) → (..., out). */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = weight.shape[0]!;
  const lastDim = x.shape[x.rank - 1];
  if (lastDim !== inDim) throw new ShapeError(`linear: input last dim ${lastDim} != weight in-features ${inDim}`);
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor = matMul(x.reshape([-1, inDim]) as tf.Tensor2D, weight as tf.Tensor2D);
  if (bias) y = y.add(bias);
  return y.reshape([...lead, weight.shape[1]!]);
}

/**
 * Batched product for attention: a (..., T, K) @ b (..., K, S), optionally with b given as (..., S, K)
 * (`transposeB`). Leading dims must match.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  return tf.matMul(a, b, false, transposeB);
}

/** Rows of `table` (V, D) at integer `ids` of any shape → (...ids.shape, D). Trains on every backend. */
export function embedding(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const dim = table.shape[1]!;
  return embeddingWithGrad(table, ids.reshape([-1]).cast('int32')).reshape([...ids.shape, dim]);
}

const embeddingWithGrad = tf.customGrad((...args) => {
  const [table, ids, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([ids]);
  return {
    value: tf.gather(table, ids),
    // Scatter-add of the incoming rows (ScatterNd sums duplicate indices); ids get no gradient.
    gradFunc: (dy, [savedIds]) => [
      tf.scatterND(savedIds!.expandDims(1), dy, table.shape),
      tf.zerosLike(savedIds!),
    ],
  };
});

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(variance.add(eps).rsqrt()).mul(gamma).add(beta);
}

/** GELU, exact (erf) form: BERT's `gelu`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5);
}

/** GELU, tanh approximation: GPT-2's `gelu_new`. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(tf.tanh(inner).add(1)).mul(0.5);
}

/** Inverted dropout; identity when not training or rate is 0. */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate === 0) return x;
  return tf.dropout(x, rate, undefined, seed);
}

/**
 * Mean cross-entropy of logits (N, V) against integer targets (N), skipping positions whose target is
 * `ignoreIndex`. Written with a one-hot product rather than a gather so its gradient runs on wasm.
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, ignoreIndex = -100): tf.Scalar {
  const v = logits.shape[logits.rank - 1]!;
  const flatLogits = logits.reshape([-1, v]);
  const flatTargets = targets.reshape([-1]).cast('int32');
  if (flatLogits.shape[0] !== flatTargets.shape[0]) {
    throw new ShapeError(`crossEntropy: ${flatLogits.shape[0]} logit rows but ${flatTargets.shape[0]} targets`);
  }
  const valid = flatTargets.notEqual(ignoreIndex);
  const safeTargets = tf.where(valid, flatTargets, tf.zerosLike(flatTargets));
  const logProbs = tf.logSoftmax(flatLogits);
  const picked = logProbs.mul(tf.oneHot(safeTargets, v)).sum(-1);
  const weights = valid.cast('float32');
  return picked.mul(weights).sum().neg().div(weights.sum().maximum(1)) as tf.Scalar;
}
