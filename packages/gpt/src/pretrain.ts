import * as tf from '@tensorflow/tfjs';
import {
  InvalidArgumentError,
  Rng,
  type StepResult,
  seedDropout,
  Trainer,
  type TrainerOptions,
} from '@transformer-kit/core';
import type { GPT } from './model.js';

/*
 * Next-token pretraining over one long token stream: every batch is `batchSize` random windows of
 * `blockSize + 1` tokens, inputs the first blockSize, targets shifted by one (nanoGPT's get_batch).
 * The optimizer step (AdamW, warmup + cosine, clipping, accumulation, non-finite checks) is core's Trainer.
 */

export type Tokens = ArrayLike<number>;

/** Splits a stream into a leading train part and a trailing held-out part. */
export function splitTokens(tokens: Tokens, valFraction = 0.1): { train: Int32Array; val: Int32Array } {
  if (!(valFraction >= 0 && valFraction < 1))
    throw new InvalidArgumentError(`valFraction must be in [0, 1), got ${valFraction}`);
  const all = Int32Array.from(tokens);
  const cut = Math.floor(all.length * (1 - valFraction));
  return { train: all.subarray(0, cut), val: all.subarray(cut) };
}

/** One batch of random windows: x and y (batchSize, blockSize), int32, y = x shifted left by one. */
export function sampleBatch(
  tokens: Tokens,
  batchSize: number,
  blockSize: number,
  rng: Rng,
): { x: tf.Tensor2D; y: tf.Tensor2D } {
  if (tokens.length < blockSize + 1) {
    throw new InvalidArgumentError(
      `token stream of ${tokens.length} is too short for windows of blockSize + 1 = ${blockSize + 1}`,
    );
  }
  const x = new Int32Array(batchSize * blockSize);
  const y = new Int32Array(batchSize * blockSize);
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(tokens.length - blockSize);
    for (let t = 0; t < blockSize; t++) {
      x[b * blockSize + t] = tokens[start + t]!;
      y[b * blockSize + t] = tokens[start + t + 1]!;
    }
  }
  return {
    x: tf.tensor2d(x, [batchSize, blockSize], 'int32'),
    y: tf.tensor2d(y, [batchSize, blockSize], 'int32'),
  };
}

export interface EvalOptions {
  batchSize?: number;
  blockSize?: number;
  /** Number of random batches averaged (default 10). */
  batches?: number;
  seed?: number;
}

/** Mean next-token loss over random windows of `tokens`, in eval mode (no dropout, no gradients). */
export async function evaluate(model: GPT, tokens: Tokens, options: EvalOptions = {}): Promise<number> {
  const { batchSize = 16, blockSize = model.config.blockSize, batches = 10, seed = 1 } = options;
  const rng = new Rng(seed);
  const wasTraining = model.training;
  model.eval();
  let sum = 0;
  try {
    for (let i = 0; i < batches; i++) {
      const loss = tf.tidy(() => {
        const { x, y } = sampleBatch(tokens, batchSize, blockSize, rng);
        return model.loss(x, y);
      });
      sum += (await loss.data())[0]!;
      loss.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  return sum / batches;
}

export interface PretrainOptions extends TrainerOptions {
  steps: number;
  batchSize: number;
  /** Window length (default: the model's block size). */
  blockSize?: number;
  /** Evaluate on `val` every this many steps and after the last (default: only after the last). */
  evalEvery?: number;
  evalBatches?: number;
  seed?: number;
  /** Called after every optimizer step (with `valLoss` on evaluation steps). */
  onStep?: (r: PretrainStep) => void | Promise<void>;
}

export interface PretrainStep extends StepResult {
  valLoss?: number;
}

export interface PretrainResult {
  steps: PretrainStep[];
  /** Held-out loss after the last step (if `val` was given). */
  valLoss?: number;
}

/** Trains `model` on random windows of `data.train`; evaluates on `data.val`. */
export async function pretrain(
  model: GPT,
  data: { train: Tokens; val?: Tokens },
  options: PretrainOptions,
): Promise<PretrainResult> {
  const {
    steps,
    batchSize,
    blockSize = model.config.blockSize,
    evalEvery,
    evalBatches = 10,
    seed = 0,
    onStep,
    ...trainerOptions
  } = options;
  if (!Number.isInteger(steps) || steps < 1)
    throw new InvalidArgumentError(`steps must be an integer >= 1, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError(`batchSize must be an integer >= 1, got ${batchSize}`);
  if (blockSize > model.config.blockSize) {
    throw new InvalidArgumentError(
      `blockSize ${blockSize} exceeds the model's block size ${model.config.blockSize}`,
    );
  }
  const rng = new Rng(seed);
  seedDropout(seed);
  const trainer = new Trainer(model, { ...trainerOptions, totalSteps: trainerOptions.totalSteps ?? steps });
  const history: PretrainStep[] = [];
  model.train();
  try {
    for (let s = 1; s <= steps; s++) {
      const r: PretrainStep = await trainer.step(() => {
        const { x, y } = sampleBatch(data.train, batchSize, blockSize, rng);
        return model.loss(x, y);
      });
      const evalNow = data.val && (s === steps || (evalEvery !== undefined && s % evalEvery === 0));
      if (evalNow)
        r.valLoss = await evaluate(model, data.val!, { batchSize, blockSize, batches: evalBatches });
      history.push(r);
      await onStep?.(r);
    }
  } finally {
    trainer.dispose();
  }
  return { steps: history, valLoss: history[history.length - 1]?.valLoss };
}
