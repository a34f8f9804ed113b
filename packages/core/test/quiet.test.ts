import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { initBackend } from '../src/index.js';

// A fresh process (vitest forks per file): nothing has written to the cpu backend yet.
describe('initBackend quiet', () => {
  it('keeps the TF.js "install tfjs-node" banner out of the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const info = await initBackend('cpu', { quiet: true });
    tf.tidy(() => tf.tensor([1, 2, 3]).add(1).dataSync());
    expect(warn.mock.calls.flat().join(' ')).not.toMatch(/tfjs-node/);
    expect(info.quietLog).toEqual([]);
    warn.mockRestore();
  });
});
