/**
 * Text generation: a character-level GPT trained on Moby Dick. The experiment owns the tokenizer, the model
 * and core's TrainingLoop; the CLI (progress bar) and the page (live plot, stop/resume) subscribe to the
 * loop's events and drive the same code.
 */
import { Rng, seedDropout, splitTokens, Trainer, TrainingLoop, windowBatches } from '@transformer-kit/core';
import { evaluateLoss, GPT, type GPTConfig } from '@transformer-kit/gpt';
import { type Tokenizer, trainChar } from '@transformer-kit/tokenizer';

export interface GptSizes {
  model: Pick<GPTConfig, 'maxPositions' | 'numLayers' | 'numHeads' | 'hiddenSize' | 'hiddenDropout'>;
  batchSize: number;
  steps: number;
  lr: number;
  warmupSteps: number;
}

/** Default: ~0.35M parameters, 1000 steps (~2 min on 2 CPU cores, wasm; held-out loss ~1.85 nats/char). Fast: seconds, for tests. */
export function gptSizes(fast = false): GptSizes {
  return fast
    ? {
        model: { maxPositions: 32, numLayers: 2, numHeads: 2, hiddenSize: 32, hiddenDropout: 0 },
        batchSize: 8,
        steps: 30,
        lr: 3e-3,
        warmupSteps: 3,
      }
    : {
        model: { maxPositions: 64, numLayers: 3, numHeads: 4, hiddenSize: 96, hiddenDropout: 0 },
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
  #loop: TrainingLoop<{ x: unknown; y: unknown }>;

  private constructor(
    readonly tokenizer: Tokenizer,
    readonly model: GPT,
    ids: Int32Array,
    readonly options: GptExperimentOptions,
  ) {
    this.#rng = new Rng(options.seed + 1);
    seedDropout(options.seed);
    // The last 10% of the book is held out for the evaluation loss.
    ({ train: this.#train, val: this.#heldOut } = splitTokens(ids, 0.1));
    this.#loop = this.#newLoop(options.steps);
  }

  static async create(text: string, options: GptExperimentOptions): Promise<GptExperiment> {
    const tokenizer = trainChar(text);
    const ids = Int32Array.from(tokenizer.encode(text).ids);
    const model = new GPT({ vocabSize: tokenizer.vocabSize, ...options.model }, { seed: options.seed });
    return new GptExperiment(tokenizer, model, ids, options);
  }

  /** A model loaded from a checkpoint (no training data: generation only). */
  static fromModel(tokenizer: Tokenizer, model: GPT, options: GptExperimentOptions): GptExperiment {
    return new GptExperiment(tokenizer, model, new Int32Array(0), options);
  }

  /** A fresh warmup + cosine over `steps` from where the weights are. */
  #newLoop(steps: number): TrainingLoop<{ x: unknown; y: unknown }> {
    const { lr, warmupSteps, batchSize } = this.options;
    const trainer = new Trainer(this.model, {
      lr,
      warmupSteps,
      totalSteps: steps,
      minLr: lr / 10,
      weightDecay: 0.1,
      clipNorm: 1,
    });
    const model = this.model;
    return new TrainingLoop({
      trainer,
      batches: windowBatches(this.#train, batchSize, model.config.maxPositions, this.#rng),
      loss: ({ x, y }) => model.loss(x, y),
      steps,
    });
  }

  /** The training loop: subscribe with `loop.on(...)`, train with `loop.run()`, pause with `loop.stop()`. */
  get loop(): TrainingLoop<{ x: unknown; y: unknown }> {
    return this.#loop;
  }

  get steps(): number {
    return this.#loop.step;
  }

  get totalSteps(): number {
    return this.#loop.totalSteps;
  }

  /** Tokens per optimizer step. */
  get tokensPerStep(): number {
    return this.options.batchSize * this.model.config.maxPositions;
  }

  /** Train `more` steps past the current schedule (a fresh warmup + cosine from where the weights are). */
  extend(more: number): void {
    this.#loop.trainer.dispose();
    this.#loop = this.#newLoop(more);
  }

  /** Mean loss on `batches` fixed held-out batches (the same ones every call). */
  evalLoss(batches = 8): Promise<number> {
    const { batchSize } = this.options;
    return evaluateLoss(this.model, this.#heldOut, { batchSize, batches, seed: 12345 });
  }

  /** Continues `prompt`, streaming each new piece of text to `onText`; returns the generated text. */
  async generate(
    prompt: string,
    { maxNewTokens, temperature = 0.8, topK, seed = 0, onText }: GenerateTextOptions,
  ): Promise<string> {
    const ids = this.tokenizer.encode(prompt.length > 0 ? prompt : '\n').ids;
    const block = this.model.config.maxPositions;
    const sampling = temperature > 0 ? { temperature, topK } : { greedy: true };
    let out = '';
    for await (const id of this.model.stream(ids.slice(-block), {
      maxNewTokens,
      seed,
      cropToMaxPositions: true,
      ...sampling,
    })) {
      const piece = this.tokenizer.decode([id]);
      out += piece;
      onText?.(piece);
    }
    return out;
  }

  dispose(): void {
    this.#loop.trainer.dispose();
    this.model.dispose();
  }
}
