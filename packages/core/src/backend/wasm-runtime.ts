import { type WasmHeapStats, WasmRuntime } from '@transformer-kit/backend-wasm';
import { KernelError, OutOfMemoryError } from '../errors.js';

/*
 * core's adapter over @transformer-kit/backend-wasm: the one runtime of this process, raising core's errors,
 * and core's public functions over it (their names and behaviour as before the runtime had its package).
 * initBackend('wasm') attaches it (backend/wasm.ts) and registers its kernels behind fused.ts.
 */

/** A full heap is also a question of the training setup: say what to change. */
const OOM_ADVICE =
  " Use a smaller batch, split it with the Trainer's accumulationSteps, or turn on activation recomputation (setRecompute(model)); on a GPU choose the webgpu backend.";

export const wasmRuntime = new WasmRuntime({
  errors: {
    kernel: (message) => new KernelError(message),
    outOfMemory: (message, sizes) => new OutOfMemoryError(`${message}.${OOM_ADVICE}`, sizes),
  },
});

export { WASM_HEAP_MAX, type WasmHeapStats } from '@transformer-kit/backend-wasm';

/** Which build of core's wasm kernels runs: 'relaxed-simd' (fused multiply-add), 'simd', or undefined (none). */
export function wasmKernelVariant(): 'relaxed-simd' | 'simd' | undefined {
  return wasmRuntime.variant;
}

/** For tests and measurements: pick the plain SIMD build even where relaxed SIMD validates (before initBackend). */
export function preferRelaxedSimd(on: boolean): void {
  wasmRuntime.preferRelaxedSimd(on);
}

/**
 * Runs core's wasm kernels on `threads` threads (worker threads in Node, Web Workers in a cross-origin
 * isolated page), in place on TF.js's heap, which must be shared memory. 1 stops the workers. Needs
 * initBackend('wasm') first; returns the thread count in use. Rejects with a KernelError (and keeps one
 * thread) if the heap is not shared or a worker does not start.
 */
export function setKernelThreads(threads: number): Promise<number> {
  return wasmRuntime.setThreads(threads);
}

/** Threads core's wasm kernels run on (1 unless setKernelThreads started more). */
export function kernelThreads(): number {
  return wasmRuntime.threads;
}

/** Why core's wasm kernels are not in use ('' when they are). */
export function wasmKernelsUnavailable(): string {
  return wasmRuntime.unavailable;
}

/**
 * Caps the bytes allocated on the wasm heap (default: the 4 GB ceiling less a reserve); an allocation past
 * it raises OutOfMemoryError. For running several models side by side, and for tests. Returns the previous cap.
 */
export function setWasmHeapBudget(bytes?: number): number {
  return wasmRuntime.heap.setBudget(bytes);
}

/** Starts a new measurement of the heap's peak; returns the old peak. */
export function resetWasmHeapPeak(): number {
  return wasmRuntime.heap.resetPeak();
}

/** Where the wasm heap stands; undefined when the backend is not wasm. */
export function wasmHeapStats(): WasmHeapStats | undefined {
  return wasmRuntime.heapStats();
}
