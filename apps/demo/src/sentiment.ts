/**
 * Sentiment: a small BERT fine-tuned from scratch on the UCI labelled sentences, with either pooling of
 * bert's BertForSequenceClassification: [CLS] (HF's head) or the mean over real tokens (the baseline).
 * Training is core's TrainingLoop, so the CLI (progress bar) and the page (plot, stop/resume) subscribe to
 * the same loop.
 */
import * as tf from '@tensorflow/tfjs';
import {
  type BertConfig,
  type BertForMaskedLM,
  BertForSequenceClassification,
  bertConfig,
  encodeTexts,
  evaluateClassifier,
  type FolderSequenceClassifier,
  maxSequenceLength,
} from '@transformer-kit/bert';
import {
  epochBatches,
  InvalidArgumentError,
  Rng,
  seedDropout,
  Trainer,
  TrainingLoop,
} from '@transformer-kit/core';
import { type Tokenizer, trainWordPiece } from '@transformer-kit/tokenizer';
import { type LabelledSentence, trainTestSplit } from './data.js';

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
  /** Fine-tuning runs per model (seeds seed, seed+1, …) in the CLI's comparison. */
  seeds: number;
}

/** Default: a 2-layer BERT of ~0.2M parameters, ~15 s of CPU per run on 2 cores (wasm). Fast: a few seconds. */
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
        seeds: 2,
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
        steps: 150,
        lr: 3e-3,
        warmupSteps: 15,
        seeds: 3,
      };
}

export interface SentimentOptions extends SentimentSizes {
  seed: number;
  head: Head;
  /** Test-set accuracy every this many steps (the loop's evaluation; default: none). */
  evalEvery?: number;
  /** Reuse a vocabulary (e.g. the [CLS] and mean-pool models share one, so only the head differs). */
  tokenizer?: Tokenizer;
  /** Reuse a split (default: a seeded 80/20 split of `sentences`). */
  split?: { train: LabelledSentence[]; test: LabelledSentence[] };
  /**
   * Start the encoder from a masked-LM pretrained one (its `bert` weights are copied; pass its tokenizer
   * too). The [CLS] pooler and the classifier start fresh, as HF's from_pretrained does from a
   * BertForMaskedLM folder. Default: everything from scratch.
   */
  pretrained?: BertForMaskedLM;
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

export type SentimentModel = BertForSequenceClassification;

export function buildSentimentModel(head: Head, config: BertConfig, seed: number): SentimentModel {
  const id2label = { 0: LABELS[0], 1: LABELS[1] };
  return new BertForSequenceClassification(config, {
    numLabels: 2,
    id2label,
    seed,
    pooling: head === 'cls' ? 'cls' : 'mean',
  });
}

/** Padding to a multiple of 8 keeps the number of batch shapes (and GPU shader compiles) small. */
const PAD_MULTIPLE = 8;

export class SentimentExperiment {
  readonly #rng: Rng;
  #loop: TrainingLoop<LabelledSentence[]>;
  /** Real (non-padding) tokens the training batches held so far. */
  tokensSeen = 0;

  private constructor(
    readonly tokenizer: Tokenizer,
    readonly model: SentimentModel,
    readonly train: LabelledSentence[],
    readonly test: LabelledSentence[],
    readonly options: SentimentOptions,
  ) {
    this.#rng = new Rng(options.seed + 7);
    seedDropout(options.seed);
    this.#loop = this.#newLoop(options.steps);
  }

