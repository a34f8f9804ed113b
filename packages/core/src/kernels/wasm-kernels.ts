import * as tf from '@tensorflow/tfjs';
import { KernelError } from '../errors.js';
import { type AdamWConstants, type FusedKernels, registerFusedKernels } from '../fused.js';
import { WASM_BASE64, WASM_RELAXED_BASE64 } from './kernels.wasm.js';
import { KernelPool, type Share } from './pool.js';

/*
 * Kernels core adds to the wasm backend where TF.js's own are slow on the shapes transformers use. The kernel
 * module (kernels.wat) has no memory of its own: it imports TF.js's heap and reads and writes tensors where
 * they lie (no copies in or out); it allocates only scratch there, once: ~1.2 MB of packing buffers a
 * thread, and 2 MB to stage AdamW's moments.
 *  - TkBatchMatMul: TF.js runs XNNPACK only for a plain 2-D product; batched or transposed operands (all of
 *    attention, forward and backward) fall to a scalar loop at ~2 GFLOP/s, and XNNPACK repacks the weight
 *    on every call. kernels.wat reads each operand through byte strides (transposed ones in place): a
 *    GotoBLAS-style blocked product with a SIMD register tile from 4 rows up, and streaming matrix-vector
 *    products under 4 rows (one-token decoding, column sums), bound by memory bandwidth.
 *  - TkTranspose2D: TF.js's wasm Transpose is a generic N-D loop (~1 ms for 1024x128); the kernel's blocked
 *    copy does it in a fraction of that. Backward passes transpose every activation once.
 *  - TkGelu, TkLayerNorm, TkLayerNormGrad, TkDropout, TkDropoutMask, TkRowMaxSumExp, TkExpShift,
 *    TkSumSquares, and AdamW's update (wasmAdamW, writing into a TkEmpty output): the element-wise and row
 *    work of a training step, one SIMD pass each where TF.js runs a chain of scalar kernels (GELU's erf, exp
 *    and products; LayerNorm's means; dropout's random draws, compare and select; cross-entropy's max, exp
 *    and sums over the vocabulary; the gradient norm's squares and sums) or a JavaScript loop (AdamW). Not
 *    differentiable themselves: ops.ts's custom gradients call them.
 *  - Identity (replaced): TF.js copies the buffer, and every tensor a custom gradient saves is cloned. The
 *    cpu backend shares the buffer instead (tensors are immutable); so does this.
 */

export const WASM_BATCH_MATMUL = 'TkBatchMatMul';
export const WASM_TRANSPOSE_2D = 'TkTranspose2D';

export interface KernelExports {
  scratchBytes(): number;
  setScratch(at: number): void;
  matmul(
    batch: number,
    m: number,
    n: number,
    k: number,
    a: number,
    aBatchStride: number,
    aRowStride: number,
    aColStride: number,
    b: number,
    bBatchStride: number,
    bRowStride: number,
    bColStride: number,
    c: number,
    cBatchStride: number,
    cRowStride: number,
    bias: number,
  ): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  gelu(which: number, x: number, dy: number, out: number, n: number): void;
  layerNorm(
    x: number,
    gamma: number,
    beta: number,
    y: number,
    xhat: number,
    rstd: number,
    rows: number,
    d: number,
    epsBits: number,
  ): void;
  layerNormGrad(
    dy: number,
    xhat: number,
    gamma: number,
    rstd: number,
    dx: number,
    rows: number,
    d: number,
  ): void;
  dropout(x: number, keep: number, scaleBits: number, out: number, n: number): void;
  aleaKeepMask(s0: number, s1: number, s2: number, c: number, rate: number, keep: number, n: number): void;
  sumSquares(x: number, n: number, chunk: number, out: number): void;
  rowMaxSumExp(x: number, rows: number, v: number, max: number, sum: number): void;
  expShift(x: number, shift: number, rows: number, v: number, out: number): void;
  adamw(p: number, g: number, m: number, v: number, out: number, n: number, ...constantBits: number[]): void;
}

