import * as tf from '@tensorflow/tfjs';
import {
  accuracy,
  classificationLoss,
  epochBatches,
  f1Score,
  IdOutOfRangeError,
  InvalidArgumentError,
  type LoopCallbacks,
  type Module,
  predictions,
  Rng,
  seedDropout,
  Trainer,
  TrainingLoop,
} from '@transformer-kit/core';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import type { BertInputs } from './model.js';

/*
 * The fine-tuning loop for sentence (pair) classification: tokenizer → padded batches → AdamW with warmup
 * and decay (core's TrainingLoop) → accuracy / F1. It works for any model with `forward(inputs) → logits (B, C)` and `numLabels`,
 * so a baseline (e.g. a mean-pool bag of words) trains under exactly the same recipe.
 */

export interface Example {
  text: string;
  /** Second sentence of a pair (token type 1). */
  pair?: string;
  label: number;
}

export interface EncodedBatch
  extends Required<Pick<BertInputs, 'inputIds' | 'tokenTypeIds' | 'attentionMask'>> {
  inputIds: number[][];
  tokenTypeIds: number[][];
  attentionMask: number[][];
  specialTokensMask: number[][];
}

/** Tokenizes texts (or pairs), truncated to `maxLength` and right-padded to the batch's longest. */
export function encodeTexts(
  tokenizer: Tokenizer,
  texts: Array<string | [string, string | undefined]>,
  maxLength = 128,
): EncodedBatch {
  const enc = tokenizer.encodeBatch(texts, { truncation: { maxLength }, padding: {} });
  return {
    inputIds: enc.map((e) => e.ids),
    tokenTypeIds: enc.map((e) => e.typeIds),
    attentionMask: enc.map((e) => e.attentionMask),
    specialTokensMask: enc.map((e) => e.specialTokensMask),
  };
}

export interface SequenceClassifier extends Module {
  readonly numLabels: number;
  forward(inputs: BertInputs): tf.Tensor;
}

export interface FineTuneOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Fraction of the steps spent warming up linearly (default 0.1); cosine decay after. */
  warmupRatio?: number;
  weightDecay?: number;
  clipNorm?: number;
  maxLength?: number;
  /** Shuffling seed. */
  seed?: number;
  onStep?: (step: number, loss: number) => void;
  /** Progress subscribers (core's TrainingLoop events). */
  callbacks?: LoopCallbacks[];
}

const toInput = (e: Example): string | [string, string] => (e.pair === undefined ? e.text : [e.text, e.pair]);

/**
 * Trains `model` on `examples` with core's TrainingLoop (shuffled epochs); returns the loss of every step.
 * Dropout is on during training, off after.
 */
export async function fineTune(
  model: SequenceClassifier,
  tokenizer: Tokenizer,
  examples: Example[],
  options: FineTuneOptions = {},
): Promise<number[]> {
  const {
    epochs = 3,
    batchSize = 16,
    lr = 5e-5,
    warmupRatio = 0.1,
    weightDecay = 0.01,
    clipNorm = 1,
    maxLength = 128,
    seed = 0,
    onStep,
    callbacks = [],
  } = options;
  if (!examples.length) throw new InvalidArgumentError('fineTune: no training examples');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError(`fineTune: batchSize must be a positive integer, got ${batchSize}`);
  examples.forEach((e, i) => {
    if (!Number.isInteger(e.label) || e.label < 0 || e.label >= model.numLabels) {
      throw new IdOutOfRangeError(`example ${i} has label ${e.label}, outside [0, ${model.numLabels})`);
    }
  });
  const batches = epochBatches(examples, batchSize, new Rng(seed));
  const totalSteps = epochs * batches.stepsPerEpoch!;
  const trainer = new Trainer(model, {
    lr,
    weightDecay,
    clipNorm,
    warmupSteps: Math.round(warmupRatio * totalSteps),
    totalSteps,
    minLr: 0,
  });
  seedDropout(seed);
  const loop = new TrainingLoop({
    trainer,
    batches,
    epochs,
    // Labels were checked above: skip the per-step read-back.
    loss: (batch) =>
      classificationLoss(
        model.forward(encodeTexts(tokenizer, batch.map(toInput), maxLength)),
        tf.tensor1d(
          batch.map((e) => e.label),
          'int32',
        ),
        { check: false },
      ),
    callbacks: onStep ? [{ onStep: (r) => onStep(r.step, r.loss) }, ...callbacks] : callbacks,
  });
  try {
    const { history } = await loop.run();
    return history.map((r) => r.loss);
  } finally {
    trainer.dispose();
    model.eval();
  }
}

export interface Evaluation {
  accuracy: number;
  /** Macro F1 over the classes. */
  f1: number;
  predictions: number[];
}

/** Predicts every example (eval mode, batched) and scores the predictions. */
export async function evaluateClassifier(
  model: SequenceClassifier,
  tokenizer: Tokenizer,
  examples: Example[],
  { batchSize = 64, maxLength = 128 } = {},
): Promise<Evaluation> {
  const wasTraining = model.training;
  model.eval();
  const preds: number[] = [];
  for (let i = 0; i < examples.length; i += batchSize) {
    const batch = examples.slice(i, i + batchSize);
    const inputs = encodeTexts(tokenizer, batch.map(toInput), maxLength);
    const logits = tf.tidy(() => model.forward(inputs));
    preds.push(...(await predictions(logits)));
    logits.dispose();
  }
  model.train(wasTraining);
  const labels = examples.map((e) => e.label);
  return {
    accuracy: accuracy(preds, labels),
    f1: f1Score(preds, labels, { numClasses: model.numLabels }),
    predictions: preds,
  };
}
