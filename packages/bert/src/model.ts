import * as tf from '@tensorflow/tfjs';
import {
  attentionBias,
  type BackboneOutput,
  blockConfig,
  paddingMask,
  type RunOptions,
  runBlocks,
  type TransformerBlock,
  transformerBlocks,
} from '@transformer-kit/attention';
import {
  type BackboneConfig,
  blockParameterCount,
  checkBackboneConfig,
  dropout,
  Embedding,
  embedding,
  fromPreset,
  InvalidArgumentError,
  idsTensor,
  LayerNorm,
  Module,
  Rng,
  SequenceTooLongError,
  ShapeError,
  SIZE_LIMITS,
} from '@transformer-kit/core';
import { Pooler } from '@transformer-kit/heads';

/*
 * BERT (Devlin et al. 2018), as HuggingFace's BertModel: word + position + token-type embeddings, LayerNorm,
 * then post-LN transformer blocks (exact GELU) that attend in both directions, masked only by padding.
 * The pooler (dense + tanh on [CLS]) is optional: task heads may bring their own.
 * Parameter names (the same scheme as GPT and ViT; HF's only at the checkpoint boundary, checkpoint.ts):
 * embeddings.(word|position|tokenType|norm), layers.{i}.(attnNorm|attn.*|mlpNorm|mlp.*), pooler.
 */

export interface BertConfig extends BackboneConfig {
  vocabSize: number;
  /** Length of the learned position table: the longest sequence the model accepts. */
  maxPositions: number;
  /** Number of segments (sentence A / B); 0: no token-type embedding (DistilBERT). */
  typeVocabSize: number;
  padTokenId: number;
  /**
   * RoBERTa's positions: counted over the non-padding tokens from padTokenId + 1 (padding gets padTokenId),
   * so the table's first padTokenId + 1 rows are never a real token's. Default false: 0..T-1.
   */
  positionsFromPadding?: boolean;
}

const base = {
  vocabSize: 30522,
  maxPositions: 512,
  typeVocabSize: 2,
  hiddenDropout: 0.1,
  attentionDropout: 0.1,
  layerNormEps: 1e-12,
  activation: 'gelu',
  padTokenId: 0,
} as const;

/** Google's released sizes (bert-base-uncased and the "BERT miniatures" of Turc et al. 2019). */
export const BERT_PRESETS = {
  tiny: { ...base, hiddenSize: 128, numLayers: 2, numHeads: 2, intermediateSize: 512 },
  mini: { ...base, hiddenSize: 256, numLayers: 4, numHeads: 4, intermediateSize: 1024 },
  small: { ...base, hiddenSize: 512, numLayers: 4, numHeads: 8, intermediateSize: 2048 },
  base: { ...base, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072 },
} as const satisfies Record<string, BertConfig>;

export type BertPreset = keyof typeof BERT_PRESETS;

/**
 * A full config from a preset name or a partial config (filled from 'tiny'), plus overrides; checked.
 * The same rule as gptConfig.
 */
export function bertConfig(
  base: BertPreset | Partial<BertConfig> = 'tiny',
  overrides: Partial<BertConfig> = {},
): BertConfig {
  return checkBertConfig(fromPreset<BertConfig, BertPreset>('BERT', BERT_PRESETS, 'tiny', base, overrides));
}

/** The BERT family's config check (backbone sizes, token types, pad id); bertConfig runs it. */
export function checkBertConfig<C extends BertConfig>(c: C): C {
  checkBackboneConfig('BERT', c, ['vocabSize', 'maxPositions']);
  // 0 token types: DistilBERT and RoBERTa-style models without a segment embedding.
  const types = c.typeVocabSize as unknown;
  if (
    typeof types !== 'number' ||
    !Number.isInteger(types) ||
    types < 0 ||
    types > SIZE_LIMITS.typeVocabSize!
  )
    throw new InvalidArgumentError(
      `BERT config: typeVocabSize must be an integer in [0, ${SIZE_LIMITS.typeVocabSize}] (0: no token types), got ${String(types)}`,
    );
  const pad = c.padTokenId as unknown;
  if (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0 || pad >= c.vocabSize)
    throw new InvalidArgumentError(
      `BERT config: padTokenId must be an integer in [0, vocabSize ${c.vocabSize}), got ${String(pad)}`,
    );
  return c;
}

