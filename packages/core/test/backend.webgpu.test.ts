import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, probeWebGPU } from '../src/index.js';

// The real WebGPU path: Dawn (`webgpu` package) in Node on whatever Vulkan driver is installed; in CI
// that is Mesa's lavapipe, a software adapter.

describe('initBackend webgpu (Dawn)', () => {
  it('selects webgpu and reports the adapter', async () => {
    const probe = await probeWebGPU();
    expect(probe.available).toBe(true);
    const info = await initBackend('webgpu');
    expect(info).toMatchObject({
      requested: 'webgpu',
      backend: 'webgpu',
      tfBackend: 'webgpu',
      device: 'gpu',
    });
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.adapter).toEqual(probe.adapter);
    expect(info.softwareAdapter).toBe(probe.software);
    expect(info.adapter!.vendor.length).toBeGreaterThan(0);
    // Mesa's software Vulkan drivers must be recognised as software.
    if (/llvmpipe|lavapipe/i.test(info.adapter!.description + info.adapter!.device)) {
      expect(info.softwareAdapter).toBe(true);
    }
  });

  it('runs a matmul and its gradient on the GPU device', async () => {
    await initBackend('webgpu');
    const a = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tf.variable(
      tf.tensor2d([
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
    );
    const { value, grads } = tf.variableGrads(() => tf.matMul(a, b).sum() as tf.Scalar, [b]);
    expect(await value.data()).toEqual(new Float32Array([4 + 5 + 10 + 11]));
    // d(sum(a @ b))/db = aᵀ @ ones = column sums of a, repeated.
    expect(Array.from(await grads[b.name]!.data())).toEqual([5, 5, 7, 7, 9, 9]);
    tf.dispose([a, b, value, ...Object.values(grads)]);
  });

  it('auto skips a software adapter and takes a hardware one', async () => {
    const probe = await probeWebGPU();
    const info = await initBackend('auto');
    if (probe.software) {
      expect(info.backend).toBe('wasm');
      expect(info.reason).toContain('software adapter');
    } else {
      expect(info.backend).toBe('webgpu');
      expect(info.softwareAdapter).toBe(false);
    }
  });
});
