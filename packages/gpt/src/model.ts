import * as tf from '@tensorflow/tfjs';
import {
  type BackboneExtras,
  blockConfig,
  decoderBias,
  KVCache,
  type ModelOutput,
  modelOutput,
  type RunOptions,
  runBlocks,
  type TransformerBlock,
  transformerBlocks,
} from '@transformer-kit/attention';
import {
  type BackboneConfig,
  checkBackboneConfig,
  dropout,
  Embedding,
  fromPreset,
  type IdsInput,
  IGNORE_INDEX,
  InvalidArgumentError,
  idsTensor,
  LayerNorm,
  Module,
  Rng,
  SequenceTooLongError,
  ShapeError,
} from '@transformer-kit/core';
import { decode, LMHead } from '@transformer-kit/heads';
import { BeamSearch, type SamplingOptions, samplerFrom } from './samplers.js';

/*
 * GPT (GPT-2 architecture), in the spirit of nanoGPT's model.py: token + learned position embeddings,
 * pre-LN blocks with a causal mask, a final LayerNorm and an LM head tied to the token embedding.
 * Parameter names (the same scheme as BERT and ViT; HF's only at the checkpoint boundary, hf.ts):
 * embeddings.(word|position), layers.{i}.(attnNorm|attn.(query|key|value|output)|mlpNorm|mlp.(hidden.0|out)),
 * norm, lmHead (when untied).
 */

/** BackboneConfig's fields (intermediateSize: HF n_inner, 4 × hiddenSize unless given) plus GPT's own. */
export interface GPTConfig extends BackboneConfig {
  vocabSize: number;
  /** Longest sequence the position table covers (HF n_positions). */
  maxPositions: number;
  /** Biases in Linear layers (LayerNorms always have them, as in GPT-2). */
  bias: boolean;
  /** LM head shares the token embedding matrix. */
  tieWeights: boolean;
}

const GPT2_BASE = {
  vocabSize: 50257,
  maxPositions: 1024,
  hiddenDropout: 0,
  attentionDropout: 0,
  bias: true,
  tieWeights: true,
  layerNormEps: 1e-5,
  activation: 'gelu_tanh',
} as const;

/** Presets leave intermediateSize out: it follows hiddenSize (4×) unless a config sets it. */
type GPTPresetConfig = Omit<GPTConfig, 'intermediateSize'> & { intermediateSize?: number };

export const GPT_PRESETS = {
  gpt2: { ...GPT2_BASE, numLayers: 12, numHeads: 12, hiddenSize: 768 },
  'gpt2-medium': { ...GPT2_BASE, numLayers: 24, numHeads: 16, hiddenSize: 1024 },
  'gpt2-large': { ...GPT2_BASE, numLayers: 36, numHeads: 20, hiddenSize: 1280 },
  'gpt2-xl': { ...GPT2_BASE, numLayers: 48, numHeads: 25, hiddenSize: 1600 },
  /** The benchmark's reference config: a char-level model (vocab 65 = tiny Shakespeare's characters). */
  reference: { ...GPT2_BASE, vocabSize: 65, maxPositions: 64, numLayers: 4, numHeads: 4, hiddenSize: 128 },
  /** For tests: a few thousand parameters. */
  tiny: { ...GPT2_BASE, vocabSize: 64, maxPositions: 32, numLayers: 2, numHeads: 2, hiddenSize: 16 },
} satisfies Record<string, GPTPresetConfig>;

export type GPTPreset = keyof typeof GPT_PRESETS;

/** A full config from a preset name or a partial config (filled from 'tiny'), plus overrides; checked. */
export function gptConfig(
  base: GPTPreset | Partial<GPTConfig> = 'tiny',
  overrides: Partial<GPTConfig> = {},
): GPTConfig {
  const start = fromPreset<GPTPresetConfig, GPTPreset>('GPT', GPT_PRESETS, 'tiny', base, overrides);
  const c: GPTConfig = { ...start, intermediateSize: start.intermediateSize ?? 4 * start.hiddenSize };
  return checkBackboneConfig('GPT', c, ['vocabSize', 'maxPositions']);
}

/** Token ids as a (B, T) tensor or nested arrays; a flat array is one sequence (core's IdsInput). */
export type Ids = IdsInput;

export interface ForwardOptions extends RunOptions {
  /** (B, past + T) of 1 (token) / 0 (padding), e.g. a right-padded batch. */
  attentionMask?: tf.Tensor | number[][];
  /** Keys/values of earlier positions; the new ones are appended. Positions continue from cache.length. */
  cache?: KVCache;
  /** Project only the last position to the vocabulary (logits (B, 1, vocab)): all generation needs. */
  lastOnly?: boolean;
}

