import * as tf from '@tensorflow/tfjs';
import {
  type BackboneOutput,
  blockConfig,
  type ModelOutput,
  modelOutput,
  type RunOptions,
  runBlocks,
  type TransformerBlock,
  transformerBlocks,
} from '@transformer-kit/attention';
import {
  type BackboneConfig,
  blockParameterCount,
  checkBackboneConfig,
  checkPositiveInts,
  classificationLoss,
  defaultLabels,
  dropout,
  extractPatches,
  fromPreset,
  InvalidArgumentError,
  LayerNorm,
  Linear,
  Module,
  Rng,
  ShapeError,
} from '@transformer-kit/core';
import { ClsClassifier, MeanPoolClassifier, Pooler } from '@transformer-kit/heads';

/*
 * ViT (Dosovitskiy et al. 2020), as HuggingFace's ViTModel: images cut into non-overlapping patches
 * (core's extractPatches), a Linear patch embedding, a learned [CLS] token, learned position embeddings,
 * pre-LN blocks (exact GELU) from @transformer-kit/attention with no mask at all, a final LayerNorm.
 * Images are NHWC (B, H, W, C) float tensors everywhere in this API; NCHW exists only in checkpoint.ts.
 *
 * GPT, BERT and ViT/MAE differ only in what goes in (token ids vs patches), the mask (causal, padding,
 * none / dropped patches) and the head. Config fields, parameter names and outputs follow the same scheme
 * as GPT and BERT; HF's names appear only in checkpoint.ts.
 */

export interface ViTConfig extends BackboneConfig {
  /** Square images of imageSize × imageSize pixels. */
  imageSize: number;
  /** Square patches of patchSize × patchSize; imageSize must be a multiple. */
  patchSize: number;
  numChannels: number;
  /** Biases on query/key/value (HF qkv_bias, true in every released ViT). */
  qkvBias: boolean;
}

const base = {
  imageSize: 224,
  patchSize: 16,
  numChannels: 3,
  hiddenDropout: 0,
  attentionDropout: 0,
  layerNormEps: 1e-12,
  activation: 'gelu',
  qkvBias: true,
} as const;

/** From a CI-sized toy to Google's ViT-B/16 (google/vit-base-patch16-224). tiny/small/base follow DeiT's widths. */
export const VIT_PRESETS = {
  /** 8×8 grey images (the UCI digits), 2×2 patches: the demo's size. */
  nano: {
    ...base,
    imageSize: 8,
    patchSize: 2,
    numChannels: 1,
    hiddenSize: 64,
    numLayers: 4,
    numHeads: 4,
    intermediateSize: 128,
  },
  tiny: { ...base, hiddenSize: 192, numLayers: 12, numHeads: 3, intermediateSize: 768 },
  small: { ...base, hiddenSize: 384, numLayers: 12, numHeads: 6, intermediateSize: 1536 },
  base: { ...base, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072 },
} as const satisfies Record<string, ViTConfig>;

export type ViTPreset = keyof typeof VIT_PRESETS;

/**
 * A full config from a preset name or a partial config (filled from 'nano'), plus overrides; checked.
 * The same rule as gptConfig and bertConfig.
 */
export function vitConfig(
  base: ViTPreset | Partial<ViTConfig> = 'nano',
  overrides: Partial<ViTConfig> = {},
): ViTConfig {
  return checkViTConfig(fromPreset<ViTConfig, ViTPreset>('ViT', VIT_PRESETS, 'nano', base, overrides));
}

/** ViTModel's parameters for a config (patch projection, [CLS], positions, blocks, final norm), counted without building it. */
export function vitParameterCount(c: ViTConfig): number {
  const h = c.hiddenSize;
  const patches = (c.imageSize / c.patchSize) ** 2;
  return c.numChannels * c.patchSize ** 2 * h + h + h + (patches + 1) * h + blockParameterCount(c) + 2 * h;
}

export function checkViTConfig<C extends ViTConfig>(c: C): C {
  checkBackboneConfig('ViT', c, ['imageSize', 'patchSize', 'numChannels']);
  if (c.imageSize % c.patchSize !== 0)
    throw new InvalidArgumentError(
      `ViT config: imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`,
    );
  return c;
}

