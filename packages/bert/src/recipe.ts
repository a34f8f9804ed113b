import type * as tf from '@tensorflow/tfjs';
import { setRecompute } from '@transformer-kit/attention';
import {
  epochBatches,
  type LoopCallbacks,
  type Module,
  Rng,
  seedDropout,
  Trainer,
  TrainingLoop,
  type TrainingLoopOptions,
} from '@transformer-kit/core';

/*
 * BERT's training recipe (Devlin et al.; HF's Trainer defaults for lr, weight decay and clipping): shuffled
 * epochs, AdamW with linear warmup over a fraction of the steps, then a cosine decay to 0 (core's Trainer
 * schedule; HF's Trainer decays linearly instead), weight decay on matrices, global-norm clipping. It is only
 * configuration of core's TrainingLoop; fine-tuning and masked-LM pretraining both use it.
 */

export interface RecipeOptions
  extends Pick<
    TrainingLoopOptions<unknown>,
    'evaluate' | 'evalEvery' | 'earlyStopping' | 'checkpointEvery' | 'save'
  > {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Fraction of the steps spent warming up linearly (default 0.1); cosine decay after. */
  warmupRatio?: number;
  weightDecay?: number;
  clipNorm?: number;
  /** Micro-batches per optimizer step (default 1). */
  accumulationSteps?: number;
  /**
   * Recompute each block's activations in the backward pass instead of keeping them (setRecompute): a
   * step's memory stops growing with depth, for about a third more compute. Unset: left as the model has it.
   */
  recompute?: boolean;
  maxLength?: number;
  /** Shuffling (and dropout) seed. */
  seed?: number;
  onStep?: (step: number, loss: number) => void;
  /** Progress subscribers (core's TrainingLoop events). */
  callbacks?: LoopCallbacks[];
}

/**
 * The recipe as a TrainingLoop over shuffled epochs of `items` with `loss(batch)`, not started: subscribe
 * to it, `run()` it, `stop()` and `run()` again to resume. The caller disposes `loop.trainer`.
 */
export function recipeLoop<T>(
  model: Module,
  items: readonly T[],
  loss: (batch: T[]) => tf.Scalar,
  options: RecipeOptions,
  defaultLr: number,
): TrainingLoop<T[]> {
  const {
    epochs = 3,
    batchSize = 16,
    lr = defaultLr,
    warmupRatio = 0.1,
    weightDecay = 0.01,
    clipNorm = 1,
    accumulationSteps = 1,
    recompute,
    seed = 0,
    onStep,
    callbacks = [],
    maxLength: _,
    ...loopOptions
  } = options;
  const batches = epochBatches(items, batchSize, new Rng(seed));
  const totalSteps = Math.ceil((epochs * batches.stepsPerEpoch!) / accumulationSteps);
  const trainer = new Trainer(model, {
    lr,
    weightDecay,
    clipNorm,
    accumulationSteps,
    warmupSteps: Math.round(warmupRatio * totalSteps),
    totalSteps,
    minLr: 0,
  });
  seedDropout(seed);
  if (recompute !== undefined) setRecompute(model, recompute);
  return new TrainingLoop({
    ...loopOptions,
    trainer,
    batches,
    steps: totalSteps,
    loss,
    callbacks: onStep ? [{ onStep: (r) => onStep(r.step, r.loss) }, ...callbacks] : callbacks,
  });
}

/** Trains `model` on shuffled epochs of `items` with `loss(batch)`; returns the loss of every step. */
export async function runRecipe<T>(
  model: Module,
  items: readonly T[],
  loss: (batch: T[]) => tf.Scalar,
  options: RecipeOptions,
  defaultLr: number,
): Promise<number[]> {
  return runToEnd(recipeLoop(model, items, loss, options, defaultLr));
}

/** Runs a loop to its end; returns the loss of every step, frees the optimizer, leaves the model in eval mode. */
export async function runToEnd(loop: TrainingLoop<unknown>): Promise<number[]> {
  try {
    const { history } = await loop.run();
    return history.map((r) => r.loss);
  } finally {
    loop.trainer.dispose();
    loop.trainer.model.eval();
  }
}
