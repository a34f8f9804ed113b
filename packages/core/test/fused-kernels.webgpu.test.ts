import * as tf from '@tensorflow/tfjs';
import { webgpuKernels } from '@transformer-kit/backend-webgpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  dropout,
  gelu,
  geluTanh,
  globalNorm,
  initBackend,
  layerNorm,
  linear,
  linearCrossEntropy,
  registerFusedKernels,
  unregisterFusedKernels,
  webgpuDevice,
} from '../src/index.js';

/*
 * core's ops on WebGPU with backend-webgpu's fused kernels against the same ops as plain TF.js kernels on
 * the same device (the reference path): values and gradients within 1e-5 relative, and the dispatches
 * each op and its gradient cost, before → after.
 */

beforeAll(async () => {
  expect((await initBackend('webgpu')).backend).toBe('webgpu');
});
afterEach(() => registerFusedKernels('webgpu', webgpuKernels));

const seeded = (shape: number[], seed: number, scale = 2) =>
  tf.randomUniform(shape, -scale, scale, 'float32', seed);

/** Values and gradients of `f` at `inputs`, read back, and the dispatches they took. */
async function run(
  f: (...x: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
): Promise<{ out: Float32Array[]; dispatches: number }> {
  const before = tf.memory().numTensors;
  const d0 = webgpuDevice()!.dispatches;
  const tensors = tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...x: tf.Tensor[]) => f(...x).sum() as tf.Scalar)(inputs);
    return [f(...inputs), value, ...grads];
  });
  const dispatches = webgpuDevice()!.dispatches - d0;
  const out = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  expect(tf.memory().numTensors).toBe(before);
  return { out, dispatches };
}

/** Within 1e-5 of b, relative to max(|b|, floor · max |b|): entries near zero are judged on the output's scale. */
function close(a: Float32Array, b: Float32Array, floor: number, what: string): void {
  expect(a.length).toBe(b.length);
  const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor * scale));
  expect(worst, what).toBeLessThanOrEqual(1e-5);
}

const counts: Record<string, [number, number]> = {};

/** Runs `f` fused and unfused; results agree; returns [unfused, fused] dispatches. */
async function compare(name: string, f: (...x: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], floor = 1e-2) {
  const fused = await run(f, inputs);
  unregisterFusedKernels('webgpu');
  const plain = await run(f, inputs);
  registerFusedKernels('webgpu', webgpuKernels);
  for (const [i, o] of fused.out.entries()) close(o, plain.out[i]!, floor, `${name} output ${i}`);
  counts[name] = [plain.dispatches, fused.dispatches];
  expect(fused.dispatches).toBeLessThan(plain.dispatches);
  tf.dispose(inputs);
}

describe('core ops on webgpu, fused vs TF.js kernels', () => {
  it('gelu and geluTanh (B, T, 4D) with odd sizes', async () => {
    // TF.js's erf is Abramowitz–Stegun 7.1.26 (absolute error 1.5e-7), so the reference itself is off by
    // ~4e-7 at |x| = 5: compared on the output's scale (the kernel meets 1e-5 of float64 in backend-webgpu)
    await compare('gelu', (x) => gelu(x), [seeded([2, 7, 131], 1, 5)]);
    await compare('geluTanh', (x) => geluTanh(x), [seeded([2, 7, 131], 2, 5)]);
  });

  it('layerNorm with its three gradients (the gain and bias through sumLeading)', async () => {
    await compare('layerNorm', (x, g, b) => layerNorm(x, g, b, 1e-12).mul(seeded([3, 5, 771], 9)), [
      seeded([3, 5, 771], 3, 4),
      seeded([771], 4),
      seeded([771], 5),
    ]);
  });

  it('linear: the bias gradient is sumLeading', async () => {
    await compare('linear', (x, w, b) => linear(x, w, b), [
      seeded([4, 9, 33], 6),
      seeded([33, 17], 7),
      seeded([17], 8),
    ]);
  });

  it('crossEntropy over a 50,257-way row with ignored targets', async () => {
    const targets = tf.tensor1d([5, -100, 50256, 7], 'int32');
    await compare('crossEntropy', (l) => crossEntropy(l, targets), [seeded([4, 50257], 10, 8)], 1e-4);
    targets.dispose();
  });

  it('linearCrossEntropy chunked over the vocabulary', async () => {
    const targets = tf.tensor1d([3, 1000, -100, 2047, 0, 5], 'int32');
    await compare(
      'linearCrossEntropy (chunks of 512)',
      (x, w) => linearCrossEntropy(x, w, targets, { chunkSize: 512 }),
      [seeded([6, 64], 11), seeded([2048, 64], 12, 0.5)],
      1e-4,
    );
    targets.dispose();
  });

  it('globalNorm over a model-sized list of gradients', async () => {
    const grads = [seeded([30522, 16], 13), seeded([768], 14), seeded([3, 7], 15), seeded([70000], 16)];
    const f = () => globalNorm(grads);
    const fusedD0 = webgpuDevice()!.dispatches;
    const a = await f().data();
    const fusedDispatches = webgpuDevice()!.dispatches - fusedD0;
    unregisterFusedKernels('webgpu');
    const plainD0 = webgpuDevice()!.dispatches;
    const b = await f().data();
    counts.globalNorm = [webgpuDevice()!.dispatches - plainD0, fusedDispatches];
    expect(Math.abs(a[0]! - b[0]!) / b[0]!).toBeLessThan(1e-5);
    tf.dispose(grads);
  });

  it('dropout: the device mask at the rate, its gradient through the same mask', async () => {
    const x = tf.ones([64, 1000]);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads(
          (t: tf.Tensor) => dropout(t, 0.25, true, 42).mul(t).sum() as tf.Scalar,
        )([x]);
        value.dispose();
        return [dropout(x, 0.25, true, 42), grads[0]!];
      });
    unregisterFusedKernels('webgpu');
    let d0 = webgpuDevice()!.dispatches;
    tf.dispose(step());
    const plainDispatches = webgpuDevice()!.dispatches - d0;
    registerFusedKernels('webgpu', webgpuKernels);
    const before = tf.memory().numTensors;
    d0 = webgpuDevice()!.dispatches;
    const [y, g] = step();
    counts['dropout (x·mask, with gradient)'] = [plainDispatches, webgpuDevice()!.dispatches - d0];
    const [yv, gv] = [await y!.data(), await g!.data()];
    const keepValue = Math.fround(1 / 0.75);
    const kept = yv.filter((v) => v === keepValue).length;
    // kept: x / (1 − p) forward, and d/dx (x·dropout(x)) = 2x/(1 − p) there; dropped: 0 and 0
    expect(yv.filter((v) => v !== 0 && v !== keepValue)).toHaveLength(0);
    expect(gv.every((v, i) => v === 2 * yv[i]!)).toBe(true);
    expect(Math.abs(kept / yv.length - 0.75)).toBeLessThan(0.01);
    tf.dispose([y!, g!, x]);
    expect(tf.memory().numTensors).toBe(before - 1);
  });

  it('prints the dispatch counts', () => {
    console.log('dispatches (TF.js kernels → fused):');
    for (const [name, [a, b]] of Object.entries(counts)) console.log(`  ${name}: ${a} → ${b}`);
  });
});
