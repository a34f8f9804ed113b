import * as tf from '@tensorflow/tfjs';

/** Whether this is Node (not a browser or worker). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * Whether tensors can be read back synchronously here (cpu, wasm: a plain copy). WebGPU in Node cannot
 * (TF.js's readSync needs OffscreenCanvas), and on any GPU a sync read stalls the pipeline.
 */
export function canReadSync(): boolean {
  const b = tf.getBackend();
  return b !== 'webgpu' && b !== 'webgl';
}