/** The parts of TF.js's emscripten module (BackendWasm.wasm) core's kernels use. */
interface EmscriptenModuleLike {
  /** Non-threaded build: the instance's exports, its memory among them. */
  asm?: { memory?: WebAssembly.Memory };
  /** Threaded build: the shared memory it created. */
  wasmMemory?: WebAssembly.Memory;
  _malloc(bytes: number): number;
}

/** The parts of TF.js's BackendWasm core's kernels use. */
interface WasmBackendLike {
  wasm: EmscriptenModuleLike;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  incRef(dataId: tf.DataId): void;
}

/** The compiled kernel module: importing a plain memory, and (built on first need) a shared one. */
let compiled: { plain: WebAssembly.Module; bytes: Uint8Array; shared?: WebAssembly.Module } | undefined;
/**
 * The instance bound to one backend's heap, with what it allocated there: each thread's packing buffers
 * (`scratch`, by pool slot) and AdamW's moment staging (on first use).
 */
let bound:
  | {
      backend: WasmBackendLike;
      memory: WebAssembly.Memory;
      exports: KernelExports;
      scratch: number[];
      adamwScratch?: number;
    }
  | undefined;
let unavailable = 'not registered';

/** TF.js's wasm heap: Module.asm.memory (non-threaded build) or Module.wasmMemory (threaded). */
function heapMemory(backend: WasmBackendLike): WebAssembly.Memory | undefined {
  const m = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : undefined;
}

/**
 * The module importing a shared memory (threaded build, thread pool): the same bytes with the import's
 * limits flag 0x01 (min and max) turned into 0x03 (min, max, shared). Exported for tests.
 */
export function sharedModule(): WebAssembly.Module {
  const c = compiled!;
  if (c.shared) return c.shared;
  const bytes = c.bytes.slice();
  // "memory" (the import's field name), kind 0x02 (memory), flags 0x01, min 1, max 65536 (LEB 80 80 04).
  const pattern = [6, 109, 101, 109, 111, 114, 121, 2, 1, 1, 0x80, 0x80, 4];
  const at = bytes.findIndex((_, i) => pattern.every((v, j) => bytes[i + j] === v));
  if (at < 0) throw new KernelError('memory import not found in the kernel module');
  bytes[at + 8] = 3;
  c.shared = new WebAssembly.Module(bytes);
  return c.shared;
}

/** A kernel instance on `memory` (plain or shared); exported for tests. Needs registerWasmKernels first. */
export function instantiateKernel(memory: WebAssembly.Memory): KernelExports {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const instance = new WebAssembly.Instance(shared ? sharedModule() : compiled!.plain, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** The kernel instance on `backend`'s heap (instantiated again if the backend or its heap changed). */
function kernelOn(backend: WasmBackendLike): KernelExports {
  const memory = heapMemory(backend);
  if (bound && bound.backend === backend && bound.memory === memory) return bound.exports;
  if (!memory) throw new KernelError("core's wasm kernels: TF.js's wasm heap (Module.asm.memory) not found");
  const exports = instantiateKernel(memory);
  // Packing buffers and an edge tile, once per heap (~1.2 MB), kept for the backend's life.
  const scratch = [backend.wasm._malloc(exports.scratchBytes()) >>> 0];
  exports.setScratch(scratch[0]!);
  bound = { backend, memory, exports, scratch };
  return exports;
}

/** Compiles and registers the kernels (once); false where the engine cannot run them (see wasmKernelsUnavailable). */
export async function registerWasmKernels(): Promise<boolean> {
  if (compiled) return true;
  const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const simd = decode(WASM_BASE64);
  if (!WebAssembly.validate(simd)) {
    unavailable = 'this engine has no WebAssembly SIMD';
    return false;
  }
  // Fused multiply-adds where the engine has relaxed SIMD (the results differ from mul + add only in the
  // last bits of rounding); else the plain SIMD build.
  const relaxed = decode(WASM_RELAXED_BASE64);
  const bytes = useRelaxedSimd && WebAssembly.validate(relaxed) ? relaxed : simd;
  variant = bytes === relaxed ? 'relaxed-simd' : 'simd';
  compiled = { plain: await WebAssembly.compile(bytes), bytes };
  try {
    kernelOn(tf.backend() as unknown as WasmBackendLike);
  } catch (err) {
    // Without TF.js's heap there is nothing to run on in place: TF.js's own kernels serve every product.
    compiled = undefined;
    unavailable = (err as Error).message;
    return false;
  }
  unavailable = '';
  tf.registerKernel({ kernelName: WASM_BATCH_MATMUL, backendName: 'wasm', kernelFunc: batchMatMulKernel });
  tf.registerKernel({ kernelName: WASM_TRANSPOSE_2D, backendName: 'wasm', kernelFunc: transpose2DKernel });
  tf.registerGradient({ kernelName: WASM_BATCH_MATMUL, inputsToSave: ['a', 'b'], gradFunc: batchMatMulGrad });
  tf.registerGradient({
    kernelName: WASM_TRANSPOSE_2D,
    gradFunc: (dy) => ({ x: () => wasmTranspose2d(dy as tf.Tensor) }),
  });
  for (const [kernelName, kernelFunc] of ELEMENTWISE)
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity });
  registerFusedKernels('wasm', WASM_FUSED);
  return true;
}

