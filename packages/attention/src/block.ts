import * as tf from '@tensorflow/tfjs';
import type { Activation, BackboneConfig, Rng } from '@transformer-kit/core';
import {
  add,
  dropout,
  GatedMlp,
  InvalidArgumentError,
  isRecordingGradients,
  LayerNorm,
  Mlp,
  Module,
  RMSNorm,
  recompute,
  ShapeError,
} from '@transformer-kit/core';
import { type Layer, type LayerKV, MultiHeadAttention } from './attention.js';
import { type AttentionBias, attentionBias, type Mask } from './mask.js';
import type { RotaryConfig } from './positions.js';

/** A norm part: 'layer' = LayerNorm (default), 'rms' = RMSNorm, or a factory of any module of that width. */
export type NormPart = 'layer' | 'rms' | ((size: number, eps: number) => Layer);

/**
 * An MLP part: 'mlp' = core's Mlp, Linear → activation → Linear (default); 'gated' = GatedMlp,
 * down(act(gate(x)) ⊙ up(x)) (SwiGLU with 'silu', GeGLU with 'gelu'); or a factory of any module.
 */
export type MlpPart = 'mlp' | 'gated' | ((hiddenSize: number, intermediateSize: number) => Layer);

/**
 * The models' config names (GPT, BERT and ViT use the same ones). Every part beyond them is optional and
 * defaults to what GPT/BERT/ViT use, so their parameter names and outputs do not change.
 */
export interface TransformerBlockConfig {
  hiddenSize: number;
  numHeads: number;
  /** Hidden width of the MLP (GPT-2, BERT and ViT: 4 × hiddenSize). */
  intermediateSize: number;
  /** 'pre': x + f(N(x)) (GPT-2, Llama). 'post': N(x + f(x)) (BERT). */
  norm: 'pre' | 'post';
  /** 'gelu' = exact erf form (BERT), 'gelu_tanh' = GPT-2's gelu_new, 'silu' for SwiGLU; see core's table. */
  activation: Activation;
  /** Dropout on each sublayer's output before the residual add (and on attention probabilities unless set below). */
  hiddenDropout?: number;
  /** Dropout on attention probabilities (default hiddenDropout). */
  attentionDropout?: number;
  layerNormEps?: number;
  /** Biases in every Linear (default true); `qkvBias` / `outputBias` / `mlpBias` override per part. */
  bias?: boolean;
  qkvBias?: boolean;
  outputBias?: boolean;
  mlpBias?: boolean;
  headDim?: number;
  /** Init std (default 0.02); the residual-facing projections (attn.output, mlp.out) may use a smaller one. */
  std?: number;
  residualStd?: number;
  rng?: Rng;
  /** Norm part (default 'layer'). */
  normalization?: NormPart;
  /** MLP part (default 'mlp'). */
  mlp?: MlpPart;
  /** Key/value heads for GQA (1 = MQA); default numHeads. */
  numKvHeads?: number;
  /** Norm each query and key head (with the norm part, over headDim) before the scores. */
  qkNorm?: boolean;
  /** Rotary positions in self-attention (theta default 10000, fraction default 1). */
  rotary?: Omit<RotaryConfig, 'headDim'>;
  /** ALiBi distance bias in self-attention. */
  alibi?: boolean;
  /** x + attn(N1(x)) + mlp(N2(x)) (GPT-J, GPT-NeoX) instead of one sublayer after the other; pre-norm only. */
  parallelResidual?: boolean;
  /**
   * A cross-attention sub-layer between self-attention and the MLP (the Transformer decoder, T5, BART):
   * queries from the block, keys/values from `BlockOptions.encoder`. Children `crossAttn`, `crossAttnNorm`.
   */
  crossAttention?: boolean | { kvDim?: number; numHeads?: number };
}

/** What a block takes from a model config: BackboneConfig's sizes, activation, eps and dropouts (default 0). */
export type BlockSource = Pick<
  BackboneConfig,
  'hiddenSize' | 'numHeads' | 'intermediateSize' | 'activation' | 'layerNormEps'
> &
  Partial<Pick<BackboneConfig, 'hiddenDropout' | 'attentionDropout'>>;

