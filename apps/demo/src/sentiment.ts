/**
 * Sentiment: a small BERT fine-tuned from scratch on the UCI labelled sentences, with either the [CLS]
 * classifier (bert's BertForSequenceClassification) or the mean-pool baseline (BertModel + heads'
 * MeanPoolClassifier). One optimizer step at a time, so the CLI and the page drive the same code.
 */
import * as tf from '@tensorflow/tfjs';
import { attentionBias, paddingMask } from '@transformer-kit/attention';
import {
  type BertConfig,
  BertForSequenceClassification,
  type BertInputs,
  BertModel,
  bertConfig,
} from '@transformer-kit/bert';
import { Module, Rng, seedDropout, Trainer } from '@transformer-kit/core';
import { classificationLoss, MeanPoolClassifier } from '@transformer-kit/heads';
import { type LabelledSentence, shuffled, trainTestSplit } from './data.js';
import { type Tokenizer, trainWordPieceTokenizer } from './text.js';

export const LABELS = ['negative', 'positive'] as const;
export type Head = 'cls' | 'mean';

export interface SentimentSizes {
  model: Pick<
    BertConfig,
    | 'hiddenSize'
    | 'numLayers'
    | 'numHeads'
    | 'intermediateSize'
    | 'maxPositions'
    | 'hiddenDropout'
    | 'attentionDropout'
  >;
  vocabSize: number;
  batchSize: number;
  steps: number;
  lr: number;
  warmupSteps: number;
}

/** Default: a 2-layer BERT of ~0.2M parameters, about a minute per head on 2 CPU cores. Fast: ~15 s per head. */
export function sentimentSizes(fast = false): SentimentSizes {
  return fast
    ? {
        model: {
          hiddenSize: 32,
          numLayers: 2,
          numHeads: 2,
          intermediateSize: 64,
          maxPositions: 48,
          hiddenDropout: 0,
          attentionDropout: 0,
        },
        vocabSize: 800,
        batchSize: 32,
        steps: 150,
        lr: 3e-3,
        warmupSteps: 15,
      }
    : {
        model: {
          hiddenSize: 64,
          numLayers: 2,
          numHeads: 4,
          intermediateSize: 128,
          maxPositions: 64,
          hiddenDropout: 0.1,
          attentionDropout: 0.1,
        },
        vocabSize: 2000,
        batchSize: 32,
        steps: 250,
        lr: 3e-3,
        warmupSteps: 25,
      };
}

export interface SentimentOptions extends SentimentSizes {
  seed: number;
  head: Head;
  /** Reuse a vocabulary (e.g. the [CLS] and mean-pool models share one, so only the head differs). */
  tokenizer?: Tokenizer;
  /** Reuse a split (default: a seeded 80/20 split of `sentences`). */
  split?: { train: LabelledSentence[]; test: LabelledSentence[] };
}

/** Attention probabilities of one input: per layer a (heads, T, T) block, row-major. */
export interface Attention {
  tokens: string[];
  numHeads: number;
  layers: Float32Array[];
}

export interface Classification {
  labels: string[];
  probs: number[];
  tokens: string[];
  attention: Attention;
}

/** BertModel + mean over real tokens + MLP: the "bag of contextual vectors" baseline. Params: bert.*, classifier.*. */
export class BertMeanPoolClassifier extends Module {
  readonly bert: BertModel;
  readonly classifier: MeanPoolClassifier;
  constructor(
    readonly config: BertConfig,
    { numLabels, seed = 0 }: { numLabels: number; seed?: number },
  ) {
    super();
    this.bert = this.module('bert', new BertModel(config, { pooler: false, seed }));
    this.classifier = this.module(
      'classifier',
      new MeanPoolClassifier(config.hiddenSize, numLabels, {
        dropout: config.hiddenDropout,
        rng: new Rng(seed + 1),
      }),
    );
  }
  forward(inputs: BertInputs): tf.Tensor {
    const mask = inputs.attentionMask instanceof tf.Tensor ? inputs.attentionMask : undefined;
    return this.classifier.forward(this.bert.forward(inputs).sequenceOutput, mask);
  }
  loss(inputs: BertInputs, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(inputs), labels);
  }
}

export type SentimentModel = BertForSequenceClassification | BertMeanPoolClassifier;

export function buildSentimentModel(head: Head, config: BertConfig, seed: number): SentimentModel {
  const id2label = { 0: LABELS[0], 1: LABELS[1] };
  return head === 'cls'
    ? new BertForSequenceClassification(config, { numLabels: 2, id2label, seed })
    : new BertMeanPoolClassifier(config, { numLabels: 2, seed });
}

interface Batch {
  inputs: { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D };
  tokens: number;
}

export class SentimentExperiment {
  readonly #rng: Rng;
  #order: LabelledSentence[] = [];
  #trainer: Trainer;
  #totalSteps: number;

  private constructor(
    readonly tokenizer: Tokenizer,
    readonly model: SentimentModel,
    readonly train: LabelledSentence[],
    readonly test: LabelledSentence[],
    readonly options: SentimentOptions,
  ) {
    this.#rng = new Rng(options.seed + 7);
    seedDropout(options.seed);
    this.#totalSteps = options.steps;
    this.#trainer = this.#newTrainer();
  }

  static async create(
    sentences: LabelledSentence[],
    options: SentimentOptions,
  ): Promise<SentimentExperiment> {
    const { train, test } = options.split ?? trainTestSplit(sentences, 0.2, options.seed);
    const tokenizer =
      options.tokenizer ??
      trainWordPieceTokenizer(
        train.map((s) => s.text),
        options.vocabSize,
      );
    const config = bertConfig('tiny', {
      ...options.model,
      vocabSize: tokenizer.vocabSize,
      padTokenId: tokenizer.padId,
    });
    return new SentimentExperiment(
      tokenizer,
      buildSentimentModel(options.head, config, options.seed),
      train,
      test,
      options,
    );
  }

