import * as tf from '@tensorflow/tfjs';

/**
 * The fused-op interface: kernels a backend package supplies for core's ops where a chain of TF.js kernels
 * is slow or holds large temporaries (wasm: scalar loops; WebGPU: one dispatch per op). core's ops
 * (ops.ts, optim.ts, clip.ts) ask for the kernel of the active TF.js backend; an absent kernel, or one that
 * returns undefined for its inputs, leaves the op to plain TF.js ops, which are the reference semantics.
 * Inputs are float32 (core checks before asking). Kernels are not differentiable: ops.ts's custom gradients
 * call them, so a backend supplies the forward and the gradient of a pair, or neither.
 */
export interface FusedKernels {
  /** a (N, M, K) @ b (N, K, S), either operand given transposed, plus bias (S) on every row. Differentiable. */
  batchMatMul?(
    a: tf.Tensor3D,
    b: tf.Tensor3D,
    transposeA: boolean,
    transposeB: boolean,
    bias?: tf.Tensor1D,
  ): tf.Tensor3D | undefined;
  /** x (R, C) → (C, R). Differentiable. */
  transpose2d?(x: tf.Tensor2D): tf.Tensor2D | undefined;
  /** Σ over every axis but the last: (..., D) → (D). */
  sumLeading?(x: tf.Tensor): tf.Tensor1D | undefined;
  /** GELU of x in `form`. */
  gelu?(form: GeluForm, x: tf.Tensor): tf.Tensor | undefined;
  /** dy · GELU'(x) in `form`. */
  geluGrad?(form: GeluForm, x: tf.Tensor, dy: tf.Tensor): tf.Tensor | undefined;
  /** LayerNorm over the last axis: [y, x̂, rstd (..., 1)]. */
  layerNorm?(
    x: tf.Tensor,
    gamma: tf.Tensor,
    beta: tf.Tensor,
    eps: number,
  ): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined;
  /** LayerNorm's input gradient: rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dy · γ. */
  layerNormGrad?(dy: tf.Tensor, xhat: tf.Tensor, gamma: tf.Tensor, rstd: tf.Tensor): tf.Tensor | undefined;
  /** Dropout's keep-mask (bool, true = keep) with keep probability 1 − rate, drawn from `seed`. */
  dropoutMask?(shape: number[], rate: number, seed: number): tf.Tensor | undefined;
  /** keep ? x · scale : 0 (keep a bool tensor of x's shape). */
  dropout?(x: tf.Tensor, keep: tf.Tensor, scale: number): tf.Tensor | undefined;
  /** log Σ e^x over each row of x (N, V) → (N, 1). */
  logSumExp?(x: tf.Tensor2D): tf.Tensor2D | undefined;
  /** e^(x − shift) for x (N, V), shift (N, 1). */
  expShift?(x: tf.Tensor2D, shift: tf.Tensor2D): tf.Tensor2D | undefined;
  /** Σ x² as a scalar. */
  sumSquares?(x: tf.Tensor): tf.Scalar | undefined;
  /**
   * AdamW on a backend whose tensors live in host memory (wasm, cpu): the moments are host arrays, updated
   * in place; returns the new parameter values (a fresh tensor).
   */
  adamWHost?(
    param: tf.Tensor,
    grad: tf.Tensor,
    m: Float32Array,
    v: Float32Array,
    k: AdamWConstants,
  ): tf.Tensor | undefined;
  /**
   * AdamW on a device backend (WebGPU): param, m and v are variables, updated in place. Returns false where
   * it does not apply (core then composes TF.js ops).
   */
  adamWDevice?(
    param: tf.Variable,
    grad: tf.Tensor,
    m: tf.Variable,
    v: tf.Variable,
    k: AdamWConstants,
  ): boolean;
  /**
   * Attention probabilities of raw scores (..., T, S) as one op: probs = softmax(scores · scale + bias) ·
   * rowHasKeys over the last axis (bias broadcastable to the scores, rowHasKeys to (..., T, 1)); with
   * `keep` (bool, the scores' shape) dropped = keep ? probs · keepScale : 0, else dropped is probs.
   */
  attentionSoftmax?(
    scores: tf.Tensor,
    scale: number,
    bias?: tf.Tensor,
    rowHasKeys?: tf.Tensor,
    keep?: tf.Tensor,
    keepScale?: number,
  ): { probs: tf.Tensor; dropped: tf.Tensor } | undefined;
  /** Its gradient into the raw scores: scale · p ⊙ (dp − Σ dp ⊙ p), dp = keep ? dy · keepScale : 0 (dy without keep). */
  attentionSoftmaxGrad?(
    dy: tf.Tensor,
    probs: tf.Tensor,
    scale: number,
    keep?: tf.Tensor,
    keepScale?: number,
  ): tf.Tensor | undefined;
}

/** GELU's two forms: exact (erf, BERT's `gelu`) and the tanh approximation (GPT-2's `gelu_new`). */
export type GeluForm = 'erf' | 'tanh';

/** AdamW's constants for one parameter (optim.ts computes them on the host, as torch does). */
export interface AdamWConstants {
  b1: number;
  b2: number;
  eps: number;
  /** lr / (1 − b1^t) */
  stepSize: number;
  /** √(1 − b2^t) */
  sqrtBc2: number;
  gradScale: number;
  /** 1 − lr · weightDecay, or 1 */
  decayFactor: number;
}

const registry = new Map<string, FusedKernels>();
const NONE: FusedKernels = Object.freeze({});

/** Supplies `kernels` for TF.js backend `tfBackend` (replacing what was there); a backend package calls it. */
export function registerFusedKernels(tfBackend: string, kernels: FusedKernels): void {
  registry.set(tfBackend, kernels);
}

/** Removes `tfBackend`'s kernels: its ops go back to plain TF.js ops. */
export function unregisterFusedKernels(tfBackend: string): void {
  registry.delete(tfBackend);
}

/** The kernels of the active TF.js backend ({} when none are registered). */
export function fusedKernels(): FusedKernels {
  return registry.get(tf.getBackend()) ?? NONE;
}

/** Names of the kernels registered for `tfBackend` (for BackendInfo and tests). */
export function fusedKernelNames(tfBackend: string = tf.getBackend()): (keyof FusedKernels)[] {
  return Object.keys(registry.get(tfBackend) ?? {}) as (keyof FusedKernels)[];
}
