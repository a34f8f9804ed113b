import * as tf from '@tensorflow/tfjs';
import {
  accuracy,
  classificationLoss,
  f1Score,
  IdOutOfRangeError,
  IGNORE_INDEX,
  InvalidArgumentError,
  type Module,
  predictions,
  type TrainingLoop,
} from '@transformer-kit/core';
import type { Encoding, PaddingOptions, Tokenizer } from '@transformer-kit/tokenizer';
import type { BertInputs } from './model.js';
import { type RecipeOptions, recipeLoop, runRecipe, runToEnd } from './recipe.js';

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

/**
 * Tokenizes texts (or pairs), truncated to `maxLength` and right-padded to the batch's longest (rounded up
 * to a multiple of `padToMultipleOf`, which keeps the number of distinct shapes small on GPUs).
 */
export function encodeTexts(
  tokenizer: Tokenizer,
  texts: Array<string | [string, string | undefined]>,
  maxLength = 128,
  padToMultipleOf?: number,
): EncodedBatch {
  const padding = { ...batchPadding(tokenizer), ...(padToMultipleOf ? { padToMultipleOf } : {}) };
  return batchOf(tokenizer.encodeBatch(texts, { truncation: { maxLength }, padding }));
}

/**
 * Padding to the longest row with the tokenizer's pad token: its own padding settings when it has them, else
 * `<pad>` in a vocabulary without `[PAD]` (RoBERTa's tokenizer.json has no padding section; transformers
 * takes the pad token from tokenizer_config.json), else the default `[PAD]`.
 */
function batchPadding(tokenizer: Tokenizer): PaddingOptions {
  const { length: _fixed, ...own } = tokenizer.padding ?? {};
  if (own.padToken !== undefined || own.padId !== undefined) return own;
  const roberta = tokenizer.tokenToId('[PAD]') === undefined && tokenizer.tokenToId('<pad>') !== undefined;
  return roberta ? { ...own, padToken: '<pad>' } : own;
}

