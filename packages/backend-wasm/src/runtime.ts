import * as tf from '@tensorflow/tfjs';
import { DEFAULT_ERRORS, type RuntimeErrors } from './errors.js';
import { HeapGuard, type WasmHeapStats } from './heap-guard.js';
import { type AdamWConstants, adamW, emptyConfig } from './kernels/adamw.js';
import { dropout, dropoutConfig, dropoutMask, dropoutMaskConfig } from './kernels/dropout.js';
import { gelu, geluConfig } from './kernels/gelu.js';
import type { KernelConfigFor, KernelExports, KernelHost, PooledKernel } from './kernels/host.js';
import { POOLED } from './kernels/host.js';
import { sharedIdentityConfig } from './kernels/identity.js';
import { layerNorm, layerNormConfig, layerNormGrad, layerNormGradConfig } from './kernels/layer-norm.js';
import { batchMatMul, batchMatMulConfig, batchMatMulGrad, sumLeading } from './kernels/matmul.js';
import { expShift, expShiftConfig, logSumExp, rowMaxSumExpConfig } from './kernels/row-exp.js';
import { sumSquares, sumSquaresConfig } from './kernels/sum-squares.js';
import { transpose2DConfig, transpose2DGrad, transpose2d } from './kernels/transpose.js';
import { WASM_RELAXED, WASM_RELAXED_SHARED, WASM_SIMD, WASM_SIMD_SHARED } from './kernels.wasm.js';
import { KernelPool, type Share } from './pool.js';
import { heapMemory, type WasmBackendLike } from './tfjs-wasm.js';

/*
 * The runtime: SIMD kernels added to TF.js's wasm backend where its own are slow on the shapes transformers
 * use (a file per kernel under kernels/; the module is kernels.wat). The module has no memory of its own: it
 * imports TF.js's heap and reads and writes tensors where they lie (no copies in or out); it allocates only
 * scratch there, once: ~1.2 MB of packing buffers a thread, and 2 MB to stage AdamW's moments. One
 * WasmRuntime owns everything that lives as long as TF.js's module: the compiled builds, the instance bound
 * to the heap and its scratch, the thread pool, the heap guard.
 */

/** Which build of the kernels runs. */
export type KernelVariant = 'relaxed-simd' | 'simd';

/** Kernels registered by name with TF.js (the products with their gradients). */
const KERNELS: KernelConfigFor[] = [
  batchMatMulConfig,
  transpose2DConfig,
  geluConfig,
  layerNormConfig,
  layerNormGradConfig,
  dropoutConfig,
  dropoutMaskConfig,
  sumSquaresConfig,
  rowMaxSumExpConfig,
  expShiftConfig,
];

const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** Registers `config` with TF.js, replacing a registration of the same name (a runtime registered before). */
function register(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName))
    tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

export interface WasmRuntimeOptions {
  /** Error constructors (default WasmRuntimeError); core passes its KernelError and OutOfMemoryError. */
  errors?: Partial<RuntimeErrors>;
}

export class WasmRuntime implements KernelHost {
  readonly errors: RuntimeErrors;
  /** The guard on TF.js's allocator: a full heap becomes an error before anything is written. */
  readonly heap: HeapGuard;
  #preferRelaxed = true;
  /** The compiled builds of the chosen variant: importing a plain memory, and (on first need) a shared one. */
  #compiled: { variant: KernelVariant; plain: WebAssembly.Module; shared?: WebAssembly.Module } | undefined;
  /** The instance bound to one backend's heap, with the scratch allocated there (by key: 'pack0', 'adamw'). */
  #bound:
    | {
        backend: WasmBackendLike;
        memory: WebAssembly.Memory;
        exports: KernelExports;
        scratch: Map<string, number>;
      }
    | undefined;
  #pool: KernelPool | undefined;
  #unavailable = 'not registered';

  constructor(options: WasmRuntimeOptions = {}) {
    this.errors = { ...DEFAULT_ERRORS, ...options.errors };
    this.heap = new HeapGuard(this.errors);
  }

  /** For tests and measurements: pick the plain SIMD build even where relaxed SIMD validates (before register). */
  preferRelaxedSimd(on: boolean): void {
    this.#preferRelaxed = on;
  }