/**
 * AdamW decay rule for ViT/MAE (timm's and the MAE paper's): weight matrices decay; biases, LayerNorms,
 * [CLS] / mask tokens and position tables do not (core's default decays every rank >= 2 tensor, which
 * would include the (1, 1, D) tokens and (1, N + 1, D) positions). Pass as `decay` to Trainer / AdamW.
 */
export const vitDecay = (name: string, param: tf.Variable): boolean =>
  param.rank >= 2 && !/(^|\.)(clsToken|maskToken|position)$/.test(name);

/** Patches per image. */
export const numPatches = (c: ViTConfig) => (c.imageSize / c.patchSize) ** 2;

/** Values per patch (patchSize² · channels): the patch embedding's input and MAE's prediction width. */
export const patchDim = (c: ViTConfig) => c.patchSize * c.patchSize * c.numChannels;

/** Throws a ShapeError naming the problem unless `images` is (B, imageSize, imageSize, numChannels). */
export function checkImages(images: tf.Tensor, c: ViTConfig): void {
  if (images.rank !== 4) {
    throw new ShapeError(
      `images must be NHWC (batch, height, width, channels), got rank ${images.rank} shape [${images.shape}]` +
        (images.rank === 3 ? ': add a batch axis (expandDims(0))' : ''),
    );
  }
  const [, h, w, ch] = images.shape as number[];
  if (ch !== c.numChannels) {
    const hint = h === c.numChannels ? ' (this looks like NCHW: transpose to NHWC with [0, 2, 3, 1])' : '';
    throw new ShapeError(`images have ${ch} channels, the model expects ${c.numChannels}${hint}`);
  }
  if (h !== c.imageSize || w !== c.imageSize) {
    const fit = h! % c.patchSize === 0 && w! % c.patchSize === 0;
    throw new ShapeError(
      `images are ${h}×${w}, the model expects ${c.imageSize}×${c.imageSize}` +
        (fit ? '' : ` (and ${h}×${w} is not divisible by the patch size ${c.patchSize})`) +
        ': resize or crop them',
    );
  }
}

/**
 * Fixed 2-D sin-cos position embeddings (MAE's get_2d_sincos_pos_embed), (1 + gridSize², dim) with a zero
 * row for [CLS] first: the first dim/2 channels encode the column, the last dim/2 the row; each half is
 * [sin(p·ω), cos(p·ω)], ω_i = 10000^(-i/(dim/4)). Computed in float64, like numpy.
 */
export function sincosPositions(dim: number, gridSize: number, cls = true): tf.Tensor2D {
  if (dim % 4 !== 0) throw new InvalidArgumentError(`sin-cos positions need dim % 4 == 0, got ${dim}`);
  const quarter = dim / 4;
  const rows = gridSize * gridSize + (cls ? 1 : 0);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < gridSize; i++)
    for (let j = 0; j < gridSize; j++) {
      const row = (cls ? 1 : 0) + i * gridSize + j;
      for (const [half, pos] of [
        [0, j],
        [1, i],
      ] as const) {
        for (let k = 0; k < quarter; k++) {
          const a = pos * (1 / 10000 ** (k / quarter));
          out[row * dim + half * 2 * quarter + k] = Math.sin(a);
          out[row * dim + half * 2 * quarter + quarter + k] = Math.cos(a);
        }
      }
    }
  return tf.tensor2d(out, [rows, dim]);
}

/**
 * Patches → Linear → + positions, with [CLS] (+ its position) in front. Params: patch.* (Linear
 * patchDim → D: HF's Conv2d stride p, see checkpoint.ts), clsToken (1, 1, D), position (1, N + 1, D).
 * With `fixedPositions` (MAE) the position table is 2-D sin-cos and not trained.
 */
