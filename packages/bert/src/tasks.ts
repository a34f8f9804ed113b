import type * as tf from '@tensorflow/tfjs';
import { type ModelOutput, modelOutput, type RunOptions } from '@transformer-kit/attention';
import { checkPositiveInts, classificationLoss, defaultLabels, Module, Rng } from '@transformer-kit/core';
import { ClsClassifier, MaskedLMHead, MeanPoolClassifier, TokenClassifier } from '@transformer-kit/heads';
import type { MaskedBatch } from './masking.js';
import { type BertConfig, type BertInputs, BertModel, type BertPreset, rowsTensor } from './model.js';

/*
 * Task models: the BertModel backbone (`bert`) plus a head from @transformer-kit/heads. The backbone has no
 * pooler of its own here; the classification head carries it, so every parameter has exactly one owner.
 * Every task model's `run(inputs, { returnAttention, returnHiddenStates })` gives its logits with the
 * backbone's hidden states and attention maps (GPT's `run` takes the same options).
 */

/** A task model's `run`: attention's ModelOutput (logits, the backbone's lastHiddenState, extras on request). */
export type TaskOutput = ModelOutput;

type ConfigArg = BertPreset | Partial<BertConfig>;

/** Masked-LM pretraining: backbone + MaskedLMHead tied to the word embeddings. Params: bert.*, mlm.*. */
export class BertForMaskedLM extends Module {
  readonly config: BertConfig;
  readonly bert: BertModel;
  readonly mlm: MaskedLMHead;
  constructor(config: ConfigArg = 'tiny', { seed = 0 }: { seed?: number } = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, { pooler: false, seed }));
    this.config = this.bert.config;
    this.mlm = this.module(
      'mlm',
      new MaskedLMHead(this.config.hiddenSize, this.bert.embeddings.word.weight, {
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
    const out = this.bert.run(inputs, options);
    return modelOutput(out, this.mlm.forward(out.lastHiddenState, positions));
  }
  /** Mean cross-entropy over the chosen positions of a MaskedLMMaskGenerator batch. */
  loss(batch: MaskedBatch, inputs: Omit<BertInputs, 'inputIds'> = {}): tf.Scalar {
    const out = this.bert.run({ ...inputs, inputIds: batch.inputIds });
    // Fused head + cross-entropy, chunked over the vocabulary: the (B·P, V) logits never exist.
    return this.mlm.loss(out.lastHiddenState, batch.positionLabels, batch.positions);
  }
}

export interface ClassifierOptions {
  numLabels: number;
  /** Class names by id (HF's id2label); default LABEL_0, LABEL_1, ... */
  id2label?: Record<number, string>;
  seed?: number;
}

export interface SequenceClassifierOptions extends ClassifierOptions {
  /**
   * 'cls' (default): HF's head, pooler (dense + tanh on [CLS]) → dropout → linear. 'mean': the mean of the
   * real tokens' states (padding excluded) → dropout → linear, a bag-of-contextual-vectors baseline.
   */
  pooling?: 'cls' | 'mean';
}

/** The attention mask as a tensor (heads need it for mean pooling), or undefined. */
export const maskOf = (inputs: BertInputs): tf.Tensor2D | undefined =>
  inputs.attentionMask === undefined ? undefined : rowsTensor(inputs.attentionMask, 'attentionMask');

/** A head over the backbone's hidden states (and the attention mask), e.g. heads' classifiers. */
interface Head extends Module {
  forward(hidden: tf.Tensor, attentionMask?: tf.Tensor): tf.Tensor;
}

/** Backbone (`bert`) + a labelled classification head (`classifier`): what both classifiers share. */
abstract class BertWithClassifier<H extends Head> extends Module {
  readonly config: BertConfig;
  readonly bert: BertModel;
  readonly classifier: H;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  constructor(
    config: ConfigArg,
    { numLabels, id2label, seed = 0 }: ClassifierOptions,
    head: (c: BertConfig, options: { dropout: number; rng: Rng }) => H,
  ) {
    super();
    // Checked before the backbone exists, and whatever was built is released if the head throws.
    checkPositiveInts('BERT classifier', { numLabels }, ['numLabels']);
    this.bert = this.module('bert', new BertModel(config, { pooler: false, seed }));
    this.config = this.bert.config;
    try {
      this.classifier = this.module(
        'classifier',
        head(this.config, { dropout: this.config.hiddenDropout, rng: new Rng(seed + 1) }),
      );
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.numLabels = numLabels;
    this.id2label = id2label ?? defaultLabels(numLabels);
  }
  forward(inputs: BertInputs): tf.Tensor {
    return this.run(inputs).logits;
  }
  run(inputs: BertInputs, options: RunOptions = {}): TaskOutput {
    const out = this.bert.run(inputs, options);
    return modelOutput(out, this.classifier.forward(out.lastHiddenState, maskOf(inputs)));
  }
  /** Mean cross-entropy against the labels; a label outside [0, numLabels) is an IdOutOfRangeError. */
  loss(inputs: BertInputs, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(inputs), labels);
  }
}

/**
 * Sentence (pair) classification, logits (B, numLabels): backbone → ClsClassifier (pooler → dropout →
 * linear), exactly HF's BertForSequenceClassification, or with `pooling: 'mean'` a MeanPoolClassifier.
 * Labels (B). Params: bert.*, classifier.pooler.* ('cls' only), classifier.mlp.out.*.
 */
export class BertForSequenceClassification extends BertWithClassifier<ClsClassifier | MeanPoolClassifier> {
  readonly pooling: 'cls' | 'mean';
  constructor(config: ConfigArg, options: SequenceClassifierOptions) {
    const pooling = options.pooling ?? 'cls';
    super(config, options, (c, head) =>
      pooling === 'mean'
        ? new MeanPoolClassifier(c.hiddenSize, options.numLabels, head)
        : new ClsClassifier(c.hiddenSize, options.numLabels, { ...head, pooler: true }),
    );
    this.pooling = pooling;
  }
}

/**
 * Per-token tagging (NER), logits (B, T, numLabels): backbone → dropout → linear. Labels (B, T),
 * IGNORE_INDEX = not scored (padding, subwords). Params: bert.*, classifier.mlp.out.*.
 */
export class BertForTokenClassification extends BertWithClassifier<TokenClassifier> {
  constructor(config: ConfigArg, options: ClassifierOptions) {
    super(config, options, (c, head) => new TokenClassifier(c.hiddenSize, options.numLabels, head));
  }
}
