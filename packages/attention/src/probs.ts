import * as tf from '@tensorflow/tfjs';
import {
  applyDropout,
  batchMatMul,
  dropoutMask,
  fusedKernels,
  nextDropoutSeed,
  reshape,
} from '@transformer-kit/core';
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

interface ProbsSpec {
  scale: number;
  bias: AttentionBias | undefined;
  /** Dropout's rate, when dropout is on (training, rate > 0). */
  rate: number;
  seed: number;
}

/** p = softmax(s · scale + bias) and, with dropout, its mask and dropped copy: one fused kernel or TF.js's ops. */
function probsForward(s: tf.Tensor, { scale, bias, rate, seed }: ProbsSpec) {
  const keep = 1 / (1 - rate);
  const mask = rate > 0 ? dropoutMask(s.shape, rate, seed) : undefined;
  // A backend's fused kernel (WebGPU: one dispatch for the probabilities, one for dropout), else TF.js's ops.
  const fused =
    s.dtype === 'float32'
      ? fusedKernels().attentionSoftmax?.(s, scale, bias?.bias, bias?.rowHasKeys, mask, keep)
      : undefined;
  const p = fused?.probs ?? softmaxProbs(s, scale, bias);
  const dropped = mask ? (fused?.dropped ?? applyDropout(p, mask, keep)) : p;
  return { p, mask, dropped, fused: fused !== undefined };
}

/** d scores from d dropped, the probabilities and the mask. */
function probsBackward(
  dy: tf.Tensor,
  p: tf.Tensor,
  mask: tf.Tensor | undefined,
  fused: boolean,
  spec: ProbsSpec,
) {
  const keep = 1 / (1 - spec.rate);
  return (
    (fused && fusedKernels().attentionSoftmaxGrad?.(dy, p, spec.scale, mask, keep)) ||
    tf.tidy(() => softmaxGrad(mask ? applyDropout(dy, mask, keep) : dy, p, spec.scale))
  );
}

function probsSpec(scale: number, bias: AttentionBias | undefined, dropoutRate: number, training: boolean) {
  const rate = training && dropoutRate > 0 ? dropoutRate : 0;
  return { scale, bias, rate, seed: rate > 0 ? nextDropoutSeed() : 0 };
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
  const spec = probsSpec(scale, bias, dropoutRate, training);
  const dropped = tf.customGrad((...args) => {
    const [s, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const { p, mask, dropped: value, fused } = probsForward(s, spec);
    save(mask ? [p, mask] : [p]);
    return { value, gradFunc: (dy, [sp, m]) => probsBackward(dy as tf.Tensor, sp!, m, fused, spec) };
  })(scores);
  if (!returnProbs) return { dropped };
  // Without dropout the output is the probabilities; with it (training) they are computed once more.
  return { dropped, probs: spec.rate > 0 ? softmaxProbs(scores, scale, bias) : dropped };
}

/**
 * dropout(softmax(scores · scale + bias)) @ v → (B, H, T, hd), scores (B, H, T, S), v (B, Hkv, S, hd) with
 * H / Hkv query heads per key/value head (HF repeat_kv's order). With dropout it is one op that keeps the
 * probabilities, the 1-byte mask and v, and makes the dropped copy again in the backward pass (one
 * elementwise pass): the product's own gradient would keep that copy, a (B, H, T, S) float tensor per layer
 * beside the probabilities (72 MB at BERT-base, 8 × 128). `probs` as in attentionProbs.
 */
export function attend(
  scores: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: AttentionBias | undefined,
  dropoutRate: number,
  training: boolean,
  returnProbs = false,
): { output: tf.Tensor; probs?: tf.Tensor } {
  const [b, h, t] = scores.shape as [number, number, number, number];
  const kvHeads = v.shape[1]!;
  // (B, H, T, n) viewed as (B, Hkv, H/Hkv · T, n): each key/value head serves its group without a copy.
  const grouped = (x: tf.Tensor) => reshape(x, [b, kvHeads, (h / kvHeads) * t, x.shape[3]!]);
  const ungrouped = (x: tf.Tensor) => reshape(x, [b, h, t, x.shape[3]!]);
  if (!(training && dropoutRate > 0)) {
    const { dropped, probs } = attentionProbs(scores, scale, bias, 0, false, returnProbs);
    return { output: ungrouped(batchMatMul(grouped(dropped), v)), probs };
  }
  const spec = probsSpec(scale, bias, dropoutRate, training);
  const output = tf.customGrad((...args) => {
    const [sc, vv, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { p, mask, dropped, fused } = probsForward(sc, spec);
    const value = tf.tidy(() => ungrouped(batchMatMul(grouped(dropped), vv)));
    dropped.dispose();
    save([p, mask!, vv]);
    return {
      value,
      gradFunc: (dy, [sp, m, sv]) => {
        const dyG = grouped(dy as tf.Tensor);
        const dDropped = tf.tidy(() => ungrouped(batchMatMul(dyG, sv!, true)));
        const dv = tf.tidy(() =>
          batchMatMul(grouped(applyDropout(sp!, m!, 1 / (1 - spec.rate))), dyG, false, true),
        );
        const ds = probsBackward(dDropped, sp!, m, fused, spec);
        dDropped.dispose();
        return [ds, dv];
      },
    };
  })(scores, v);
  return { output, probs: returnProbs ? softmaxProbs(scores, scale, bias) : undefined };
}

/** d scores = scale · p ⊙ (dp − Σ dp ⊙ p); rows without keys have p = 0 and so get no gradient. */
function softmaxGrad(dp: tf.Tensor, p: tf.Tensor, scale: number): tf.Tensor {
  return p.mul(dp.sub(dp.mul(p).sum(-1, true))).mul(scale);
}
