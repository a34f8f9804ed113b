import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BACKEND_CHOICES,
  BackendUnavailableError,
  initBackend,
  probeWebGPU,
  resolveBackendChoice,
  UnknownBackendError,
  wasmKernelVariant,
} from '../src/index.js';

// Backend selection on this machine: cpu and wasm for real; node-gpu/node through the real loader (not
// installed here) and through stand-in modules; WebGPU through stand-in Dawn modules. The real Dawn +
// Vulkan path is in backend.webgpu.test.ts.

const notFound = (name: string) =>
  Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' });

/** A loader where nothing optional is installed. */
const nothingInstalled = async (name: string): Promise<never> => {
  throw notFound(name);
};

/**
 * Stand-in for @tensorflow/tfjs-node-gpu: importing it registers a 'tensorflow' backend, here the cpu
 * backend's class and kernels under that name, flagged the way NodeJSKernelBackend flags itself.
 */
function fakeTfjsNodeGpu(onGpu: boolean) {
  const loaded: string[] = [];
  const loader = async (name: string) => {
    loaded.push(name);
    if (name !== '@tensorflow/tfjs-node-gpu') throw notFound(name);
    if (!tf.findBackendFactory('tensorflow')) {
      for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
    }
    if (tf.findBackendFactory('tensorflow')) tf.removeBackend('tensorflow');
    const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
    tf.registerBackend('tensorflow', () =>
      Object.assign(new Cpu(), { isGPUPackage: true, isUsingGpuDevice: onGpu }),
    );
    return {};
  };
  return { loader, loaded };
}

/** Stand-in for the `webgpu` package (Dawn) whose adapter is `adapter` (null: none). */
function fakeDawn(adapter: object | null) {
  return async (name: string) => {
    if (name !== 'webgpu') throw notFound(name);
    return { create: () => ({ requestAdapter: async () => adapter }), globals: {} };
  };
}

const nav = globalThis as { navigator?: { gpu?: unknown } };
afterEach(() => {
  // A stand-in Dawn stays installed as navigator.gpu; remove it so each test starts without one.
  if (nav.navigator?.gpu) delete nav.navigator.gpu;
});

