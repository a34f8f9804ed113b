import { setRecompute } from '@transformer-kit/attention';
import {
  InvalidArgumentError,
  type LoopStep,
  Rng,
  seedDropout,
  type Tokens,
  Trainer,
  type TrainerOptions,
  TrainingLoop,
  type TrainingLoopOptions,
  windowBatches,
  windowLoss,
} from '@transformer-kit/core';
import type { GPT } from './model.js';

/*
 * Next-token pretraining over one long token stream: every batch is `batchSize` random windows of
 * `sequenceLength + 1` tokens (core's windowBatches, nanoGPT's get_batch). The loop (evaluation, early stopping,
 * checkpoints, events) is core's TrainingLoop; the optimizer step is core's Trainer.
 */

export interface EvalOptions {
  batchSize?: number;
  sequenceLength?: number;
  /** Number of random batches averaged (default 10). */
  batches?: number;
  seed?: number;
}

/** Mean next-token loss over seeded random windows of `tokens`, in eval mode (no dropout, no gradients). */
export async function evaluateLoss(model: GPT, tokens: Tokens, options: EvalOptions = {}): Promise<number> {
  const { batchSize = 16, sequenceLength = model.config.maxPositions, batches = 10, seed = 1 } = options;
  const wasTraining = model.training;
  model.eval();
  try {
    return await windowLoss(tokens, (x, y) => model.loss(x, y), { batchSize, sequenceLength, batches, seed });
  } finally {
    model.train(wasTraining);
  }
}

export interface PretrainOptions
  extends TrainerOptions,
    Pick<TrainingLoopOptions<unknown>, 'earlyStopping' | 'checkpointEvery' | 'save' | 'callbacks'> {
  steps: number;
  batchSize: number;
  /** Tokens per training window (default: the model's maxPositions). */
  sequenceLength?: number;
  /** Evaluate on `val` every this many steps and after the last (default: only after the last). */
  evalEvery?: number;
  evalBatches?: number;
  seed?: number;
  /** Recompute each block's activations in the backward pass instead of keeping them (default false). */
  recompute?: boolean;
  /** Called after every optimizer step (shorthand for a `callbacks` entry with onStep). */
  onStep?: (r: LoopStep) => void | Promise<void>;
}

export interface PretrainStep extends LoopStep {
  valLoss?: number;
}

export interface PretrainResult {
  steps: PretrainStep[];
  /** Held-out loss after the last evaluation (if `val` was given). */
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
    sequenceLength = model.config.maxPositions,
    evalEvery,
    evalBatches = 10,
    seed = 0,
    recompute = false,
    onStep,
    earlyStopping,
    checkpointEvery,
    save,
    callbacks = [],
    ...trainerOptions
  } = options;
  if (!Number.isInteger(steps) || steps < 1)
    throw new InvalidArgumentError(`steps must be an integer >= 1, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError(`batchSize must be an integer >= 1, got ${batchSize}`);
  if (sequenceLength > model.config.maxPositions) {
    throw new InvalidArgumentError(
      `sequenceLength ${sequenceLength} exceeds the model's position table (maxPositions ${model.config.maxPositions})`,
    );
  }
  const val = data.val;
  seedDropout(seed);
  setRecompute(model, recompute);
  const trainer = new Trainer(model, { ...trainerOptions, totalSteps: trainerOptions.totalSteps ?? steps });
  const loop = new TrainingLoop({
    trainer,
    batches: windowBatches(data.train, batchSize, sequenceLength, new Rng(seed)),
    loss: ({ x, y }) => model.loss(x, y),
    steps,
    ...(val && {
      evaluate: () => evaluateLoss(model, val, { batchSize, sequenceLength, batches: evalBatches }),
      evalEvery,
    }),
    earlyStopping,
    checkpointEvery,
    save,
    callbacks: onStep ? [{ onStep }, ...callbacks] : callbacks,
  });
  try {
    const { history } = await loop.run();
    const stepsOut = history.map((s): PretrainStep => (s.metrics ? { ...s, valLoss: s.metrics.valLoss } : s));
    return { steps: stepsOut, valLoss: loop.metrics?.valLoss };
  } finally {
    trainer.dispose();
    setRecompute(model, false);
  }
}
