import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { expect, it } from 'vitest';
import { meanPool } from '../src/index.js';

// On WebGPU an int32 mask cast to float32 shares the int buffer, and reducing it over T compiles an
// invalid transpose shader: the mean came out wrong with no exception. meanPool must agree with cpu.
it('meanPool on webgpu equals cpu for an int32 padding mask', async () => {
  const [b, t, d] = [8, 128, 256];
  const hidden = Array.from({ length: b * t * d }, (_, i) => Math.sin(i));
  const mask = Array.from({ length: b * t }, (_, i) => (i % t < 20 + 13 * Math.floor(i / t) ? 1 : 0));
  const run = async () =>
    tf.tidy(() => meanPool(tf.tensor3d(hidden, [b, t, d]), tf.tensor2d(mask, [b, t], 'int32'))).data();
  await initBackend('cpu');
  const expected = await run();
  await initBackend('webgpu');
  const got = await run();
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - expected[i]!));
  expect(maxDiff).toBeLessThan(1e-5);
});
