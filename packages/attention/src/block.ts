import type * as tf from '@tensorflow/tfjs';
import type { Activation, Rng } from '@transformer-kit/core';
import { dropout, InvalidArgumentError, LayerNorm, Mlp, Module } from '@transformer-kit/core';
import { type LayerKV, MultiHeadAttention } from './attention.js';
import type { AttentionBias, Mask } from './mask.js';

export interface TransformerBlockConfig {
  dim: number;
  numHeads: number;
  /** Hidden width of the MLP (GPT-2 and BERT: 4 × dim). */
  mlpDim: number;
  /** 'pre': x + f(LN(x)) (GPT-2). 'post': LN(x + f(x)) (BERT). */
  norm: 'pre' | 'post';
  /** 'gelu' = exact erf form (BERT), 'gelu_tanh' = tanh approximation (GPT-2's gelu_new). */
  activation: Activation;
  /** Dropout on each sublayer's output before the residual add (and on attention probabilities unless set below). */
  dropout?: number;
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

  constructor(readonly config: TransformerBlockConfig) {
    super();
    const { dim, numHeads, mlpDim, bias = true, std = 0.02, rng } = config;
    if (config.norm !== 'pre' && config.norm !== 'post')
      throw new InvalidArgumentError(`norm must be 'pre' or 'post', got '${config.norm}'`);
    const residualStd = config.residualStd ?? std;
    this.dropoutRate = config.dropout ?? 0;
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
        hiddenSizes: [mlpDim],
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
    const drop = (y: tf.Tensor) => dropout(y, this.dropoutRate, this.training);
    if (this.config.norm === 'pre') {
      const a = this.attn.forward(this.attnNorm.forward(x), options);
      const h = x.add(drop(a.output));
      const output = h.add(drop(this.mlp.forward(this.mlpNorm.forward(h))));
      return a.attention ? { output, attention: a.attention } : { output };
    }
    const a = this.attn.forward(x, options);
    const h = this.attnNorm.forward(x.add(drop(a.output)));
    const output = this.mlpNorm.forward(h.add(drop(this.mlp.forward(h))));
    return a.attention ? { output, attention: a.attention } : { output };
  }
}
