import * as tf from '@tensorflow/tfjs';
import { expect, it, vi } from 'vitest';
import { wasmRuntime } from '../src/backend/wasm-runtime.js';
import { initBackend, matMul, wasmHeapStats } from '../src/index.js';

// Its own file (its own process): wasm starts once per process, here under a faked TF.js version.
vi.mock('@tensorflow/tfjs', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@tensorflow/tfjs')>()),
  version_core: '4.23.0',
}));

it('an untested TF.js minor: wasm starts without core hooks, one warning, the reason in BackendInfo', async () => {
  const warnings: string[] = [];
  const info = await initBackend('wasm', { warn: (m) => warnings.push(m) });
  expect(info.backend).toBe('wasm');
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(
    /hooks into TF.js skipped \(TF.js 4.23.0 is not the tested 4.22.x\): TF.js's own kernels run every op \(slower\); a full heap may abort/,
  );
  expect(info.skippedHooks).toBe('TF.js 4.23.0 is not the tested 4.22.x');
  expect(info.wasm?.skippedHooks).toBe(info.skippedHooks);
  expect(info.wasm?.kernels).toBe('none');
  expect(info.wasm?.kernelThreads).toBe(1);
  expect(wasmRuntime.active).toBe(false);
  // The heap is TF.js's own, unshared and unguarded: no live bytes are counted.
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
  expect(wasmHeapStats()?.liveBytes).toBe(0);
  // Still computes, on TF.js's own kernels.
  const c = matMul(a, b);
  expect(Array.from(c.dataSync())).toEqual([19, 22, 43, 50]);
  tf.dispose([a, b, c]);
});