/** Everything of a block config beyond what the model config gives: bias, init, and the optional parts. */
export type BlockParts = Omit<TransformerBlockConfig, keyof BlockSource | 'norm'>;

/**
 * The one way a model builds its block config: the model config's shared fields (under the same names),
 * the norm placement ('pre': GPT-2, ViT, Llama; 'post': BERT, DistilBERT, RoBERTa), and the model's own
 * parts (biases, residual init, RMSNorm, GQA, rotary, ...). Fields the model config lacks stay unset, so
 * the block's defaults apply.
 */
export function blockConfig(
  model: BlockSource,
  norm: 'pre' | 'post',
  parts: BlockParts = {},
): TransformerBlockConfig {
  const { hiddenSize, numHeads, intermediateSize, activation, layerNormEps } = model;
  return {
    hiddenSize,
    numHeads,
    intermediateSize,
    norm,
    activation,
    layerNormEps,
    ...(model.hiddenDropout === undefined ? {} : { hiddenDropout: model.hiddenDropout }),
    ...(model.attentionDropout === undefined ? {} : { attentionDropout: model.attentionDropout }),
    ...parts,
  };
}

export interface BlockOptions {
  /** Keep-mask / additive bias broadcastable to (B,H,T,S), ideally prepared once with `attentionBias`. */
  mask?: Mask | AttentionBias;
  /** This block's cache: self-attention keys/values, and `cross` for the encoder's. */
  cache?: LayerKV;
  returnAttention?: boolean;
  /** Encoder output (B, S_enc, kvDim) for the cross-attention sub-layer (may be omitted once cached). */
  encoder?: tf.Tensor;
  /** Mask of the encoder positions, broadcastable to (B, H, T, S_enc), e.g. paddingMask(encoderMask). */
  encoderMask?: Mask | AttentionBias;
}

export interface BlockResult {
  output: tf.Tensor;
  attention?: tf.Tensor;
}

/**
 * What `runBlocks`, `setRecompute` and the KV cache need of a block: a Module whose forward maps
 * (B, T, D) → (B, T, D) with these options, and a `recompute` flag it honours (see `forwardBlock`).
 */
export interface Block extends Module {
  forward(x: tf.Tensor, options?: BlockOptions): BlockResult;
  recompute: boolean;
}

/**
 * Runs a block's `sublayers` the way every block should: in its own tidy (its transients are freed as it
 * ends), or, with `block.recompute` while training, keeping only the input for the backward pass.
 * Recompute is skipped with a cache, attention maps or an encoder (the encoder needs its gradient).
 */
export function forwardBlock(
  block: Module & { recompute: boolean },
  x: tf.Tensor,
  options: BlockOptions,
  sublayers: (x: tf.Tensor, options: BlockOptions) => BlockResult,
): BlockResult {
  if (
    block.recompute &&
    !options.cache &&
    !options.returnAttention &&
    !options.encoder &&
    isRecordingGradients()
  ) {
    // The mask goes along as saved constants: the caller's tensors are gone by the backward pass.
    const prepared = options.mask ? attentionBias(options.mask) : undefined;
    const consts = prepared ? [prepared.bias, ...(prepared.rowHasKeys ? [prepared.rowHasKeys] : [])] : [];
    const output = recompute(
      (h, bias, rowHasKeys) => sublayers(h, { mask: bias ? { bias, rowHasKeys } : undefined }).output,
      x,
      consts,
      block.parameters(),
    );
    return { output };
  }
  return tf.tidy(
    () => sublayers(x, options) as unknown as tf.TensorContainerObject,
  ) as unknown as BlockResult;
}

/** A norm of width `size` from a norm part. */
export function makeNorm(part: NormPart, size: number, eps: number): Layer {
  if (part === 'layer') return new LayerNorm(size, eps);
  if (part === 'rms') return new RMSNorm(size, eps);
  if (typeof part === 'function') return part(size, eps);
  throw new InvalidArgumentError(`normalization must be 'layer', 'rms' or a function, got '${String(part)}'`);
}

