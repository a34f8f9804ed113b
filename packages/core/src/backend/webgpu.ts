import * as tf from '@tensorflow/tfjs';
import { isNode } from '../env.js';
import { BackendUnavailableError } from '../errors.js';
import { isModuleNotFound, type ModuleLoader } from './load.js';
import { registerWebGPUFactory, type WebGPULimits } from './webgpu-device.js';

/*
 * WebGPU: the browser's navigator.gpu, or in Node the `webgpu` npm package (Dawn) installed as
 * navigator.gpu. tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is first
 * imported, so Dawn goes in first.
 */

/** What the adapter says about itself (GPUAdapterInfo); empty strings where the platform hides it. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface WebGPUProbe {
  available: boolean;
  /** Software rasteriser (lavapipe/llvmpipe, SwiftShader, WARP): correct but slower than wasm. */
  software: boolean;
  adapter?: AdapterInfo;
  /** Why there is no adapter, or what it is. */
  reason: string;
}

// Just the parts of the WebGPU API used here (TypeScript's DOM lib has no WebGPU types).
export interface GPUAdapterLike {
  info?: Partial<AdapterInfo> & { isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}
interface GPULike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GPUAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GPULike;
  globals: Record<string, unknown>;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|\bwarp\b/i;

/** navigator.gpu, installing Dawn's in Node first (once: it stays as navigator.gpu). Throws with the fix. */
async function getGPU(load: ModuleLoader): Promise<GPULike> {
  const nav = (globalThis as { navigator?: { gpu?: GPULike } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!isNode()) {
    throw new BackendUnavailableError(
      "webgpu: this browser has no WebGPU (navigator.gpu is undefined; it needs a secure context and a recent Chrome/Edge/Safari/Firefox): use a WebGPU browser or choose 'wasm'",
    );
  }
  let mod: DawnModule;
  try {
    mod = (await load('webgpu')) as DawnModule;
  } catch (err) {
    const fix = isModuleNotFound(err)
      ? "the optional dependency 'webgpu' (Dawn for Node) is not installed: run `npm install webgpu@0.6.2`"
      : `the 'webgpu' package (Dawn) failed to load: ${(err as Error).message}`;
    throw new BackendUnavailableError(`webgpu: ${fix}, or choose 'wasm'`, { cause: err });
  }
  // Dawn's globals (GPUBufferUsage, GPUMapMode, ...) are what tfjs-backend-webgpu reads.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis))
      Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  const dawn = mod.create([]);
  if (nav) Object.defineProperty(nav, 'gpu', { value: dawn, configurable: true, writable: true });
  else
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: dawn },
      configurable: true,
      writable: true,
    });
  return dawn;
}

function describe(adapter: GPUAdapterLike): { info: AdapterInfo; software: boolean } {
  const raw = adapter.info ?? {};
  const info: AdapterInfo = {
    vendor: raw.vendor ?? '',
    architecture: raw.architecture ?? '',
    device: raw.device ?? '',
    description: raw.description ?? '',
  };
  const software =
    raw.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    SOFTWARE.test(`${info.architecture} ${info.device} ${info.description}`);
  return { info, software };
}

const NO_ADAPTER_FIX =
  'install GPU drivers, or for a software adapter in Node on Linux libvulkan1 + mesa-vulkan-drivers (Debian 12: from bookworm-backports)';

/** Looks for a WebGPU adapter without creating a device. Never throws. */
export async function probeWebGPU(load: ModuleLoader): Promise<WebGPUProbe> {
  let gpu: GPULike;
  try {
    gpu = await getGPU(load);
  } catch (err) {
    return { available: false, software: false, reason: (err as Error).message };
  }
  let adapter: GPUAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { available: false, software: false, reason: `requestAdapter failed: ${(err as Error).message}` };
  }
  return adapterProbe(adapter);
}

/** The probe's answer for an adapter (or none); also used for what a child process found. */
export function adapterProbe(adapter: GPUAdapterLike | null): WebGPUProbe {
  if (!adapter) {
    return { available: false, software: false, reason: `navigator.gpu found no adapter: ${NO_ADAPTER_FIX}` };
  }
  const { info, software } = describe(adapter);
  const name = [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' / ');
  return {
    available: true,
    software,
    adapter: info,
    reason: `${software ? 'software' : 'hardware'} adapter ${name}`,
  };
}

/**
 * Makes 'webgpu' the tf backend on a device with `limits` (see webgpu-device.ts); returns backend-webgpu's
 * kernels for the caller to register. The caller has probed an adapter.
 */
export async function initWebGPU(
  limits: WebGPULimits,
  warn: (m: string) => void,
): Promise<typeof import('@transformer-kit/backend-webgpu')> {
  // Literal specifiers: bundlers split them into their own chunks, loaded only when WebGPU is chosen.
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as { WebGPUBackend?: unknown };
  const kernels = await import('@transformer-kit/backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    throw new BackendUnavailableError(
      'webgpu: @tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it did not register; do not import it yourself, initBackend does',
    );
  }
  registerWebGPUFactory(limits, mod.WebGPUBackend, warn, kernels.rawDispatchCount);
  let ok: boolean;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (err) {
    throw new BackendUnavailableError(`webgpu: creating the device failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!ok)
    throw new BackendUnavailableError("webgpu: TF.js could not initialise the WebGPU device; choose 'wasm'");
  await tf.ready();
  return kernels;
}
