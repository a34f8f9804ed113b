import * as tf from '@tensorflow/tfjs';
import {
  type BackboneOutput,
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
  type Activation,
  checkPositiveInts,
  crossEntropy,
  Embedding,
  fromPreset,
  type IdsInput,
  IGNORE_INDEX,
  InvalidArgumentError,
  idsTensor,
  Module,
  RMSNorm,
  Rng,
  SequenceTooLongError,
  ShapeError,
} from '@transformer-kit/core';
import { BeamSearch, decode, LMHead, type SamplingOptions, samplerFrom } from '@transformer-kit/heads';

/*
 * Llama (HF LlamaForCausalLM), composed only from the kit's parts: token embeddings, pre-norm
 * TransformerBlocks with RMSNorm, rotary positions, grouped-query attention and a SwiGLU MLP, a final
 * RMSNorm, and an LM head tied to the embeddings or not. No position table: rotary works at any length.
 * Parameter names: model.embeddings, model.layers.{i}.(attnNorm|attn.(query|key|value|output)|mlpNorm|
 * mlp.(gate|up|down)), model.norm, lmHead (untied); HF's only at the checkpoint boundary (hf.ts).
 */

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  /** Width of the SwiGLU MLP (HF intermediate_size). */
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads (GQA; HF num_key_value_heads). */
  numKvHeads: number;
  /** Size of each head (HF head_dim); default hiddenSize / numHeads. */
  headDim?: number;
  /** Longest sequence generation and training accept (HF max_position_embeddings). */
  maxPositions: number;
  rmsNormEps: number;
  /** Rotary base (HF rope_theta). */
  ropeTheta: number;
  /** LM head shares the token embedding matrix (HF tie_word_embeddings). */
  tieWeights: boolean;
  /** Biases on q/k/v/o (HF attention_bias) and on the MLP (HF mlp_bias). */
  attentionBias: boolean;
  mlpBias: boolean;
  /** The MLP gate's activation (HF hidden_act, 'silu'). */
  activation: Activation;
  /** Dropout on attention probabilities (HF attention_dropout). */
  attentionDropout: number;
}

const LLAMA_BASE = {
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  attentionBias: false,
  mlpBias: false,
  activation: 'silu',
  attentionDropout: 0,
} as const;

export const LLAMA_PRESETS = {
  /** SmolLM2-135M's shapes (HuggingFaceTB/SmolLM2-135M): 30 layers, 9 query / 3 key-value heads. */
  'smollm2-135m': {
    ...LLAMA_BASE,
    vocabSize: 49152,
    hiddenSize: 576,
    intermediateSize: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    maxPositions: 8192,
    ropeTheta: 100000,
    tieWeights: true,
  },
  /** For tests and examples: a few thousand parameters. */
  tiny: {
    ...LLAMA_BASE,
    vocabSize: 64,
    hiddenSize: 16,
    intermediateSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    maxPositions: 64,
    tieWeights: true,
  },
} satisfies Record<string, LlamaConfig>;

export type LlamaPreset = keyof typeof LLAMA_PRESETS;

/** A full config from a preset name or a partial config (filled from 'tiny'), plus overrides; checked. */
export function llamaConfig(
  base: LlamaPreset | Partial<LlamaConfig> = 'tiny',
  overrides: Partial<LlamaConfig> = {},
): LlamaConfig {
  const c = fromPreset<LlamaConfig, LlamaPreset>('Llama', LLAMA_PRESETS, 'tiny', base, overrides);
  checkPositiveInts('Llama', c, [
    'vocabSize',
    'hiddenSize',
    'intermediateSize',
    'numLayers',
    'numHeads',
    'numKvHeads',
    'maxPositions',
  ]);
  if (c.headDim === undefined && c.hiddenSize % c.numHeads !== 0)
    throw new InvalidArgumentError(
      `Llama: hiddenSize ${c.hiddenSize} is not divisible by numHeads ${c.numHeads}; set headDim`,
    );
  if (c.numHeads % c.numKvHeads !== 0)
    throw new InvalidArgumentError(
      `Llama: numHeads ${c.numHeads} is not a multiple of numKvHeads ${c.numKvHeads}`,
    );
  if (!(c.rmsNormEps > 0) || !(c.ropeTheta > 0))
    throw new InvalidArgumentError('Llama: rmsNormEps and ropeTheta must be > 0');
  return c;
}

