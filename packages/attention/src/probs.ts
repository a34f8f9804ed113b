import * as tf from '@tensorflow/tfjs';
import { dropoutMask, fusedKernels, nextDropoutSeed } from '@transformer-kit/core';
import type { AttentionBias } from './mask.js';

/**
 * softmax(scores · scale + bias) · rowHasKeys: a query with no visible key attends to nothing (zeros, not
 * a uniform average).
 */
function softmaxProbs(scores: tf.Tensor, scale: number, bias: AttentionBias | undefined): tf.Tensor {
  return tf.tidy(() => {
    const scaled = scores.mul(scale);
    const p = tf.softmax(bias ? scaled.add(bias.bias) : scaled);
    return bias?.rowHasKeys ? p.mul(bias.rowHasKeys) : p;
  });
}

/**
 * The attention probabilities of raw scores q·kᵀ (scaled by `scale` here) and their dropout, as one op
 * whose backward pass keeps only the probabilities and a 1-byte dropout mask. Composed from TF.js ops it
 * kept five (B, H, T, S) tensors per layer (the biased scores for Add, the softmax for Softmax, both
 * Multiply inputs, dropout's float mask) and the unscaled q.
 * `probs` (before dropout, what attention maps show) is returned only when asked for.
 */
export function attentionProbs(
  scores: tf.Tensor,
  scale: number,
  bias: AttentionBias | undefined,
  dropoutRate: number,
  training: boolean,
  returnProbs = false,
): { dropped: tf.Tensor; probs?: tf.Tensor } {
  const drop = training && dropoutRate > 0;
  const seed = drop ? nextDropoutSeed() : 0;
  const keep = 1 / (1 - dropoutRate);
  const dropped = tf.customGrad((...args) => {
    const [s, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const mask = drop ? dropoutMask(s.shape, dropoutRate, seed) : undefined;
    // A backend's fused kernel (WebGPU: one dispatch for the probabilities, one for dropout), else TF.js's ops.
    const kernels = fusedKernels();
    const fused =
      s.dtype === 'float32'
        ? kernels.attentionSoftmax?.(s, scale, bias?.bias, bias?.rowHasKeys, mask, keep)
        : undefined;
    const p = fused?.probs ?? softmaxProbs(s, scale, bias);
    const gradOf = (dy: tf.Tensor, sp: tf.Tensor, m: tf.Tensor | undefined) =>
      (fused && kernels.attentionSoftmaxGrad?.(dy, sp, scale, m, keep)) ||
      softmaxGrad(m ? tf.where(m, dy.mul(keep), tf.zerosLike(dy)) : dy, sp, scale);
    if (!mask) {
      save([p]);
      return { value: p, gradFunc: (dy, [sp]) => gradOf(dy as tf.Tensor, sp!, undefined) };
    }
    const value = fused?.dropped ?? tf.where(mask, p.mul(keep), tf.zerosLike(p));
    save([p, mask]);
    return { value, gradFunc: (dy, [sp, m]) => gradOf(dy as tf.Tensor, sp!, m!) };
  })(scores);
  if (!returnProbs) return { dropped };
  // Without dropout the output is the probabilities; with it (training) they are computed once more.
  return { dropped, probs: drop ? softmaxProbs(scores, scale, bias) : dropped };
}

/** d scores = scale · p ⊙ (dp − Σ dp ⊙ p); rows without keys have p = 0 and so get no gradient. */
function softmaxGrad(dp: tf.Tensor, p: tf.Tensor, scale: number): tf.Tensor {
  return p.mul(dp.sub(dp.mul(p).sum(-1, true))).mul(scale);
}
