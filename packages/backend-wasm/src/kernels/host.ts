import type * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from '../tfjs-wasm.js';

/** The kernel module's exports (kernels.wat); addresses and strides in bytes. */
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
  hashKeepMask(key: number, threshold: number, first: number, keep: number, n: number): void;
  sumSquares(x: number, n: number, chunk: number, out: number): void;
  rowMaxSumExp(x: number, rows: number, v: number, max: number, sum: number): void;
  expShift(x: number, shift: number, rows: number, v: number, out: number): void;
  adamw(p: number, g: number, m: number, v: number, out: number, n: number, ...constantBits: number[]): void;
}

/** Kernel exports the thread pool runs (index = what a worker's slot names). */
export const POOLED = [
  'matmul',
  'gelu',
  'layerNorm',
  'layerNormGrad',
  'dropout',
  'hashKeepMask',
  'sumSquares',
  'rowMaxSumExp',
  'expShift',
  'adamw',
] as const;
export type PooledKernel = (typeof POOLED)[number];

/** What a kernel needs of the runtime (WasmRuntime implements it). */
export interface KernelHost {
  /** The kernel instance on `backend`'s heap (bound again if the backend or its heap changed). */
  on(backend: WasmBackendLike): KernelExports;
  /**
   * Runs export `fn` over `count` units (rows or elements): on the pool in blocks of `align` units when
   * `split` and a pool runs on the bound heap, else on this thread. `args(start, units)` gives one block's.
   */
  runSplit(
    fn: PooledKernel,
    count: number,
    align: number,
    split: boolean,
    args: (start: number, units: number) => number[],
  ): void;
  /** Threads the pool runs on (1 without one). */
  readonly threads: number;
  /** `bytes` of heap scratch kept for the heap's life under `key`, allocated on first need. */
  scratch(backend: WasmBackendLike, key: string, bytes: number): number;
  /** The bound heap. */
  readonly memory: WebAssembly.Memory;
}

/** A kernel's TF.js registration, made for one runtime (its state is the runtime's, not the module's). */
export type KernelConfigFor = (host: KernelHost) => tf.KernelConfig;

/** Element-wise kernels split over threads from this many elements (below, waking a worker costs more). */
export const SPLIT_ELEMENTS = 16384;

/** A float's bits as an i32 (the pool passes only i32 arguments). */
export const f32Bits = (x: number): number => new Int32Array(new Float32Array([x]).buffer)[0]!;
