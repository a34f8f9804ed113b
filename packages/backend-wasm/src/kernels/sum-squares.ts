import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import type { KernelConfigFor } from './host.js';

/** The gradient norm's Σ x² in one pass (TF.js: square, then sum). */

export const SUM_SQUARES = 'TkSumSquares';

/** Floats a partial sum covers: partials do not depend on the thread count. */
const SUM_CHUNK = 65536;

export interface SumSquaresInputs {
  /** Any shape, float32. */
  x: tf.TensorInfo;
}

/** x → Σ x² as partial sums of SUM_CHUNK floats each (float64 inside), a 1-D tensor. */
export const sumSquaresConfig: KernelConfigFor = (host) => ({
  kernelName: SUM_SQUARES,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as unknown as SumSquaresInputs;
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const n = tf.util.sizeFromShape(x.shape);
    const chunks = Math.max(1, Math.ceil(n / SUM_CHUNK));
    const out = wasm.makeOutput([chunks], 'float32');
    const [x0, out0] = [address(wasm, x), address(wasm, out)];
    if (n === 0) wasm.typedArrayFromHeap(out).fill(0);
    else
      host.runSplit('sumSquares', chunks, 1, chunks > 1, (c, k) => [
        x0 + 4 * c * SUM_CHUNK,
        Math.min(k * SUM_CHUNK, n - c * SUM_CHUNK),
        SUM_CHUNK,
        out0 + 4 * c,
      ]);
    return out;
  },
});

/** Σ x² (a scalar), summed in float64 within chunks of 64k floats. Not differentiable. */
export function sumSquares(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => (tf.engine().runKernel(SUM_SQUARES, { x }) as tf.Tensor).sum());
}
