import * as tf from '@tensorflow/tfjs';
import { importModule, type ModuleLoader } from './backend/load.js';
import { initNode, NODE_PACKAGES } from './backend/node.js';
import { probeInChild, silenceTfjsBanner } from './backend/quiet.js';
import { initWasm, type WasmInfo, type WasmPaths } from './backend/wasm.js';
import { type AdapterInfo, initWebGPU, probeWebGPU as probe, type WebGPUProbe } from './backend/webgpu.js';
import { type WebGPUDeviceState, type WebGPULimits, webgpuDeviceState } from './backend/webgpu-device.js';
import { isNode } from './env.js';
import { BackendUnavailableError, InvalidArgumentError, UnknownBackendError } from './errors.js';
import { registerFusedKernels } from './fused.js';

/*
 * Backend choice, made once at startup; model code never names a backend.
 *   auto      a real GPU (tfjs-node-gpu actually on a GPU, then a hardware WebGPU adapter), else wasm, else cpu.
 *             Software WebGPU adapters are skipped: lavapipe multiplies at ~5 GFLOP/s, wasm at ~34 on the
 *             same 2 cores (bench/backends.bench.mjs).
 *   webgpu    navigator.gpu in browsers; Dawn (the `webgpu` npm package) in Node. Software adapters allowed.
 *   node-gpu  @tensorflow/tfjs-node-gpu (optional peer).   node  @tensorflow/tfjs-node (optional peer).
 *   wasm      XNNPACK, SIMD; threads where SharedArrayBuffer is allowed.   cpu  plain JS.
 * An explicit choice that cannot be honoured throws BackendUnavailableError (reason + fix), never falls back.
 */

export type BackendChoice = 'auto' | 'webgpu' | 'node-gpu' | 'node' | 'wasm' | 'cpu';
export type BackendName = Exclude<BackendChoice, 'auto'>;
export const BACKEND_CHOICES: readonly BackendChoice[] = [
  'auto',
  'webgpu',
  'node-gpu',
  'node',
  'wasm',
  'cpu',
];
/** Environment variable read when initBackend is called without a choice, e.g. `TK_BACKEND=wasm`. */
export const BACKEND_ENV_VAR = 'TK_BACKEND';

export type { AdapterInfo, WasmPaths, WebGPUDeviceState, WebGPULimits, WebGPUProbe };

/**
 * The WebGPU device core created (its limits, dispatches so far, the GPUDevice itself); undefined when the
 * backend is not webgpu.
 */
export function webgpuDevice(): WebGPUDeviceState | undefined {
  return tf.getBackend() === 'webgpu' ? webgpuDeviceState() : undefined;
}

export interface BackendInfo {
  /** What was asked for (after reading TK_BACKEND). */
  requested: BackendChoice;
  /** What runs. */
  backend: BackendName;
  /** TF.js's name for it ('tensorflow' for node and node-gpu). */
  tfBackend: string;
  device: 'gpu' | 'cpu';
  /** A software WebGPU adapter (lavapipe/llvmpipe, SwiftShader): runs on the CPU however it is labelled. */
  softwareAdapter: boolean;
  /** The WebGPU adapter, when the backend is webgpu. */
  adapter?: AdapterInfo;
  /** SIMD and threads, when the backend is wasm. */
  wasm?: WasmInfo;
  /** Why core's hooks into TF.js internals are off (wasm.skippedHooks); absent when none were skipped. */
  skippedHooks?: string;
  /** Why this backend: what auto tried and skipped, or that it was asked for. */
  reason: string;
  warnings: string[];
  /** Native output kept out of the console in quiet mode (Dawn's warnings), for a --verbose flag. */
  quietLog: string[];
}

