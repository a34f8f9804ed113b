import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import { fusedKernels } from './fused.js';

/**
 * √(Σ‖g‖²) over all gradients, as one scalar (no host sync). Summed pairwise rather than with one tf.addN:
 * on WebGPU an N-input AddN is one shader with N storage buffers, over the default per-stage limit of 8
 * (Chromium rejects the pipeline and the norm comes back wrong).
 */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  const sumSquares = (g: tf.Tensor) =>
    (g.dtype === 'float32' && fusedKernels().sumSquares?.(g)) || g.square().sum();
  return tf.tidy(() =>
    grads.reduce<tf.Tensor>((acc, g) => acc.add(sumSquares(g)), tf.scalar(0)).sqrt(),
  ) as tf.Scalar;
}

/**
 * torch.nn.utils.clip_grad_norm_'s factor: gradients are scaled by min(1, maxNorm / (norm + 1e-6)). The one
 * clipping rule: Trainer applies it (folded into AdamW's gradScale).
 */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new InvalidArgumentError(`clipFactor: maxNorm must be > 0, got ${maxNorm}`);
  return Math.min(1, maxNorm / (norm + 1e-6));
}
