import * as tf from '@tensorflow/tfjs';
import { WASM_BASE64 } from './matmul.wasm.js';

/*
 * Kernels core adds to the wasm backend where TF.js's own are slow on the shapes transformers use:
 *  - TkBatchMatMul: TF.js runs XNNPACK only for a plain 2-D product; batched or transposed operands (all of
 *    attention, forward and backward) fall to a scalar loop at ~2 GFLOP/s. matmul.wat's 4x8 SIMD register
 *    tile runs the same shapes at 25-33 GFLOP/s. Operands are copied into the kernel's own memory, packed
 *    row-major (transposed and zero-padded to the tile as needed), multiplied, and copied back.
 *  - TkTranspose2D: TF.js's wasm Transpose is a generic N-D loop (~1 ms for 1024x128); the kernel's strided
 *    copy does it in a tenth of that. Backward passes transpose every activation once.
 *  - Identity (replaced): TF.js copies the buffer, and every tensor a custom gradient saves is cloned. The
 *    cpu backend shares the buffer instead (tensors are immutable); so does this.
 */

export const WASM_BATCH_MATMUL = 'TkBatchMatMul';
export const WASM_TRANSPOSE_2D = 'TkTranspose2D';

interface KernelExports {
  memory: WebAssembly.Memory;
  pack(
    src: number,
    dst: number,
    batch: number,
    rows: number,
    cols: number,
    srcBatchStride: number,
    srcRowStride: number,
    srcColStride: number,
    dstBatchStride: number,
    dstRowStride: number,
  ): void;
  matmul(batch: number, m: number, k: number, n: number, a: number, b: number, c: number, bias: number): void;
}

/** The parts of TF.js's BackendWasm this kernel uses. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  incRef(dataId: tf.DataId): void;
}

let kernel: KernelExports | undefined;

/** Compiles and registers the kernels (once); false where the engine cannot run WebAssembly SIMD. */
export async function registerWasmKernels(): Promise<boolean> {
  if (kernel) return true;
  const bytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return false;
  const { instance } = await WebAssembly.instantiate(bytes);
  kernel = instance.exports as unknown as KernelExports;
  tf.registerKernel({ kernelName: WASM_BATCH_MATMUL, backendName: 'wasm', kernelFunc: batchMatMulKernel });
  tf.registerKernel({ kernelName: WASM_TRANSPOSE_2D, backendName: 'wasm', kernelFunc: transpose2DKernel });
  tf.registerGradient({ kernelName: WASM_BATCH_MATMUL, inputsToSave: ['a', 'b'], gradFunc: batchMatMulGrad });
  tf.registerGradient({
    kernelName: WASM_TRANSPOSE_2D,
    gradFunc: (dy) => ({ x: () => wasmTranspose2d(dy as tf.Tensor) }),
  });
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity });
  return true;
}

/** True when the current backend is wasm and core's kernels are registered. */
export function hasWasmKernels(): boolean {
  return kernel !== undefined && tf.getBackend() === 'wasm';
}

/**
 * a (N, M, K) @ b (N, K, S) with either operand given transposed, plus an optional bias (S) on every row
 * → (N, M, S). Differentiable.
 */
export function wasmBatchMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA: boolean,
  transposeB: boolean,
  bias?: tf.Tensor,
): tf.Tensor3D {
  const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
  return tf.engine().runKernel(WASM_BATCH_MATMUL, inputs, { transposeA, transposeB }) as tf.Tensor3D;
}

/** x (R, C) → (C, R). Differentiable. */
export function wasmTranspose2d<T extends tf.Tensor>(x: T): T {
  return tf.engine().runKernel(WASM_TRANSPOSE_2D, { x }) as T;
}

