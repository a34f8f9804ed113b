import * as tf from '@tensorflow/tfjs';
import { type Activation, activate, checkActivation } from './activations.js';
import { InvalidArgumentError } from './errors.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { dropout } from './ops.js';
import type { Rng } from './random.js';

export interface GatedMlpOptions {
  /** Activation of the gate: 'silu' = SwiGLU (Llama, Mistral), 'gelu' / 'gelu_tanh' = GeGLU (Gemma). */
  activation?: Activation;
  /** Biases in the three Linear layers (default false, as Llama). */
  bias?: boolean;
  /** Dropout before the down projection (default 0). */
  dropout?: number;
  /** Init std of gate/up (default 0.02) and of down (default std). */
  std?: number;
  outStd?: number;
  rng?: Rng;
}

/**
 * The gated feed-forward of Shazeer's "GLU Variants": down(act(gate(x)) ⊙ up(x)). Params: gate.*, up.*,
 * down.* (HF Llama's gate_proj / up_proj / down_proj).
 */
export class GatedMlp extends Module {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  readonly activation: Activation;
  readonly dropoutRate: number;
  constructor(
    readonly dim: number,
    readonly hiddenSize: number,
    { activation = 'silu', bias = false, dropout = 0, std = 0.02, outStd = std, rng }: GatedMlpOptions = {},
  ) {
    super();
    for (const [name, v] of [
      ['dim', dim],
      ['hiddenSize', hiddenSize],
    ] as const)
      if (!Number.isInteger(v) || v < 1)
        throw new InvalidArgumentError(`GatedMlp: ${name} must be a positive integer, got ${v}`);
    if (dropout < 0 || dropout >= 1)
      throw new InvalidArgumentError(`dropout must be in [0, 1), got ${dropout}`);
    this.activation = checkActivation(activation);
    this.gate = this.module('gate', new Linear(dim, hiddenSize, { bias, std, rng }));
    this.up = this.module('up', new Linear(dim, hiddenSize, { bias, std, rng }));
    this.down = this.module('down', new Linear(hiddenSize, dim, { bias, std: outStd, rng }));
    this.dropoutRate = dropout;
  }
  forward(x: tf.Tensor): tf.Tensor {
    const h = tf.tidy(() => activate(this.gate.forward(x), this.activation).mul(this.up.forward(x)));
    return this.down.forward(dropout(h, this.dropoutRate, this.training));
  }
}
