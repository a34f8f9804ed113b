import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { webgpuKernels as k, missingHook } from '../src/index.js';

/*
 * Off WebGPU, and on a 'webgpu' backend without the TF.js internals the kernels use, every kernel declines
 * (returns undefined), so core runs TF.js's ops; the missing hook is named once.
 */

const ADAMW = { b1: 0.9, b2: 0.999, eps: 1e-8, stepSize: 1e-3, sqrtBc2: 1, gradScale: 1, decayFactor: 1 };
const x = () => tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);

/** Calls every kernel with valid inputs; returns what each gave. */
function callAll(): unknown[] {
  const t = x();
  const v = tf.tensor1d([1, 1, 1]);
  const keep = tf.tensor2d([1, 0, 1, 1, 1, 0], [2, 3], 'bool');
  const out = [
    k.gelu('erf', t),
    k.geluGrad('tanh', t, t),
    k.layerNorm(t, v, v, 1e-5),
    k.layerNormGrad(t, t, v, tf.ones([2, 1])),
    k.dropoutMask([2, 3], 0.5, 1),
    k.dropout(t, keep, 2),
    k.logSumExp(t),
    k.expShift(t, tf.ones([2, 1])),
    k.sumSquares(t),
    k.sumLeading(t),
    k.attentionSoftmax(t, 1),
    k.attentionSoftmaxGrad(t, t, 1),
    k.batchMatMul(tf.ones([1, 2, 3]), tf.ones([1, 2, 3]), false, true),
    // AdamW answers false where it declines (core then composes TF.js ops).
    k.adamWDevice(tf.variable(v), v, tf.variable(v), tf.variable(v), ADAMW) || undefined,
  ];
  return out;
}

describe('kernels decline where they cannot run', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('every kernel of the interface is here, and each returns undefined on cpu', () => {
    expect(Object.keys(k).sort()).toEqual(
      [
        'adamWDevice',
        'attentionSoftmax',
        'attentionSoftmaxGrad',
        'batchMatMul',
        'dropout',
        'dropoutMask',
        'expShift',
        'gelu',
        'geluGrad',
        'layerNorm',
        'layerNormGrad',
        'logSumExp',
        'sumLeading',
        'sumSquares',
      ].sort(),
    );
    tf.tidy(() => {
      for (const r of callAll()) expect(r).toBeUndefined();
    });
  });

  describe("on a 'webgpu' backend without runWebGPUProgram", () => {
    beforeAll(async () => {
      const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
      tf.registerBackend('webgpu', () => new Cpu(), 0);
      await tf.setBackend('webgpu');
    });
    afterAll(async () => {
      await tf.setBackend('cpu');
      tf.removeBackend('webgpu');
    });

    it('every kernel declines and the reason is given once', () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      expect(missingHook()).toMatch(/no runWebGPUProgram/);
      tf.tidy(() => {
        for (const r of callAll()) expect(r).toBeUndefined();
        for (const r of callAll()) expect(r).toBeUndefined();
      });
      const ours = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('backend-webgpu'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toMatch(/no runWebGPUProgram.*TF\.js's ops run/);
      warn.mockRestore();
    });
  });
});