// C = op(A)·op(B): the four cases of matmul's gradient, as in TF's MatMulGrad.
const batchMatMulGrad: tf.GradFunc = (grad, saved, attrs) => {
  const dy = grad as tf.Tensor;
  const [a, b] = saved as [tf.Tensor, tf.Tensor];
  const { transposeA: tA, transposeB: tB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const mm = wasmBatchMatMul;
  const [da, db] =
    !tA && !tB
      ? [() => mm(dy, b, false, true), () => mm(a, dy, true, false)]
      : !tA && tB
        ? [() => mm(dy, b, false, false), () => mm(dy, a, true, false)]
        : tA && !tB
          ? [() => mm(b, dy, false, true), () => mm(a, dy, false, false)]
          : [() => mm(b, dy, true, true), () => mm(dy, a, true, true)];
  return { a: da, b: db, bias: () => wasmSumLeading(dy) };
};

/** (..., D) summed over every axis but the last, as ones (1, N) @ x (N, D) in the kernel. */
export function wasmSumLeading(x: tf.Tensor): tf.Tensor1D {
  const d = x.shape[x.rank - 1]!;
  return wasmBatchMatMul(tf.ones([1, 1, x.size / d]), x.reshape([1, -1, d]), false, false).reshape([d]);
}

/** Room for `floats` float32 values in the kernel's memory; returns a fresh view of it. */
function heapFor(floats: number): Float32Array {
  const k0 = kernel!;
  const pages = Math.ceil((floats * 4) / 65536) - k0.memory.buffer.byteLength / 65536;
  if (pages > 0) k0.memory.grow(pages);
  return new Float32Array(k0.memory.buffer);
}

const sharedIdentity: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** x (R, C) float32 → (C, R). */
const transpose2DKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const wasm = backend as WasmBackendLike;
  const [r, c] = x.shape as [number, number];
  const out = wasm.makeOutput([c, r], 'float32');
  const size = r * c;
  if (size === 0) return out;
  const heap = heapFor(2 * size);
  heap.set(wasm.typedArrayFromHeap(x), 0);
  // Output row i is input column i: stride 1 along the row, C between columns.
  kernel!.pack(0, size * 4, 1, c, r, 0, 4, c * 4, 0, r * 4);
  wasm.typedArrayFromHeap(out).set(heap.subarray(size, 2 * size));
  return out;
};

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/**
 * Copies a batch of (rows, cols) matrices — given as (cols, rows) if `transposed` — into row-major panels
 * of `panelRows` rows × `ld` columns at `panel`, zero-padded; through the raw copy at `raw` when the
 * layout changes.
 */
function stage(
  heap: Float32Array,
  view: Float32Array,
  raw: number,
  panel: number,
  batch: number,
  rows: number,
  cols: number,
  panelRows: number,
  ld: number,
  transposed: boolean,
): void {
  const padded = panelRows !== rows || ld !== cols;
  if (!transposed && !padded) {
    heap.set(view, panel);
    return;
  }
  heap.set(view, raw);
  if (padded) heap.fill(0, panel, panel + batch * panelRows * ld);
  // Element (i, j) of one matrix sits at i·cols + j, or at j·rows + i when transposed.
  const [rs, cs] = transposed ? [1, rows] : [cols, 1];
  kernel!.pack(
    raw * 4,
    panel * 4,
    batch,
    rows,
    cols,
    rows * cols * 4,
    rs * 4,
    cs * 4,
    panelRows * ld * 4,
    ld * 4,
  );
}

/** a (N, M, K), or (N, K, M) if transposeA; b (N, K, S), or (N, S, K) if transposeB; bias (S)? → (N, M, S). */
const batchMatMulKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const k0 = kernel!;
  const wasm = backend as WasmBackendLike;
  const [batch, ar, ac] = a.shape as [number, number, number];
  const [, br, bc] = b.shape as [number, number, number];
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const n = transposeB ? br : bc;
  const out = wasm.makeOutput([batch, m, n], 'float32');
  const outView = wasm.typedArrayFromHeap(out);
  if (outView.length === 0) return out;
  if (k === 0) {
    if (bias) for (let r = 0; r < outView.length; r += n) outView.set(wasm.typedArrayFromHeap(bias), r);
    else outView.fill(0);
    return out;
  }
  const mp = roundUp(m, 4);
  const np = roundUp(n, 8);
  // Float offsets in the kernel's memory: raw copies of a and b (only when they need packing), the packed
  // panels, the padded product, and its compacted copy (only when padded).
  const packA = transposeA || mp !== m;
  const packB = transposeB || np !== n;
  const padded = mp !== m || np !== n;
  const rawA = 0;
  const rawB = rawA + (packA ? batch * m * k : 0);
  const panelA = rawB + (packB ? batch * k * n : 0);
  const panelB = panelA + batch * mp * k;
  const product = panelB + batch * k * np;
  const compact = product + batch * mp * np;
  const biasAt = compact + (padded ? batch * m * n : 0);
  const end = biasAt + (bias ? np : 0);
  const heap = heapFor(end);
  if (bias) {
    heap.set(wasm.typedArrayFromHeap(bias), biasAt);
    heap.fill(0, biasAt + n, end);
  }
  stage(heap, wasm.typedArrayFromHeap(a), rawA, panelA, batch, m, k, mp, k, transposeA);
  stage(heap, wasm.typedArrayFromHeap(b), rawB, panelB, batch, k, n, k, np, transposeB);

  k0.matmul(batch, mp, k, np, panelA * 4, panelB * 4, product * 4, bias ? biasAt * 4 : -1);

  if (padded) {
    k0.pack(product * 4, compact * 4, batch, m, n, mp * np * 4, np * 4, 4, m * n * 4, n * 4);
    outView.set(heap.subarray(compact, biasAt));
  } else outView.set(heap.subarray(product, compact));
  return out;
};
