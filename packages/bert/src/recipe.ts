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
 * BERT's training recipe (Devlin et al.; HF's Trainer defaults): shuffled epochs, AdamW with linear warmup
 * over a fraction of the steps and decay to 0, weight decay on matrices, global-norm clipping. It is only
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
   * Recompute each block's activations in the backward pass instead of keeping them (default false): a
   * step's memory stops growing with depth, for about a third more compute.
   */
  recompute?: boolean;
  maxLength?: number;
  /** Shuffling (and dropout) seed. */
  seed?: number;
  onStep?: (step: number, loss: number) => void;
  /** Progress subscribers (core's TrainingLoop events). */
  callbacks?: LoopCallbacks[];
}

/** Trains `model` on shuffled epochs of `items` with `loss(batch)`; returns the loss of every step. */
export async function runRecipe<T>(
  model: Module,
  items: readonly T[],
  loss: (batch: T[]) => tf.Scalar,
  options: RecipeOptions,
  defaultLr: number,
): Promise<number[]> {
  const {
    epochs = 3,
    batchSize = 16,
    lr = defaultLr,
    warmupRatio = 0.1,
    weightDecay = 0.01,
    clipNorm = 1,
    accumulationSteps = 1,
    recompute = false,
    seed = 0,
    onStep,
    callbacks = [],
    evaluate,
    evalEvery,
    earlyStopping,
    checkpointEvery,
    save,
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
  setRecompute(model, recompute);
  const loop = new TrainingLoop({
    evaluate,
    evalEvery,
    earlyStopping,
    checkpointEvery,
    save,
    trainer,
    batches,
    steps: totalSteps,
    loss,
    callbacks: onStep ? [{ onStep: (r) => onStep(r.step, r.loss) }, ...callbacks] : callbacks,
  });
  try {
    const { history } = await loop.run();
    return history.map((r) => r.loss);
  } finally {
    trainer.dispose();
    setRecompute(model, false);
    model.eval();
  }
}
