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
import { type BertConfig, type BertInputs, BertModel, bertConfig } from './model.js';
import { maskOf, type TaskOutput } from './tasks.js';

/*
 * RoBERTa (Liu et al. 2019), as HuggingFace's RobertaModel: BERT's embeddings and post-LN blocks with
 * positions counted over the real tokens from padTokenId + 1 (positionsFromPadding) and one token type.
 * Heads from @transformer-kit/heads: `lm_head` is BERT's MLM head (dense, GELU, LayerNorm, decoder tied to
 * the word embeddings); the classifier is <s> → dropout → dense → tanh → dropout → out_proj, which is
 * ClsClassifier without pooler and one tanh hidden layer, exactly.
 */

/** roberta-base's sizes: pad id 1, 514 positions (512 usable), one token type, LayerNorm eps 1e-5. */
export function robertaConfig(
  config: Partial<BertConfig> | 'base' = {},
  overrides: Partial<BertConfig> = {},
): BertConfig {
  const base =
    config === 'base'
      ? { hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, vocabSize: 50265 }
      : config;
  return bertConfig(
    { maxPositions: 514, typeVocabSize: 1, padTokenId: 1, layerNormEps: 1e-5, ...base },
    { ...overrides, positionsFromPadding: true },
  );
}

/** The backbone with its pooler (HF's RobertaModel default). */
export class RobertaModel extends BertModel {
  constructor(
    config: Partial<BertConfig> | 'base' = {},
    { pooler = true, seed = 0 }: { pooler?: boolean; seed?: number } = {},
  ) {
    super(robertaConfig(config), { pooler, seed });
  }
}

/** Masked LM: backbone without pooler (`roberta`) + `lmHead` tied to the word embeddings. */
export class RobertaForMaskedLM extends Module {
  readonly config: BertConfig;
  readonly roberta: RobertaModel;
  readonly lmHead: MaskedLMHead;
  constructor(config: Partial<BertConfig> | 'base' = {}, { seed = 0 }: { seed?: number } = {}) {
    super();
    this.roberta = this.module('roberta', new RobertaModel(config, { pooler: false, seed }));
    this.config = this.roberta.config;
    this.lmHead = this.module(
      'lmHead',
      new MaskedLMHead(this.config.hiddenSize, this.roberta.embeddings.word.weight, {
        activation: 'gelu',
        layerNormEps: this.config.layerNormEps,
        rng: new Rng(seed + 1),
      }),
    );
  }
  forward(inputs: BertInputs, positions?: tf.Tensor): tf.Tensor {
    return this.run(inputs, {}, positions).logits;
  }
  run(inputs: BertInputs, options: RunOptions = {}, positions?: tf.Tensor): TaskOutput {
    const out = this.roberta.run(inputs, options);
    return modelOutput(out, this.lmHead.forward(out.lastHiddenState, positions));
  }
  loss(batch: MaskedBatch, inputs: Omit<BertInputs, 'inputIds'> = {}): tf.Scalar {
    return crossEntropy(
      this.forward({ ...inputs, inputIds: batch.inputIds }, batch.positions),
      batch.positionLabels,
    );
  }
}

export interface RobertaClassifierOptions {
  numLabels: number;
  id2label?: Record<number, string>;
  /** HF's classifier_dropout (default: the hidden dropout). */
  classifierDropout?: number;
  seed?: number;
}

/** Logits (B, numLabels) from <s>. Params: roberta.*, classifier.mlp.hidden.0.* (dense), classifier.mlp.out.* (out_proj). */
export class RobertaForSequenceClassification extends Module {
  readonly config: BertConfig;
  readonly roberta: RobertaModel;
  readonly classifier: ClsClassifier;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  constructor(
    config: Partial<BertConfig> | 'base',
    { numLabels, id2label, classifierDropout, seed = 0 }: RobertaClassifierOptions,
  ) {
    super();
    if (!Number.isInteger(numLabels) || numLabels < 1)
      throw new InvalidArgumentError(`numLabels must be an integer >= 1, got ${numLabels}`);
    const c = robertaConfig(config); // checked before anything is allocated
    this.roberta = this.module('roberta', new RobertaModel(c, { pooler: false, seed }));
    this.config = this.roberta.config;
    this.classifier = this.module(
      'classifier',
      new ClsClassifier(c.hiddenSize, numLabels, {
        pooler: false,
        hiddenSizes: [c.hiddenSize],
        activation: 'tanh',
        dropout: classifierDropout ?? c.hiddenDropout,
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
    const out = this.roberta.run(inputs, options);
    return modelOutput(out, this.classifier.forward(out.lastHiddenState, maskOf(inputs)));
  }
  loss(inputs: BertInputs, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(inputs), labels);
  }
}

export type RobertaTaskModel = RobertaModel | RobertaForMaskedLM | RobertaForSequenceClassification;
