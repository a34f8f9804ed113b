import * as tf from '@tensorflow/tfjs';
import { isNode } from '../env.js';
import { BackendUnavailableError } from '../errors.js';
import { registerWasmKernels, setKernelThreads, wasmKernelVariant } from '../kernels/wasm-kernels.js';
import { importModule } from './load.js';
import { guardWasmHeap } from './wasm-heap.js';

/** Where the .wasm binaries are served from: a URL prefix ending in '/', or one URL per file. */
export type WasmPaths = string | Record<WasmFile, string>;
export type WasmFile =
  | 'tfjs-backend-wasm.wasm'
  | 'tfjs-backend-wasm-simd.wasm'
  | 'tfjs-backend-wasm-threaded-simd.wasm';

export interface WasmInfo {
  /** The SIMD build is in use. */
  simd: boolean;
  /** The threaded build is in use (needs SharedArrayBuffer: a cross-origin isolated page; never in Node). */
  threads: boolean;
  /** Threads in XNNPACK's pool. */
  threadsCount: number;
  /**
   * core's own kernels: 'relaxed-simd' (fused multiply-add; Chrome >= 114, Node >= 22, Node 20 with
   * --experimental-wasm-relaxed-simd), 'simd', or 'none' (then TF.js's kernels run every product).
   */
  kernels: 'relaxed-simd' | 'simd' | 'none';
  /** Threads core's large products run on (Node: worker threads; pages: 1, XNNPACK's pool is `threadsCount`). */
  kernelThreads: number;
}

async function nodeCores(): Promise<number> {
  const os = (await importModule('node:os')) as { availableParallelism?: () => number; cpus(): unknown[] };
  return os.availableParallelism?.() ?? os.cpus().length;
}

/**
 * Makes 'wasm' the tf backend. In Node the binaries load from the package's own dist. A bundled page must
 * say where they are served (`wasmPaths`, e.g. Vite `?url` imports). SIMD is used whenever the engine
 * validates it; threads need SharedArrayBuffer (a cross-origin isolated page; TF.js never threads in Node).
 */
export async function initWasm(
  wasmPaths?: WasmPaths,
  threads = true,
  threadCount?: number,
): Promise<WasmInfo> {
  // Literal specifier: bundlers give it its own chunk, loaded only when wasm is chosen.
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!threads) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  // The pool TF.js asks XNNPACK for in the threaded build (pages), when a count is given.
  if (threadCount !== undefined && !isNode()) wasm.setThreadsCount(threadCount);
  if (wasmPaths !== undefined) {
    // Takes effect at the first start (later calls change nothing); throws only after a failed start,
    // which setBackend below reports. (Not tf.findBackend: it would start wasm before the paths are set.)
    try {
      wasm.setWasmPaths(wasmPaths as Parameters<typeof wasm.setWasmPaths>[0]);
    } catch {}
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new BackendUnavailableError(
      "wasm: the WebAssembly backend failed to start (usually its .wasm files were not found): in a bundled page pass initBackend(choice, { wasmPaths }) pointing at the files in @tensorflow/tfjs-backend-wasm/dist, or choose 'cpu'",
    );
  }
  await tf.ready();
  const [simd, threadsOk] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  // core's SIMD kernels for the shapes TF.js's wasm kernels run slowly (kernels/wasm-kernels.ts).
  if (simd) await registerWasmKernels();
  guardWasmHeap();
  // In Node, core's products run on every core (worker threads; kernels/pool.ts): TF.js has no threads there.
  const kernelThreadsWanted = isNode() ? (threadCount ?? (await nodeCores())) : 1;
  const kernelThreadsUsed = simd ? await setKernelThreads(kernelThreadsWanted) : 1;
  // threads: the threaded build is in use; threadsCount: the pool XNNPACK actually got.
  return {
    simd: Boolean(simd),
    threads: Boolean(threadsOk),
    threadsCount: wasm.getThreadsCount(),
    kernels: wasmKernelVariant() ?? 'none',
    kernelThreads: kernelThreadsUsed,
  };
}
