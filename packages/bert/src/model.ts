import * as tf from '@tensorflow/tfjs';
import {
  attentionBias,
  type BackboneExtras,
  paddingMask,
  type RunOptions,
  runBlocks,
  TransformerBlock,
} from '@transformer-kit/attention';
import {
  type BackboneConfig,
  blockParameterCount,
  canReadSync,
  checkBackboneConfig,
  checkIds,
  dropout,
  Embedding,
  embedding,
  fromPreset,
  InvalidArgumentError,
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
  return checkConfig(fromPreset<BertConfig, BertPreset>('BERT', BERT_PRESETS, 'tiny', base, overrides));
}

export function checkConfig(c: BertConfig): BertConfig {
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

export interface BertOutput extends BackboneExtras {
  /** Last layer's hidden states (B, T, D). hiddenStates: the embeddings' output, then every layer's. */
  lastHiddenState: tf.Tensor;
  /** tanh(dense([CLS])) (B, D), when the model has a pooler. */
  pooledOutput?: tf.Tensor;
}

/** Nested arrays or a tensor → an int tensor; a flat or ragged array is a ShapeError (not TF.js's generic one). */
export function asInt2d(x: tf.Tensor | number[][], name: string): tf.Tensor {
  if (x instanceof tf.Tensor) return x.dtype === 'int32' ? x : x.cast('int32');
  if (!Array.isArray(x) || !x.every(Array.isArray) || x.some((r) => r.length !== x[0]!.length)) {
    throw new ShapeError(`${name} must be (batch, seq): an array of equal-length rows of ids`);
  }
  return tf.tensor2d(x, [x.length, x[0]?.length ?? 0], 'int32');
}

/**
 * Throws IdOutOfRangeError unless every id is an integer in [0, limit) (core's checkIds). Arrays are checked on the host; tensors where
 * reading back is a cheap copy (cpu, wasm), not on GPUs (a sync read there stalls, or fails in Node).
 */
function checkRange(
  source: tf.Tensor | number[][],
  ids: tf.Tensor,
  limit: number,
  what: string,
  fix: string,
): void {
  if (source instanceof tf.Tensor && !canReadSync()) return;
  checkIds(source instanceof tf.Tensor ? ids.dataSync() : source.flat(), limit, { what, fix });
}

/** The longest input: the position table, less the rows RoBERTa's padding offset never uses. */
export function maxSequenceLength(config: BertConfig): number {
  return config.maxPositions - (config.positionsFromPadding ? config.padTokenId + 1 : 0);
}

/** Checks the inputs against the config; returns int tensors (made inside the caller's tidy) and the mask. */
export function prepareInputs(
  config: BertConfig,
  inputs: BertInputs,
): { ids: tf.Tensor2D; types: tf.Tensor2D; mask: tf.Tensor2D } {
  const ids = asInt2d(inputs.inputIds, 'inputIds');
  if (ids.rank !== 2) throw new ShapeError(`inputIds must be (batch, seq), got shape [${ids.shape}]`);
  const [b, t] = ids.shape as [number, number];
  const longest = maxSequenceLength(config);
  if (t > longest) {
    throw new SequenceTooLongError(
      `sequence length ${t} exceeds the position table (${longest} positions of maxPositions ${config.maxPositions}): truncate the input`,
    );
  }
  const same = (x: tf.Tensor, name: string) => {
    if (!tf.util.arraysEqual(x.shape, [b, t]))
      throw new ShapeError(`${name} shape [${x.shape}] does not match inputIds [${b},${t}]`);
    return x as tf.Tensor2D;
  };
  // A model without token types (DistilBERT) ignores them, so the same batches (encodeTexts) feed both.
  const tokenTypes = config.typeVocabSize > 0 ? inputs.tokenTypeIds : undefined;
  const types = tokenTypes
    ? same(asInt2d(tokenTypes, 'tokenTypeIds'), 'tokenTypeIds')
    : tf.zeros<tf.Rank.R2>([b, t], 'int32');
  const mask = inputs.attentionMask
    ? same(asInt2d(inputs.attentionMask, 'attentionMask'), 'attentionMask')
    : tf.ones<tf.Rank.R2>([b, t], 'int32');
  checkRange(
    inputs.inputIds,
    ids,
    config.vocabSize,
    'token id',
    `the vocabulary has ${config.vocabSize} entries`,
  );
  if (tokenTypes)
    checkRange(
      tokenTypes,
      types,
      config.typeVocabSize,
      'token type id',
      `typeVocabSize is ${config.typeVocabSize}`,
    );
  return { ids: ids as tf.Tensor2D, types, mask };
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
    const d = this.config.hiddenSize;
    // Positions 0..T-1 are a slice of the table (its gradient is a pad: no gather needed); RoBERTa's
    // count the real tokens from padTokenId + 1, padding at padTokenId (HF's create_position_ids_from_input_ids).
    const pos = this.config.positionsFromPadding
      ? this.position.forward(paddingPositions(ids, this.config.padTokenId))
      : this.position.weight.slice([0, 0], [t, d]);
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
    this.layers = this.moduleList(
      'layers',
      Array.from(
        { length: c.numLayers },
        () =>
          new TransformerBlock({
            hiddenSize: c.hiddenSize,
            numHeads: c.numHeads,
            intermediateSize: c.intermediateSize,
            norm: 'post',
            activation: c.activation,
            hiddenDropout: c.hiddenDropout,
            attentionDropout: c.attentionDropout,
            layerNormEps: c.layerNormEps,
            rng,
          }),
      ),
    );
    this.pooler = pooler ? this.module('pooler', new Pooler(c.hiddenSize, { rng })) : undefined;
  }

  /** Call inside tf.tidy (or a training step): the outputs are ordinary tensors. */
  forward(inputs: BertInputs): BertOutput {
    return this.run(inputs);
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
