import { defineConfig } from 'vitest/config';

/*
 * The one vitest setup every package uses (each package's vitest.config.ts re-exports it).
 *   normal suite:  test/**\/*.test.ts except *.webgpu.test.ts, run on cpu/wasm.
 *   WebGPU suite:  TK_WEBGPU_SUITE=1 selects only test/**\/*.webgpu.test.ts (they call initBackend('webgpu')).
 * scripts/test.mjs runs both and says what it skipped. Forks, not threads: the wasm and Dawn native
 * modules keep per-process state, and a fork per file keeps backends from leaking between files.
 */
const webgpuSuite = process.env.TK_WEBGPU_SUITE === '1';
const WEBGPU_FILES = 'test/**/*.webgpu.test.ts';

export default defineConfig({
  test: {
    include: webgpuSuite ? [WEBGPU_FILES] : ['test/**/*.test.ts'],
    exclude: webgpuSuite ? ['**/node_modules/**'] : ['**/node_modules/**', WEBGPU_FILES],
    pool: 'forks',
    // 2-core CI: two files at a time; a WebGPU file at a time (lavapipe already uses every core).
    maxWorkers: webgpuSuite ? 1 : 2,
    // A package whose tests vanished (renamed, excluded by a glob) must fail, not pass green.
    passWithNoTests: false,
    // No test reaches the internet: a Hub id that a test did not point at its local server goes to a closed
    // loopback port (connection refused) instead of huggingface.co.
    env: { HF_ENDPOINT: process.env.HF_ENDPOINT ?? 'http://127.0.0.1:9' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