/** `run`'s ModelOutput: logits (B, T, vocab) and the final LayerNorm's output (B, T, hiddenSize); hiddenStates: every block's input, then that. */
export interface GPTOutput extends ModelOutput {
  logits: tf.Tensor3D;
  lastHiddenState: tf.Tensor3D;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop after emitting any of these ids (it is included in the output). */
  stopIds?: number[];
  /** Seed of the sampler (default 0): same seed, same tokens. */
  seed?: number;
  /** Reuse keys/values of earlier positions (default true). */
  useCache?: boolean;
  /** Slide a window of the last maxPositions tokens instead of throwing past the position table. */
  cropToMaxPositions?: boolean;
  /** Called with each new token (generate only). */
  onToken?: (id: number, index: number) => void;
}

/** Token + learned position embeddings → dropout. Params: word.*, position.*. */
export class GPTEmbeddings extends Module {
  readonly word: Embedding;
  readonly position: Embedding;
  constructor(
    readonly config: GPTConfig,
    rng: Rng,
  ) {
    super();
    this.word = this.module('word', new Embedding(config.vocabSize, config.hiddenSize, { rng }));
    this.position = this.module('position', new Embedding(config.maxPositions, config.hiddenSize, { rng }));
  }
  /** ids (B, T) at positions past .. past + T − 1 → (B, T, hiddenSize). */
  forward(ids: tf.Tensor2D, past = 0): tf.Tensor {
    const x = this.word.forward(ids).add(this.position.rows(past, ids.shape[1]));
    return dropout(x, this.config.hiddenDropout, this.training);
  }
}

export class GPT extends Module {
  readonly config: GPTConfig;
  readonly embeddings: GPTEmbeddings;
  readonly layers: TransformerBlock[];
  readonly norm: LayerNorm;
  readonly lmHead: LMHead;

  constructor(config: GPTPreset | Partial<GPTConfig> = 'tiny', { seed = 0 }: { seed?: number } = {}) {
    super();
    const c = gptConfig(config);
    this.config = c;
    const rng = new Rng(seed);
    this.embeddings = this.module('embeddings', new GPTEmbeddings(c, rng));
    // GPT-2 scales the init of residual-facing projections by 1/sqrt(2·layers) so the residual stream stays O(1).
    const residualStd = 0.02 / Math.sqrt(2 * c.numLayers);
    this.layers = this.moduleList(
      'layers',
      transformerBlocks(c.numLayers, blockConfig(c, 'pre', { bias: c.bias, residualStd, rng })),
    );
    this.norm = this.module('norm', new LayerNorm(c.hiddenSize, c.layerNormEps));
    this.lmHead = this.module(
      'lmHead',
      c.tieWeights
        ? new LMHead(c.hiddenSize, { tiedEmbedding: this.embeddings.word.weight })
        : new LMHead(c.hiddenSize, { vocabSize: c.vocabSize, rng }),
    );
  }

  /** ids (B, T) → logits (B, T, vocab) (B, 1, vocab with lastOnly): a model with a head returns its logits. */
  forward(ids: Ids, options: ForwardOptions = {}): tf.Tensor3D {
    return this.run(ids, options).logits;
  }

  /** Logits with the final hidden states, plus every block's input / attention maps on request. Call inside tf.tidy. */
  run(ids: Ids, options: ForwardOptions = {}): GPTOutput {
    const out = this.#hidden(ids, options);
    const h = out.lastHiddenState;
    const [b, t] = h.shape;
    const logits = this.lmHead.forward(options.lastOnly ? h.slice([0, t - 1], [b, 1]) : h) as tf.Tensor3D;
    return modelOutput(out, logits);
  }