export class ViTEmbeddings extends Module {
  readonly patch: Linear;
  readonly clsToken: tf.Variable;
  readonly position: tf.Variable;
  constructor(
    readonly config: ViTConfig,
    rng: Rng,
    { fixedPositions = false }: { fixedPositions?: boolean } = {},
  ) {
    super();
    const d = config.hiddenSize;
    const n = numPatches(config);
    this.patch = this.module('patch', new Linear(patchDim(config), d, { rng }));
    if (fixedPositions) {
      // HF ViTMAE's init: xavier_uniform over the flattened Conv2d weight, so the patch signal is not drowned
      // by the unit-scale sin-cos positions (ViT's N(0, 0.02) would make it ~30x smaller on small patches).
      const limit = Math.sqrt(6 / (patchDim(config) + d));
      const init = tf.randomUniform(this.patch.weight.shape, -limit, limit, 'float32', rng.nextSeed());
      this.patch.weight.assign(init);
      init.dispose();
    }
    this.clsToken = this.param('clsToken', tf.randomNormal([1, 1, d], 0, 0.02, 'float32', rng.nextSeed()));
    this.position = fixedPositions
      ? this.param(
          'position',
          tf.tidy(() => sincosPositions(d, Math.sqrt(n)).expandDims(0)),
          false,
        )
      : this.param('position', tf.randomNormal([1, n + 1, d], 0, 0.02, 'float32', rng.nextSeed()));
  }
  /** Patch tokens with their positions (B, N, D), no [CLS]. */
  patchTokens(images: tf.Tensor): tf.Tensor {
    checkImages(images, this.config);
    const c = this.config;
    const patches = extractPatches(images, { size: c.patchSize });
    const n = patches.shape[1];
    return this.patch.forward(patches).add(this.position.slice([0, 1, 0], [1, n, c.hiddenSize]));
  }
  /** [CLS] + its position in front of the tokens: (B, K, D) → (B, 1 + K, D). */
  prependCls(tokens: tf.Tensor): tf.Tensor {
    const b = tokens.shape[0]!;
    const d = this.config.hiddenSize;
    const cls = this.clsToken.add(this.position.slice([0, 0, 0], [1, 1, d])).tile([b, 1, 1]);
    return tf.concat([cls, tokens], 1);
  }
  forward(images: tf.Tensor): tf.Tensor {
    return dropout(this.prependCls(this.patchTokens(images)), this.config.hiddenDropout, this.training);
  }
}

/**
 * ViTModel's BackboneOutput (the names of BERT's): the final LayerNorm's states (B, 1 + N, D), position 0
 * [CLS]; pooledOutput with a pooler; hiddenStates: every layer's input, then lastHiddenState.
 */
export type ViTOutput = BackboneOutput;

/** Pre-LN blocks over a token sequence (the encoder's, or MAE's decoder with its own sizes). */
export function encoderBlocks(
  config: Pick<ViTConfig, 'layerNormEps' | 'hiddenDropout' | 'attentionDropout' | 'activation'>,
  sizes: Pick<ViTConfig, 'hiddenSize' | 'numHeads' | 'intermediateSize' | 'numLayers'>,
  rng: Rng,
): TransformerBlock[] {
  return transformerBlocks(sizes.numLayers, blockConfig({ ...config, ...sizes }, 'pre', { rng }));
}

/** The encoder: embeddings → pre-LN blocks → LayerNorm → (optional) pooler. Params: embeddings.*, layers.i.*, norm.*, pooler.*. */
export class ViTModel extends Module {
  readonly config: ViTConfig;
  readonly embeddings: ViTEmbeddings;
  readonly layers: TransformerBlock[];
  readonly norm: LayerNorm;
  readonly pooler: Pooler | undefined;
  constructor(
    config: ViTPreset | Partial<ViTConfig> = 'nano',
    {
      pooler = false,
      seed = 0,
      fixedPositions = false,
    }: { pooler?: boolean; seed?: number; fixedPositions?: boolean } = {},
  ) {
    super();
    this.config = vitConfig(config);
    const c = this.config;
    if (!c.qkvBias) throw new InvalidArgumentError('qkvBias: false is not supported');
    const rng = new Rng(seed);
    this.embeddings = this.module('embeddings', new ViTEmbeddings(c, rng, { fixedPositions }));
    this.layers = this.moduleList('layers', encoderBlocks(c, c, rng));
    this.norm = this.module('norm', new LayerNorm(c.hiddenSize, c.layerNormEps));
    // heads' Pooler, BERT's: tanh(dense([CLS])), params pooler.weight / pooler.bias (HF pooler.dense.*).
    this.pooler = pooler ? this.module('pooler', new Pooler(c.hiddenSize, { rng })) : undefined;
  }