let variant: 'relaxed-simd' | 'simd' | undefined;
let useRelaxedSimd = true;

/** Which build of the kernels runs: 'relaxed-simd' (fused multiply-add), 'simd', or undefined (none). */
export function wasmKernelVariant(): 'relaxed-simd' | 'simd' | undefined {
  return compiled ? variant : undefined;
}

/** For tests and measurements: pick the plain SIMD build even where relaxed SIMD validates (before registering). */
export function preferRelaxedSimd(on: boolean): void {
  useRelaxedSimd = on;
}

let pool: KernelPool | undefined;
/** Kernel exports the pool runs (index = what a worker's slot names). */
const POOLED = [
  'matmul',
  'gelu',
  'layerNorm',
  'layerNormGrad',
  'dropout',
  'sumSquares',
  'rowMaxSumExp',
  'expShift',
  'adamw',
] as const;

/**
 * Runs core's kernels on `threads` threads (worker threads in Node, Web Workers in a cross-origin isolated
 * page), in place on TF.js's heap, which must be shared memory (see pool.ts). 1 stops the workers. Needs
 * registerWasmKernels first; returns the thread count in use. Rejects with a KernelError (and keeps one
 * thread) if the heap is not shared or a worker does not start.
 */
export async function setKernelThreads(threads: number): Promise<number> {
  if (!compiled || !Number.isInteger(threads) || threads < 1) return pool?.threads ?? 1;
  if (pool?.threads === threads && pool.usable) return threads;
  const old = pool;
  pool = undefined;
  await old?.close();
  if (threads === 1) return 1;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const main = kernelOn(backend);
  const { memory, scratch } = bound!;
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new KernelError(
      "TF.js's wasm heap is not shared memory: in Node, initBackend('wasm') shares it only when it is the first to start TF.js's wasm backend; in a page, the threaded build (cross-origin isolated) shares it",
    );
  }
  pool = await KernelPool.start(threads, {
    memory,
    module: sharedModule(),
    main,
    names: POOLED,
    scratch(slot) {
      // Kept for the heap's life and reused by the next pool: one per thread ever started.
      scratch[slot] ??= backend.wasm._malloc(main.scratchBytes()) >>> 0;
      return scratch[slot]!;
    },
  });
  return threads;
}

/** The pool, where it runs on `memory` and still answers. */
function poolOn(memory: WebAssembly.Memory): KernelPool | undefined {
  return pool?.usable && pool.memory === memory ? pool : undefined;
}

/** Threads core's kernels run on (1 unless setKernelThreads started more). */
export function kernelThreads(): number {
  return pool?.threads ?? 1;
}

/** Why the kernels are not in use ('' when they are). */
export function wasmKernelsUnavailable(): string {
  return unavailable;
}