/**
 * Attention + MLP with residuals, from parts. Children: `attn` (query/key/value/output, qNorm/kNorm with
 * qkNorm), `attnNorm`, then with cross-attention `crossAttn` + `crossAttnNorm`, then `mlp` (Mlp: hidden.0/out;
 * GatedMlp: gate/up/down), `mlpNorm`. In pre-norm the norms come before their sublayer (GPT-2 ln_1/ln_2,
 * Llama input_layernorm/post_attention_layernorm); in post-norm after the residual add (BERT).
 */
export class TransformerBlock extends Module implements Block {
  readonly attn: MultiHeadAttention;
  readonly attnNorm: Layer;
  readonly crossAttn: MultiHeadAttention | undefined;
  readonly crossAttnNorm: Layer | undefined;
  readonly mlp: Layer;
  readonly mlpNorm: Layer;
  readonly dropoutRate: number;
  /**
   * Activation recomputation: when training, keep only the block's input for the backward pass and rerun
   * the block there (torch.utils.checkpoint). Gradients are the same; memory per block drops from its
   * activations (~100 MB at BERT-base, batch 8 × 128) to its input (3 MB), for one extra forward.
   */
  recompute = false;

  constructor(readonly config: TransformerBlockConfig) {
    super();
    const { hiddenSize, numHeads, intermediateSize, bias = true, std = 0.02, rng } = config;
    checkBlockConfig(config);
    const residualStd = config.residualStd ?? std;
    this.dropoutRate = config.hiddenDropout ?? 0;
    const eps = config.layerNormEps ?? 1e-5;
    const normPart = config.normalization ?? 'layer';
    const attnDropout = config.attentionDropout ?? this.dropoutRate;
    this.attn = this.module(
      'attn',
      new MultiHeadAttention({
        dim: hiddenSize,
        dimName: 'hiddenSize',
        numHeads,
        numKvHeads: config.numKvHeads,
        headDim: config.headDim,
        dropout: attnDropout,
        bias,
        qkvBias: config.qkvBias,
        outputBias: config.outputBias,
        std,
        outputStd: residualStd,
        rng,
        ...(config.qkNorm ? { qkNorm: (d: number) => makeNorm(normPart, d, eps) } : {}),
        ...(config.rotary ? { rotary: config.rotary } : {}),
        ...(config.alibi ? { alibi: true } : {}),
      }),
    );
    this.attnNorm = this.module('attnNorm', makeNorm(normPart, hiddenSize, eps));
    if (config.crossAttention) {
      const cross = config.crossAttention === true ? {} : config.crossAttention;
      this.crossAttn = this.module(
        'crossAttn',
        new MultiHeadAttention({
          dim: hiddenSize,
          dimName: 'hiddenSize',
          numHeads: cross.numHeads ?? numHeads,
          headDim: config.headDim,
          kvDim: cross.kvDim ?? hiddenSize,
          dropout: attnDropout,
          bias,
          qkvBias: config.qkvBias,
          outputBias: config.outputBias,
          std,
          outputStd: residualStd,
          rng,
        }),
      );
      this.crossAttnNorm = this.module('crossAttnNorm', makeNorm(normPart, hiddenSize, eps));
    }
    const mlpPart = config.mlp ?? 'mlp';
    const mlpBias = config.mlpBias ?? bias;
    this.mlp = this.module(
      'mlp',
      mlpPart === 'mlp'
        ? new Mlp(hiddenSize, hiddenSize, {
            hiddenSizes: [intermediateSize],
            activation: config.activation,
            bias: mlpBias,
            std,
            outStd: residualStd,
            rng,
          })
        : mlpPart === 'gated'
          ? new GatedMlp(hiddenSize, intermediateSize, {
              activation: config.activation,
              bias: mlpBias,
              std,
              outStd: residualStd,
              rng,
            })
          : mlpPart(hiddenSize, intermediateSize),
    );
    this.mlpNorm = this.module('mlpNorm', makeNorm(normPart, hiddenSize, eps));
  }

  forward(x: tf.Tensor, options: BlockOptions = {}): BlockResult {
    const d = this.config.hiddenSize;
    if (x.rank !== 3 || x.shape[2] !== d)
      throw new ShapeError(`block input must be (B, T, ${d}) (hiddenSize = ${d}), got [${x.shape}]`);
    return forwardBlock(this, x, options, (h, o) => this.sublayers(h, o));
  }

