export * from './activations.js';
export { TESTED_TFJS_MINOR, tfjsVersionMismatch } from './backend/tfjs-version.js';
export {
  kernelThreads,
  preferRelaxedSimd,
  resetWasmHeapPeak,
  setKernelThreads,
  setWasmHeapBudget,
  WASM_HEAP_MAX,
  type WasmHeapStats,
  wasmHeapStats,
  wasmKernelsUnavailable,
  wasmKernelVariant,
} from './backend/wasm-runtime.js';
export * from './backend.js';
export * from './batches.js';
export * from './budget.js';
export * from './checkpoint.js';
export * from './clip.js';
export * from './config.js';
export * from './download.js';
export * from './env.js';
export * from './errors.js';
export * from './fused.js';
export * from './gated-mlp.js';
export * from './grad.js';
export * from './hf-mapping.js';
export * from './hub.js';
export * from './ids.js';
export * from './layers.js';
export * from './linear-ce.js';
export * from './loop.js';
export * from './metrics.js';
export * from './mlp.js';
export * from './module.js';
export * from './ops.js';
export * from './optim.js';
export * from './patches.js';
export * from './random.js';
export { concatRows, rowBlock, rowsPerBinding } from './row-blocks.js';
export * from './safetensors.js';
export * from './schedule.js';
export * from './torch-bin.js';
export * from './train.js';
