import * as tf from '@tensorflow/tfjs';
import { instrument } from './harness.js';

/*
 * Starts TF.js's WebGPU backend on Dawn (the `webgpu` package) the way core's initBackend does, without
 * core (this package may not depend on it), and instruments it (dispatch counts, device errors).
 */

interface Dawn {
  create(flags: string[]): unknown;
  globals: Record<string, unknown>;
}

export async function startWebGPU(): Promise<void> {
  const dawn = (await import('webgpu')) as unknown as Dawn;
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis))
      Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU adapter');
  await tf.ready();
  instrument();
}
