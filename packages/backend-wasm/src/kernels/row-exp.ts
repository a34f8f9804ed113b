import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import { type KernelConfigFor, SPLIT_ELEMENTS } from './host.js';

/**
 * Cross-entropy's work over a vocabulary: each row's max and Σ e^(x − max) in one pass, and e^(x − shift),
 * where TF.js runs max, subtract, exp and sum as separate kernels over (N, V) temporaries.
 */

export const ROW_MAX_SUM_EXP = 'TkRowMaxSumExp';
export const EXP_SHIFT = 'TkExpShift';

export interface RowMaxSumExpInputs {
  /** (N, V) */
  x: tf.TensorInfo;
}
export interface ExpShiftInputs {
  /** (N, V) */
  x: tf.TensorInfo;
  /** (N, 1) */
  shift: tf.TensorInfo;
}

/** x (N, V) → [max (N, 1), Σ e^(x − max) (N, 1)] over each row. */
export const rowMaxSumExpConfig: KernelConfigFor = (host) => ({
  kernelName: ROW_MAX_SUM_EXP,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as unknown as RowMaxSumExpInputs;
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const [rows, v] = x.shape as [number, number];
    const max = wasm.makeOutput([rows, 1], 'float32');
    const sum = wasm.makeOutput([rows, 1], 'float32');
    const [x0, max0, sum0] = [x, max, sum].map((t) => address(wasm, t)) as [number, number, number];
    host.runSplit('rowMaxSumExp', rows, 1, rows * v >= SPLIT_ELEMENTS, (r, k) => [
      x0 + 4 * r * v,
      k,
      v,
      max0 + 4 * r,
      sum0 + 4 * r,
    ]);
    return [max, sum];
  },
});

/** x (N, V), shift (N, 1) → e^(x − shift). */
export const expShiftConfig: KernelConfigFor = (host) => ({
  kernelName: EXP_SHIFT,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x, shift } = inputs as unknown as ExpShiftInputs;
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const [rows, v] = x.shape as [number, number];
    const out = wasm.makeOutput([rows, v], 'float32');
    const [x0, s0, out0] = [x, shift, out].map((t) => address(wasm, t)) as [number, number, number];
    host.runSplit('expShift', rows, 1, rows * v >= SPLIT_ELEMENTS, (r, k) => [
      x0 + 4 * r * v,
      s0 + 4 * r,
      k,
      v,
      out0 + 4 * r * v,
    ]);
    return out;
  },
});

/** log Σ e^x over each row of x (N, V) → (N, 1): max + log Σ e^(x − max), the sums in the kernel. */
export function logSumExp(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [max, sum] = tf.engine().runKernel(ROW_MAX_SUM_EXP, { x }) as unknown as [tf.Tensor2D, tf.Tensor2D];
    return max.add(sum.log());
  });
}

/** e^(x − shift) for x (N, V) and shift (N, 1), in one pass. Not differentiable. */
export function expShift(x: tf.Tensor2D, shift: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(EXP_SHIFT, { x, shift }) as tf.Tensor2D;
}
