import * as tf from '@tensorflow/tfjs';
import { UnknownBackendError } from './errors.js';

// Minimal placeholder: cpu and wasm only. The full selection (auto, webgpu, node-gpu, node) replaces it.
export type BackendChoice = 'auto' | 'webgpu' | 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'node-gpu', 'node', 'wasm', 'cpu'];

export interface BackendInfo {
  backend: string;
  device: 'gpu' | 'cpu';
}

export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new UnknownBackendError(`unknown backend '${choice}'; valid: ${BACKEND_CHOICES.join(', ')}`);
  }
  const name = choice === 'cpu' ? 'cpu' : 'wasm';
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(name);
  await tf.ready();
  return { backend: name, device: 'cpu' };
}