  /** Which build runs: 'relaxed-simd' (fused multiply-add), 'simd', or undefined (not registered). */
  get variant(): KernelVariant | undefined {
    return this.#compiled?.variant;
  }

  /** Why the kernels are not in use ('' when they are). */
  get unavailable(): string {
    return this.#unavailable;
  }

  /** True when the current TF.js backend is wasm and the kernels are registered. */
  get active(): boolean {
    return this.#compiled !== undefined && tf.getBackend() === 'wasm';
  }

  /**
   * Compiles the kernels and registers them with TF.js's wasm backend, which must be the current one (once;
   * again after a failure). False where they cannot run here; `unavailable` then says why.
   */
  async register(): Promise<boolean> {
    if (this.#compiled) return true;
    const simd = decode(WASM_SIMD);
    if (!WebAssembly.validate(simd)) {
      this.#unavailable = 'this engine has no WebAssembly SIMD';
      return false;
    }
    // Fused multiply-adds where the engine has relaxed SIMD (the results differ from mul + add only in the
    // last bits of rounding); else the plain SIMD build.
    const relaxed = decode(WASM_RELAXED);
    const variant: KernelVariant =
      this.#preferRelaxed && WebAssembly.validate(relaxed) ? 'relaxed-simd' : 'simd';
    try {
      this.#compiled = { variant, plain: await WebAssembly.compile(variant === 'simd' ? simd : relaxed) };
      this.on(tf.backend() as unknown as WasmBackendLike);
    } catch (err) {
      // Without TF.js's heap (or an engine that compiles the module) there is nothing to run on in place:
      // TF.js's own kernels serve every op.
      this.#compiled = undefined;
      this.#unavailable = (err as Error).message;
      return false;
    }
    this.#unavailable = '';
    for (const config of KERNELS) register(config(this));
    register(emptyConfig);
    tf.registerGradient(batchMatMulGrad);
    tf.registerGradient(transpose2DGrad);
    register(sharedIdentityConfig);
    return true;
  }

  /** The build importing a shared memory (the pool's heap; TF.js's threaded build), compiled on first need. */
  sharedModule(): WebAssembly.Module {
    const c = this.#compiled;
    if (!c) throw this.errors.kernel('wasm kernels: not registered');
    c.shared ??= new WebAssembly.Module(
      decode(c.variant === 'simd' ? WASM_SIMD_SHARED : WASM_RELAXED_SHARED),
    );
    return c.shared;
  }

  /** A kernel instance on `memory` (plain or shared); needs register first. */
  instantiate(memory: WebAssembly.Memory): KernelExports {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    if (!this.#compiled) throw this.errors.kernel('wasm kernels: not registered');
    const module = shared ? this.sharedModule() : this.#compiled.plain;
    return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  }

  on(backend: WasmBackendLike): KernelExports {
    const memory = heapMemory(backend);
    const b = this.#bound;
    if (b && b.backend === backend && b.memory === memory) return b.exports;
    if (!memory) throw this.errors.kernel("wasm kernels: TF.js's wasm heap (Module.asm.memory) not found");
    const exports = this.instantiate(memory);
    // Packing buffers and an edge tile, once per heap (~1.2 MB), kept for the backend's life.
    const pack = backend.wasm._malloc(exports.scratchBytes()) >>> 0;
    exports.setScratch(pack);
    this.#bound = { backend, memory, exports, scratch: new Map([['pack0', pack]]) };
    return exports;
  }

  scratch(backend: WasmBackendLike, key: string, bytes: number): number {
    this.on(backend);
    const scratch = this.#bound!.scratch;
    let at = scratch.get(key);
    if (at === undefined) {
      at = backend.wasm._malloc(bytes) >>> 0;
      scratch.set(key, at);
    }
    return at;
  }

  get memory(): WebAssembly.Memory {
    if (!this.#bound) throw this.errors.kernel('wasm kernels: not bound to a heap');
    return this.#bound.memory;
  }

  /** Threads the kernels run on (1 unless setThreads started more). */
  get threads(): number {
    return this.#pool?.threads ?? 1;
  }

  /**
   * Runs the kernels on `threads` threads (worker threads in Node, Web Workers in a cross-origin isolated
   * page), in place on TF.js's heap, which must be shared memory (see pool.ts). 1 stops the workers. Needs
   * register first; returns the thread count in use. Rejects with a kernel error (and keeps one thread) if
   * the heap is not shared or a worker does not start.
   */
  async setThreads(threads: number): Promise<number> {
    if (!this.#compiled || !Number.isInteger(threads) || threads < 1) return this.threads;
    if (this.#pool?.threads === threads && this.#pool.usable) return threads;
    const old = this.#pool;
    this.#pool = undefined;
    await old?.close();
    if (threads === 1) return 1;
    const backend = tf.backend() as unknown as WasmBackendLike;
    const main = this.on(backend);
    const memory = this.memory;
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw this.errors.kernel(
        "TF.js's wasm heap is not shared memory: in Node, initBackend('wasm') shares it only when it is the first to start TF.js's wasm backend; in a page, the threaded build (cross-origin isolated) shares it",
      );
    }
    this.#pool = await KernelPool.start(
      threads,
      {
        memory,
        module: this.sharedModule(),
        main,
        names: POOLED,
        // Kept for the heap's life and reused by the next pool: one per thread ever started.
        scratch: (slot) => this.scratch(backend, `pack${slot}`, main.scratchBytes()),
      },
      this.errors.kernel,
    );
    return threads;
  }

  runSplit(
    fn: PooledKernel,
    count: number,
    align: number,
    split: boolean,
    args: (start: number, units: number) => number[],
  ): void {
    const bound = this.#bound!;
    const p = split && this.#pool?.usable && this.#pool.memory === bound.memory ? this.#pool : undefined;
    if (!p) {
      (bound.exports[fn] as (...a: number[]) => void)(...args(0, count));
      return;
    }
    const per = Math.ceil(count / p.threads / align) * align;
    const shares: Share[] = [];
    for (let start = 0; start < count; start += per)
      shares.push({ fn, args: args(start, Math.min(per, count - start)) });
    p.run(shares);
  }

  /** Installs the heap guard on the current backend; why it could not ('' when it did). */
  guardHeap(): string {
    return this.heap.install(tf.backend());
  }

  /** Where the wasm heap stands; undefined when the backend is not wasm. */
  heapStats(): WasmHeapStats | undefined {
    return tf.getBackend() === 'wasm' ? this.heap.stats(tf.backend()) : undefined;
  }

  /**
   * A float32 view of `t`'s bytes on the heap, without a copy: the tensor itself, so write only to tensors
   * just made and referenced nowhere else. Undefined unless the backend is wasm and the view is of the heap
   * itself (a TF.js that returned a copy would make writes vanish). Any later allocation may grow the heap
   * and detach the view: take it after allocating.
   */
  heapView(t: tf.Tensor): Float32Array | undefined {
    if (t.dtype !== 'float32' || tf.getBackend() !== 'wasm') return undefined;
    const backend = tf.backend() as unknown as Partial<WasmBackendLike>;
    if (typeof backend.typedArrayFromHeap !== 'function') return undefined;
    const view = backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    return view.buffer === backend.wasm?.HEAPU8?.buffer ? view : undefined;
  }

  /**
   * The kernels as fused ops (the shape of core's FusedKernels; structural, this package imports no core):
   * a kernel whose SIMD cannot take a shape declines it (undefined), and the caller composes TF.js ops.
   */
  readonly fused = {
    batchMatMul,
    transpose2d,
    sumLeading,
    gelu: (form: 'erf' | 'tanh', x: tf.Tensor) => gelu(form, x),
    geluGrad: (form: 'erf' | 'tanh', x: tf.Tensor, dy: tf.Tensor) =>
      gelu(form === 'erf' ? 'erfGrad' : 'tanhGrad', x, dy),
    // One pass a row; its SIMD needs rows of a multiple of 4 floats.
    layerNorm: (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number) =>
      x.shape[x.rank - 1]! % 4 === 0
        ? (layerNorm(x, gamma, beta, eps) as [tf.Tensor, tf.Tensor, tf.Tensor])
        : undefined,
    layerNormGrad,
    dropoutMask,
    dropout,
    logSumExp,
    expShift,
    sumSquares,
    adamWHost: (param: tf.Tensor, grad: tf.Tensor, m: Float32Array, v: Float32Array, k: AdamWConstants) =>
      adamW(this, param, grad, m, v, k),
  };
}
