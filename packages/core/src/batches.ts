import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import type { BatchSource } from './loop.js';
import { Rng } from './random.js';

/*
 * Batch sources for the training loop and the evaluation helpers: shuffled epochs over a list of examples,
 * and random next-token windows over one long token stream (nanoGPT's get_batch).
 */

export type Tokens = ArrayLike<number>;

const positiveInt = (name: string, v: number) => {
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidArgumentError(`${name} must be an integer >= 1, got ${v}`);
};

/** Fisher–Yates permutation of 0..n-1 drawn from `rng`. */
export function permutation(n: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * `items` in batches of `batchSize`, reshuffled at the start of every epoch (the last batch of an epoch may
 * be smaller). stepsPerEpoch = ceil(items / batchSize).
 */
export function epochBatches<T>(items: readonly T[], batchSize: number, rng: Rng): BatchSource<T[]> {
  positiveInt('batchSize', batchSize);
  if (!items.length) throw new InvalidArgumentError('epochBatches: no items');
  const stepsPerEpoch = Math.ceil(items.length / batchSize);
  let order: number[] = [];
  let s = stepsPerEpoch;
  return {
    stepsPerEpoch,
    next() {
      if (s === stepsPerEpoch) {
        order = permutation(items.length, rng);
        s = 0;
      }
      const batch = order.slice(s * batchSize, (s + 1) * batchSize).map((i) => items[i]!);
      s++;
      return batch;
    },
  };
}

/** Splits a stream into a leading train part and a trailing held-out part. */
export function splitTokens(tokens: Tokens, valFraction = 0.1): { train: Int32Array; val: Int32Array } {
  if (!(valFraction >= 0 && valFraction < 1))
    throw new InvalidArgumentError(`valFraction must be in [0, 1), got ${valFraction}`);
  const all = Int32Array.from(tokens);
  const cut = Math.floor(all.length * (1 - valFraction));
  return { train: all.subarray(0, cut), val: all.subarray(cut) };
}

/** One batch of random windows: x and y (batchSize, sequenceLength), int32, y = x shifted left by one. */
export function sampleBatch(
  tokens: Tokens,
  batchSize: number,
  sequenceLength: number,
  rng: Rng,
): { x: tf.Tensor2D; y: tf.Tensor2D } {
  if (tokens.length < sequenceLength + 1) {
    throw new InvalidArgumentError(
      `token stream of ${tokens.length} is too short for windows of sequenceLength + 1 = ${sequenceLength + 1}`,
    );
  }
  const x = new Int32Array(batchSize * sequenceLength);
  const y = new Int32Array(batchSize * sequenceLength);
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(tokens.length - sequenceLength);
    for (let t = 0; t < sequenceLength; t++) {
      x[b * sequenceLength + t] = tokens[start + t]!;
      y[b * sequenceLength + t] = tokens[start + t + 1]!;
    }
  }
  return {
    x: tf.tensor2d(x, [batchSize, sequenceLength], 'int32'),
    y: tf.tensor2d(y, [batchSize, sequenceLength], 'int32'),
  };
}

/** A batch source of random windows (seeded): the loop's input for next-token pretraining. */
export function windowBatches(
  tokens: Tokens,
  batchSize: number,
  sequenceLength: number,
  rng: Rng,
): BatchSource<{ x: tf.Tensor2D; y: tf.Tensor2D }> {
  positiveInt('batchSize', batchSize);
  return { next: () => sampleBatch(tokens, batchSize, sequenceLength, rng) };
}

/**
 * Mean of `batches` scalar losses, each computed (inside tf.tidy) by `loss(i)` and read back. The caller
 * chooses eval mode; nothing it allocates survives.
 */
export async function meanLoss(batches: number, loss: (i: number) => tf.Scalar): Promise<number> {
  positiveInt('batches', batches);
  let sum = 0;
  for (let i = 0; i < batches; i++) {
    const l = tf.tidy(() => loss(i));
    sum += (await l.data())[0]!;
    l.dispose();
  }
  return sum / batches;
}

/** Mean next-token loss of `lossOf(x, y)` over `batches` seeded random windows of `tokens`. */
export function windowLoss(
  tokens: Tokens,
  lossOf: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Scalar,
  {
    batchSize,
    sequenceLength,
    batches = 10,
    seed = 1,
  }: { batchSize: number; sequenceLength: number; batches?: number; seed?: number },
): Promise<number> {
  const rng = new Rng(seed);
  return meanLoss(batches, () => {
    const { x, y } = sampleBatch(tokens, batchSize, sequenceLength, rng);
    return lossOf(x, y);
  });
}
