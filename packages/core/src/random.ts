import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, ShapeError } from './errors.js';

/**
 * Seeded randomness. An Rng hands out integer seeds for TF.js's seeded ops (randomNormal, dropout,
 * multinomial) and uniform numbers for host-side choices, so a run with the same seed repeats exactly.
 * mulberry32: small, fast, and good enough for initialisation and sampling.
 */
export class Rng {
  #state: number;
  constructor(seed = 0) {
    this.#state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An independent generator at the same point of the stream. */
  clone(): Rng {
    const copy = new Rng();
    copy.#state = this.#state;
    return copy;
  }
  /** A fresh seed for a TF.js op. */
  nextSeed(): number {
    return Math.floor(this.next() * 2 ** 31);
  }
}

/**
 * Per-row order of a key (B, L): the indices that sort each row, ascending (the argsort of MAE's noise) or
 * descending, all L of them or the first `k` (BERT's "top k of a random key"). This is the one
 * random-subset primitive the masked models share: a row of uniform noise, ranked, picks a uniformly random
 * subset / permutation per sample, on the device. Returns int32 (B, k).
 */
export function argsortRows(
  key: tf.Tensor,
  { k, descending = false }: { k?: number; descending?: boolean } = {},
): tf.Tensor2D {
  if (key.rank !== 2)
    throw new ShapeError(`argsortRows: key must be (batch, length), got shape [${key.shape}]`);
  const l = key.shape[1]!;
  const n = k ?? l;
  if (!Number.isInteger(n) || n < 1 || n > l)
    throw new InvalidArgumentError(`argsortRows: k must be an integer in [1, ${l}], got ${k}`);
  return tf.tidy(() => {
    const f = key.dtype === 'float32' ? key : key.cast('float32');
    return tf.topk(descending ? f : f.neg(), n).indices;
  }) as tf.Tensor2D;
}
