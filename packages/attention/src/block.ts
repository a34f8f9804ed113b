import * as tf from '@tensorflow/tfjs';
import type { Activation, Rng } from '@transformer-kit/core';
import {
  add,
  dropout,
  InvalidArgumentError,
  isRecordingGradients,
  LayerNorm,
  Mlp,
  Module,
  recompute,
} from '@transformer-kit/core';
import { type LayerKV, MultiHeadAttention } from './attention.js';
import { type AttentionBias, attentionBias, type Mask } from './mask.js';

/** The models' config names (GPT, BERT and ViT use the same ones). */
export interface TransformerBlockConfig {
  hiddenSize: number;
  numHeads: number;
  /** Hidden width of the MLP (GPT-2, BERT and ViT: 4 × hiddenSize). */
  intermediateSize: number;
  /** 'pre': x + f(LN(x)) (GPT-2). 'post': LN(x + f(x)) (BERT). */
  norm: 'pre' | 'post';
  /** 'gelu' = exact erf form (BERT), 'gelu_tanh' = tanh approximation (GPT-2's gelu_new). */
  activation: Activation;
  /** Dropout on each sublayer's output before the residual add (and on attention probabilities unless set below). */
  hiddenDropout?: number;
  /** Dropout on attention probabilities (default hiddenDropout). */
  attentionDropout?: number;
  layerNormEps?: number;
  bias?: boolean;
  headDim?: number;
  /** Init std (default 0.02); the residual-facing projections (attn.output, mlp.out) may use a smaller one. */
  std?: number;
  residualStd?: number;
  rng?: Rng;
}

export interface BlockOptions {
  /** Keep-mask / additive bias broadcastable to (B,H,T,S), ideally prepared once with `attentionBias`. */
  mask?: Mask | AttentionBias;
  cache?: LayerKV;
  returnAttention?: boolean;
}

export interface BlockResult {
  output: tf.Tensor;
  attention?: tf.Tensor;
}

/**
 * Attention + MLP with residuals. Children: `attn` (query/key/value/output), `attnNorm`, `mlp` (core's Mlp: hidden.0/out),
 * `mlpNorm`. In pre-LN the norms come before their sublayer (GPT-2 ln_1/ln_2); in post-LN after the
 * residual add (BERT attention.output.LayerNorm / output.LayerNorm).
 */
export class TransformerBlock extends Module {
  readonly attn: MultiHeadAttention;
  readonly attnNorm: LayerNorm;
  readonly mlp: Mlp;
  readonly mlpNorm: LayerNorm;
  readonly dropoutRate: number;
  /**
   * Activation recomputation: when training, keep only the block's input for the backward pass and rerun
   * the block there (torch.utils.checkpoint). Gradients are the same; memory per block drops from its
   * activations (~100 MB at BERT-base, batch 8 × 128) to its input (3 MB), for one extra forward.
   */
  recompute = false;

  constructor(readonly config: TransformerBlockConfig) {
    super();
    const { hiddenSize: dim, numHeads, intermediateSize, bias = true, std = 0.02, rng } = config;
    if (config.norm !== 'pre' && config.norm !== 'post')
      throw new InvalidArgumentError(`norm must be 'pre' or 'post', got '${config.norm}'`);
    const residualStd = config.residualStd ?? std;
    this.dropoutRate = config.hiddenDropout ?? 0;
    const eps = config.layerNormEps ?? 1e-5;
    this.attn = this.module(
      'attn',
      new MultiHeadAttention({
        dim,
        numHeads,
        headDim: config.headDim,
        dropout: config.attentionDropout ?? this.dropoutRate,
        bias,
        std,
        outputStd: residualStd,
        rng,
      }),
    );
    this.attnNorm = this.module('attnNorm', new LayerNorm(dim, eps));
    this.mlp = this.module(
      'mlp',
      new Mlp(dim, dim, {
        hiddenSizes: [intermediateSize],
        activation: config.activation,
        bias,
        std,
        outStd: residualStd,
        rng,
      }),
    );
    this.mlpNorm = this.module('mlpNorm', new LayerNorm(dim, eps));
  }

  forward(x: tf.Tensor, options: BlockOptions = {}): BlockResult {
    if (this.recompute && !options.cache && !options.returnAttention && isRecordingGradients()) {
      // The mask goes along as saved constants: the caller's tensors are gone by the backward pass.
      const prepared = options.mask ? attentionBias(options.mask) : undefined;
      const consts = prepared ? [prepared.bias, ...(prepared.rowHasKeys ? [prepared.rowHasKeys] : [])] : [];
      const output = recompute(
        (h, bias, rowHasKeys) => this.sublayers(h, { mask: bias ? { bias, rowHasKeys } : undefined }).output,
        x,
        consts,
        this.parameters(),
      );
      return { output };
    }
    // Each block's transients are freed as it ends, not when the whole forward pass does.
    return tf.tidy(
      () => this.sublayers(x, options) as unknown as tf.TensorContainerObject,
    ) as unknown as BlockResult;
  }

  private sublayers(x: tf.Tensor, options: BlockOptions): BlockResult {
    const drop = (y: tf.Tensor) => dropout(y, this.dropoutRate, this.training);
    if (this.config.norm === 'pre') {
      const a = this.attn.forward(this.attnNorm.forward(x), options);
      const h = add(x, drop(a.output));
      const output = add(h, drop(this.mlp.forward(this.mlpNorm.forward(h))));
      return a.attention ? { output, attention: a.attention } : { output };
    }
    const a = this.attn.forward(x, options);
    const h = this.attnNorm.forward(add(x, drop(a.output)));
    const output = this.mlpNorm.forward(add(h, drop(this.mlp.forward(h))));
    return a.attention ? { output, attention: a.attention } : { output };
  }
}

/**
 * Turns activation recomputation on (or off) for every TransformerBlock in `model`: the memory of a
 * training step then grows with the number of blocks by one block input each (see `recompute`).
 */
export function setRecompute(model: Module, on = true): void {
  for (const [, m] of model.namedModules()) if (m instanceof TransformerBlock) m.recompute = on;
}
