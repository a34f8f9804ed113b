import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { BATCH_MATMUL, WasmRuntime, WasmRuntimeError } from '../src/index.js';

// Its own file (its own process): the runtime where TF.js's wasm heap cannot be found (here: on cpu, the
// stand-in for an emscripten module that no longer exposes its memory).
beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('register() is false and says why where there is no heap to run on; nothing is registered', async () => {
  const runtime = new WasmRuntime();
  expect(await runtime.register()).toBe(false);
  expect(runtime.unavailable).toMatch(/TF.js's wasm heap \(Module.asm.memory\) not found/);
  expect(runtime.variant).toBeUndefined();
  expect(runtime.active).toBe(false);
  expect(tf.getKernel(BATCH_MATMUL, 'wasm')).toBeUndefined();
  expect(runtime.threads).toBe(1);
  // setThreads before a successful register changes nothing.
  expect(await runtime.setThreads(2)).toBe(1);
  expect(runtime.heapStats()).toBeUndefined();
  expect(runtime.guardHeap()).toBe("the heap guard found no _malloc/_free on TF.js's wasm module");
});

it("raises its owner's errors where given, its own branded one otherwise", async () => {
  class OwnersKernelError extends Error {}
  const owned = new WasmRuntime({ errors: { kernel: (m) => new OwnersKernelError(m) } });
  expect(() => owned.sharedModule()).toThrow(OwnersKernelError);
  const plain = new WasmRuntime();
  let err: unknown;
  try {
    plain.sharedModule();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WasmRuntimeError);
  expect((err as WasmRuntimeError).code).toBe('KERNEL');
  expect((err as Record<symbol, unknown>)[Symbol.for('transformer-kit.error')]).toBe(true);
});
