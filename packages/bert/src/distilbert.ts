import type * as tf from '@tensorflow/tfjs';
import { modelOutput, type RunOptions } from '@transformer-kit/attention';
import {
  classificationLoss,
  crossEntropy,
  defaultLabels,
  InvalidArgumentError,
  Module,
  Rng,
} from '@transformer-kit/core';
import { ClsClassifier, MaskedLMHead } from '@transformer-kit/heads';
import type { MaskedBatch } from './masking.js';
import { type BertConfig, type BertInputs, BertModel, type BertOutput, bertConfig } from './model.js';
import { maskOf, type TaskOutput } from './tasks.js';

/*
 * DistilBERT (Sanh et al. 2019), as HuggingFace's DistilBertModel: BERT's post-LN blocks and embeddings
 * without token types (typeVocabSize 0) and without a pooler, so the backbone is BertModel with that config;
 * only the names differ (q_lin/…/out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm; distilbert-checkpoint.ts).
 * Heads from @transformer-kit/heads: the classifier is [CLS] → pre_classifier → ReLU → dropout → classifier
 * (ClsClassifier without pooler, one ReLU hidden layer; its Mlp also drops out the [CLS] vector in
 * training, which HF does not: inference is identical), the MLM head is BERT's (vocab_transform, GELU,
 * vocab_layer_norm, projector tied to the word embeddings).
 */

export interface DistilBertConfig extends BertConfig {
  /** Dropout of the classifier head (HF: seq_classif_dropout, 0.2). */
  seqClassifDropout: number;
}

/** DistilBERT's sizes (distilbert-base-uncased) over BERT's defaults; no token types. */
export function distilBertConfig(
  config: Partial<DistilBertConfig> | 'base' = {},
  overrides: Partial<DistilBertConfig> = {},
): DistilBertConfig {
  const base =
    config === 'base'
      ? {
          hiddenSize: 768,
          numLayers: 6,
          numHeads: 12,
          intermediateSize: 3072,
          maxPositions: 512,
          vocabSize: 30522,
        }
      : config;
  const { seqClassifDropout = 0.2, ...rest } = { ...base, ...overrides };
  if (!(seqClassifDropout >= 0 && seqClassifDropout < 1))
    throw new InvalidArgumentError(
      `DistilBERT config: seqClassifDropout must be in [0, 1), got ${seqClassifDropout}`,
    );
  return { ...bertConfig(rest, { typeVocabSize: 0 }), seqClassifDropout };
}

/** The backbone: embeddings (word + position) → post-LN blocks. forward → { lastHiddenState }. */
export class DistilBertModel extends BertModel {
  declare readonly config: DistilBertConfig;
  constructor(config: Partial<DistilBertConfig> | 'base' = {}, { seed = 0 }: { seed?: number } = {}) {
    // bertConfig keeps the extra field: the backbone's config is the whole DistilBertConfig.
    super(distilBertConfig(config), { pooler: false, seed });
  }
}

/** Masked LM: backbone (`distilbert`) + BERT's MLM head tied to the word embeddings (`mlm`). */
export class DistilBertForMaskedLM extends Module {
  readonly config: DistilBertConfig;
  readonly distilbert: DistilBertModel;
  readonly mlm: MaskedLMHead;
  constructor(config: Partial<DistilBertConfig> | 'base' = {}, { seed = 0 }: { seed?: number } = {}) {
    super();
    this.distilbert = this.module('distilbert', new DistilBertModel(config, { seed }));
    this.config = this.distilbert.config;
    this.mlm = this.module(
      'mlm',
      new MaskedLMHead(this.config.hiddenSize, this.distilbert.embeddings.word.weight, {
        activation: this.config.activation,
        layerNormEps: this.config.layerNormEps,
        rng: new Rng(seed + 1),
      }),
    );
  }
  /** Vocabulary logits (B, P, V) at `positions` (B, P), or (B, T, V) everywhere without them. */
  forward(inputs: BertInputs, positions?: tf.Tensor): tf.Tensor {
    return this.run(inputs, {}, positions).logits;
  }
  run(inputs: BertInputs, options: RunOptions = {}, positions?: tf.Tensor): TaskOutput {
    const out: BertOutput = this.distilbert.run(inputs, options);
    return modelOutput(out, this.mlm.forward(out.lastHiddenState, positions));
  }
  /** Mean cross-entropy over the chosen positions of a MaskedLMMaskGenerator batch. */
  loss(batch: MaskedBatch, inputs: Omit<BertInputs, 'inputIds'> = {}): tf.Scalar {
    return crossEntropy(
      this.forward({ ...inputs, inputIds: batch.inputIds }, batch.positions),
      batch.positionLabels,
    );
  }
}

export interface DistilBertClassifierOptions {
  numLabels: number;
  /** Class names by id (HF's id2label); default LABEL_0, LABEL_1, ... */
  id2label?: Record<number, string>;
  seed?: number;
}

/**
 * Sentence (pair) classification, logits (B, numLabels): backbone → [CLS] → pre_classifier → ReLU → dropout
 * → classifier. Params: distilbert.*, classifier.mlp.hidden.0.* (pre_classifier), classifier.mlp.out.*.
 * Works with fineTune / evaluateClassifier like BertForSequenceClassification.
 */
export class DistilBertForSequenceClassification extends Module {
  readonly config: DistilBertConfig;
  readonly distilbert: DistilBertModel;
  readonly classifier: ClsClassifier;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  constructor(
    config: Partial<DistilBertConfig> | 'base',
    { numLabels, id2label, seed = 0 }: DistilBertClassifierOptions,
  ) {
    super();
    if (!Number.isInteger(numLabels) || numLabels < 1)
      throw new InvalidArgumentError(`numLabels must be an integer >= 1, got ${numLabels}`);
    // Checked before anything is allocated: a bad config builds nothing.
    const c = distilBertConfig(config);
    this.distilbert = this.module('distilbert', new DistilBertModel(c, { seed }));
    this.config = this.distilbert.config;
    this.classifier = this.module(
      'classifier',
      new ClsClassifier(c.hiddenSize, numLabels, {
        pooler: false,
        hiddenSizes: [c.hiddenSize],
        activation: 'relu',
        dropout: c.seqClassifDropout,
        rng: new Rng(seed + 1),
      }),
    );
    this.numLabels = numLabels;
    this.id2label = id2label ?? defaultLabels(numLabels);
  }
  forward(inputs: BertInputs): tf.Tensor {
    return this.run(inputs).logits;
  }
  run(inputs: BertInputs, options: RunOptions = {}): TaskOutput {
    const out = this.distilbert.run(inputs, options);
    return modelOutput(out, this.classifier.forward(out.lastHiddenState, maskOf(inputs)));
  }
  /** Mean cross-entropy against the labels; a label outside [0, numLabels) is an IdOutOfRangeError. */
  loss(inputs: BertInputs, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(inputs), labels);
  }
}

export type DistilBertTaskModel =
  | DistilBertModel
  | DistilBertForMaskedLM
  | DistilBertForSequenceClassification;