  private sublayers(x: tf.Tensor, options: BlockOptions): BlockResult {
    const drop = (y: tf.Tensor) => dropout(y, this.dropoutRate, this.training);
    // Only the block's own options reach self-attention: a stray `kv` must not turn it into cross-attention.
    const self = { mask: options.mask, cache: options.cache, returnAttention: options.returnAttention };
    const cross = (h: tf.Tensor) => {
      if (!this.crossAttn) return h;
      if (!options.encoder && !options.cache?.cross?.k)
        throw new InvalidArgumentError(
          'this block has cross-attention: pass the encoder output as `encoder` (B, S_enc, kvDim)',
        );
      let slot: LayerKV | undefined;
      if (options.cache) slot = options.cache.cross ??= {};
      const run = (q: tf.Tensor) =>
        this.crossAttn!.forward(q, {
          ...(options.encoder ? { kv: options.encoder } : {}),
          fixedKV: true,
          mask: options.encoderMask,
          cache: slot,
        }).output;
      return this.config.norm === 'pre'
        ? add(h, drop(run(this.crossAttnNorm!.forward(h))))
        : this.crossAttnNorm!.forward(add(h, drop(run(h))));
    };
    if (this.config.norm === 'pre') {
      const a = this.attn.forward(this.attnNorm.forward(x), self);
      let output: tf.Tensor;
      if (this.config.parallelResidual) {
        output = add(add(x, drop(a.output)), drop(this.mlp.forward(this.mlpNorm.forward(x))));
      } else {
        const h = cross(add(x, drop(a.output)));
        output = add(h, drop(this.mlp.forward(this.mlpNorm.forward(h))));
      }
      return a.attention ? { output, attention: a.attention } : { output };
    }
    const a = this.attn.forward(x, self);
    const h = cross(this.attnNorm.forward(add(x, drop(a.output))));
    const output = this.mlpNorm.forward(add(h, drop(this.mlp.forward(h))));
    return a.attention ? { output, attention: a.attention } : { output };
  }
}

/**
 * `numLayers` blocks of one config, built in order: with an `rng` in the config they draw their initial
 * weights from it one after another, as a loop would.
 */
export function transformerBlocks(numLayers: number, config: TransformerBlockConfig): TransformerBlock[] {
  return Array.from({ length: numLayers }, () => new TransformerBlock(config));
}

/** The block's config check, in its own field names (hiddenSize, numHeads, ...). */
function checkBlockConfig(c: TransformerBlockConfig): void {
  if (c.norm !== 'pre' && c.norm !== 'post')
    throw new InvalidArgumentError(`norm must be 'pre' or 'post', got '${c.norm}'`);
  for (const key of ['hiddenSize', 'numHeads', 'intermediateSize'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1)
      throw new InvalidArgumentError(`TransformerBlock: ${key} must be a positive integer, got ${v}`);
  }
  if (c.headDim === undefined && c.hiddenSize % c.numHeads !== 0)
    throw new InvalidArgumentError(
      `TransformerBlock: hiddenSize ${c.hiddenSize} is not divisible by numHeads ${c.numHeads}; pass headDim explicitly`,
    );
  if (
    c.numKvHeads !== undefined &&
    (!Number.isInteger(c.numKvHeads) || c.numKvHeads < 1 || c.numHeads % c.numKvHeads)
  )
    throw new InvalidArgumentError(
      `TransformerBlock: numKvHeads must be a positive integer dividing numHeads ${c.numHeads}, got ${c.numKvHeads}`,
    );
  if (c.parallelResidual && (c.norm !== 'pre' || c.crossAttention))
    throw new InvalidArgumentError(
      'TransformerBlock: parallelResidual needs norm: pre and no crossAttention',
    );
}

/**
 * Turns activation recomputation on (or off) for every block in `model` (any module with a boolean
 * `recompute` flag, see `Block`): the memory of a training step then grows with the number of blocks by one
 * block input each.
 */
export function setRecompute(model: Module, on = true): void {
  for (const [, m] of model.namedModules()) if (isBlock(m)) m.recompute = on;
}

function isBlock(m: Module): m is Block {
  return typeof (m as unknown as Partial<Block>).recompute === 'boolean';
}
