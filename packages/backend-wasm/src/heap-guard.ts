import type * as tf from '@tensorflow/tfjs';
import type { RuntimeErrors } from './errors.js';
import type { EmscriptenModuleLike } from './tfjs-wasm.js';

/*
 * The wasm heap is one 32-bit address space (TF.js's build grows it to 4 GB - 64 KB). When it is full,
 * emscripten's malloc returns 0 and TF.js writes through it or XNNPACK aborts: the module traps and the
 * backend is dead. Every tensor buffer is allocated by the backend's `_malloc` from JS, so that is where
 * a full heap becomes an out-of-memory error instead, thrown before anything is written: the engine's scopes
 * unwind, a gradient pass releases its tape, and the model's weights are untouched.
 */

/** TF.js 4.22's wasm build: emscripten's getHeapMax(). */
export const WASM_HEAP_MAX = 4294901760;
/** Kept free for allocations made inside the module (XNNPACK's packed weights and workspaces). */
const RESERVE = 128 * 2 ** 20;

export interface WasmHeapStats {
  /** Bytes the heap has grown to (it never shrinks: this is the process's share of RSS). */
  heapBytes: number;
  /** Bytes allocated from JS and not yet freed: tensor buffers and the kernels' scratch. */
  liveBytes: number;
  /** Most live bytes since the last `resetPeak`. */
  peakBytes: number;
  /** The cap set by setBudget. */
  budget: number;
}

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;

/** Counts and caps what JS allocates on TF.js's wasm heap (one per runtime). */
export class HeapGuard {
  readonly #errors: RuntimeErrors;
  #budget = WASM_HEAP_MAX - RESERVE;
  #peak = 0;
  #live = 0;
  #guarded: EmscriptenModuleLike | undefined;

  constructor(errors: RuntimeErrors) {
    this.#errors = errors;
  }

  /**
   * Installs the guard on `backend`'s allocator (once per module). Returns why it could not attach ('' when
   * it did): a module without emscripten's `_malloc`/`_free` exports is left alone.
   */
  install(backend: tf.KernelBackend): string {
    const module = (backend as unknown as { wasm?: Partial<EmscriptenModuleLike> }).wasm;
    if (module !== undefined && module === this.#guarded) return '';
    if (typeof module?._malloc !== 'function' || typeof module._free !== 'function') {
      return "the heap guard found no _malloc/_free on TF.js's wasm module";
    }
    // emscripten's exported _malloc replaces itself with the raw export on first call: make that happen
    // now, or it would overwrite the wrapper.
    module._free(module._malloc(16));
    const malloc = module._malloc.bind(module);
    const free = module._free.bind(module);
    // Bytes per live block: tf.memory().numBytes counts a buffer once per tensor viewing it (reshapes and
    // the shared Identity), so the heap is measured here.
    const sizes = new Map<number, number>();
    module._malloc = (bytes: number) => {
      if (this.#live + bytes > this.#budget) throw this.#outOfMemory(bytes);
      const ptr = malloc(bytes) >>> 0;
      if (ptr === 0 || ptr + bytes > WASM_HEAP_MAX - RESERVE) {
        if (ptr !== 0) free(ptr);
        throw this.#outOfMemory(bytes);
      }
      sizes.set(ptr, bytes);
      this.#live += bytes;
      if (this.#live > this.#peak) this.#peak = this.#live;
      return ptr;
    };
    module._free = (ptr: number) => {
      this.#live -= sizes.get(ptr >>> 0) ?? 0;
      sizes.delete(ptr >>> 0);
      free(ptr);
    };
    this.#guarded = module as EmscriptenModuleLike;
    return '';
  }

  /**
   * Caps the bytes allocated on the heap (default: the 4 GB ceiling less a reserve); an allocation past it
   * raises the out-of-memory error. Returns the previous cap.
   */
  setBudget(bytes?: number): number {
    const previous = this.#budget;
    this.#budget = Math.min(bytes ?? Number.POSITIVE_INFINITY, WASM_HEAP_MAX - RESERVE);
    return previous;
  }

  /** Starts a new measurement of the peak; returns the old one. */
  resetPeak(): number {
    const old = this.#peak;
    this.#peak = this.#live;
    return old;
  }

  /** Where `backend`'s heap stands; undefined when it is not a wasm backend. */
  stats(backend: tf.KernelBackend): WasmHeapStats | undefined {
    const module = (backend as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
    if (!module?.HEAPU8) return undefined;
    return {
      heapBytes: module.HEAPU8.buffer.byteLength,
      liveBytes: this.#live,
      peakBytes: this.#peak,
      budget: this.#budget,
    };
  }

  #outOfMemory(bytes: number): Error {
    const inUse = this.#live;
    const budget = this.#budget;
    return this.#errors.outOfMemory(
      `wasm heap full: a ${mb(bytes)} tensor does not fit next to the ${mb(inUse)} in use (budget ${mb(budget)}; ` +
        'the wasm heap cannot exceed 4 GB)',
      { requested: bytes, inUse, budget },
    );
  }
}
