import * as tf from '@tensorflow/tfjs';
import type { ModelOutput, TransformerBlock } from '@transformer-kit/attention';
import {
  argsortRows,
  checkPositiveInts,
  extractPatches,
  InvalidArgumentError,
  LayerNorm,
  Linear,
  Module,
  patchesToImages,
  Rng,
  ShapeError,
} from '@transformer-kit/core';
import { gatherPositions } from '@transformer-kit/heads';
import {
  checkImages,
  checkViTConfig,
  encoderBlocks,
  numPatches,
  patchDim,
  sincosPositions,
  type ViTConfig,
  ViTModel,
  type ViTOutput,
} from './model.js';

/*
 * MAE (He et al. 2021), as HuggingFace's ViTMAEForPreTraining: per sample, a random 75% of the patches are
 * dropped (argsort of uniform noise, core's argsortRows, the same ranking BERT's MLM mask uses); the ViT
 * encoder sees only the visible 25% (with [CLS]); a light decoder of its own width and depth puts a learned
 * mask token at every dropped position, adds fixed 2-D sin-cos positions and predicts every patch's
 * pixels; the loss is the mean squared error on the dropped patches only (optionally against per-patch
 * normalised pixels, `normPixLoss`). MAE is BERT for images: a mask and a head.
 */

export interface MAEConfig extends ViTConfig {
  decoderHiddenSize: number;
  decoderNumLayers: number;
  decoderNumHeads: number;
  decoderIntermediateSize: number;
  /** Fraction of patches dropped per image, in (0, 1) (default 0.75). */
  maskRatio: number;
  /** Targets normalised per patch (mean 0, unit variance, unbiased), as the paper's best setting. */
  normPixLoss: boolean;
}

export const MAE_DECODER_DEFAULTS = {
  decoderHiddenSize: 512,
  decoderNumLayers: 8,
  decoderNumHeads: 16,
  decoderIntermediateSize: 2048,
  maskRatio: 0.75,
  normPixLoss: false,
} as const;

/** A full MAE config: a ViT config plus decoder fields (defaults: HF's ViTMAEConfig), checked. */
export function maeConfig(vit: ViTConfig, overrides: Partial<MAEConfig> = {}): MAEConfig {
  return checkMAEConfig({ ...vit, ...MAE_DECODER_DEFAULTS, ...overrides });
}

export function checkMAEConfig(c: MAEConfig): MAEConfig {
  checkViTConfig(c);
  checkPositiveInts('MAE', c, [
    'decoderHiddenSize',
    'decoderNumLayers',
    'decoderNumHeads',
    'decoderIntermediateSize',
  ]);
  if (c.decoderHiddenSize % c.decoderNumHeads !== 0)
    throw new InvalidArgumentError(
      `decoderHiddenSize ${c.decoderHiddenSize} is not divisible by decoderNumHeads ${c.decoderNumHeads}`,
    );
  for (const [k, v] of [
    ['hiddenSize', c.hiddenSize],
    ['decoderHiddenSize', c.decoderHiddenSize],
  ] as const) {
    if (v % 4 !== 0)
      throw new InvalidArgumentError(`MAE's 2-D sin-cos positions need ${k} divisible by 4, got ${v}`);
  }
  checkMaskRatio(c.maskRatio, numPatches(c));
  return c;
}

function checkMaskRatio(ratio: number, n: number): number {
  if (!(ratio > 0 && ratio < 1)) throw new InvalidArgumentError(`maskRatio must be in (0, 1), got ${ratio}`);
  const keep = Math.floor(n * (1 - ratio));
  if (keep < 1)
    throw new InvalidArgumentError(`maskRatio ${ratio} leaves no visible patch out of ${n}: lower it`);
  return keep;
}

export interface PatchMask {
  /** Indices of the visible patches (B, K), in the order the encoder sees them. */
  keep: tf.Tensor2D;
  /** Where each patch went in the shuffle (B, N): gathering [visible, mask tokens] by it restores order. */
  restore: tf.Tensor2D;
  /** 1 = dropped, 0 = visible (B, N), float32. */
  mask: tf.Tensor2D;
}

/**
 * MAE's per-sample random masking from noise (B, N) (uniform, made on the device unless given): patches
 * with the smallest noise stay visible, K = floor(N · (1 − maskRatio)) of them. The caller owns the result.
 */
