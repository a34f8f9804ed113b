import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import {
  adamWDevice,
  addInBlocks,
  installBlockedAdd,
  rawDispatchCount,
  sumSquaresInBlocks,
  webgpuKernels,
} from '../src/index.js';

// Off TF.js's webgpu backend every kernel declines (false / undefined), so core composes TF.js ops; the
// kernels themselves are checked on WebGPU by checks.ts (kernels.webgpu.test.ts, browser.mjs) and through
// core (core/test/adamw.webgpu.test.ts, blocked-kernels.webgpu.test.ts).

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('declines on another backend and leaves the tensors untouched', async () => {
  const p = tf.variable(tf.tensor1d([1, 2, 3]));
  const m = tf.variable(tf.zeros([3]), false);
  const v = tf.variable(tf.zeros([3]), false);
  const g = tf.tensor1d([1, 1, 1]);
  const k = { b1: 0.9, b2: 0.999, eps: 1e-8, stepSize: 1e-3, sqrtBc2: 1, gradScale: 1, decayFactor: 1 };
  expect(adamWDevice(p, g, m, v, k)).toBe(false);
  expect(webgpuKernels.adamWDevice(p, g, m, v, k)).toBe(false);
  expect(Array.from(await p.data())).toEqual([1, 2, 3]);
  expect(sumSquaresInBlocks(g, 4)).toBeUndefined();
  expect(webgpuKernels.sumSquares(g)).toBeUndefined();
  expect(addInBlocks(g, g, 4)).toBeUndefined();
  expect(rawDispatchCount()).toBe(0);
  tf.dispose([p, m, v, g]);
});

it("does not wrap an Add kernel where TF.js's webgpu backend is not loaded", () => {
  expect(tf.getKernel('Add', 'webgpu')).toBeUndefined();
  expect(installBlockedAdd()).toBe(false);
});