/** The backbone's parameters for a config (embeddings and blocks; the pooler is H × H + H more), counted without building it. */
export function bertParameterCount(c: BertConfig): number {
  const h = c.hiddenSize;
  return (c.vocabSize + c.maxPositions + c.typeVocabSize) * h + 2 * h + blockParameterCount(c);
}

/** What the tokenizer gives: ids (B,T), segment ids (B,T, default 0), attention mask (B,T, 1 = token, default all 1). */
export interface BertInputs {
  inputIds: tf.Tensor | number[][];
  tokenTypeIds?: tf.Tensor | number[][];
  attentionMask?: tf.Tensor | number[][];
}

/** BertModel's BackboneOutput: the last layer's states (B, T, D), pooledOutput with a pooler; hiddenStates: the embeddings' output, then every layer's. */
export type BertOutput = BackboneOutput;

/** A (B, T) int tensor from rows or a tensor (core's idsTensor, BERT's batches are always rows); masks are not range-checked. */
export const rowsTensor = (x: tf.Tensor | number[][], name: string): tf.Tensor2D =>
  idsTensor(x, { name, allowFlat: false, nonEmpty: false });

/** The longest input: the position table, less the rows RoBERTa's padding offset never uses. */
export function maxSequenceLength(config: BertConfig): number {
  return config.maxPositions - (config.positionsFromPadding ? config.padTokenId + 1 : 0);
}

/** Checks the inputs against the config; returns int tensors (made inside the caller's tidy) and the mask. */
export function prepareInputs(
  config: BertConfig,
  inputs: BertInputs,
): { ids: tf.Tensor2D; types: tf.Tensor2D; mask: tf.Tensor2D } {
  const ids = idsTensor(inputs.inputIds, {
    name: 'inputIds',
    allowFlat: false,
    limit: config.vocabSize,
    fix: `the vocabulary has ${config.vocabSize} entries`,
  });
  const [b, t] = ids.shape;
  const longest = maxSequenceLength(config);
  if (t > longest) {
    throw new SequenceTooLongError(
      `sequence length ${t} exceeds the position table (${longest} positions of maxPositions ${config.maxPositions}): truncate the input`,
    );
  }
  const same = (x: tf.Tensor2D, name: string) => {
    if (!tf.util.arraysEqual(x.shape, [b, t]))
      throw new ShapeError(`${name} shape [${x.shape}] does not match inputIds [${b},${t}]`);
    return x;
  };
  // A model without token types (DistilBERT) ignores them, so the same batches (encodeTexts) feed both.
  const tokenTypes = config.typeVocabSize > 0 ? inputs.tokenTypeIds : undefined;
  const types = tokenTypes
    ? same(
        idsTensor(tokenTypes, {
          name: 'tokenTypeIds',
          allowFlat: false,
          nonEmpty: false,
          limit: config.typeVocabSize,
          what: 'token type id',
          fix: `typeVocabSize is ${config.typeVocabSize}`,
        }),
        'tokenTypeIds',
      )
    : tf.zeros<tf.Rank.R2>([b, t], 'int32');
  const mask = inputs.attentionMask
    ? same(rowsTensor(inputs.attentionMask, 'attentionMask'), 'attentionMask')
    : tf.ones<tf.Rank.R2>([b, t], 'int32');
  return { ids, types, mask };
}

