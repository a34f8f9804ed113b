import * as tf from '@tensorflow/tfjs';
import { canReadSync } from './env.js';
import { IdOutOfRangeError, InvalidArgumentError, ShapeError } from './errors.js';
import { checkIds } from './ids.js';
import { crossEntropy, IGNORE_INDEX } from './ops.js';

/**
 * Mean cross-entropy of logits (..., C) against integer labels (...), skipping `ignoreIndex`. Labels are
 * checked first (a label outside [0, C) is a typed error, not a silent zero row) on backends that read
 * synchronously; pass `check: false` in a hot loop whose labels are known good.
 */
export function classificationLoss(
  logits: tf.Tensor,
  labels: tf.Tensor,
  { ignoreIndex = IGNORE_INDEX, check = true }: { ignoreIndex?: number; check?: boolean } = {},
): tf.Scalar {
  const c = logits.shape[logits.rank - 1]!;
  if (!tf.util.arraysEqual(logits.shape.slice(0, -1), labels.shape)) {
    throw new ShapeError(
      `labels shape [${labels.shape}] does not match logits [${logits.shape}] without the class axis`,
    );
  }
  if (check && canReadSync()) checkIds(labels.dataSync(), c, { what: 'label', ignore: ignoreIndex });
  return crossEntropy(logits, labels, ignoreIndex);
}

/** Argmax over the last axis, read to the host: logits (..., C) → Int32Array of predicted classes. */
export async function predictions(logits: tf.Tensor): Promise<Int32Array> {
  const best = logits.argMax(-1);
  try {
    return (await best.data()) as Int32Array;
  } finally {
    best.dispose();
  }
}

/** Fraction of positions where `preds` equals `labels`, skipping `ignoreIndex`. NaN when nothing counts. */
export function accuracy(
  preds: ArrayLike<number>,
  labels: ArrayLike<number>,
  ignoreIndex = IGNORE_INDEX,
): number {
  if (preds.length !== labels.length)
    throw new ShapeError(`${preds.length} predictions but ${labels.length} labels`);
  let right = 0;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === ignoreIndex) continue;
    total++;
    if (preds[i] === labels[i]) right++;
  }
  return total ? right / total : Number.NaN;
}

export interface F1Options {
  numClasses: number;
  /** 'macro': mean of per-class F1; 'micro': F1 of pooled counts (= accuracy for single-label); 'binary': F1 of `positive`. */
  average?: 'macro' | 'micro' | 'binary';
  /** The positive class for 'binary' (default 1). */
  positive?: number;
  ignoreIndex?: number;
}

/** F1 score from predicted and true class ids. A class absent from both preds and labels scores 0 in 'macro'. */
export function f1Score(preds: ArrayLike<number>, labels: ArrayLike<number>, options: F1Options): number {
  const { numClasses, average = 'macro', positive = 1, ignoreIndex = IGNORE_INDEX } = options;
  if (preds.length !== labels.length)
    throw new ShapeError(`${preds.length} predictions but ${labels.length} labels`);
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new InvalidArgumentError(`numClasses must be a positive integer, got ${numClasses}`);
  const tp = new Array<number>(numClasses).fill(0);
  const fp = new Array<number>(numClasses).fill(0);
  const fn = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y === ignoreIndex) continue;
    const p = preds[i]!;
    for (const v of [y, p]) {
      if (!Number.isInteger(v) || v < 0 || v >= numClasses)
        throw new IdOutOfRangeError(`class ${v} at index ${i} is outside [0, ${numClasses})`);
    }
    if (p === y) tp[y]!++;
    else {
      fp[p]!++;
      fn[y]!++;
    }
  }
  const f1 = (t: number, p: number, n: number) => (t === 0 ? 0 : (2 * t) / (2 * t + p + n));
  if (average === 'binary') return f1(tp[positive]!, fp[positive]!, fn[positive]!);
  if (average === 'micro') return f1(sum(tp), sum(fp), sum(fn));
  return sum(tp.map((t, c) => f1(t, fp[c]!, fn[c]!))) / numClasses;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