export interface InitBackendOptions {
  /** Where environment variables come from (default process.env; ignored when a choice is passed). */
  env?: Record<string, string | undefined>;
  /** Loads optional packages by name (tfjs-node, tfjs-node-gpu, webgpu). Tests inject stand-ins. */
  loadModule?: ModuleLoader;
  /** Where a bundled page serves the wasm binaries (Node needs nothing). */
  wasmPaths?: WasmPaths;
  /** Use wasm threads where the platform allows (default true). */
  wasmThreads?: boolean;
  /**
   * Threads on wasm (default: every core). core's kernels (large matrix products, GELU, LayerNorm, dropout)
   * run on that many threads (worker threads in Node, Web Workers in a cross-origin isolated page; results
   * identical to one thread), and in
   * such a page XNNPACK's pool (TF.js's threaded build: its element-wise ops and plain products) gets as many.
   */
  threads?: number;
  /** Receives warnings (default console.warn). */
  warn?: (message: string) => void;
  /**
   * For CLIs (default false): no TF.js "install tfjs-node" banner, and in `auto` mode Dawn looks for an
   * adapter in a child process first, so its native warnings land in `quietLog`, not on stderr.
   */
  quiet?: boolean;
  /**
   * WebGPU device limits (default 'adapter': the adapter's maxima, as TF.js asks). 'default' asks for the
   * WebGPU spec's defaults (128 MiB storage binding, 256 MiB buffer), what mobile adapters give, so a
   * model can be checked at that size. Changing it re-creates the device (tensors on the old one are lost).
   */
  limits?: WebGPULimits;
}

/** Reads the choice from TK_BACKEND when none is passed; unknown names throw UnknownBackendError. */
export function resolveBackendChoice(
  choice?: string,
  env?: Record<string, string | undefined>,
): BackendChoice {
  if (choice !== undefined && typeof choice !== 'string')
    throw new UnknownBackendError(
      `backend must be a string, got ${choice === null ? 'null' : typeof choice}; valid: ${BACKEND_CHOICES.join(', ')}`,
    );
  const fromEnv = (env ?? processEnv())[BACKEND_ENV_VAR];
  const raw = (choice ?? (fromEnv || 'auto')).trim();
  if (!(BACKEND_CHOICES as readonly string[]).includes(raw)) {
    const where = choice === undefined ? ` (from ${BACKEND_ENV_VAR})` : '';
    throw new UnknownBackendError(`unknown backend '${raw}'${where}; valid: ${BACKEND_CHOICES.join(', ')}`);
  }
  return raw as BackendChoice;
}

/** Whether a WebGPU adapter exists here and whether it is software. Never throws. */
export function probeWebGPU(options: Pick<InitBackendOptions, 'loadModule'> = {}): Promise<WebGPUProbe> {
  return probe(options.loadModule ?? importModule);
}

// The call in progress: concurrent initBackend calls run one after another, in call order (the last one's
// backend is the one left active), never interleaved halfway through TF.js's setBackend.
let pending: Promise<unknown> = Promise.resolve();

/**
 * Chooses and initialises the TF.js backend; call once at startup. Calls made while one is in progress wait
 * for it and then run in order, so the last call's backend is the one in use.
 */
export function initBackend(
  choice?: BackendChoice | string,
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  const run = pending.then(
    () => initBackendNow(choice, options),
    () => initBackendNow(choice, options),
  );
  pending = run.catch(() => {});
  return run;
}

