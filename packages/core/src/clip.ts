import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';

/**
 * √(Σ‖g‖²) over all gradients, as one scalar (no host sync). Summed pairwise rather than with one tf.addN:
 * on WebGPU an N-input AddN is one shader with N storage buffers, over the default per-stage limit of 8
 * (Chromium rejects the pipeline and the norm comes back wrong).
 */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() =>
    grads.reduce<tf.Tensor>((acc, g) => acc.add(g.square().sum()), tf.scalar(0)).sqrt(),
  ) as tf.Scalar;
}

/**
 * torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, maxNorm / (norm + 1e-6)). Returns new
 * tensors (same keys) and the norm before clipping; the caller disposes all of them and keeps `grads`.
 */
export function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new InvalidArgumentError(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const norm = globalNorm(Object.values(grads));
  const clipped = tf.tidy(() => {
    const scale = tf.minimum(tf.scalar(maxNorm).div(norm.add(1e-6)), 1);
    const out: tf.NamedTensorMap = {};
    for (const [k, g] of Object.entries(grads)) out[k] = g.mul(scale);
    return out;
  });
  return { grads: clipped, norm };
}