  /** Wraps an existing (e.g. reloaded) model; it is not trained further. */
  static fromModel(
    tokenizer: Tokenizer,
    model: SentimentModel,
    options: SentimentOptions,
    split: { train: LabelledSentence[]; test: LabelledSentence[] },
  ): SentimentExperiment {
    return new SentimentExperiment(tokenizer, model, split.train, split.test, options);
  }

  #newTrainer(): Trainer {
    const { lr, warmupSteps } = this.options;
    return new Trainer(this.model, {
      lr,
      warmupSteps,
      totalSteps: this.#totalSteps,
      minLr: lr / 10,
      weightDecay: 0.01,
      clipNorm: 1,
    });
  }

  get steps(): number {
    return this.#trainer.stepCount;
  }

  get totalSteps(): number {
    return this.#totalSteps;
  }

  extend(more: number): void {
    this.#trainer.dispose();
    this.#totalSteps = more;
    this.#trainer = this.#newTrainer();
  }

  /** Token ids padded to the longest (rounded up to 8, to keep the number of shapes small), with the mask. */
  encode(texts: string[]): Batch {
    const maxLen = this.model.config.maxPositions;
    const rows = texts.map((t) => this.tokenizer.encode(t, maxLen).ids);
    const width = Math.min(maxLen, Math.ceil(Math.max(...rows.map((r) => r.length)) / 8) * 8);
    const ids = new Int32Array(rows.length * width).fill(this.tokenizer.padId);
    const mask = new Int32Array(rows.length * width);
    let tokens = 0;
    rows.forEach((r, i) => {
      ids.set(r, i * width);
      mask.fill(1, i * width, i * width + r.length);
      tokens += r.length;
    });
    return {
      inputs: {
        inputIds: tf.tensor2d(ids, [rows.length, width], 'int32'),
        attentionMask: tf.tensor2d(mask, [rows.length, width], 'int32'),
      },
      tokens,
    };
  }

  /** One optimizer step on the next `batchSize` training sentences (reshuffled every epoch). */
  async step(): Promise<{ loss: number; tokens: number }> {
    const { batchSize } = this.options;
    if (this.#order.length < batchSize) this.#order.push(...shuffled(this.train, this.#rng.nextSeed()));
    const rows = this.#order.splice(0, batchSize);
    const batch = this.encode(rows.map((r) => r.text));
    const labels = tf.tensor1d(
      rows.map((r) => r.label),
      'int32',
    );
    try {
      this.model.train();
      const { loss } = await this.#trainer.step(() => this.model.loss(batch.inputs, labels));
      return { loss, tokens: batch.tokens };
    } finally {
      tf.dispose([batch.inputs.inputIds, batch.inputs.attentionMask, labels]);
    }
  }

  /** Class probabilities (n, 2) in eval mode, 64 sentences at a time. */
  async predict(texts: string[]): Promise<number[][]> {
    this.model.eval();
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += 64) {
      const batch = this.encode(texts.slice(i, i + 64));
      const probs = tf.tidy(() => tf.softmax(this.model.forward(batch.inputs)));
      const data = (await probs.array()) as number[][];
      tf.dispose([probs, batch.inputs.inputIds, batch.inputs.attentionMask]);
      out.push(...data);
    }
    return out;
  }

  async accuracy(rows: LabelledSentence[]): Promise<number> {
    const probs = await this.predict(rows.map((r) => r.text));
    let right = 0;
    probs.forEach((p, i) => {
      if (Number(p[1]! > p[0]!) === rows[i]!.label) right++;
    });
    return right / rows.length;
  }

  /** Probabilities plus every layer's attention for one sentence (for the page's heatmaps). */
  async classify(text: string): Promise<Classification> {
    return classifyWithAttention(this.model, this.tokenizer, text);
  }

  dispose(): void {
    this.#trainer.dispose();
    this.model.dispose();
  }
}

/**
 * Runs the backbone layer by layer to collect attention probabilities (BertModel.forward does not return
 * them), then the model's own head on the same sequence output, so the probabilities match `forward`.
 */
export async function classifyWithAttention(
  model: SentimentModel,
  tokenizer: Tokenizer,
  text: string,
): Promise<Classification> {
  if (text.trim() === '') throw new RangeError('type a sentence to classify');
  model.eval();
  const enc = tokenizer.encode(text, model.config.maxPositions);
  const t = enc.ids.length;
  const inputIds = tf.tensor2d(enc.ids, [1, t], 'int32');
  const attentionMask = tf.ones([1, t], 'int32') as tf.Tensor2D;
  const [probs, ...maps] = tf.tidy(() => {
    const bert = model.bert;
    const bias = attentionBias(paddingMask(attentionMask));
    let h = bert.embeddings.forward(inputIds, tf.zerosLike(inputIds) as tf.Tensor2D);
    const attn: tf.Tensor[] = [];
    for (const layer of bert.layers) {
      const r = layer.forward(h, { mask: bias, returnAttention: true });
      h = r.output;
      attn.push(r.attention!);
    }
    const logits = model.classifier.forward(h, attentionMask);
    return [tf.softmax(logits), ...attn];
  });
  const p = Array.from(await probs!.data());
  const layers = await Promise.all(maps.map(async (m) => (await m.data()) as Float32Array));
  tf.dispose([probs!, ...maps, inputIds, attentionMask]);
  const labels = model instanceof BertForSequenceClassification ? Object.values(model.id2label) : [...LABELS];
  return {
    labels,
    probs: p,
    tokens: enc.tokens,
    attention: { tokens: enc.tokens, numHeads: model.config.numHeads, layers },
  };
}
