/*
 * @transformer-kit/backend-wasm: SIMD kernels for TF.js's wasm backend, run in place on its heap, on every
 * core. Knows only TF.js (no model, no @transformer-kit package); @transformer-kit/core attaches it in
 * initBackend('wasm') and puts its kernels behind core's fused-op interface.
 */
export {
  DEFAULT_ERRORS,
  type OutOfMemoryDetails,
  type RuntimeErrors,
  WasmRuntimeError,
  type WasmRuntimeErrorCode,
} from './errors.js';
export { HeapGuard, WASM_HEAP_MAX, type WasmHeapStats } from './heap-guard.js';
export { type AdamWConstants, adamW, EMPTY, type EmptyAttrs } from './kernels/adamw.js';
export {
  DROPOUT,
  DROPOUT_MASK,
  type DropoutAttrs,
  type DropoutInputs,
  type DropoutMaskAttrs,
  dropout,
  dropoutKey,
  dropoutMask,
  keepMask,
  pcgHash,
} from './kernels/dropout.js';
export { GELU, type GeluAttrs, type GeluInputs, type GeluKernelForm, gelu } from './kernels/gelu.js';
export { type KernelExports, type KernelHost, POOLED, type PooledKernel } from './kernels/host.js';
export {
  LAYER_NORM,
  LAYER_NORM_GRAD,
  type LayerNormAttrs,
  type LayerNormGradInputs,
  type LayerNormInputs,
  layerNorm,
  layerNormGrad,
} from './kernels/layer-norm.js';
export {
  BATCH_MATMUL,
  type BatchMatMulAttrs,
  type BatchMatMulInputs,
  batchMatMul,
  sumLeading,
} from './kernels/matmul.js';
export {
  EXP_SHIFT,
  type ExpShiftInputs,
  expShift,
  logSumExp,
  ROW_MAX_SUM_EXP,
  type RowMaxSumExpInputs,
} from './kernels/row-exp.js';
export { SUM_SQUARES, type SumSquaresInputs, sumSquares } from './kernels/sum-squares.js';
export { TRANSPOSE_2D, type Transpose2DInputs, transpose2d } from './kernels/transpose.js';
export { withLogicalCores } from './logical-cores.js';
export { type KernelErrorFactory, KernelPool, type PoolHeap, type Share } from './pool.js';
export { type KernelVariant, WasmRuntime, type WasmRuntimeOptions } from './runtime.js';
export { importSharedMemory, withSharedHeap } from './shared-heap.js';
