import type * as tf from '@tensorflow/tfjs';
import { type Activation, activate, checkActivation } from './activations.js';
import { InvalidArgumentError } from './errors.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { dropout } from './ops.js';
import type { Rng } from './random.js';

export interface MlpOptions {
  /** Sizes of the hidden layers between input and output (default none: one Linear). */
  hiddenSizes?: number[];
  /** Activation after each hidden layer (default 'gelu'). */
  activation?: Activation;
  /** Dropout before each Linear (default 0). */
  dropout?: number;
  /** Biases in the Linear layers (default true). */
  bias?: boolean;
  /** Init std of the hidden layers (default 0.02) and of the output layer (default: the same). */
  std?: number;
  outStd?: number;
  rng?: Rng;
}

/**
 * The one MLP: dropout → Linear → activation per hidden layer, then dropout → Linear to `outDim`.
 * A transformer block's feed-forward is Mlp(D, D, { hiddenSizes: [4D] }); a classification head's is
 * Mlp(D, C, { hiddenSizes: [], dropout: 0.1 }). Params: hidden.i.*, out.*.
 */
export class Mlp extends Module {
  readonly hidden: Linear[];
  readonly out: Linear;
  readonly activation: Activation;
  readonly dropoutRate: number;
  constructor(
    inDim: number,
    outDim: number,
    {
      hiddenSizes = [],
      activation = 'gelu',
      dropout = 0,
      bias = true,
      std = 0.02,
      outStd = std,
      rng,
    }: MlpOptions = {},
  ) {
    super();
    if (!Number.isInteger(outDim) || outDim < 1)
      throw new InvalidArgumentError(`Mlp: output size must be a positive integer, got ${outDim}`);
    if (dropout < 0 || dropout >= 1)
      throw new InvalidArgumentError(`dropout must be in [0, 1), got ${dropout}`);
    this.activation = checkActivation(activation);
    const dims = [inDim, ...hiddenSizes];
    this.hidden = this.moduleList(
      'hidden',
      hiddenSizes.map((h, i) => new Linear(dims[i]!, h, { bias, std, rng })),
    );
    this.out = this.module('out', new Linear(dims[dims.length - 1]!, outDim, { bias, std: outStd, rng }));
    this.dropoutRate = dropout;
  }
  forward(x: tf.Tensor): tf.Tensor {
    for (const layer of this.hidden)
      x = activate(layer.forward(dropout(x, this.dropoutRate, this.training)), this.activation);
    return this.out.forward(dropout(x, this.dropoutRate, this.training));
  }
}
