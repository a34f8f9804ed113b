import * as tf from '@tensorflow/tfjs';
import { isNode } from '../env.js';
import { BackendUnavailableError } from '../errors.js';
import { isModuleNotFound, type ModuleLoader } from './load.js';

/*
 * TensorFlow's C library through @tensorflow/tfjs-node(-gpu): optional peers that register the
 * 'tensorflow' backend when imported. They are loaded by name at run time, never bundled.
 */

export const NODE_PACKAGES = {
  'node-gpu': {
    name: '@tensorflow/tfjs-node-gpu',
    needs: 'Linux x64 or Windows x64 with an NVIDIA GPU, driver > 450.x, CUDA Toolkit 11.2 and cuDNN 8.1.0',
  },
  node: {
    name: '@tensorflow/tfjs-node',
    needs: 'Linux x64, macOS or Windows x64 (it downloads the TensorFlow C library at install)',
  },
} as const;

export interface NodeBackendResult {
  /** TensorFlow placed ops on a GPU. */
  onGpu: boolean;
}

/** Loads tfjs-node or tfjs-node-gpu and makes 'tensorflow' the tf backend. */
export async function initNode(which: 'node' | 'node-gpu', load: ModuleLoader): Promise<NodeBackendResult> {
  const pkg = NODE_PACKAGES[which];
  const install = `npm install ${pkg.name}@4.22.0 (needs ${pkg.needs})`;
  if (!isNode()) {
    throw new BackendUnavailableError(
      `${which}: ${pkg.name} runs only in Node, not in a browser: choose 'webgpu' or 'wasm'`,
    );
  }
  try {
    await load(pkg.name);
  } catch (err) {
    const why = isModuleNotFound(err)
      ? `${pkg.name} is not installed`
      : `${pkg.name} failed to load (${firstLine(err)})`;
    throw new BackendUnavailableError(
      `${which}: ${why}. Fix: ${install}; or choose 'auto', 'wasm' or 'cpu'`,
      {
        cause: err,
      },
    );
  }
  if (!tf.findBackendFactory('tensorflow')) {
    throw new BackendUnavailableError(
      `${which}: ${pkg.name} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs: install ${pkg.name} at the same version as @tensorflow/tfjs (4.22.0)`,
    );
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('tensorflow');
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new BackendUnavailableError(
      `${which}: TensorFlow's native backend failed to start. Fix: ${install}`,
    );
  }
  await tf.ready();
  // NodeJSKernelBackend asks TensorFlow at construction whether a GPU device exists.
  const backend = tf.backend() as { isUsingGpuDevice?: boolean };
  return { onGpu: backend.isUsingGpuDevice === true };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0] ?? '';
}