export function randomPatchMask(noise: tf.Tensor, maskRatio: number): PatchMask {
  if (noise.rank !== 2) throw new ShapeError(`noise must be (batch, numPatches), got shape [${noise.shape}]`);
  const n = noise.shape[1]!;
  const k = checkMaskRatio(maskRatio, n);
  return tf.tidy(() => {
    const shuffle = argsortRows(noise); // ascending noise
    const restore = argsortRows(shuffle); // the inverse permutation
    const b = noise.shape[0]!;
    return {
      keep: shuffle.slice([0, 0], [b, k]) as tf.Tensor2D,
      restore,
      // Patch i is dropped iff its rank in the shuffle is >= K.
      mask: restore.greaterEqual(k).cast('float32') as tf.Tensor2D,
    };
  });
}

/** Decoder: embed → tokens unshuffled with mask tokens → + sin-cos positions → blocks → LayerNorm → pixels. */
export class MAEDecoder extends Module {
  readonly embed: Linear;
  readonly maskToken: tf.Variable;
  readonly position: tf.Variable;
  readonly layers: TransformerBlock[];
  readonly norm: LayerNorm;
  readonly pred: Linear;
  constructor(
    readonly config: MAEConfig,
    rng: Rng,
  ) {
    super();
    const c = config;
    const d = c.decoderHiddenSize;
    const n = numPatches(c);
    this.embed = this.module('embed', new Linear(c.hiddenSize, d, { rng }));
    this.maskToken = this.param('maskToken', tf.randomNormal([1, 1, d], 0, 0.02, 'float32', rng.nextSeed()));
    this.position = this.param(
      'position',
      tf.tidy(() => sincosPositions(d, Math.sqrt(n)).expandDims(0)),
      false,
    );
    this.layers = this.moduleList(
      'layers',
      encoderBlocks(
        c,
        {
          hiddenSize: d,
          numHeads: c.decoderNumHeads,
          intermediateSize: c.decoderIntermediateSize,
          numLayers: c.decoderNumLayers,
        },
        rng,
      ),
    );
    this.norm = this.module('norm', new LayerNorm(d, c.layerNormEps));
    this.pred = this.module('pred', new Linear(d, patchDim(c), { rng }));
  }
  /** Encoder output (B, 1 + K, D) and `restore` (B, N) → predicted pixels of every patch (B, N, patchDim). */
  forward(hidden: tf.Tensor, restore: tf.Tensor): tf.Tensor {
    const x = this.embed.forward(hidden);
    const [b, t, d] = x.shape as [number, number, number];
    const n = restore.shape[1]!;
    const masks = this.maskToken.tile([b, n + 1 - t, 1]);
    const shuffled = tf.concat([x.slice([0, 1, 0], [b, t - 1, d]), masks], 1);
    const tokens = gatherPositions(shuffled, restore);
    let h = tf.concat([x.slice([0, 0, 0], [b, 1, d]), tokens], 1).add(this.position);
    for (const layer of this.layers) h = layer.forward(h).output;
    const pixels = this.pred.forward(this.norm.forward(h));
    return pixels.slice([0, 1, 0], [b, n, pixels.shape[2]!]);
  }
}

/** `run`'s output: a ModelOutput (logits, lastHiddenState, attentions on request) with the loss and the mask. */
export interface MAEOutput extends ModelOutput {
  /** Mean squared error over the dropped patches. */
  loss: tf.Scalar;
  /** Predicted pixels of every patch (B, N, patchDim) (normalised ones with normPixLoss). */
  logits: tf.Tensor;
  /** 1 = dropped, 0 = visible (B, N). */
  mask: tf.Tensor2D;
  restore: tf.Tensor2D;
  /** The encoder's hidden states of [CLS] and the visible patches (B, 1 + K, D). */
  lastHiddenState: tf.Tensor;
}

/**
 * Masked-autoencoder pretraining. Params: vit.* (ViTModel with fixed sin-cos positions, no pooler),
 * decoder.* (embed, maskToken, position, layers.i, norm, pred).
 *
 *   const { loss } = await trainer.step(() => mae.loss(images));   // a fresh mask every call
 */
export class ViTMAEForPreTraining extends Module {
  readonly config: MAEConfig;
  readonly vit: ViTModel;
  readonly decoder: MAEDecoder;
  readonly #rng: Rng;
  constructor(config: MAEConfig, { seed = 0 }: { seed?: number } = {}) {
    super();
    this.config = checkMAEConfig({ ...config });
    this.vit = this.module('vit', new ViTModel(this.config, { seed, fixedPositions: true }));
    this.decoder = this.module('decoder', new MAEDecoder(this.config, new Rng(seed + 1)));
    this.#rng = new Rng(seed + 2);
  }

