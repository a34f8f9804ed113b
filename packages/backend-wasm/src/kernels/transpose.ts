import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import type { KernelConfigFor } from './host.js';

/*
 * TF.js's wasm Transpose is a generic N-D loop (~1 ms for 1024x128); the kernel's blocked copy does it in a
 * fraction of that. Backward passes transpose every activation once.
 */

export const TRANSPOSE_2D = 'TkTranspose2D';

export interface Transpose2DInputs {
  /** (R, C) float32. */
  x: tf.TensorInfo;
}

/** x (R, C) → (C, R), in place in the heap. */
export const transpose2DConfig: KernelConfigFor = (host) => ({
  kernelName: TRANSPOSE_2D,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as unknown as Transpose2DInputs;
    const wasm = backend as unknown as WasmBackendLike;
    const kernel = host.on(wasm);
    const [r, c] = x.shape as [number, number];
    const out = wasm.makeOutput([c, r], 'float32');
    if (r * c > 0) kernel.transpose(address(wasm, x), r, c, address(wasm, out));
    return out;
  },
});

/** x (R, C) → (C, R). Differentiable. */
export function transpose2d<T extends tf.Tensor>(x: T): T {
  return tf.engine().runKernel(TRANSPOSE_2D, { x }) as T;
}

export const transpose2DGrad: tf.GradConfig = {
  kernelName: TRANSPOSE_2D,
  gradFunc: (dy) => ({ x: () => transpose2d(dy as tf.Tensor) }),
};
