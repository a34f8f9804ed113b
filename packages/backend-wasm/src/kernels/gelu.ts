import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import { type KernelConfigFor, SPLIT_ELEMENTS } from './host.js';

/** GELU in one SIMD pass, where TF.js runs a chain of scalar kernels (erf or tanh, products). */

export const GELU = 'TkGelu';

/** GELU's two forms (exact: erf; approximate: tanh) and their gradients. */
const FORMS = { erf: 0, erfGrad: 1, tanh: 2, tanhGrad: 3 } as const;
export type GeluKernelForm = keyof typeof FORMS;

export interface GeluInputs {
  x: tf.TensorInfo;
  /** The upstream gradient, for the 'erfGrad' / 'tanhGrad' forms. */
  dy?: tf.TensorInfo;
}
export interface GeluAttrs {
  form: GeluKernelForm;
}

export const geluConfig: KernelConfigFor = (host) => ({
  kernelName: GELU,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as unknown as GeluInputs;
    const which = FORMS[(attrs as unknown as GeluAttrs).form];
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const out = wasm.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const [x0, out0] = [address(wasm, x), address(wasm, out)];
    const dy0 = dy ? address(wasm, dy) : x0;
    host.runSplit('gelu', n, 4, n >= SPLIT_ELEMENTS, (i, k) => [
      which,
      x0 + 4 * i,
      dy0 + 4 * i,
      out0 + 4 * i,
      k,
    ]);
    return out;
  },
});

/** GELU (form 'erf' or 'tanh') of x, or its gradient ('erfGrad', 'tanhGrad') given dy. Not differentiable. */
export function gelu(form: GeluKernelForm, x: tf.Tensor, dy?: tf.Tensor): tf.Tensor {
  const attrs: GeluAttrs = { form };
  return tf
    .engine()
    .runKernel(GELU, dy ? { x, dy } : { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