  /** The final norm's output (B, T, D), before the vocabulary head. */
  #hidden(ids: Ids, options: ForwardOptions): BackboneExtras & { lastHiddenState: tf.Tensor3D } {
    const { cache, returnHiddenStates = false, returnAttention = false } = options;
    const x = this.#ids(ids);
    const [b, t] = x.shape as [number, number];
    const past = cache?.length ?? 0;
    if (past + t > this.config.maxPositions) {
      throw new SequenceTooLongError(
        `sequence of ${past + t} tokens (${past} cached + ${t} new) exceeds the block size ${this.config.maxPositions}`,
      );
    }
    const mask = options.attentionMask;
    const bias = decoderBias(b, t, past, mask && idsTensor(mask, { name: 'attentionMask' }));
    const { output, hiddenStates, attentions } = runBlocks(this.layers, this.embeddings.forward(x, past), {
      mask: bias,
      caches: cache?.layers,
      returnHiddenStates,
      returnAttention,
    });
    const lastHiddenState = this.norm.forward(output) as tf.Tensor3D;
    hiddenStates?.push(lastHiddenState);
    return {
      lastHiddenState,
      ...(hiddenStates ? { hiddenStates } : {}),
      ...(attentions ? { attentions } : {}),
    };
  }

  /** Mean next-token cross-entropy; targets equal to `ignoreIndex` (default -100) are skipped. */
  loss(
    ids: Ids,
    targets: Ids,
    {
      ignoreIndex = IGNORE_INDEX,
      attentionMask,
    }: { ignoreIndex?: number; attentionMask?: tf.Tensor | number[][] } = {},
  ): tf.Scalar {
    const { lastHiddenState } = this.#hidden(ids, { attentionMask });
    const y = idsTensor(targets, { name: 'targets', what: 'target' });
    if (!tf.util.arraysEqual(y.shape, lastHiddenState.shape.slice(0, 2))) {
      throw new ShapeError(
        `targets must have the shape of ids [${lastHiddenState.shape.slice(0, 2)}], got [${y.shape}]`,
      );
    }
    // Fused head + cross-entropy, chunked over the vocabulary: the (B·T, V) logits never exist.
    return this.lmHead.loss(lastHiddenState, y, ignoreIndex);
  }

  /** One KV cache with a slot per layer, for `forward(..., { cache })` and generation. */
  newCache(): KVCache {
    return new KVCache(this.config.numLayers);
  }

  /** Generates up to `maxNewTokens` tokens after `prompt` and returns them (the stop id included). */
  async generate(prompt: number[], options: GenerateOptions): Promise<number[]> {
    const out: number[] = [];
    for await (const id of this.stream(prompt, options)) {
      out.push(id);
      options.onToken?.(id, out.length - 1);
    }
    return out;
  }

  /**
   * Yields new tokens one at a time. With the KV cache (default) each step feeds only the newest token;
   * without it each step re-runs the whole sequence. Past maxPositions it throws unless
   * `cropToMaxPositions`, which keeps the last maxPositions tokens (and rebuilds the cache, since positions shift).
   */
  async *stream(prompt: number[], options: GenerateOptions): AsyncGenerator<number> {
    const { maxNewTokens, stopIds = [], seed = 0, useCache = true, cropToMaxPositions = false } = options;
    const { maxPositions, vocabSize } = this.config;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)
      throw new InvalidArgumentError(`maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
    if (!Array.isArray(prompt) || prompt.length === 0)
      throw new ShapeError('prompt must be a non-empty array of token ids');
    const sampler = samplerFrom(options);
    tf.tidy(() => {
      this.#ids([prompt]);
    });
    if (!cropToMaxPositions && prompt.length + maxNewTokens - 1 > maxPositions) {
      throw new SequenceTooLongError(
        `prompt (${prompt.length}) + maxNewTokens (${maxNewTokens}) needs ${prompt.length + maxNewTokens - 1} positions, maxPositions is ${maxPositions}; pass cropToMaxPositions: true to slide the window`,
      );
    }
    if (sampler instanceof BeamSearch) {
      yield* await this.#beamSearch(prompt, sampler, maxNewTokens, stopIds, cropToMaxPositions);
      return;
    }
    const nextLogits = (input: number[], cache: KVCache | undefined) =>
      tf.tidy(() => this.forward([input], { cache, lastOnly: true }).reshape([vocabSize]));
    yield* decode(this, nextLogits, prompt, sampler, { maxNewTokens, stopIds, seed, useCache, maxPositions });
  }

  /**
   * Keeps the `numBeams` most likely continuations (sum of log-probabilities; each step re-runs the beams as
   * one batch); a beam that emits a stop id is finished. Returns the best by score / length^lengthPenalty.
   */
  async #beamSearch(
    prompt: number[],
    beam: BeamSearch,
    maxNewTokens: number,
    stopIds: number[],
    crop: boolean,
  ): Promise<number[]> {
    const { maxPositions, vocabSize: v } = this.config;
    type Beam = { tokens: number[]; score: number };
    let live: Beam[] = [{ tokens: [], score: 0 }];
    const done: Beam[] = [];
    const wasTraining = this.training;
    this.eval();
    try {
      for (let step = 0; step < maxNewTokens && live.length > 0; step++) {
        const seqs = live.map((b) => [...prompt, ...b.tokens].slice(crop ? -maxPositions : 0));
        const rows = tf.tidy(() =>
          tf.logSoftmax(this.forward(seqs, { lastOnly: true }).reshape([live.length, v])),
        );
        const logp = await rows.data();
        rows.dispose();
        const candidates: Array<{ from: number; id: number; score: number }> = [];
        live.forEach((b, i) => {
          for (let id = 0; id < v; id++) candidates.push({ from: i, id, score: b.score + logp[i * v + id]! });
        });
        candidates.sort((a, b) => b.score - a.score || a.from - b.from || a.id - b.id);
        const next: Beam[] = [];
        for (const c of candidates) {
          const b = { tokens: [...live[c.from]!.tokens, c.id], score: c.score };
          if (stopIds.includes(c.id)) done.push(b);
          else next.push(b);
          if (next.length === beam.numBeams) break;
        }
        live = next;
      }
    } finally {
      this.train(wasTraining);
    }
    const norm = (b: Beam) => b.score / Math.max(1, b.tokens.length) ** beam.lengthPenalty;
    return [...done, ...live].reduce((best, b) => (norm(b) > norm(best) ? b : best)).tokens;
  }

  /** (B, T) int32 ids, checked against the vocabulary (core's one ids check). */
  #ids(ids: Ids): tf.Tensor2D {
    const v = this.config.vocabSize;
    return idsTensor(ids, { limit: v, fix: `the vocabulary has ${v} entries` });
  }
}