describe('initBackend', () => {
  it('cpu: selects TF.js cpu without loading the wasm or webgpu backends', async () => {
    const info = await initBackend('cpu');
    expect(info).toMatchObject({
      requested: 'cpu',
      backend: 'cpu',
      tfBackend: 'cpu',
      device: 'cpu',
      softwareAdapter: false,
    });
    expect(tf.getBackend()).toBe('cpu');
    // Kept out of the static import graph: nothing registered them.
    expect(tf.findBackendFactory('wasm')).toBeNull();
    expect(tf.findBackendFactory('webgpu')).toBeNull();
  });

  it("wasm: selects wasm with SIMD; in Node TF.js gets no threads, core's kernels get every core", async () => {
    const info = await initBackend('wasm');
    expect(info).toMatchObject({ backend: 'wasm', tfBackend: 'wasm', device: 'cpu' });
    expect(tf.getBackend()).toBe('wasm');
    expect(info.wasm).toEqual({
      simd: true,
      threads: false,
      threadsCount: 1,
      kernels: wasmKernelVariant(),
      kernelThreads: availableParallelism(),
    });
    expect(['simd', 'relaxed-simd']).toContain(info.wasm?.kernels);
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]);
    expect(y).toBe(11);
  });

  it('unknown names are a typed error listing the valid ones', async () => {
    const err = await initBackend('gpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownBackendError);
    expect((err as UnknownBackendError).code).toBe('UNKNOWN_BACKEND');
    for (const name of BACKEND_CHOICES) expect((err as Error).message).toContain(name);
  });

  it('reads TK_BACKEND when no choice is passed; an explicit choice wins', async () => {
    expect((await initBackend(undefined, { env: { TK_BACKEND: 'cpu' } })).backend).toBe('cpu');
    expect((await initBackend(undefined, { env: { TK_BACKEND: 'wasm' } })).backend).toBe('wasm');
    expect((await initBackend('cpu', { env: { TK_BACKEND: 'wasm' } })).backend).toBe('cpu');
    expect(resolveBackendChoice(undefined, {})).toBe('auto');
    expect(() => resolveBackendChoice(undefined, { TK_BACKEND: 'cuda' })).toThrow(
      /unknown backend 'cuda' \(from TK_BACKEND\)/,
    );
  });

  it('node-gpu not installed (real loader): typed error naming the package, CUDA and cuDNN; no fallback', async () => {
    await initBackend('cpu');
    const err = await initBackend('node-gpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('@tensorflow/tfjs-node-gpu is not installed');
    expect(msg).toContain('npm install @tensorflow/tfjs-node-gpu@4.22.0');
    expect(msg).toContain('CUDA Toolkit 11.2');
    expect(msg).toContain('cuDNN 8.1.0');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('node not installed (real loader): typed error naming @tensorflow/tfjs-node', async () => {
    await expect(initBackend('node')).rejects.toThrow(
      /@tensorflow\/tfjs-node is not installed.*npm install @tensorflow\/tfjs-node@4\.22\.0/,
    );
  });

  it('node-gpu through a stand-in on a GPU: device gpu, ops run on the tensorflow backend', async () => {
    const { loader, loaded } = fakeTfjsNodeGpu(true);
    const warnings: string[] = [];
    const info = await initBackend('node-gpu', { loadModule: loader, warn: (m) => warnings.push(m) });
    expect(loaded).toEqual(['@tensorflow/tfjs-node-gpu']);
    expect(info).toMatchObject({ backend: 'node-gpu', tfBackend: 'tensorflow', device: 'gpu', warnings: [] });
    expect(warnings).toEqual([]);
    expect(tf.getBackend()).toBe('tensorflow');
    expect(tf.tidy(() => Array.from(tf.tensor1d([1, 2, 3]).square().dataSync()))).toEqual([1, 4, 9]);
  });

  it('node-gpu silently on the CPU: reports device cpu and warns', async () => {
    const warnings: string[] = [];
    const info = await initBackend('node-gpu', {
      loadModule: fakeTfjsNodeGpu(false).loader,
      warn: (m) => warnings.push(m),
    });
    expect(info.device).toBe('cpu');
    expect(info.backend).toBe('node-gpu');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/runs on the CPU.*CUDA/);
    expect(info.warnings).toEqual(warnings);
  });

  it('auto: takes tfjs-node-gpu when it is on a GPU', async () => {
    const info = await initBackend('auto', { loadModule: fakeTfjsNodeGpu(true).loader });
    expect(info).toMatchObject({ requested: 'auto', backend: 'node-gpu', device: 'gpu' });
  });

  it('auto: skips tfjs-node-gpu on the CPU and a missing WebGPU, takes wasm, and says why', async () => {
    const info = await initBackend('auto', { loadModule: fakeTfjsNodeGpu(false).loader });
    expect(info.backend).toBe('wasm');
    expect(info.reason).toMatch(/tfjs-node-gpu is installed but runs on the CPU/);
    expect(info.reason).toMatch(/no WebGPU \(webgpu: the optional dependency 'webgpu'.*not installed/);
  });

  it('auto: skips a software WebGPU adapter (slower than wasm here)', async () => {
    const lavapipe = {
      info: {
        vendor: 'mesa',
        architecture: 'software',
        device: 'llvmpipe',
        description: 'llvmpipe (LLVM 15)',
      },
    };
    const info = await initBackend('auto', { loadModule: fakeDawn(lavapipe) });
    expect(info.backend).toBe('wasm');
    expect(info.reason).toMatch(/no tfjs-node-gpu; WebGPU software adapter mesa .*slower than wasm/);
  });

  it('auto with nothing optional installed: wasm', async () => {
    expect((await initBackend('auto', { loadModule: nothingInstalled })).backend).toBe('wasm');
  });

  it('webgpu without Dawn installed: typed error with the npm command; no fallback', async () => {
    await initBackend('cpu');
    await expect(initBackend('webgpu', { loadModule: nothingInstalled })).rejects.toThrow(
      /not installed: run `npm install webgpu@0\.6\.2`/,
    );
    expect(tf.getBackend()).toBe('cpu');
  });

  it('webgpu with no adapter: typed error naming the Vulkan packages', async () => {
    const err = await initBackend('webgpu', { loadModule: fakeDawn(null) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/found no adapter.*libvulkan1 \+ mesa-vulkan-drivers/);
  });

  it('probeWebGPU classifies adapters as software or hardware', async () => {
    const swiftshader = {
      info: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader' },
    };
    expect(await probeWebGPU({ loadModule: fakeDawn(swiftshader) })).toMatchObject({
      available: true,
      software: true,
    });
    delete nav.navigator!.gpu;
    const fallback = { info: { vendor: 'x', architecture: 'y', isFallbackAdapter: true } };
    expect((await probeWebGPU({ loadModule: fakeDawn(fallback) })).software).toBe(true);
    delete nav.navigator!.gpu;
    const nvidia = {
      info: { vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA GeForce RTX 3080' },
    };
    const p = await probeWebGPU({ loadModule: fakeDawn(nvidia) });
    expect(p).toMatchObject({
      available: true,
      software: false,
      adapter: { vendor: 'nvidia', architecture: 'ampere' },
    });
  });
});
