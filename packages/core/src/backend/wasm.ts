import * as tf from '@tensorflow/tfjs';
import { withLogicalCores, withSharedHeap } from '@transformer-kit/backend-wasm';
import { isNode } from '../env.js';
import { BackendUnavailableError } from '../errors.js';
import { registerFusedKernels } from '../fused.js';
import { importModule } from './load.js';
import { tfjsVersionMismatch } from './tfjs-version.js';
import { wasmRuntime } from './wasm-runtime.js';

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
  /** Threads core's kernels run on (worker threads in Node, Web Workers in an isolated page). */
  kernelThreads: number;
  /**
   * Why some of core's hooks into TF.js's wasm internals (its kernels, the shared heap, the heap guard) are
   * off: TF.js is not the tested minor, or a hook could not attach. Absent when all attached. The backend
   * still works, on TF.js's own kernels (slower).
   */
  skippedHooks?: string;
}

async function nodeCores(): Promise<number> {
  const os = (await importModule('node:os')) as { availableParallelism?: () => number; cpus(): unknown[] };
  return os.availableParallelism?.() ?? os.cpus().length;
}

/** Whether this page (or worker) may share memory between threads: cross-origin isolated. */
function pageCanShare(): boolean {
  return (
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true &&
    typeof SharedArrayBuffer !== 'undefined'
  );
}

/**
 * Makes 'wasm' the tf backend. In Node the binaries load from the package's own dist. A bundled page must
 * say where they are served (`wasmPaths`, e.g. Vite `?url` imports). SIMD is used whenever the engine
 * validates it; threads need SharedArrayBuffer (a cross-origin isolated page; TF.js never threads in Node).
 * `threadCount` (default every core): Node, core's product pool; pages, XNNPACK's pool and core's.
 */
export async function initWasm(
  wasmPaths?: WasmPaths,
  threads = true,
  threadCount?: number,
  warn: (message: string) => void = console.warn,
): Promise<WasmInfo> {
  // Literal specifier: bundlers give it its own chunk, loaded only when wasm is chosen.
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!threads) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  // Pages: the threads both pools get, every core by default where threads can run at all.
  const pageThreads = isNode()
    ? undefined
    : (threadCount ?? (threads && pageCanShare() ? globalThis.navigator?.hardwareConcurrency : undefined));
  if (pageThreads !== undefined) wasm.setThreadsCount(pageThreads);
  if (wasmPaths !== undefined) {
    // Takes effect at the first start (later calls change nothing); throws only after a failed start,
    // which setBackend below reports. (Not tf.findBackend: it would start wasm before the paths are set.)
    try {
      wasm.setWasmPaths(wasmPaths as Parameters<typeof wasm.setWasmPaths>[0]);
    } catch {}
  }
  // The hooks read TF.js internals of the tested minor only; another version runs without them.
  const mismatch = tfjsVersionMismatch();
  // Node: core's kernels on every core by default, on TF.js's heap made shared while it starts (also for
  // one thread, so that setKernelThreads can add more later).
  const nodeThreads = isNode() && !mismatch ? (threadCount ?? (await nodeCores())) : undefined;
  const start = async () => {
    try {
      if (!(await tf.setBackend('wasm'))) return false;
      await tf.ready();
      return true;
    } catch {
      return false;
    }
  };
  const ok =
    nodeThreads === undefined
      ? await withLogicalCores(mismatch ? undefined : pageThreads, start)
      : (await withSharedHeap(start))[0];
  if (!ok) {
    throw new BackendUnavailableError(
      "wasm: the WebAssembly backend failed to start (usually its .wasm files were not found): in a bundled page pass initBackend(choice, { wasmPaths }) pointing at the files in @tensorflow/tfjs-backend-wasm/dist, or choose 'cpu'",
    );
  }
  const [simd, threadsOk] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  // The runtime's SIMD kernels (@transformer-kit/backend-wasm) behind core's fused ops, and its guard that
  // turns a full heap into OutOfMemoryError. Each hook that cannot attach is skipped; one warning says why.
  const skipped: string[] = [];
  let heapGuarded = false;
  if (mismatch) skipped.push(mismatch);
  else {
    if (!simd) skipped.push("core's kernels need WebAssembly SIMD");
    else if (await wasmRuntime.register()) registerFusedKernels('wasm', wasmRuntime.fused);
    else skipped.push(`core's kernels: ${wasmRuntime.unavailable}`);
    // After the kernels: their scratch is theirs for the heap's life, not counted as tensor bytes.
    const heap = wasmRuntime.guardHeap();
    if (heap) skipped.push(heap);
    heapGuarded = !heap;
  }
  if (skipped.length > 0) {
    const effects = [
      ...(wasmRuntime.variant ? [] : ["TF.js's own kernels run every op (slower)"]),
      ...(heapGuarded ? [] : ['a full heap may abort instead of raising OutOfMemoryError']),
    ];
    warn(`wasm: hooks into TF.js skipped (${skipped.join('; ')}): ${effects.join('; ')}`);
  }
  // The kernels on every core (the runtime's pool): worker threads in Node (TF.js has no threads there),
  // Web Workers in a page that may share memory.
  const kernelThreadsWanted = nodeThreads ?? (threads && pageCanShare() ? (pageThreads ?? 1) : 1);
  let kernelThreadsUsed = 1;
  if (wasmRuntime.variant) {
    try {
      kernelThreadsUsed = await wasmRuntime.setThreads(kernelThreadsWanted);
    } catch (err) {
      warn(`wasm: core's kernels run on one thread: ${(err as Error).message}`);
    }
  }
  // threads: the threaded build is in use; threadsCount: the pool XNNPACK actually got.
  return {
    simd: Boolean(simd),
    threads: Boolean(threadsOk),
    threadsCount: wasm.getThreadsCount(),
    kernels: wasmRuntime.variant ?? 'none',
    kernelThreads: kernelThreadsUsed,
    ...(skipped.length > 0 ? { skippedHooks: skipped.join('; ') } : {}),
  };
}