/** True when the current backend is wasm and core's kernels are registered. */
export function hasWasmKernels(): boolean {
  return compiled !== undefined && tf.getBackend() === 'wasm';
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

const sharedIdentity: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** Byte address of a tensor in the heap. Read after every allocation of the call (addresses stay valid when
 * the heap grows; typed-array views of it do not). */
const address = (wasm: WasmBackendLike, t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;

/** x (R, C) float32 → (C, R), in place in the heap. */
const transpose2DKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const wasm = backend as unknown as WasmBackendLike;
  const k0 = kernelOn(wasm);
  const [r, c] = x.shape as [number, number];
  const out = wasm.makeOutput([c, r], 'float32');
  if (r * c > 0) k0.transpose(address(wasm, x), r, c, address(wasm, out));
  return out;
};

/**
 * a (N, M, K), or (N, K, M) if transposeA; b (N, K, S), or (N, S, K) if transposeB (N may be 1 for b:
 * shared by every batch); bias (S)? → (N, M, S). Operands are read where they lie, through strides.
 */
const batchMatMulKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
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
  const threads = pool?.threads ?? 1;
  const flops = 2 * batch * m * n * k;
  // Split by rows where every thread gets enough rows for the kernel's tile and the work pays for waking it;
  // rows in blocks of 4 (the tile). One-token decoding (under 4 rows) stays on this thread: splitting its
  // memory-bound products by columns measured slower (GPT-2 small, 36 → 46 ms/token on 2 cores).
  runSplit('matmul', m, 4, m >= 8 * threads && flops >= 2e6, (m0, rows) => [
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
};

/**
 * Runs kernel `fn` over `count` units (rows or elements): on the pool in blocks of `align` units, as evenly
 * as that allows (the caller takes the first), when `split` and a pool runs on the current heap; else on
 * this thread. `args(start, units)` gives one block's arguments.
 */
function runSplit(
  fn: (typeof POOLED)[number],
  count: number,
  align: number,
  split: boolean,
  args: (start: number, units: number) => number[],
): void {
  const p = split ? poolOn(bound!.memory) : undefined;
  if (!p) {
    (bound!.exports[fn] as (...a: number[]) => void)(...args(0, count));
    return;
  }
  const per = Math.ceil(count / p.threads / align) * align;
  const shares: Share[] = [];
  for (let start = 0; start < count; start += per)
    shares.push({ fn, args: args(start, Math.min(per, count - start)) });
  p.run(shares);
}

/** Element-wise kernels split over threads from this many elements (below, waking a worker costs more). */
const SPLIT_ELEMENTS = 16384;

/** A float's bits as an i32 (the pool passes only i32 arguments). */
const f32Bits = (x: number) => new Int32Array(new Float32Array([x]).buffer)[0]!;

const GELU_FORMS = { erf: 0, erfGrad: 1, tanh: 2, tanhGrad: 3 } as const;
type WasmGeluForm = keyof typeof GELU_FORMS;

const geluKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy?: tf.TensorInfo };
  const which = GELU_FORMS[(attrs as unknown as { form: WasmGeluForm }).form];
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const out = wasm.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  const [x0, out0] = [address(wasm, x), address(wasm, out)];
  const dy0 = dy ? address(wasm, dy) : x0;
  runSplit('gelu', n, 4, n >= SPLIT_ELEMENTS, (i, k) => [which, x0 + 4 * i, dy0 + 4 * i, out0 + 4 * i, k]);
  return out;
};

const layerNormKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
  const eps = f32Bits((attrs as unknown as { eps: number }).eps);
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const d = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / d;
  const y = wasm.makeOutput(x.shape, 'float32');
  const xhat = wasm.makeOutput(x.shape, 'float32');
  const rstd = wasm.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
  const [x0, g0, b0, y0, h0, r0] = [x, gamma, beta, y, xhat, rstd].map((t) => address(wasm, t)) as number[];
  runSplit('layerNorm', rows, 1, rows * d >= SPLIT_ELEMENTS, (i, k) => [
    x0! + 4 * i * d,
    g0!,
    b0!,
    y0! + 4 * i * d,
    h0! + 4 * i * d,
    r0! + 4 * i,
    k,
    d,
    eps,
  ]);
  return [y, xhat, rstd];
};

const layerNormGradKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { dy, xhat, gamma, rstd } = inputs as Record<'dy' | 'xhat' | 'gamma' | 'rstd', tf.TensorInfo>;
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const d = dy.shape[dy.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(dy.shape) / d;
  const dx = wasm.makeOutput(dy.shape, 'float32');
  const [dy0, h0, g0, r0, dx0] = [dy, xhat, gamma, rstd, dx].map((t) => address(wasm, t)) as number[];
  runSplit('layerNormGrad', rows, 1, rows * d >= SPLIT_ELEMENTS, (i, k) => [
    dy0! + 4 * i * d,
    h0! + 4 * i * d,
    g0!,
    r0! + 4 * i,
    dx0! + 4 * i * d,
    k,
    d,
  ]);
  return dx;
};

const dropoutKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, keep } = inputs as { x: tf.TensorInfo; keep: tf.TensorInfo };
  const scale = f32Bits((attrs as unknown as { scale: number }).scale);
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const out = wasm.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  const [x0, k0, out0] = [address(wasm, x), address(wasm, keep), address(wasm, out)];
  runSplit('dropout', n, 4, n >= SPLIT_ELEMENTS, (i, k) => [x0 + 4 * i, k0 + i, scale, out0 + 4 * i, k]);
  return out;
};

/**
 * seedrandom's alea seeded with `seed` (what tf.randomUniform draws from): Baagoe's Mash of the seed string
 * into the state (s0, s1, s2, c) the draws continue from. Kept exactly as seedrandom 3 has it.
 */
function aleaState(seed: string): [s0: number, s1: number, s2: number, c: number] {
  let n = 0xefc8249d;
  const mash = (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
  const s = [mash(' '), mash(' '), mash(' ')];
  for (let i = 0; i < 3; i++) {
    s[i]! -= mash(seed);
    if (s[i]! < 0) s[i]! += 1;
  }
  return [s[0]!, s[1]!, s[2]!, 1];
}

const dropoutMaskKernel: tf.KernelFunc = ({ backend, attrs }) => {
  const { shape, rate, seed } = attrs as unknown as { shape: number[]; rate: number; seed: number };
  const wasm = backend as unknown as WasmBackendLike;
  const kernel = kernelOn(wasm);
  const keep = wasm.makeOutput(shape, 'bool');
  kernel.aleaKeepMask(...aleaState(String(seed)), rate, address(wasm, keep), tf.util.sizeFromShape(shape));
  return keep;
};

/** GELU (form 'erf' or 'tanh') of x, or its gradient ('erfGrad', 'tanhGrad') given dy. Not differentiable. */
export function wasmGelu(form: WasmGeluForm, x: tf.Tensor, dy?: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel('TkGelu', dy ? { x, dy } : { x }, { form }) as tf.Tensor;
}

/** LayerNorm over the last axis (a multiple of 4): [y, xhat, rstd (..., 1)]. Not differentiable. */
export function wasmLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor[] {
  return tf.engine().runKernel('TkLayerNorm', { x, gamma, beta }, { eps }) as unknown as tf.Tensor[];
}

/** LayerNorm's input gradient: rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy · gamma. */
export function wasmLayerNormGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  gamma: tf.Tensor,
  rstd: tf.Tensor,
): tf.Tensor {
  return tf.engine().runKernel('TkLayerNormGrad', { dy, xhat, gamma, rstd }) as tf.Tensor;
}

/** keep ? x · scale : 0, keep a bool tensor of x's shape. Not differentiable. */
export function wasmDropout(x: tf.Tensor, keep: tf.Tensor, scale: number): tf.Tensor {
  return tf.engine().runKernel('TkDropout', { x, keep }, { scale }) as tf.Tensor;
}

