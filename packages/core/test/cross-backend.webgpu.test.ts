import { describe, expect, it } from 'vitest';
import { forwardBackward, maxDiff, train } from './tiny-net.js';

// WebGPU (Dawn) computes what cpu and wasm compute, and the same model trains on it.

describe('cpu, wasm and webgpu agree', () => {
  it('embedding → linear → layerNorm → gelu → linear → crossEntropy: loss and every gradient within 1e-4', async () => {
    const cpu = await forwardBackward('cpu');
    const wasm = await forwardBackward('wasm');
    const webgpu = await forwardBackward('webgpu');
    expect(maxDiff(cpu, wasm)).toBeLessThan(1e-4);
    expect(maxDiff(cpu, webgpu)).toBeLessThan(1e-4);
  });
});

describe('training on webgpu', () => {
  it('lowers the loss and keeps numTensors flat across 50 steps', async () => {
    const { losses, numTensors } = await train('webgpu', 50);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    expect(new Set(numTensors).size).toBe(1);
  });
});