  static async create(
    sentences: LabelledSentence[],
    options: SentimentOptions,
  ): Promise<SentimentExperiment> {
    const { train, test } = options.split ?? trainTestSplit(sentences, 0.2, options.seed);
    const tokenizer =
      options.tokenizer ??
      trainWordPiece(
        train.map((s) => s.text),
        { vocabSize: options.vocabSize },
      );
    const config = bertConfig('tiny', {
      ...options.model,
      vocabSize: tokenizer.vocabSize,
      padTokenId: tokenizer.specialId('[PAD]'),
    });
    const model = buildSentimentModel(options.head, config, options.seed);
    if (options.pretrained) {
      if (options.pretrained.config.vocabSize !== tokenizer.vocabSize) {
        model.dispose();
        throw new InvalidArgumentError(
          `the pretrained encoder has ${options.pretrained.config.vocabSize} token embeddings but the vocabulary has ${tokenizer.vocabSize}: pass the tokenizer it was pretrained with`,
        );
      }
      model.bert.loadStateDict(options.pretrained.bert.stateDict());
    }
    return new SentimentExperiment(tokenizer, model, train, test, options);
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

  /** A fresh warmup + cosine over `steps`, on reshuffled epochs of the training sentences. */
  #newLoop(steps: number): TrainingLoop<LabelledSentence[]> {
    const { lr, warmupSteps, batchSize, evalEvery } = this.options;
    const trainer = new Trainer(this.model, {
      lr,
      warmupSteps,
      totalSteps: steps,
      minLr: lr / 10,
      weightDecay: 0.01,
      clipNorm: 1,
    });
    return new TrainingLoop({
      trainer,
      batches: this.train.length ? epochBatches(this.train, batchSize, this.#rng) : () => [],
      loss: (rows) => {
        const inputs = this.encode(rows.map((r) => r.text));
        this.tokensSeen += inputs.attentionMask.flat().reduce((a, b) => a + b, 0);
        const labels = tf.tensor1d(
          rows.map((r) => r.label),
          'int32',
        );
        return this.model.loss(inputs, labels);
      },
      steps,
      ...(evalEvery
        ? {
            evaluate: async () => ({ accuracy: await this.accuracy(this.test) }),
            evalEvery,
            evalAtEnd: false,
          }
        : {}),
    });
  }

  /** The training loop: subscribe with `loop.on(...)`, train with `loop.run()`, pause with `loop.stop()`. */
  get loop(): TrainingLoop<LabelledSentence[]> {
    return this.#loop;
  }

  get steps(): number {
    return this.#loop.step;
  }

  get totalSteps(): number {
    return this.#loop.totalSteps;
  }

  extend(more: number): void {
    this.#loop.trainer.dispose();
    this.#loop = this.#newLoop(more);
  }

  /** Token ids (with [CLS] … [SEP]) padded to the longest (a multiple of 8), with the attention mask. */
  encode(texts: string[]) {
    return encodeTexts(this.tokenizer, texts, this.model.config.maxPositions, PAD_MULTIPLE);
  }

  /** Class probabilities (n, 2) in eval mode, 64 sentences at a time. */
  async predict(texts: string[]): Promise<number[][]> {
    this.model.eval();
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += 64) {
      const inputs = this.encode(texts.slice(i, i + 64));
      const probs = tf.tidy(() => tf.softmax(this.model.forward(inputs)));
      for (const row of (await probs.array()) as number[][]) out.push(row);
      probs.dispose();
    }
    return out;
  }

  async accuracy(rows: LabelledSentence[]): Promise<number> {
    const maxLength = this.model.config.maxPositions;
    return (await evaluateClassifier(this.model, this.tokenizer, rows, { batchSize: 64, maxLength }))
      .accuracy;
  }

  /** Probabilities plus every layer's attention for one sentence (for the page's heatmaps). */
  async classify(text: string): Promise<Classification> {
    return classifyWithAttention(this.model, this.tokenizer, text);
  }

  dispose(): void {
    this.#loop.trainer.dispose();
    this.model.dispose();
  }
}

/** The model's probabilities and attention maps (its `run` with returnAttention) for one sentence. */
export async function classifyWithAttention(
  model: FolderSequenceClassifier,
  tokenizer: Tokenizer,
  text: string,
): Promise<Classification> {
  if (text.trim() === '') throw new InvalidArgumentError('type a sentence to classify');
  model.eval();
  const enc = tokenizer.encode(text, null, { truncation: { maxLength: maxSequenceLength(model.config) } });
  const [probs, ...maps] = tf.tidy(() => {
    const r = model.run({ inputIds: [enc.ids] }, { returnAttention: true });
    return [tf.softmax(r.logits), ...r.attentions!];
  });
  const p = Array.from(await probs!.data());
  const layers = await Promise.all(maps.map(async (m) => (await m.data()) as Float32Array));
  tf.dispose([probs!, ...maps]);
  return {
    labels: Object.values(model.id2label),
    probs: p,
    tokens: enc.tokens,
    attention: { tokens: enc.tokens, numHeads: model.config.numHeads, layers },
  };
}