/**
 * Dropout's keep-mask (bool, true = keep): exactly tf.randomUniform(shape, 0, 1, 'float32', seed) >= rate,
 * drawn and compared in one pass without the float draws (4 bytes a value) or TF.js's JavaScript loop.
 */
export function wasmDropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  return tf.engine().runKernel('TkDropoutMask', {}, { shape, rate, seed }) as tf.Tensor;
}

/** Parameters a chunk of the moments staged on the heap holds (they live on the host: 2 MB of heap). */
const ADAMW_CHUNK = 1 << 18;

/** A float32 tensor of `shape` whose contents are not set (for a kernel to fill). */
const emptyKernel: tf.KernelFunc = ({ backend, attrs }) =>
  (backend as unknown as WasmBackendLike).makeOutput(
    (attrs as unknown as { shape: number[] }).shape,
    'float32',
  );

/**
 * One AdamW update in core's kernel: `param` and `grad` read where they lie on the heap; returns the new
 * values (a fresh tensor). The moments `m`, `v` stay host arrays (out of the 4 GB heap): a chunk at a
 * time is copied into a heap scratch, updated there (on the pool) and copied back. Memory bound: ~5 ns a
 * parameter where the JavaScript loop took ~8.
 */
export function wasmAdamW(
  param: tf.Tensor,
  grad: tf.Tensor,
  m: Float32Array,
  v: Float32Array,
  k: AdamWConstants,
): tf.Tensor {
  const wasm = tf.backend() as unknown as WasmBackendLike;
  kernelOn(wasm);
  const out = tf.engine().runKernel('TkEmpty', {}, { shape: param.shape }) as tf.Tensor;
  const heapState = bound!;
  heapState.adamwScratch ??= wasm.wasm._malloc(2 * ADAMW_CHUNK * 4) >>> 0;
  const [p0, g0, out0] = [param, grad, out].map((t) => address(wasm, t)) as [number, number, number];
  const mAt = heapState.adamwScratch;
  const vAt = mAt + ADAMW_CHUNK * 4;
  const constants = [k.b1, k.b2, k.eps, k.stepSize, k.sqrtBc2, k.gradScale, k.decayFactor].map(f32Bits);
  const heap = new Float32Array(heapState.memory.buffer);
  for (let i0 = 0; i0 < m.length; i0 += ADAMW_CHUNK) {
    const c = Math.min(ADAMW_CHUNK, m.length - i0);
    heap.set(m.subarray(i0, i0 + c), mAt / 4);
    heap.set(v.subarray(i0, i0 + c), vAt / 4);
    runSplit('adamw', c, 4, c >= SPLIT_ELEMENTS, (j, len) => {
      const at = 4 * (i0 + j);
      return [p0 + at, g0 + at, mAt + 4 * j, vAt + 4 * j, out0 + at, len, ...constants];
    });
    m.set(heap.subarray(mAt / 4, mAt / 4 + c), i0);
    v.set(heap.subarray(vAt / 4, vAt / 4 + c), i0);
  }
  return out;
}

/** x (N, V) → [max (N, 1), Σ e^(x − max) (N, 1)] over each row. */
const rowMaxSumExpKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const [rows, v] = x.shape as [number, number];
  const max = wasm.makeOutput([rows, 1], 'float32');
  const sum = wasm.makeOutput([rows, 1], 'float32');
  const [x0, max0, sum0] = [x, max, sum].map((t) => address(wasm, t)) as [number, number, number];
  runSplit('rowMaxSumExp', rows, 1, rows * v >= SPLIT_ELEMENTS, (r, k) => [
    x0 + 4 * r * v,
    k,
    v,
    max0 + 4 * r,
    sum0 + 4 * r,
  ]);
  return [max, sum];
};