/** RoBERTa's position ids (B, T): cumsum of the non-padding mask, times the mask, plus padTokenId. */
export function paddingPositions(ids: tf.Tensor2D, padTokenId: number): tf.Tensor2D {
  return tf.tidy(() => {
    const keep = ids.notEqual(padTokenId).cast('int32');
    return tf.cumsum(keep, 1).mul(keep).add(tf.scalar(padTokenId, 'int32')) as tf.Tensor2D;
  });
}

/** word + position + token type → LayerNorm → dropout. Params: word.*, position.*, tokenType.*, norm.*. */
export class BertEmbeddings extends Module {
  readonly word: Embedding;
  readonly position: Embedding;
  readonly tokenType: Embedding | undefined;
  readonly norm: LayerNorm;
  constructor(
    readonly config: BertConfig,
    rng: Rng,
  ) {
    super();
    this.word = this.module('word', new Embedding(config.vocabSize, config.hiddenSize, { rng }));
    this.position = this.module('position', new Embedding(config.maxPositions, config.hiddenSize, { rng }));
    this.tokenType = config.typeVocabSize
      ? this.module('tokenType', new Embedding(config.typeVocabSize, config.hiddenSize, { rng }))
      : undefined;
    this.norm = this.module('norm', new LayerNorm(config.hiddenSize, config.layerNormEps));
  }
  forward(ids: tf.Tensor2D, types: tf.Tensor2D): tf.Tensor {
    const [, t] = ids.shape;
    // Positions 0..T-1 are rows of the table (as GPT's past..past+T-1); RoBERTa's
    // count the real tokens from padTokenId + 1, padding at padTokenId (HF's create_position_ids_from_input_ids).
    const pos = this.config.positionsFromPadding
      ? this.position.forward(paddingPositions(ids, this.config.padTokenId))
      : this.position.rows(0, t);
    const x = this.word.forward(ids).add(pos);
    const typed = this.tokenType ? x.add(embedding(this.tokenType.weight, types)) : x;
    return dropout(this.norm.forward(typed), this.config.hiddenDropout, this.training);
  }
}

/** The encoder: embeddings → post-LN blocks → (optional) pooler. Params: embeddings.*, layers.i.*, pooler.*. */
export class BertModel extends Module {
  readonly config: BertConfig;
  readonly embeddings: BertEmbeddings;
  readonly layers: TransformerBlock[];
  readonly pooler: Pooler | undefined;
  constructor(
    config: BertPreset | Partial<BertConfig> = 'tiny',
    { pooler = true, seed = 0 }: { pooler?: boolean; seed?: number } = {},
  ) {
    super();
    this.config = bertConfig(config);
    const rng = new Rng(seed);
    const c = this.config;
    this.embeddings = this.module('embeddings', new BertEmbeddings(c, rng));
    this.layers = this.moduleList('layers', transformerBlocks(c.numLayers, blockConfig(c, 'post', { rng })));
    this.pooler = pooler ? this.module('pooler', new Pooler(c.hiddenSize, { rng })) : undefined;
  }

  /** A backbone's forward is its run. Call inside tf.tidy (or a training step): the outputs are ordinary tensors. */
  forward(inputs: BertInputs, options: RunOptions = {}): BertOutput {
    return this.run(inputs, options);
  }

  /** The outputs plus hidden states / attention maps on request (GPT's `run` takes the same options). */
  run(inputs: BertInputs, options: RunOptions = {}): BertOutput {
    const { ids, types, mask } = prepareInputs(this.config, inputs);
    // The padding mask becomes one additive bias, shared by every layer.
    const bias = attentionBias(paddingMask(mask));
    const { output, hiddenStates, attentions } = runBlocks(this.layers, this.embeddings.forward(ids, types), {
      ...options,
      mask: bias,
    });
    hiddenStates?.push(output as tf.Tensor3D);
    return {
      lastHiddenState: output,
      ...(this.pooler ? { pooledOutput: this.pooler.forward(output) } : {}),
      ...(hiddenStates ? { hiddenStates } : {}),
      ...(attentions ? { attentions } : {}),
    };
  }
}
