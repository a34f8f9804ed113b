import { describe, expect, it } from 'vitest';
import { forwardBackward, maxDiff, train } from './tiny-net.js';

// The same model gives the same numbers and trains on the CPU-side backends. The WebGPU half of this is
// cross-backend.webgpu.test.ts.

describe('cpu and wasm agree', () => {
  it('embedding → linear → layerNorm → gelu → linear → crossEntropy: loss and every gradient within 1e-4', async () => {
    const cpu = await forwardBackward('cpu');
    const wasm = await forwardBackward('wasm');
    expect(Number.isFinite(cpu.loss)).toBe(true);
    expect(Object.keys(wasm.grads)).toEqual(Object.keys(cpu.grads));
    expect(maxDiff(cpu, wasm)).toBeLessThan(1e-4);
  });
});

describe.each(['cpu', 'wasm'] as const)('training on %s', (backend) => {
  it('lowers the loss and keeps numTensors flat across 50 steps', async () => {
    const { losses, numTensors } = await train(backend, 50);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    expect(new Set(numTensors).size).toBe(1);
  });
});
