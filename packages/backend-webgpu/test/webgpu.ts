import * as tf from '@tensorflow/tfjs';

/*
 * Starts TF.js's WebGPU backend on Dawn (the `webgpu` package) the way core's initBackend does, without
 * core (this package may not depend on it), and counts the programs TF.js dispatches.
 */

interface Dawn {
  create(flags: string[]): unknown;
  globals: Record<string, unknown>;
}

export const counter = { dispatches: 0 };

export async function startWebGPU(): Promise<void> {
  const dawn = (await import('webgpu')) as unknown as Dawn;
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis))
      Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU adapter');
  await tf.ready();
  const backend = tf.backend() as unknown as { runWebGPUProgram: (...a: unknown[]) => unknown };
  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (...a: unknown[]) => {
    counter.dispatches++;
    return run(...a);
  };
}

/** Dispatches `fn` makes. */
export function dispatchesOf<T>(fn: () => T): [T, number] {
  const before = counter.dispatches;
  const out = fn();
  return [out, counter.dispatches - before];
}

/** Seeded values in [lo, hi) (mulberry32), so a failure repeats. */
export function values(n: number, seed: number, lo = -4, hi = 4): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/**
 * Each value within `rtol` of the float64 reference, relative to max(|ref|, floor): `floor` is the size
 * below which a value counts as zero for this quantity (rounding of the inputs alone moves it that much).
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  floor: number,
): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e) / Math.max(Math.abs(e), floor);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  if (!(worst <= rtol))
    throw new Error(`value ${at}: ${actual[at]} vs ${expected[at]} (relative error ${worst} > ${rtol})`);
}
