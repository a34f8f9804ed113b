import type * as tf from '@tensorflow/tfjs';
import { adamWDevice } from './adamw.js';

/**
 * Fused WebGPU kernels for TF.js's WebGPU backend, one file each. This package knows only TF.js: core
 * registers `webgpuKernels` behind its fused-op interface (core/src/fused.ts) when it starts the webgpu
 * backend, and its ops call them where TF.js would run a chain of one-dispatch-per-op kernels. Each kernel
 * returns undefined for inputs it does not take (core then runs TF.js's ops), and all of them decline when
 * TF.js's WebGPU internals they use are missing (program.ts).
 */
import { attentionSoftmax, attentionSoftmaxGrad } from './attention-softmax.js';
import { expShift, logSumExp } from './cross-entropy.js';
import { dropout, dropoutMask } from './dropout.js';
import { gelu, geluGrad } from './gelu.js';
import { layerNorm, layerNormGrad } from './layer-norm.js';
import { batchMatMul } from './matmul.js';
import { sumLeading, sumSquares } from './reduce.js';
import { sumSquaresInBlocks } from './sum-squares.js';

export type { GeluForm } from './gelu.js';
export { missingHook } from './program.js';

export const webgpuKernels = {
  gelu,
  geluGrad,
  layerNorm,
  layerNormGrad,
  dropoutMask,
  dropout,
  logSumExp,
  expShift,
  // A tensor over one storage binding in blocks; else one pass.
  sumSquares: (x: tf.Tensor) => sumSquaresInBlocks(x) ?? sumSquares(x),
  sumLeading,
  attentionSoftmax,
  attentionSoftmaxGrad,
  batchMatMul,
  adamWDevice,
};

export { type AdamWDeviceOptions, type AdamWKernelConstants, adamWDevice } from './adamw.js';
export { addInBlocks, installBlockedAdd } from './large-add.js';
export { rawDispatchCount } from './raw-dispatch.js';
export { sumSquaresInBlocks } from './sum-squares.js';
