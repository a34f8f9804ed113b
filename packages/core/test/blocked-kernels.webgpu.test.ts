import * as tf from '@tensorflow/tfjs';
import { addInBlocks, sumSquaresInBlocks } from '@transformer-kit/backend-webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { globalNorm, initBackend, Rng, webgpuDevice } from '../src/index.js';

// What a training step does to a table larger than one storage binding besides AdamW: TF.js's autodiff adds
// the two gradients of a tied table (its Add kernel, wrapped by backend-webgpu), and the gradient norm
// squares and sums it. Both run in binding-sized blocks of the same buffers.

const MiB = 1024 * 1024;

beforeAll(async () => {
  await initBackend('webgpu', { limits: 'default' });
});

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

describe('blocked element-wise kernels over the binding limit', () => {
  it('addInBlocks equals a + b with 1 KiB bindings (odd size, a short last block)', async () => {
    const n = 3 * 1111;
    const a = tf.tensor2d(random(n, 1), [3, 1111]);
    const b = tf.tensor2d(random(n, 2), [3, 1111]);
    const d0 = webgpuDevice()!.dispatches;
    const info = addInBlocks(a, b, 1024)!;
    expect(webgpuDevice()!.dispatches - d0).toBe(Math.ceil(n / 256));
    const sum = tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
    expect(sum.shape).toEqual([3, 1111]);
    const [got, x, y] = await Promise.all([sum.data(), a.data(), b.data()]);
    for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.fround(x[i]! + y[i]!));
    tf.dispose([a, b, sum]);
  });

  it('sumSquaresInBlocks equals a float64 Σx² within 1e-6 relative; undefined where the tensor fits', async () => {
    const n = 100_003;
    const data = random(n, 3);
    const x = tf.tensor1d(data);
    let want = 0;
    for (const v of data) want += v * v;
    const s = sumSquaresInBlocks(x, 4096)!; // 1,024 values a block: 98 blocks, the last short
    expect(Math.abs((await s.data())[0]! - want) / want).toBeLessThan(1e-6);
    expect(sumSquaresInBlocks(x)).toBeUndefined();
    tf.dispose([x, s]);
  });
});

describe("a 50,257 x 768 tied table at the spec's 128 MiB binding", () => {
  it("TF.js's autodiff adds its two gradients, and the gradient norm reads it, without DeviceLimitError", async () => {
    expect(webgpuDevice()!.maxStorageBufferBindingSize).toBe(128 * MiB);
    const [rows, cols] = [50257, 768];
    const init = tf.tensor2d(new Float32Array(rows * cols).fill(0.25), [rows, cols]);
    const table = tf.variable(init, true);
    init.dispose();
    // Two uses whose gradients are whole tables (1 and 2 everywhere), as GPT-2's lookup and tied head are.
    const use = (k: number) =>
      tf.customGrad((t) => ({
        value: tf.scalar(0),
        gradFunc: () => tf.tensor2d(new Float32Array((t as tf.Tensor).size).fill(k), [rows, cols]),
      }));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(
      () => (use(1)(table) as tf.Scalar).add(use(2)(table) as tf.Scalar) as tf.Scalar,
      [table],
    );
    const g = grads[table.name]!;
    const values = await g.data();
    expect(values.length).toBe(rows * cols);
    expect([values[0], values[rows * cols - 1], values[35_000_000]]).toEqual([3, 3, 3]);
    expect(values.every((v) => v === 3)).toBe(true);
    const norm = globalNorm([g]);
    expect((await norm.data())[0]).toBeCloseTo(Math.sqrt(9 * rows * cols), 0);
    tf.dispose([value, g, norm]);
    expect(tf.memory().numTensors).toBe(before);
    table.dispose();
  });
});