/** Token ids as a (B, T) tensor or nested arrays; a flat array is one sequence (core's IdsInput). */
export type Ids = IdsInput;

export interface LlamaForwardOptions extends RunOptions {
  /** (B, past + T) of 1 (token) / 0 (padding), e.g. a right-padded batch. */
  attentionMask?: tf.Tensor | number[][];
  /** Keys/values of earlier positions; rotary positions continue from cache.length. */
  cache?: KVCache;
  /** Project only the last position to the vocabulary: all generation needs. */
  lastOnly?: boolean;
}

/** LlamaModel's BackboneOutput: the final RMSNorm's output (B, T, hiddenSize); hiddenStates: every block's input, then that. */
export interface LlamaOutput extends BackboneOutput {
  lastHiddenState: tf.Tensor3D;
}

/** The decoder without a head (HF LlamaModel). Params: embeddings, layers.{i}.*, norm. */
export class LlamaModel extends Module {
  readonly config: LlamaConfig;
  readonly embeddings: Embedding;
  readonly layers: TransformerBlock[];
  readonly norm: RMSNorm;

  constructor(config: LlamaPreset | Partial<LlamaConfig> = 'tiny', { seed = 0 }: { seed?: number } = {}) {
    super();
    const c = llamaConfig(config);
    this.config = c;
    const rng = new Rng(seed);
    this.embeddings = this.module('embeddings', new Embedding(c.vocabSize, c.hiddenSize, { rng }));
    const residualStd = 0.02 / Math.sqrt(2 * c.numLayers);
    // Llama's own fields: RMSNorm (its eps is rmsNormEps), SwiGLU, rotary, GQA, biases; no hidden dropout.
    const block = blockConfig({ ...c, layerNormEps: c.rmsNormEps }, 'pre', {
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      normalization: 'rms',
      mlp: 'gated',
      rotary: { theta: c.ropeTheta },
      bias: c.attentionBias,
      mlpBias: c.mlpBias,
      residualStd,
      rng,
    });
    this.layers = this.moduleList('layers', transformerBlocks(c.numLayers, block));
    this.norm = this.module('norm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
  }

  /** ids (B, T) → final hidden states (a backbone's forward is its run). Call inside tf.tidy. */
  forward(ids: Ids, options: LlamaForwardOptions = {}): LlamaOutput {
    return this.run(ids, options);
  }

  /** ids (B, T) → final hidden states, plus every layer's input / attention maps on request. Call inside tf.tidy. */
  run(ids: Ids, options: LlamaForwardOptions = {}): LlamaOutput {
    const { cache, returnHiddenStates = false, returnAttention = false } = options;
    const v = this.config.vocabSize;
    const x = idsTensor(ids, { limit: v, fix: `the vocabulary has ${v} entries` });
    const [b, t] = x.shape as [number, number];
    const past = cache?.length ?? 0;
    if (past + t > this.config.maxPositions)
      throw new SequenceTooLongError(
        `sequence of ${past + t} tokens (${past} cached + ${t} new) exceeds maxPositions ${this.config.maxPositions}`,
      );
    const mask = options.attentionMask;
    const bias = decoderBias(b, t, past, mask && idsTensor(mask, { name: 'attentionMask' }));
    const { output, hiddenStates, attentions } = runBlocks(this.layers, this.embeddings.forward(x), {
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
}

export interface LlamaGenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop after emitting any of these ids (it is included in the output). */
  stopIds?: number[];
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Reuse keys/values of earlier positions (default true). */
  useCache?: boolean;
  onToken?: (id: number, index: number) => void;
}

/** LlamaModel + LM head (HF LlamaForCausalLM). Params: model.*, lmHead.weight when untied. */
export class LlamaForCausalLM extends Module {
  readonly config: LlamaConfig;
  readonly model: LlamaModel;
  readonly lmHead: LMHead;

  constructor(config: LlamaPreset | Partial<LlamaConfig> = 'tiny', { seed = 0 }: { seed?: number } = {}) {
    super();
    this.model = this.module('model', new LlamaModel(config, { seed }));
    const c = this.model.config;
    this.config = c;
    this.lmHead = this.module(
      'lmHead',
      c.tieWeights
        ? new LMHead(c.hiddenSize, { tiedEmbedding: this.model.embeddings.weight })
        : new LMHead(c.hiddenSize, { vocabSize: c.vocabSize, rng: new Rng(seed + 1) }),
    );
  }

  /** ids (B, T) → logits (B, T, vocab) (B, 1, vocab with lastOnly). Call inside tf.tidy. */
  forward(ids: Ids, options: LlamaForwardOptions = {}): tf.Tensor3D {
    return this.run(ids, options).logits;
  }

  /** Logits with the final hidden states, plus every layer's input / attention maps on request. */
  run(ids: Ids, options: LlamaForwardOptions = {}): ModelOutput & LlamaOutput & { logits: tf.Tensor3D } {
    const out = this.model.run(ids, options);
    const h = out.lastHiddenState;
    const [b, t] = h.shape;
    const logits = this.lmHead.forward(options.lastOnly ? h.slice([0, t - 1], [b, 1]) : h) as tf.Tensor3D;
    return modelOutput(out, logits);
  }

  /** Mean next-token cross-entropy of `targets` (same shape as ids; `ignoreIndex` skipped). */
  loss(
    ids: Ids,
    targets: Ids,
    {
      ignoreIndex = IGNORE_INDEX,
      attentionMask,
    }: { ignoreIndex?: number; attentionMask?: tf.Tensor | number[][] } = {},
  ): tf.Scalar {
    const logits = this.forward(ids, { attentionMask });
    const y = idsTensor(targets, { name: 'targets', what: 'target', nonEmpty: false });
    if (!tf.util.arraysEqual(y.shape, logits.shape.slice(0, 2)))
      throw new ShapeError(
        `targets must have the shape of ids [${logits.shape.slice(0, 2)}], got [${y.shape}]`,
      );
    return crossEntropy(logits, y, ignoreIndex);
  }

  newCache(): KVCache {
    return new KVCache(this.config.numLayers);
  }

  async generate(prompt: number[], options: LlamaGenerateOptions): Promise<number[]> {
    const out: number[] = [];
    for await (const id of this.stream(prompt, options)) {
      out.push(id);
      options.onToken?.(id, out.length - 1);
    }
    return out;
  }

  /** Yields new tokens one at a time; with the KV cache (default) each step feeds only the newest token. */
  async *stream(prompt: number[], options: LlamaGenerateOptions): AsyncGenerator<number> {
    const { maxNewTokens, stopIds = [], seed = 0, useCache = true } = options;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)
      throw new InvalidArgumentError(`maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
    if (!Array.isArray(prompt) || prompt.length === 0)
      throw new ShapeError('prompt must be a non-empty array of token ids');
    if (prompt.length + maxNewTokens - 1 > this.config.maxPositions)
      throw new SequenceTooLongError(
        `prompt (${prompt.length}) + maxNewTokens (${maxNewTokens}) exceeds maxPositions ${this.config.maxPositions}`,
      );
    const sampler = samplerFrom(options);
    if (sampler instanceof BeamSearch)
      throw new InvalidArgumentError(
        'LlamaForCausalLM.generate: beam search is not supported; use greedy or sampling',
      );
    const { maxPositions, vocabSize } = this.config;
    const nextLogits = (input: number[], cache: KVCache | undefined) =>
      tf.tidy(() => this.forward([input], { cache, lastOnly: true }).reshape([vocabSize]));
    yield* decode(this, nextLogits, prompt, sampler, { maxNewTokens, stopIds, seed, useCache, maxPositions });
  }
}
