import type * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from '../tfjs-wasm.js';

/**
 * TF.js's wasm Identity (replaced): it copies the buffer, and every tensor a custom gradient saves is cloned.
 * The cpu backend shares the buffer instead (tensors are immutable); so does this.
 */
export const sharedIdentityConfig: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    (backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  },
};
