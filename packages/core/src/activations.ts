import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import { gelu, geluTanh } from './ops.js';

type ActivationFn = (x: tf.Tensor) => tf.Tensor;

/**
 * The built-in activations: 'gelu' = exact erf form (BERT), 'gelu_tanh' = tanh approximation (GPT-2's
 * gelu_new; HF also calls it gelu_pytorch_tanh), 'silu' = x·σ(x) (Llama's SwiGLU; 'swish' is its other
 * name), 'quick_gelu' = x·σ(1.702x) (CLIP).
 */
export const ACTIVATIONS = {
  gelu,
  gelu_tanh: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  relu: (x: tf.Tensor) => tf.relu(x),
  tanh: (x: tf.Tensor) => tf.tanh(x),
  silu: (x: tf.Tensor) => tf.tidy(() => x.mul(tf.sigmoid(x))),
  swish: (x: tf.Tensor) => tf.tidy(() => x.mul(tf.sigmoid(x))),
  quick_gelu: (x: tf.Tensor) => tf.tidy(() => x.mul(tf.sigmoid(x.mul(1.702)))),
  sigmoid: (x: tf.Tensor) => tf.sigmoid(x),
} satisfies Record<string, ActivationFn>;

/** A built-in name, or any name given to `registerActivation` (checked at run time by `checkActivation`). */
export type Activation = keyof typeof ACTIVATIONS | (string & {});

// The table lookups go through: the built-ins plus what users register.
const TABLE = new Map<string, ActivationFn>(Object.entries(ACTIVATIONS));

/**
 * Adds an activation to the table under `name`, so configs (Mlp, GatedMlp, blocks) can name it. A built-in
 * cannot be redefined (models' parity depends on them); registering the same name twice replaces the first.
 */
export function registerActivation(name: string, fn: ActivationFn): void {
  if (!name || typeof fn !== 'function')
    throw new InvalidArgumentError(
      'registerActivation(name, fn): a non-empty name and a function are required',
    );
  if (Object.hasOwn(ACTIVATIONS, name))
    throw new InvalidArgumentError(`activation '${name}' is built in and cannot be redefined`);
  TABLE.set(name, fn);
}

/** Throws InvalidArgumentError unless `name` is in the table. */
export function checkActivation(name: string): Activation {
  if (!TABLE.has(name))
    throw new InvalidArgumentError(
      `unknown activation '${name}'; valid: ${[...TABLE.keys()].join(', ')} (add one with registerActivation)`,
    );
  return name;
}

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  checkActivation(activation);
  return TABLE.get(activation)!(x);
}
