import type * as tf from '@tensorflow/tfjs';
import { adamWDevice } from './adamw.js';
import { sumSquaresInBlocks } from './sum-squares.js';

/**
 * Fused WebGPU kernels for TF.js's WebGPU backend, one file each. This package knows only TF.js: core
 * registers `webgpuKernels` behind its fused-op interface (core/src/fused.ts) when it starts the webgpu
 * backend, and its ops call them where TF.js would run a chain of one-dispatch-per-op kernels.
 */
export const webgpuKernels = {
  adamWDevice,
  sumSquares: (x: tf.Tensor) => sumSquaresInBlocks(x),
};

export { type AdamWDeviceOptions, type AdamWKernelConstants, adamWDevice } from './adamw.js';
export { addInBlocks, installBlockedAdd } from './large-add.js';
export { rawDispatchCount } from './raw-dispatch.js';
export { sumSquaresInBlocks } from './sum-squares.js';
