import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import { f32Bits, type KernelConfigFor, SPLIT_ELEMENTS } from './host.js';

/** LayerNorm and its input gradient, one SIMD pass a row (TF.js: a chain of kernels for the means). */

export const LAYER_NORM = 'TkLayerNorm';
export const LAYER_NORM_GRAD = 'TkLayerNormGrad';

export interface LayerNormInputs {
  /** (..., D), D a multiple of 4. */
  x: tf.TensorInfo;
  gamma: tf.TensorInfo;
  beta: tf.TensorInfo;
}
export interface LayerNormAttrs {
  eps: number;
}
export interface LayerNormGradInputs {
  dy: tf.TensorInfo;
  xhat: tf.TensorInfo;
  gamma: tf.TensorInfo;
  /** (..., 1) */
  rstd: tf.TensorInfo;
}

/** → [y, xhat, rstd (..., 1)]. */
export const layerNormConfig: KernelConfigFor = (host) => ({
  kernelName: LAYER_NORM,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as unknown as LayerNormInputs;
    const eps = f32Bits((attrs as unknown as LayerNormAttrs).eps);
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const d = x.shape[x.shape.length - 1]!;
    const rows = tf.util.sizeFromShape(x.shape) / d;
    const y = wasm.makeOutput(x.shape, 'float32');
    const xhat = wasm.makeOutput(x.shape, 'float32');
    const rstd = wasm.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
    const [x0, g0, b0, y0, h0, r0] = [x, gamma, beta, y, xhat, rstd].map((t) => address(wasm, t)) as number[];
    host.runSplit('layerNorm', rows, 1, rows * d >= SPLIT_ELEMENTS, (i, k) => [
      x0! + 4 * i * d,
      g0!,
      b0!,
      y0! + 4 * i * d,
      h0! + 4 * i * d,
      r0! + 4 * i,
      k,
      d,
      eps,
    ]);
    return [y, xhat, rstd];
  },
});

/** → dx = rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy · gamma. */
export const layerNormGradConfig: KernelConfigFor = (host) => ({
  kernelName: LAYER_NORM_GRAD,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { dy, xhat, gamma, rstd } = inputs as unknown as LayerNormGradInputs;
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const d = dy.shape[dy.shape.length - 1]!;
    const rows = tf.util.sizeFromShape(dy.shape) / d;
    const dx = wasm.makeOutput(dy.shape, 'float32');
    const [dy0, h0, g0, r0, dx0] = [dy, xhat, gamma, rstd, dx].map((t) => address(wasm, t)) as number[];
    host.runSplit('layerNormGrad', rows, 1, rows * d >= SPLIT_ELEMENTS, (i, k) => [
      dy0! + 4 * i * d,
      h0! + 4 * i * d,
      g0!,
      r0! + 4 * i,
      dx0! + 4 * i * d,
      k,
      d,
    ]);
    return dx;
  },
});

/** LayerNorm over the last axis (a multiple of 4): [y, xhat, rstd (..., 1)]. Not differentiable. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor[] {
  const attrs: LayerNormAttrs = { eps };
  return tf
    .engine()
    .runKernel(LAYER_NORM, { x, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
}

/** LayerNorm's input gradient: rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy · gamma. */
export function layerNormGrad(dy: tf.Tensor, xhat: tf.Tensor, gamma: tf.Tensor, rstd: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(LAYER_NORM_GRAD, { dy, xhat, gamma, rstd }) as tf.Tensor;
}