  /** Runs the blocks and the final LayerNorm over embedded tokens (B, T, D) (MAE passes only the visible ones). */
  encode(tokens: tf.Tensor, options: RunOptions = {}): ViTOutput {
    const { output, hiddenStates, attentions } = runBlocks(this.layers, tokens, options);
    const lastHiddenState = this.norm.forward(output);
    hiddenStates?.push(lastHiddenState as tf.Tensor3D);
    return {
      lastHiddenState,
      ...(this.pooler ? { pooledOutput: this.pooler.forward(lastHiddenState) } : {}),
      ...(hiddenStates ? { hiddenStates } : {}),
      ...(attentions ? { attentions } : {}),
    };
  }

  /** NHWC images (B, H, W, C) → hidden states, plus hidden states / attention maps on request (as GPT's and BERT's `run`). */
  run(images: tf.Tensor, options: RunOptions = {}): ViTOutput {
    return this.encode(this.embeddings.forward(images), options);
  }

  /** A backbone's forward is its run. Call inside tf.tidy (or a training step). */
  forward(images: tf.Tensor, options: RunOptions = {}): ViTOutput {
    return this.run(images, options);
  }
}

export interface ViTClassifierOptions {
  numLabels: number;
  /** Class names by id (HF's id2label); default LABEL_0, LABEL_1, ... */
  id2label?: Record<number, string>;
  /** 'cls' (HF's ViTForImageClassification) or 'mean' over the patch tokens (no HF equivalent). */
  pooling?: 'cls' | 'mean';
  seed?: number;
}

/**
 * Image classification: ViTModel (`vit`, no pooler) → [CLS] → Linear, exactly HF's ViTForImageClassification;
 * or the mean of the patch tokens → Linear. Both heads come from @transformer-kit/heads.
 * Params: vit.*, classifier.mlp.out.*.
 */
export class ViTForImageClassification extends Module {
  readonly vit: ViTModel;
  readonly classifier: ClsClassifier | MeanPoolClassifier;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  readonly pooling: 'cls' | 'mean';
  readonly config: ViTConfig;
  constructor(
    config: ViTPreset | Partial<ViTConfig>,
    { numLabels, id2label, pooling = 'cls', seed = 0 }: ViTClassifierOptions,
  ) {
    super();
    this.config = vitConfig(config);
    if (pooling !== 'cls' && pooling !== 'mean')
      throw new InvalidArgumentError(`pooling must be 'cls' or 'mean', got '${pooling}'`);
    // Checked before the backbone exists, and whatever was built is released if the head throws.
    checkPositiveInts('ViT classifier', { numLabels }, ['numLabels']);
    this.vit = this.module('vit', new ViTModel(this.config, { seed }));
    const opts = { dropout: 0, rng: new Rng(seed + 1) };
    const d = this.config.hiddenSize;
    try {
      this.classifier = this.module(
        'classifier',
        pooling === 'cls'
          ? new ClsClassifier(d, numLabels, { pooler: false, ...opts })
          : new MeanPoolClassifier(d, numLabels, opts),
      );
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.pooling = pooling;
    this.numLabels = numLabels;
    this.id2label = id2label ?? defaultLabels(numLabels);
  }
  /** Logits (B, numLabels) from the final hidden states (B, 1 + N, D). */
  head(hidden: tf.Tensor): tf.Tensor {
    if (this.pooling === 'cls') return this.classifier.forward(hidden);
    const [b, t, d] = hidden.shape as [number, number, number];
    return this.classifier.forward(hidden.slice([0, 1, 0], [b, t - 1, d]));
  }
  /** NHWC images → logits (B, numLabels). */
  forward(images: tf.Tensor): tf.Tensor {
    return this.run(images).logits;
  }
  /** The logits with the backbone's last hidden states, plus hidden states / attention maps on request. */
  run(images: tf.Tensor, options: RunOptions = {}): ModelOutput {
    const out = this.vit.run(images, options);
    return modelOutput(out, this.head(out.lastHiddenState));
  }
  /** Mean cross-entropy against integer labels (B). */
  loss(images: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return classificationLoss(this.forward(images), labels);
  }
  /**
   * Copies a pretrained encoder in (e.g. `mae.vit` after MAE pretraining): every backbone parameter,
   * positions included; the classifier stays as it is.
   */
  loadEncoder(encoder: ViTModel): this {
    const state = Object.fromEntries(
      encoder.namedParameters().filter(([name]) => !name.startsWith('pooler.')),
    );
    this.vit.loadStateDict(state, { strict: false });
    return this;
  }
}
