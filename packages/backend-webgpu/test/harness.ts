import * as tf from '@tensorflow/tfjs';
import { rawDispatchCount } from '../src/index.js';

/*
 * What the kernel checks (checks.ts) need from the device, in Node (Dawn) and in a page (Chromium) alike:
 * dispatch counts (a kernel that declined dispatches nothing), every WebGPU error a check's work raised,
 * and no leaked tensors. No test framework: a failed check throws.
 */

interface GPUErrorLike {
  message: string;
}
interface DeviceLike {
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GPUErrorLike | null>;
  addEventListener?(type: 'uncapturederror', fn: (e: { error?: GPUErrorLike }) => void): void;
}
interface BackendLike {
  device: DeviceLike;
  runWebGPUProgram: (...a: unknown[]) => unknown;
}

const SCOPES = ['validation', 'out-of-memory', 'internal'] as const;
const counter = { programs: 0 };
/** Errors the device reported outside any check's error scopes. */
const uncaptured: string[] = [];

/** Counts the programs TF.js's webgpu backend (the active one) dispatches and listens for device errors. */
export function instrument(): void {
  if (tf.getBackend() !== 'webgpu') throw new Error(`the active backend is ${tf.getBackend()}, not webgpu`);
  const backend = tf.backend() as unknown as BackendLike;
  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (...a: unknown[]) => {
    counter.programs++;
    return run(...a);
  };
  backend.device.addEventListener?.('uncapturederror', (e) => {
    uncaptured.push(e.error?.message ?? 'an uncaptured device error');
  });
}

/** Dispatches `fn` makes: TF.js programs (this package's program kernels) and this package's raw pipelines. */
export function dispatchesOf<T>(fn: () => T): [T, number] {
  const before = counter.programs + rawDispatchCount();
  const out = fn();
  return [out, counter.programs + rawDispatchCount() - before];
}

/**
 * Runs one check under the device's error scopes: it throws if the check did, if the device reported a
 * validation, out-of-memory or internal error for its work (TF.js would only print it), or if it leaked
 * tensors. Each check reads its results back, so its work has been submitted when the scopes are popped.
 */
export async function runCheck(check: () => Promise<void>): Promise<void> {
  const device = (tf.backend() as unknown as BackendLike).device;
  const before = tf.memory().numTensors;
  for (const f of SCOPES) device.pushErrorScope(f);
  let failure: unknown;
  try {
    await check();
  } catch (err) {
    failure = err;
  }
  const errors = (await Promise.all(SCOPES.map(() => device.popErrorScope()))).filter((e) => e);
  errors.push(...uncaptured.splice(0).map((message) => ({ message })));
  if (errors.length) throw new Error(`WebGPU errors: ${errors.map((e) => e!.message).join(' | ')}`);
  if (failure) throw failure;
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`${leaked} tensors leaked`);
}

/**
 * A control for runCheck itself: a buffer with usages WebGPU forbids together (MAP_READ | STORAGE), which the
 * device rejects with a validation error and TF.js would never see. runCheck must throw on it.
 */
export async function invalidBuffer(): Promise<void> {
  const device = (tf.backend() as unknown as BackendLike).device as DeviceLike & {
    createBuffer(d: { size: number; usage: number }): { destroy(): void };
  };
  device.createBuffer({ size: 16, usage: 0x1 | 0x80 }).destroy();
}

/** Throws unless `actual` and `expected` are the same JSON. */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== e) throw new Error(`${what}: got ${a.slice(0, 200)}, expected ${e.slice(0, 200)}`);
}

/** Throws unless `value` ≤ `limit`. */
export function assertAtMost(value: number, limit: number, what: string): void {
  if (!(value <= limit)) throw new Error(`${what}: ${value} > ${limit}`);
}

/** A kernel's output tensor read back and disposed; throws if the kernel declined (undefined). */
export async function read(t: tf.Tensor | undefined): Promise<Float32Array> {
  if (!t) throw new Error('the kernel declined');
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}
