import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  fusedKernelNames,
  fusedKernels,
  gelu,
  globalNorm,
  initBackend,
  registerFusedKernels,
  unregisterFusedKernels,
} from '../src/index.js';

// The fused-op interface on cpu (which has no kernels of its own): a registered kernel is what the op
// runs, one that declines its input leaves the op to plain TF.js ops, and removal restores them.
describe('fused-op interface', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });
  afterEach(() => unregisterFusedKernels('cpu'));

  it('has no kernels on cpu until a backend package registers some', () => {
    expect(fusedKernelNames('cpu')).toEqual([]);
    expect(fusedKernels()).toEqual({});
  });

  it('runs a registered kernel, and the gradient kernel beside it', () => {
    const calls: string[] = [];
    registerFusedKernels('cpu', {
      gelu: (form, x) => {
        calls.push(`gelu:${form}`);
        return tf.mul(x, 2);
      },
      geluGrad: (form, _x, dy) => {
        calls.push(`geluGrad:${form}`);
        return tf.mul(dy, 3);
      },
    });
    const x = tf.tensor1d([0.5, -1, 2]);
    expect(Array.from(gelu(x).dataSync())).toEqual([1, -2, 4]);
    const dx = tf.grad((t: tf.Tensor) => gelu(t).sum())(x);
    expect(Array.from(dx.dataSync())).toEqual([3, 3, 3]);
    expect(calls).toEqual(['gelu:erf', 'gelu:erf', 'geluGrad:erf']);
    expect(fusedKernelNames('cpu')).toEqual(['gelu', 'geluGrad']);
    tf.dispose([x, dx]);
  });

  it('falls back to TF.js ops where the kernel declines, and after removal', () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    const reference = Array.from(gelu(x).dataSync());
    registerFusedKernels('cpu', { gelu: () => undefined });
    expect(Array.from(gelu(x).dataSync())).toEqual(reference);
    registerFusedKernels('cpu', { sumSquares: () => tf.scalar(16) });
    expect(globalNorm([x]).dataSync()[0]).toBe(4);
    unregisterFusedKernels('cpu');
    expect(globalNorm([x]).dataSync()[0]).toBeCloseTo(Math.sqrt(0.25 + 1 + 4), 6);
    x.dispose();
  });

  it('never asks a kernel for other dtypes', () => {
    registerFusedKernels('cpu', {
      sumSquares: () => {
        throw new Error('asked for an int32 tensor');
      },
    });
    const x = tf.tensor1d([3, 4], 'int32');
    expect(globalNorm([x]).dataSync()[0]).toBe(5);
    x.dispose();
  });
});
