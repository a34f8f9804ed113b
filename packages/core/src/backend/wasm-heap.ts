import * as tf from '@tensorflow/tfjs';
import { OutOfMemoryError } from '../errors.js';

/*
 * The wasm heap is one 32-bit address space (TF.js's build grows it to 4 GB - 64 KB). When it is full,
 * emscripten's malloc returns 0 and TF.js writes through it or XNNPACK aborts: the module traps and the
 * backend is dead. Every tensor buffer is allocated by the backend's `_malloc` from JS, so that is where
 * a full heap becomes an OutOfMemoryError instead, thrown before anything is written: the engine's scopes
 * unwind, core's gradient pass releases its tape, and the model's weights are untouched.
 */

/** TF.js 4.22's wasm build: emscripten's getHeapMax(). */
export const WASM_HEAP_MAX = 4294901760;
/** Kept free for allocations made inside the module (XNNPACK's packed weights and workspaces). */
const RESERVE = 128 * 2 ** 20;

interface EmscriptenModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

let budget = WASM_HEAP_MAX - RESERVE;
let peak = 0;
let live = 0;
let guarded: EmscriptenModule | undefined;

/**
 * Installs the guard on the wasm backend's allocator (once per module). Returns why it could not attach
 * ('' when it did): a module without emscripten's `_malloc`/`_free` exports is left alone.
 */
export function guardWasmHeap(): string {
  const module = (tf.backend() as unknown as { wasm?: Partial<EmscriptenModule> }).wasm;
  if (module !== undefined && module === guarded) return '';
  if (typeof module?._malloc !== 'function' || typeof module._free !== 'function') {
    return "the heap guard found no _malloc/_free on TF.js's wasm module";
  }
  // emscripten's exported _malloc replaces itself with the raw export on first call: make that happen now,
  // or it would overwrite the wrapper.
  module._free(module._malloc(16));
  const malloc = module._malloc.bind(module);
  const free = module._free.bind(module);
  // Bytes per live block: tf.memory().numBytes counts a buffer once per tensor viewing it (reshapes and
  // core's shared Identity), so the heap is measured here.
  const sizes = new Map<number, number>();
  module._malloc = (bytes: number) => {
    if (live + bytes > budget) throw outOfMemory(bytes);
    const ptr = malloc(bytes) >>> 0;
    if (ptr === 0 || ptr + bytes > WASM_HEAP_MAX - RESERVE) {
      if (ptr !== 0) free(ptr);
      throw outOfMemory(bytes);
    }
    sizes.set(ptr, bytes);
    live += bytes;
    if (live > peak) peak = live;
    return ptr;
  };
  module._free = (ptr: number) => {
    live -= sizes.get(ptr >>> 0) ?? 0;
    sizes.delete(ptr >>> 0);
    free(ptr);
  };
  guarded = module as EmscriptenModule;
  return '';
}

/**
 * Caps the bytes allocated on the wasm heap (default: the 4 GB ceiling less a reserve); an
 * allocation past it raises OutOfMemoryError. For running several models side by side, and for tests.
 * Returns the previous cap.
 */
export function setWasmHeapBudget(bytes?: number): number {
  const previous = budget;
  budget = Math.min(bytes ?? Number.POSITIVE_INFINITY, WASM_HEAP_MAX - RESERVE);
  return previous;
}

export interface WasmHeapStats {
  /** Bytes the heap has grown to (it never shrinks: this is the process's share of RSS). */
  heapBytes: number;
  /** Bytes allocated from JS and not yet freed: tensor buffers and core's kernel scratch. */
  liveBytes: number;
  /** Most live bytes since the last `resetWasmHeapPeak`. */
  peakBytes: number;
  /** The cap set by setWasmHeapBudget. */
  budget: number;
}

/** Starts a new measurement of `peakTensorBytes`; returns the old peak. */
export function resetWasmHeapPeak(): number {
  const old = peak;
  peak = live;
  return old;
}

/** Where the wasm heap stands; undefined when the backend is not wasm. */
export function wasmHeapStats(): WasmHeapStats | undefined {
  const module = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  if (tf.getBackend() !== 'wasm' || !module?.HEAPU8) return undefined;
  return { heapBytes: module.HEAPU8.buffer.byteLength, liveBytes: live, peakBytes: peak, budget };
}

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;

function outOfMemory(bytes: number): OutOfMemoryError {
  const inUse = live;
  return new OutOfMemoryError(
    `wasm heap full: a ${mb(bytes)} tensor does not fit next to the ${mb(inUse)} in use (budget ${mb(budget)}; ` +
      `the wasm heap cannot exceed 4 GB). Use a smaller batch, split it with the Trainer's accumulationSteps, ` +
      `or turn on activation recomputation (setRecompute(model)); on a GPU choose the webgpu backend.`,
    { requested: bytes, inUse, budget },
  );
}
