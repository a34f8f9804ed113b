/**
 * Text generation: a character-level GPT trained on Moby Dick. The experiment owns the tokenizer, the
 * model and the trainer, and takes one optimizer step at a time, so the CLI (progress bar) and the page
 * (live plot, stop/resume) drive the same code.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, seedDropout, Trainer } from '@transformer-kit/core';
import { GPT, type GPTConfig } from '@transformer-kit/gpt';
import { charTokenizer, type Tokenizer } from './text.js';

export interface GptSizes {
  model: Pick<GPTConfig, 'blockSize' | 'numLayers' | 'numHeads' | 'dim' | 'dropout'>;
  batchSize: number;
  steps: number;
  lr: number;
  warmupSteps: number;
}

/** Default: ~0.35M parameters, 1000 steps (~2 min on 2 CPU cores, wasm; held-out loss ~1.85 nats/char). Fast: seconds, for tests. */
export function gptSizes(fast = false): GptSizes {
  return fast
    ? {
        model: { blockSize: 32, numLayers: 2, numHeads: 2, dim: 32, dropout: 0 },
        batchSize: 8,
        steps: 30,
        lr: 3e-3,
        warmupSteps: 3,
      }
    : {
        model: { blockSize: 64, numLayers: 3, numHeads: 4, dim: 96, dropout: 0 },
        batchSize: 16,
        steps: 1000,
        lr: 3e-3,
        warmupSteps: 20,
      };
}

export interface GptExperimentOptions extends GptSizes {
  seed: number;
}

export interface GenerateTextOptions {
  maxNewTokens: number;
  /** Default 0.8; 0 or less means greedy. */
  temperature?: number;
  topK?: number;
  seed?: number;
  onText?: (piece: string) => void;
}

export class GptExperiment {
  readonly #rng: Rng;
  readonly #train: Int32Array;
  readonly #heldOut: Int32Array;
  #trainer: Trainer;
  #totalSteps: number;

  private constructor(
    readonly tokenizer: Tokenizer,
    readonly model: GPT,
    ids: Int32Array,
    readonly options: GptExperimentOptions,
  ) {
    this.#rng = new Rng(options.seed + 1);
    seedDropout(options.seed);
    // The last 10% of the book is held out for the evaluation loss.
    const cut = Math.floor(ids.length * 0.9);
    this.#train = ids.subarray(0, cut);
    this.#heldOut = ids.subarray(cut);
    this.#totalSteps = options.steps;
    this.#trainer = this.#newTrainer();
  }

  static async create(text: string, options: GptExperimentOptions): Promise<GptExperiment> {
    const tokenizer = charTokenizer(text);
    const ids = Int32Array.from(tokenizer.encode(text).ids);
    const model = new GPT({ vocabSize: tokenizer.vocabSize, ...options.model }, { seed: options.seed });
    return new GptExperiment(tokenizer, model, ids, options);
  }

  /** A model loaded from a checkpoint (no training data: generation only). */
  static fromModel(tokenizer: Tokenizer, model: GPT, options: GptExperimentOptions): GptExperiment {
    return new GptExperiment(tokenizer, model, new Int32Array(0), options);
  }

  #newTrainer(): Trainer {
    const { lr, warmupSteps } = this.options;
    return new Trainer(this.model, {
      lr,
      warmupSteps,
      totalSteps: this.#totalSteps,
      minLr: lr / 10,
      weightDecay: 0.1,
      clipNorm: 1,
    });
  }

  get steps(): number {
    return this.#trainer.stepCount;
  }

  get totalSteps(): number {
    return this.#totalSteps;
  }

  /** Tokens per optimizer step. */
  get tokensPerStep(): number {
    return this.options.batchSize * this.model.config.blockSize;
  }

  /** Train `more` steps past the current schedule (a fresh warmup + cosine from where the weights are). */
  extend(more: number): void {
    this.#trainer.dispose();
    this.#totalSteps = more;
    this.#trainer = this.#newTrainer();
  }

  /** `batchSize` random windows of blockSize + 1 tokens: inputs and next-token targets. */
  #batch(source: Int32Array, rng: Rng): { x: tf.Tensor2D; y: tf.Tensor2D } {
    const { batchSize } = this.options;
    const t = this.model.config.blockSize;
    const x = new Int32Array(batchSize * t);
    const y = new Int32Array(batchSize * t);
    for (let b = 0; b < batchSize; b++) {
      const start = rng.int(source.length - t - 1);
      x.set(source.subarray(start, start + t), b * t);
      y.set(source.subarray(start + 1, start + t + 1), b * t);
    }
    return { x: tf.tensor2d(x, [batchSize, t], 'int32'), y: tf.tensor2d(y, [batchSize, t], 'int32') };
  }

  async step(): Promise<{ loss: number; tokens: number }> {
    const { x, y } = this.#batch(this.#train, this.#rng);
    try {
      this.model.train();
      const { loss } = await this.#trainer.step(() => this.model.loss(x, y));
      return { loss, tokens: this.tokensPerStep };
    } finally {
      tf.dispose([x, y]);
    }
  }

  /** Mean loss on `batches` fixed held-out batches (the same ones every call). */
  async evalLoss(batches = 8): Promise<number> {
    const rng = new Rng(12345);
    this.model.eval();
    let sum = 0;
    for (let i = 0; i < batches; i++) {
      const { x, y } = this.#batch(this.#heldOut, rng);
      const l = tf.tidy(() => this.model.loss(x, y));
      sum += (await l.data())[0]!;
      tf.dispose([x, y, l]);
    }
    return sum / batches;
  }

  /** Continues `prompt`, streaming each new piece of text to `onText`; returns the generated text. */
  async generate(
    prompt: string,
    { maxNewTokens, temperature = 0.8, topK, seed = 0, onText }: GenerateTextOptions,
  ): Promise<string> {
    const ids = this.tokenizer.encode(prompt.length > 0 ? prompt : '\n').ids;
    const block = this.model.config.blockSize;
    const sampling = temperature > 0 ? { temperature, topK } : { greedy: true };
    let out = '';
    for await (const id of this.model.stream(ids.slice(-block), {
      maxNewTokens,
      seed,
      cropToBlockSize: true,
      ...sampling,
    })) {
      const piece = this.tokenizer.decode([id]);
      out += piece;
      onText?.(piece);
    }
    return out;
  }

  dispose(): void {
    this.#trainer.dispose();
    this.model.dispose();
  }
}
