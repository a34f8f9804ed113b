import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { BackendUnavailableError, initBackend } from '../src/index.js';

// Its own file (its own process): a wasm backend that failed to start cannot be retried in-process.

it('wasm whose binaries are missing: typed error with the fix; no fallback to cpu', async () => {
  await initBackend('cpu');
  const err = await initBackend('wasm', { wasmPaths: '/nonexistent/', warn: () => {} }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendUnavailableError);
  expect((err as Error).message).toMatch(/wasm: .*\.wasm files were not found.*wasmPaths/);
  expect(tf.getBackend()).toBe('cpu');
});