/** x (N, V), shift (N, 1) → e^(x − shift). */
const expShiftKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x, shift } = inputs as { x: tf.TensorInfo; shift: tf.TensorInfo };
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const [rows, v] = x.shape as [number, number];
  const out = wasm.makeOutput([rows, v], 'float32');
  const [x0, s0, out0] = [x, shift, out].map((t) => address(wasm, t)) as [number, number, number];
  runSplit('expShift', rows, 1, rows * v >= SPLIT_ELEMENTS, (r, k) => [
    x0 + 4 * r * v,
    s0 + 4 * r,
    k,
    v,
    out0 + 4 * r * v,
  ]);
  return out;
};

/** log Σ e^x over each row of x (N, V) → (N, 1): max + log Σ e^(x − max), the sums in core's kernel. */
export function wasmLogSumExp(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [max, sum] = tf.engine().runKernel('TkRowMaxSumExp', { x }) as unknown as [
      tf.Tensor2D,
      tf.Tensor2D,
    ];
    return max.add(sum.log());
  });
}

/** e^(x − shift) for x (N, V) and shift (N, 1), in one pass. Not differentiable. */
export function wasmExpShift(x: tf.Tensor2D, shift: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel('TkExpShift', { x, shift }) as tf.Tensor2D;
}

/** Floats a partial sum of TkSumSquares covers: partials do not depend on the thread count. */
const SUM_CHUNK = 65536;

/** x (any shape) → Σ x² as partial sums of SUM_CHUNK floats each (float64 inside), a 1-D tensor. */
const sumSquaresKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const wasm = backend as unknown as WasmBackendLike;
  kernelOn(wasm);
  const n = tf.util.sizeFromShape(x.shape);
  const chunks = Math.max(1, Math.ceil(n / SUM_CHUNK));
  const out = wasm.makeOutput([chunks], 'float32');
  const [x0, out0] = [address(wasm, x), address(wasm, out)];
  if (n === 0) wasm.typedArrayFromHeap(out).fill(0);
  else
    runSplit('sumSquares', chunks, 1, chunks > 1, (c, k) => [
      x0 + 4 * c * SUM_CHUNK,
      Math.min(k * SUM_CHUNK, n - c * SUM_CHUNK),
      SUM_CHUNK,
      out0 + 4 * c,
    ]);
  return out;
};

/** Σ x² (a scalar), summed in float64 within chunks of 64k floats. Not differentiable. */
export function wasmSumSquares(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => (tf.engine().runKernel('TkSumSquares', { x }) as tf.Tensor).sum());
}

/** Kernels registered beside the products (see the header). */
const ELEMENTWISE: [string, tf.KernelFunc][] = [
  ['TkGelu', geluKernel],
  ['TkLayerNorm', layerNormKernel],
  ['TkLayerNormGrad', layerNormGradKernel],
  ['TkDropout', dropoutKernel],
  ['TkDropoutMask', dropoutMaskKernel],
  ['TkSumSquares', sumSquaresKernel],
  ['TkRowMaxSumExp', rowMaxSumExpKernel],
  ['TkExpShift', expShiftKernel],
  ['TkEmpty', emptyKernel],
];

/** core's ops on these kernels (fused.ts); a kernel whose SIMD cannot take a shape declines it. */
const WASM_FUSED: FusedKernels = {
  batchMatMul: wasmBatchMatMul,
  transpose2d: wasmTranspose2d,
  sumLeading: wasmSumLeading,
  gelu: (form, x) => wasmGelu(form, x),
  geluGrad: (form, x, dy) => wasmGelu(form === 'erf' ? 'erfGrad' : 'tanhGrad', x, dy),
  // One pass a row; its SIMD needs rows of a multiple of 4 floats.
  layerNorm: (x, gamma, beta, eps) =>
    x.shape[x.rank - 1]! % 4 === 0
      ? (wasmLayerNorm(x, gamma, beta, eps) as [tf.Tensor, tf.Tensor, tf.Tensor])
      : undefined,
  layerNormGrad: wasmLayerNormGrad,
  dropoutMask: wasmDropoutMask,
  dropout: wasmDropout,
  logSumExp: wasmLogSumExp,
  expShift: wasmExpShift,
  sumSquares: wasmSumSquares,
  adamWHost: wasmAdamW,
};