async function initBackendNow(
  choice: BackendChoice | string | undefined,
  options: InitBackendOptions,
): Promise<BackendInfo> {
  const requested = resolveBackendChoice(choice, options.env);
  const load = options.loadModule ?? importModule;
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    (options.warn ?? console.warn)(message);
  };
  const quietLog: string[] = [];
  const base = { requested, softwareAdapter: false, warnings, quietLog };
  if (options.quiet) silenceTfjsBanner();

  const useWasm = async (reason: string): Promise<BackendInfo> => {
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new InvalidArgumentError(`initBackend: threads must be an integer >= 1, got ${options.threads}`);
    }
    const wasm = await initWasm(options.wasmPaths, options.wasmThreads ?? true, options.threads, warn);
    const skipped = wasm.skippedHooks === undefined ? {} : { skippedHooks: wasm.skippedHooks };
    return { ...base, backend: 'wasm', tfBackend: 'wasm', device: 'cpu', wasm, reason, ...skipped };
  };
  const useCpu = async (reason: string): Promise<BackendInfo> => {
    await tf.setBackend('cpu');
    await tf.ready();
    return { ...base, backend: 'cpu', tfBackend: 'cpu', device: 'cpu', reason };
  };
  const useWebGPU = async (p: WebGPUProbe, reason: string): Promise<BackendInfo> => {
    const limits = options.limits ?? 'adapter';
    if (limits !== 'adapter' && limits !== 'default') {
      throw new InvalidArgumentError(`initBackend: limits must be 'adapter' or 'default', got '${limits}'`);
    }
    const kernels = await initWebGPU(limits, warn);
    registerFusedKernels('webgpu', kernels.webgpuKernels);
    // TF.js's autodiff sums a tied table's two gradients with its own Add, past core's ops.
    if (!kernels.installBlockedAdd())
      warn('webgpu: TF.js has no webgpu Add kernel to wrap; tables over a binding cannot train');
    const info: BackendInfo = { ...base, backend: 'webgpu', tfBackend: 'webgpu', device: 'gpu', reason };
    if (p.adapter) info.adapter = p.adapter;
    info.softwareAdapter = p.software;
    return info;
  };

  const previous = tf.getBackend();
  try {
    return await choose();
  } catch (err) {
    // A failed tf.setBackend leaves TF.js pointing at the backend that failed; put the previous one back.
    if (previous && tf.findBackend(previous)) await tf.setBackend(previous);
    throw err;
  }

  async function choose(): Promise<BackendInfo> {
    switch (requested) {
      case 'cpu':
        return useCpu('asked for cpu');
      case 'wasm':
        return useWasm('asked for wasm');
      case 'webgpu': {
        const p = await probeWebGPU({ loadModule: load });
        if (!p.available) throw new BackendUnavailableError(`webgpu: ${p.reason}; or choose 'wasm'`);
        return useWebGPU(p, `asked for webgpu: ${p.reason}`);
      }
      case 'node':
      case 'node-gpu': {
        const { onGpu } = await initNode(requested, load);
        if (requested === 'node-gpu' && !onGpu) {
          warn(
            `node-gpu: ${NODE_PACKAGES['node-gpu'].name} loaded but TensorFlow found no usable GPU and runs on the CPU (usually a CUDA/cuDNN version mismatch; it needs ${NODE_PACKAGES['node-gpu'].needs})`,
          );
        }
        return {
          ...base,
          backend: requested,
          tfBackend: 'tensorflow',
          device: onGpu ? 'gpu' : 'cpu',
          reason: `asked for ${requested}`,
        };
      }
      case 'auto':
        return auto();
    }
  }

  async function auto(): Promise<BackendInfo> {
    const skipped: string[] = [];
    if (isNode()) {
      try {
        const { onGpu } = await initNode('node-gpu', load);
        if (onGpu) {
          return {
            ...base,
            backend: 'node-gpu',
            tfBackend: 'tensorflow',
            device: 'gpu',
            reason: 'auto: tfjs-node-gpu on a GPU',
          };
        }
        skipped.push('tfjs-node-gpu is installed but runs on the CPU');
      } catch (err) {
        const msg = (err as Error).message;
        skipped.push(msg.includes('not installed') ? 'no tfjs-node-gpu' : msg);
      }
    }
    const p = await probeForAuto();
    if (p.available && !p.software) {
      try {
        return await useWebGPU(p, because(skipped, `WebGPU ${p.reason}`));
      } catch (err) {
        skipped.push(`WebGPU failed: ${(err as Error).message}`);
      }
    } else {
      skipped.push(p.available ? `WebGPU ${p.reason} is slower than wasm` : `no WebGPU (${p.reason})`);
    }
    try {
      return await useWasm(because(skipped, 'using wasm'));
    } catch (err) {
      skipped.push(`wasm failed: ${(err as Error).message}`);
    }
    return useCpu(because(skipped, 'using cpu'));
  }

  /** Quiet: ask a child process first; load Dawn here only for a hardware adapter that will be used. */
  async function probeForAuto(): Promise<WebGPUProbe> {
    if (options.quiet && !options.loadModule && isNode()) {
      const child = await probeInChild(importModule);
      if (child) {
        if (child.stderr.trim()) quietLog.push(child.stderr.trim());
        if (!child.probe.available || child.probe.software) return child.probe;
      }
    }
    return probeWebGPU({ loadModule: load });
  }
}

function because(skipped: string[], chosen: string): string {
  return `auto: ${[...skipped, chosen].join('; ')}`;
}

function processEnv(): Record<string, string | undefined> {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
}
