import * as tf from '@tensorflow/tfjs';
import {
  applyDropout,
  batchMatMul,
  dropoutMask,
  fusedKernels,
  isRecordingGradients,
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
 * dropout(softmax(q·kᵀ · scale + bias)) @ v → (B, H, T, hd) for q (B, H, T, hd), k and v (B, Hkv, S, hd), with
 * H / Hkv query heads per key/value head (HF repeat_kv's order: each key/value head serves its group without
 * a copy). While gradients are recorded it is one op that keeps q, k, v and the 1-byte dropout mask, and
 * makes the scores, probabilities and dropped copy again in the backward pass (one small batched product and
 * two elementwise passes, FlashAttention's trade): composed, the backward pass kept the probabilities and
 * their dropped copy, two (B, H, T, S) float tensors per layer (144 MB at BERT-base, 8 × 128).
 * `probs` as in attentionProbs.
 */
export function attend(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: AttentionBias | undefined,
  dropoutRate: number,
  training: boolean,
  returnProbs = false,
): { output: tf.Tensor; probs?: tf.Tensor } {
  const [b, h, t] = q.shape as [number, number, number, number];
  const kvHeads = k.shape[1]!;
  const grouped = (x: tf.Tensor) => reshape(x, [b, kvHeads, (h / kvHeads) * t, x.shape[3]!]);
  const ungrouped = (x: tf.Tensor) => reshape(x, [b, h, t, x.shape[3]!]);
  const scoresOf = (qq: tf.Tensor, kk: tf.Tensor) => ungrouped(batchMatMul(grouped(qq), kk, true));
  if (!isRecordingGradients()) {
    const { dropped, probs } = attentionProbs(
      scoresOf(q, k),
      scale,
      bias,
      dropoutRate,
      training,
      returnProbs,
    );
    return { output: ungrouped(batchMatMul(grouped(dropped), v)), probs };
  }
  const spec = probsSpec(scale, bias, dropoutRate, training);
  const keep = 1 / (1 - spec.rate);
  const output = tf.customGrad((...args) => {
    const [sq, sk, sv, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { value, mask } = tf.tidy(() => {
      const { mask, dropped } = probsForward(scoresOf(sq, sk), spec);
      return { value: ungrouped(batchMatMul(grouped(dropped), sv)), mask };
    });
    // The bias is saved too: the backward pass needs it after the caller's scope may have freed it.
    const { bias: b0, rowHasKeys: r0 } = spec.bias ?? {};
    save([sq, sk, sv, ...[mask, b0, r0].filter((x): x is tf.Tensor => x !== undefined)]);
    return {
      value,
      gradFunc: (dy, [gq, gk, gv, ...rest]) =>
        tf.tidy(() => {
          const m = mask ? rest.shift() : undefined;
          const bias = b0 ? { bias: rest.shift()!, rowHasKeys: r0 ? rest.shift() : undefined } : undefined;
          const again = { ...spec, bias, rate: 0 };
          const { p, fused } = probsForward(scoresOf(gq!, gk!), again);
          const dyG = grouped(dy as tf.Tensor);
          const dv = batchMatMul(grouped(m ? applyDropout(p, m, keep) : p), dyG, false, true);
          const dDropped = ungrouped(batchMatMul(dyG, gv!, true));
          const ds = grouped(probsBackward(dDropped, p, m, fused, { ...spec, bias }));
          return [ungrouped(batchMatMul(ds, gk!)), batchMatMul(ds, grouped(gq!), false, true), dv];
        }),
    };
  })(q, k, v);
  return { output, probs: returnProbs ? softmaxProbs(scoresOf(q, k), scale, bias) : undefined };
}

/** d scores = scale · p ⊙ (dp − Σ dp ⊙ p); rows without keys have p = 0 and so get no gradient. */
function softmaxGrad(dp: tf.Tensor, p: tf.Tensor, scale: number): tf.Tensor {
  return p.mul(dp.sub(dp.mul(p).sum(-1, true))).mul(scale);
}