function batchOf(enc: Encoding[]): EncodedBatch {
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

export type FineTuneOptions = RecipeOptions;

const toInput = (e: Example): string | [string, string] => (e.pair === undefined ? e.text : [e.text, e.pair]);

export interface FineTuneLoopOptions extends FineTuneOptions {
  /** Sees every encoded training batch (e.g. to count tokens for a tokens/s display). */
  onBatch?: (batch: EncodedBatch) => void;
  /** Pad each batch to a multiple of this (few distinct shapes: fewer shader compiles on webgpu). */
  padToMultipleOf?: number;
}

/**
 * `fineTune`'s TrainingLoop, not started: the same checks, recipe and batches, for callers that subscribe
 * (progress bar, plot), stop and resume. The caller disposes `loop.trainer` and sets eval mode after.
 */
export function fineTuneLoop(
  model: SequenceClassifier,
  tokenizer: Tokenizer,
  examples: Example[],
  { onBatch, padToMultipleOf, ...options }: FineTuneLoopOptions = {},
): TrainingLoop<Example[]> {
  const { batchSize = 16, maxLength = 128 } = options;
  if (!examples.length) throw new InvalidArgumentError('fineTune: no training examples');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError(`fineTune: batchSize must be a positive integer, got ${batchSize}`);
  examples.forEach((e, i) => {
    if (!Number.isInteger(e.label) || e.label < 0 || e.label >= model.numLabels) {
      throw new IdOutOfRangeError(`example ${i} has label ${e.label}, outside [0, ${model.numLabels})`);
    }
  });
  // Labels were checked above: skip the per-step read-back.
  const loss = (batch: Example[]) => {
    const inputs = encodeTexts(tokenizer, batch.map(toInput), maxLength, padToMultipleOf);
    onBatch?.(inputs);
    return classificationLoss(
      model.forward(inputs),
      tf.tensor1d(
        batch.map((e) => e.label),
        'int32',
      ),
      { check: false },
    );
  };
  return recipeLoop(model, examples, loss, options, 5e-5);
}

/**
 * Trains `model` on `examples` with core's TrainingLoop (shuffled epochs, BERT's recipe); returns the loss of
 * every step. Dropout is on during training, off after.
 */
export async function fineTune(
  model: SequenceClassifier,
  tokenizer: Tokenizer,
  examples: Example[],
  options: FineTuneOptions = {},
): Promise<number[]> {
  return runToEnd(fineTuneLoop(model, tokenizer, examples, options));
}

/** A pre-split sentence with one label per word (NER-style). */
export interface TokenExample {
  words: string[];
  labels: number[];
}

/** What fineTuneTokenClassifier trains: BertForTokenClassification, or any model with per-token logits. */
export interface TokenClassificationModel extends Module {
  readonly numLabels: number;
  forward(inputs: BertInputs): tf.Tensor;
}

/**
 * Encodes `words` joined by spaces; each word's label goes to its first subword, IGNORE_INDEX to the other
 * subwords, special tokens and padding (HF's token-classification convention).
 */
export function encodeWords(
  tokenizer: Tokenizer,
  examples: TokenExample[],
  maxLength = 128,
): EncodedBatch & { labels: number[][] } {
  const texts = examples.map((e) => e.words.join(' '));
  const batch = tokenizer.encodeBatch(texts, { truncation: { maxLength }, padding: batchPadding(tokenizer) });
  const labels = examples.map((ex, b) => {
    if (ex.words.length !== ex.labels.length)
      throw new InvalidArgumentError(
        `token example ${b} has ${ex.words.length} words but ${ex.labels.length} labels`,
      );
    const starts: number[] = [];
    let at = 0;
    for (const w of ex.words) {
      starts.push(at);
      at += w.length + 1;
    }
    const e = batch[b]!;
    return e.ids.map((_, i) => {
      if (e.specialTokensMask[i] || !e.attentionMask[i]) return IGNORE_INDEX;
      const w = starts.indexOf(e.offsets[i]![0]);
      return w < 0 ? IGNORE_INDEX : ex.labels[w]!;
    });
  });
  return { ...batchOf(batch), labels };
}

/** Token classification (e.g. NER) with the same recipe and loop as `fineTune`; returns the step losses. */
export async function fineTuneTokenClassifier(
  model: TokenClassificationModel,
  tokenizer: Tokenizer,
  examples: TokenExample[],
  options: FineTuneOptions = {},
): Promise<number[]> {
  const { maxLength = 128 } = options;
  if (!examples.length) throw new InvalidArgumentError('fineTuneTokenClassifier: no training examples');
  examples.forEach((e, i) => {
    for (const l of e.labels)
      if (l !== IGNORE_INDEX && (!Number.isInteger(l) || l < 0 || l >= model.numLabels))
        throw new IdOutOfRangeError(`example ${i} has label ${l}, outside [0, ${model.numLabels})`);
  });
  const loss = (batch: TokenExample[]) => {
    const { labels, ...inputs } = encodeWords(tokenizer, batch, maxLength);
    return classificationLoss(model.forward(inputs), tf.tensor2d(labels, undefined, 'int32'), {
      check: false,
    });
  };
  return runRecipe(model, examples, loss, options, 5e-5);
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
  {
    batchSize = 64,
    maxLength = 128,
    padToMultipleOf,
  }: { batchSize?: number; maxLength?: number; padToMultipleOf?: number } = {},
): Promise<Evaluation> {
  const wasTraining = model.training;
  model.eval();
  const preds: number[] = [];
  for (let i = 0; i < examples.length; i += batchSize) {
    const batch = examples.slice(i, i + batchSize);
    const inputs = encodeTexts(tokenizer, batch.map(toInput), maxLength, padToMultipleOf);
    const logits = tf.tidy(() => model.forward(inputs));
    for (const p of await predictions(logits)) preds.push(p);
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