  /** Fresh uniform noise (B, N) on the device from the model's seeded stream. */
  noise(batch: number): tf.Tensor2D {
    return tf.randomUniform([batch, numPatches(this.config)], 0, 1, 'float32', this.#rng.nextSeed());
  }

  /** Encoder on the visible patches only: hidden states (B, 1 + K, D) and the mask that chose them. */
  encode(
    images: tf.Tensor,
    { noise, returnAttention = false }: { noise?: tf.Tensor; returnAttention?: boolean } = {},
  ): ViTOutput & PatchMask {
    checkImages(images, this.config);
    const b = images.shape[0]!;
    const n = numPatches(this.config);
    if (noise && !tf.util.arraysEqual(noise.shape, [b, n]))
      throw new ShapeError(`noise shape [${noise.shape}] must be (batch ${b}, numPatches ${n})`);
    const m = randomPatchMask(noise ?? this.noise(b), this.config.maskRatio);
    const emb = this.vit.embeddings;
    const visible = gatherPositions(emb.patchTokens(images), m.keep);
    return { ...this.vit.encode(emb.prependCls(visible), { returnAttention }), ...m };
  }

  /** The pixel targets (B, N, patchDim): HF's patchify, per-patch normalised with normPixLoss. */
  targets(images: tf.Tensor): tf.Tensor {
    const target = extractPatches(images, { size: this.config.patchSize });
    if (!this.config.normPixLoss) return target;
    const { mean, variance } = tf.moments(target, -1, true);
    const d = target.shape[2]!;
    // torch's var() is unbiased: × d / (d − 1).
    const unbiased = d > 1 ? variance.mul(d / (d - 1)) : variance;
    return target.sub(mean).div(unbiased.add(1e-6).sqrt());
  }

  /** Mean over patch values of the squared error, averaged over the dropped patches. */
  reconstructionLoss(images: tf.Tensor, logits: tf.Tensor, mask: tf.Tensor): tf.Scalar {
    const perPatch = logits.sub(this.targets(images)).square().mean(-1);
    return perPatch.mul(mask).sum().div(mask.sum()) as tf.Scalar;
  }

  /**
   * Everything of one masked pass: loss, predicted pixels, the mask, and the encoder's states (with
   * `returnAttention`, its maps). Call inside tf.tidy or a training step. `noise` (B, N) fixes the mask.
   */
  run(
    images: tf.Tensor,
    { noise, returnAttention = false }: { noise?: tf.Tensor; returnAttention?: boolean } = {},
  ): MAEOutput {
    const enc = this.encode(images, { noise, returnAttention });
    const logits = this.decoder.forward(enc.lastHiddenState, enc.restore);
    return {
      loss: this.reconstructionLoss(images, logits, enc.mask),
      logits,
      mask: enc.mask,
      restore: enc.restore,
      lastHiddenState: enc.lastHiddenState,
      ...(enc.attentions ? { attentions: enc.attentions } : {}),
    };
  }

  /** Predicted pixels of every patch (B, N, patchDim) under a fresh mask (or `noise`'s): a model with a head returns its logits. */
  forward(images: tf.Tensor, options: { noise?: tf.Tensor } = {}): tf.Tensor {
    return this.run(images, options).logits;
  }

  /** The pretraining loss under a fresh mask (or `noise`'s): `trainer.step(() => mae.loss(images))`. */
  loss(images: tf.Tensor, options: { noise?: tf.Tensor } = {}): tf.Scalar {
    return this.run(images, options).loss;
  }

  /**
   * Pictures for a demo: the masked input (dropped patches set to `fill`) and the reconstruction (visible
   * patches from the input, dropped ones predicted; normPixLoss predictions are put back into each
   * patch's own mean and spread), both NHWC like `images`.
   */
  reconstruct(
    images: tf.Tensor,
    { noise, fill = 0 }: { noise?: tf.Tensor; fill?: number } = {},
  ): { masked: tf.Tensor4D; reconstructed: tf.Tensor4D; mask: tf.Tensor2D } {
    return tf.tidy(() => {
      const c = this.config;
      const out = this.run(images, { noise });
      const target = extractPatches(images, { size: c.patchSize });
      let pred = out.logits;
      if (c.normPixLoss) {
        const { mean, variance } = tf.moments(target, -1, true);
        const d = target.shape[2]!;
        pred = pred
          .mul(
            variance
              .mul(d / Math.max(1, d - 1))
              .add(1e-6)
              .sqrt(),
          )
          .add(mean);
      }
      const m = out.mask.expandDims(2);
      const size = c.imageSize;
      const unpatch = (p: tf.Tensor) => patchesToImages(p, { height: size, width: size, size: c.patchSize });
      const masked = unpatch(target.mul(tf.sub(1, m)).add(m.mul(fill)));
      const reconstructed = unpatch(target.mul(tf.sub(1, m)).add(pred.mul(m)));
      return { masked, reconstructed, mask: out.mask };
    });
  }
}
