import type * as tf from '@tensorflow/tfjs';

/*
 * The parts of TF.js 4.22's wasm backend (tfjs-backend-wasm's BackendWasm and its emscripten module) the
 * runtime reads. None is public API; each use checks that the part is there, and the caller (core) attaches
 * the runtime only on the TF.js minor it was tested with.
 */

/** TF.js's emscripten module (BackendWasm.wasm). */
export interface EmscriptenModuleLike {
  /** Non-threaded build: the instance's exports, its memory among them. */
  asm?: { memory?: WebAssembly.Memory };
  /** Threaded build: the shared memory it created. */
  wasmMemory?: WebAssembly.Memory;
  /** A view of the heap, replaced when the heap grows. */
  HEAPU8?: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

/** TF.js's BackendWasm. */
export interface WasmBackendLike {
  wasm: EmscriptenModuleLike;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  incRef(dataId: tf.DataId): void;
}

/** TF.js's wasm heap: Module.asm.memory (non-threaded build) or Module.wasmMemory (threaded). */
export function heapMemory(backend: WasmBackendLike): WebAssembly.Memory | undefined {
  const m = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : undefined;
}

/**
 * Byte address of a tensor in the heap. Read after every allocation of the call (addresses stay valid when
 * the heap grows; typed-array views of it do not).
 */
export const address = (backend: WasmBackendLike, t: tf.TensorInfo): number =>
  backend.dataIdMap.get(t.dataId)!.memoryOffset;
