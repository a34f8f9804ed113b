import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import type { KernelConfigFor } from './host.js';

/*
 * TF.js runs XNNPACK only for a plain 2-D product; batched or transposed operands (all of attention, forward
 * and backward) fall to a scalar loop at ~2 GFLOP/s, and XNNPACK repacks the weight on every call. The
 * kernel reads each operand through byte strides (transposed ones in place): a GotoBLAS-style blocked
 * product with a SIMD register tile from 4 rows up, and streaming matrix-vector products under 4 rows
 * (one-token decoding, column sums), bound by memory bandwidth.
 */

export const BATCH_MATMUL = 'TkBatchMatMul';

/** a (N, M, K), or (N, K, M) if transposeA; b (N, K, S), or (N, S, K) if transposeB (N may be 1 for b). */
export interface BatchMatMulInputs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  /** (S), added to every row. */
  bias?: tf.TensorInfo;
}
export interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** → (N, M, S) float32, computed in place on the heap. */
export const batchMatMulConfig: KernelConfigFor = (host) => ({
  kernelName: BATCH_MATMUL,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { a, b, bias } = inputs as unknown as BatchMatMulInputs;
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const [batch, ar, ac] = a.shape as [number, number, number];
    const [bBatch, br, bc] = b.shape as [number, number, number];
    const [m, k] = transposeA ? [ac, ar] : [ar, ac];
    const n = transposeB ? br : bc;
    const out = wasm.makeOutput([batch, m, n], 'float32');
    if (batch * m * n === 0) return out;
    if (k === 0) {
      const outView = wasm.typedArrayFromHeap(out);
      if (bias) for (let r = 0; r < outView.length; r += n) outView.set(wasm.typedArrayFromHeap(bias), r);
      else outView.fill(0);
      return out;
    }
    // Element (i, k) of A at i·ras + k·cas; (k, j) of B at k·rbs + j·cbs (bytes).
    const [ras, cas] = transposeA ? [4, m * 4] : [k * 4, 4];
    const [rbs, cbs] = transposeB ? [4, k * 4] : [n * 4, 4];
    const a0 = address(wasm, a);
    const b0 = address(wasm, b);
    const c0 = address(wasm, out);
    const bias0 = bias ? address(wasm, bias) : 0;
    const bStride = bBatch === 1 ? 0 : k * n * 4;
    const flops = 2 * batch * m * n * k;
    // Split by rows where every thread gets enough rows for the kernel's tile and the work pays for waking
    // it; rows in blocks of 4 (the tile). One-token decoding (under 4 rows) stays on this thread: splitting
    // its memory-bound products by columns measured slower (GPT-2 small, 36 → 46 ms/token on 2 cores).
    host.runSplit('matmul', m, 4, m >= 8 * host.threads && flops >= 2e6, (m0, rows) => [
      batch,
      rows,
      n,
      k,
      a0 + m0 * ras,
      m * k * 4,
      ras,
      cas,
      b0,
      bStride,
      rbs,
      cbs,
      c0 + m0 * n * 4,
      m * n * 4,
      n * 4,
      bias0,
    ]);
    return out;
  },
});

/**
 * a (N, M, K) @ b (N, K, S) with either operand given transposed, plus an optional bias (S) on every row
 * → (N, M, S). Differentiable.
 */
export function batchMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA: boolean,
  transposeB: boolean,
  bias?: tf.Tensor,
): tf.Tensor3D {
  const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
  const attrs: BatchMatMulAttrs = { transposeA, transposeB };
  return tf.engine().runKernel(BATCH_MATMUL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}

/** (..., D) summed over every axis but the last, as ones (1, N) @ x (N, D) in the kernel. */
export function sumLeading(x: tf.Tensor): tf.Tensor1D {
  const d = x.shape[x.rank - 1]!;
  return batchMatMul(tf.ones([1, 1, x.size / d]), x.reshape([1, -1, d]), false, false).reshape([d]);
}

/** C = op(A)·op(B): the four cases of matmul's gradient, as in TF's MatMulGrad. */
export const batchMatMulGrad: tf.GradConfig = {
  kernelName: BATCH_MATMUL,
  inputsToSave: ['a', 'b'],
  gradFunc: (grad, saved, attrs) => {
    const dy = grad as tf.Tensor;
    const [a, b] = saved as [tf.Tensor, tf.Tensor];
    const { transposeA: tA, transposeB: tB } = attrs as unknown as BatchMatMulAttrs;
    const mm = batchMatMul;
    const [da, db] =
      !tA && !tB
        ? [() => mm(dy, b, false, true), () => mm(a, dy, true, false)]
        : !tA && tB
          ? [() => mm(dy, b, false, false), () => mm(dy, a, true, false)]
          : tA && !tB
            ? [() => mm(b, dy, false, true), () => mm(a, dy, false, false)]
            : [() => mm(b, dy, true, true), () => mm(dy, a, true, true)];
    return { a: da, b: db, bias: () => sumLeading(dy) };
  },
};
