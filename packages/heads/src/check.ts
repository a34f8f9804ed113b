import type * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@transformer-kit/core';

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
