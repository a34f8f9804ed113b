import type * as tf from '@tensorflow/tfjs';
import { classificationLoss, crossEntropy, Module, Rng } from '@transformer-kit/core';
import { ClsClassifier, MaskedLMHead, TokenClassifier } from '@transformer-kit/heads';
import type { MaskedBatch } from './masking.js';
import { type BertConfig, type BertInputs, BertModel } from './model.js';

/*
 * Task models: the BertModel backbone (`bert`) plus a head from @transformer-kit/heads. The backbone has no
 * pooler of its own here; the classification head carries it, so every parameter has exactly one owner.
 */

/** Masked-LM pretraining: backbone + MaskedLMHead tied to the word embeddings. Params: bert.*, mlm.*. */
export class BertForMaskedLM extends Module {
  readonly bert: BertModel;
  readonly mlm: MaskedLMHead;
  constructor(
    readonly config: BertConfig,
    { seed = 0 }: { seed?: number } = {},
  ) {
    super();
    this.bert = this.module('bert', new BertModel(config, { pooler: false, seed }));
    this.mlm = this.module(
      'mlm',
      new MaskedLMHead(config.hiddenSize, this.bert.embeddings.word.weight, {
        layerNormEps: config.layerNormEps,
        rng: new Rng(seed + 1),
      }),
    );
  }
  /** Vocabulary logits (B, P, V) at `positions` (B, P), or (B, T, V) everywhere without them. */
  forward(inputs: BertInputs, positions?: tf.Tensor): tf.Tensor {
    return this.mlm.forward(this.bert.forward(inputs).sequenceOutput, positions);
  }
  /** Mean cross-entropy over the chosen positions of a MaskedLMMaskGenerator batch. */
  loss(batch: MaskedBatch, inputs: Omit<BertInputs, 'inputIds'> = {}): tf.Scalar {
    const logits = this.forward({ ...inputs, inputIds: batch.inputIds }, batch.positions);
    return crossEntropy(logits, batch.positionLabels);
  }
}

export interface ClassifierOptions {
  numLabels: number;
  /** Class names by id (HF's id2label); default LABEL_0, LABEL_1, ... */
  id2label?: Record<number, string>;
  seed?: number;
}

const defaultLabels = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [i, `LABEL_${i}`]));

/**
 * Sentence (pair) classification from [CLS]: backbone → ClsClassifier (pooler → dropout → linear), exactly
 * HF's BertForSequenceClassification. Params: bert.*, classifier.pooler.*, classifier.mlp.out.*.
 */
export class BertForSequenceClassification extends Module {
  readonly bert: BertModel;
  readonly classifier: ClsClassifier;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  constructor(
    readonly config: BertConfig,
    { numLabels, id2label, seed = 0 }: ClassifierOptions,
  ) {
    super();
    this.bert = this.module('bert', new BertModel(config, { pooler: false, seed }));
    this.classifier = this.module(
      'classifier',
      new ClsClassifier(config.hiddenSize, numLabels, {
        pooler: true,
        dropout: config.hiddenDropout,
        rng: new Rng(seed + 1),
      }),
    );
    this.numLabels = numLabels;
    this.id2label = id2label ?? defaultLabels(numLabels);
  }
  /** Logits (B, numLabels). */
  forward(inputs: BertInputs): tf.Tensor {
    return this.classifier.forward(this.bert.forward(inputs).sequenceOutput);
  }
  /** Mean cross-entropy against labels (B); a label outside [0, numLabels) is an IdOutOfRangeError. */
  loss(inputs: BertInputs, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(inputs), labels);
  }
}

/** Per-token tagging (NER): backbone → dropout → linear. Params: bert.*, classifier.mlp.out.*. */
export class BertForTokenClassification extends Module {
  readonly bert: BertModel;
  readonly classifier: TokenClassifier;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  constructor(
    readonly config: BertConfig,
    { numLabels, id2label, seed = 0 }: ClassifierOptions,
  ) {
    super();
    this.bert = this.module('bert', new BertModel(config, { pooler: false, seed }));
    this.classifier = this.module(
      'classifier',
      new TokenClassifier(config.hiddenSize, numLabels, {
        dropout: config.hiddenDropout,
        rng: new Rng(seed + 1),
      }),
    );
    this.numLabels = numLabels;
    this.id2label = id2label ?? defaultLabels(numLabels);
  }
  /** Logits (B, T, numLabels). */
  forward(inputs: BertInputs): tf.Tensor {
    return this.classifier.forward(this.bert.forward(inputs).sequenceOutput);
  }
  /** Mean cross-entropy over labelled tokens (labels (B, T), -100 = not scored, e.g. padding, subwords). */
  loss(inputs: BertInputs, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(inputs), labels);
  }
}
