import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import { gelu, geluTanh } from './ops.js';

/** The one activation table: 'gelu' = exact erf form (BERT), 'gelu_tanh' = tanh approximation (GPT-2's gelu_new). */
export const ACTIVATIONS = {
  gelu,
  gelu_tanh: geluTanh,
  relu: (x: tf.Tensor) => tf.relu(x),
  tanh: (x: tf.Tensor) => tf.tanh(x),
} satisfies Record<string, (x: tf.Tensor) => tf.Tensor>;

export type Activation = keyof typeof ACTIVATIONS;

/** Throws InvalidArgumentError unless `name` is in the table. */
export function checkActivation(name: string): Activation {
  if (!Object.hasOwn(ACTIVATIONS, name))
    throw new InvalidArgumentError(
      `unknown activation '${name}'; valid: ${Object.keys(ACTIVATIONS).join(', ')}`,
    );
  return name as Activation;
}

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  return ACTIVATIONS[checkActivation(activation)](x);
}
