import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { withLogicalCores } from '../src/backend/wasm.js';
import { KernelError } from '../src/errors.js';
import {
  batchMatMul,
  crossEntropy,
  initBackend,
  Linear,
  linear,
  Module,
  matMul,
  Rng,
  Trainer,
} from '../src/index.js';
import { KernelPool } from '../src/kernels/pool.js';
import {
  instantiateKernel,
  kernelThreads,
  setKernelThreads,
  sharedModule,
} from '../src/kernels/wasm-kernels.js';

/** Two wide layers: every product is large enough for the thread pool. */
class Wide extends Module {
  readonly fc = this.module('fc', new Linear(256, 512, { rng: new Rng(1), std: 0.1 }));
  readonly out = this.module('out', new Linear(512, 256, { rng: new Rng(2), std: 0.1 }));
  loss(x: tf.Tensor, y: tf.Tensor): tf.Scalar {
    return crossEntropy(this.out.forward(this.fc.forward(x).relu()), y);
  }
}

const inputs = () => ({
  a: tf.randomNormal([300, 512], 0, 1, 'float32', 1),
  b: tf.randomNormal([512, 384], 0, 1, 'float32', 2),
  q: tf.randomNormal([6, 128, 64], 0, 1, 'float32', 3),
  w: tf.randomNormal([512, 2003], 0, 1, 'float32', 5) as tf.Tensor2D,
  bias: tf.randomNormal([2003], 0, 1, 'float32', 6) as tf.Tensor1D,
  k: tf.randomNormal([6, 128, 64], 0, 1, 'float32', 4),
});

describe('products on several threads (Node worker threads)', () => {
  beforeAll(async () => {
    await initBackend('wasm', { threads: 2 });
  });
  afterAll(async () => {
    await setKernelThreads(1);
  });

  it('starts a pool of the asked size and reports it', async () => {
    expect(kernelThreads()).toBe(2);
    const info = await initBackend('wasm', { threads: 2 });
    expect(info.wasm?.kernelThreads).toBe(2);
    await expect(initBackend('wasm', { threads: 0 })).rejects.toThrow(/threads must be an integer >= 1/);
  });

  it('gives bitwise the same products as one thread, every transpose flag and ragged rows', async () => {
    const { a, b, q, k, w, bias } = inputs();
    const run = () =>
      tf.tidy(() =>
        [
          matMul(a as tf.Tensor2D, b as tf.Tensor2D),
          batchMatMul(q, k, true),
          batchMatMul(q.slice([0, 0, 0], [6, 127, 64]), k.transpose([0, 2, 1])),
          // one- and two-row products (decoding): x·W with a bias, and x·Wᵀ (a tied head)
          linear(a.slice([0, 0], [1, 512]) as tf.Tensor2D, w, bias),
          batchMatMul(a.slice([0, 0], [2, 512]).expandDims(0), w.transpose().expandDims(0), true),
          // xᵀ·dy and dy·wᵀ, as in a linear layer's backward pass
          tf.grads((x: tf.Tensor, w: tf.Tensor) =>
            matMul(x as tf.Tensor2D, w as tf.Tensor2D)
              .square()
              .sum(),
          )([a, b]),
        ].flat(),
      );
    const two = run();
    await setKernelThreads(1);
    const one = run();
    await setKernelThreads(2);
    for (const [i, t] of two.entries()) expect(t.dataSync()).toEqual(one[i]!.dataSync());
    tf.dispose([...one, ...two, a, b, q, k, w, bias]);
  });

  it('trains step for step to the same losses as one thread, and survives a step that throws', async () => {
    const losses = async (threads: number) => {
      await setKernelThreads(threads);
      const model = new Wide();
      const trainer = new Trainer(model, { lr: 1e-2 });
      const x = tf.randomNormal([256, 256], 0, 1, 'float32', 5);
      const y = tf.randomUniformInt([256], 0, 256, 6);
      const out: number[] = [];
      for (let i = 0; i < 4; i++) out.push((await trainer.step(() => model.loss(x, y))).loss);
      // A failing step (its loss function throws after the pool ran the forward products) ...
      await expect(
        trainer.step(() => {
          model.loss(x, y);
          throw new Error('bad batch');
        }),
      ).rejects.toThrow('bad batch');
      // ... leaves the pool working.
      out.push((await trainer.step(() => model.loss(x, y))).loss);
      trainer.dispose();
      model.dispose();
      tf.dispose([x, y]);
      return out;
    };
    const one = await losses(1);
    const two = await losses(2);
    expect(two).toEqual(one);
    expect(two[4]!).toBeLessThan(two[0]!);
  });

  it('ends with the process: a script that used the pool exits by itself', () => {
    const script = fileURLToPath(new URL('./fixtures/kernel-products.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 2 ** 26,
      env: { ...process.env, TK_KERNEL_THREADS: '2' },
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).threads).toBe(2);
  });
});

describe('the pool itself (the protocol pages share with Node)', () => {
  beforeAll(async () => {
    await initBackend('wasm', { threads: 1 });
  });

  /** A pool on a small shared memory of its own: scratch for two threads, then `dataAt` free for operands. */
  const poolOn = (module: () => WebAssembly.Module) => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    const main = instantiateKernel(memory);
    const scratchBytes = Math.ceil(main.scratchBytes() / 64) * 64;
    main.setScratch(0);
    return {
      memory,
      start: () =>
        KernelPool.start(2, {
          memory,
          module: module(),
          main,
          names: ['matmul'],
          scratch: (slot) => slot * scratchBytes,
        }),
      dataAt: 2 * scratchBytes,
    };
  };

  it('a worker that traps fails the job with a KernelError and leaves the pool working', async () => {
    const { memory, start, dataAt } = poolOn(sharedModule);
    const pool = await start();
    try {
      const [m, k, n] = [8, 16, 32];
      const [a, b, c] = [dataAt, dataAt + m * k * 4, dataAt + m * k * 4 + k * n * 4];
      const heap = new Float32Array(memory.buffer);
      heap.fill(1, a / 4, c / 4);
      const job = (c0: number) => ({
        fn: 'matmul',
        args: [1, m, n, k, a, 0, k * 4, 4, b, 0, n * 4, 4, c0, 0, n * 4, 0],
      });
      // The worker's share writes past the end of the memory: only the worker traps.
      const bad = [job(c), job(memory.buffer.byteLength - 64)];
      expect(() => pool.run(bad)).toThrow(KernelError);
      // The worker's own error, not swallowed: wasm's out-of-bounds trap, named by kernel.
      expect(() => pool.run(bad)).toThrow(/kernel worker 1 failed in matmul: .*out of bounds/);
      // A trap on the calling thread is typed too (after the worker's share was collected).
      const badMain = [job(memory.buffer.byteLength - 64), job(c)];
      expect(() => pool.run(badMain)).toThrow(KernelError);
      expect(() => pool.run(badMain)).toThrow(/kernel matmul failed on the calling thread: .*out of bounds/);
      // Both threads' shares, in place: every entry of both products exactly k.
      pool.run([job(c), job(c + m * n * 4)]);
      const out = new Float32Array(memory.buffer, c, 2 * m * n);
      expect(out.every((v) => v === k)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('a worker that cannot start rejects start with a KernelError', async () => {
    // An empty module: the worker finds no kernel to set up and fails before it serves.
    const { start } = poolOn(() => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])));
    const started = start();
    await expect(started).rejects.toThrow(KernelError);
    await expect(started).rejects.toThrow(/kernel worker 1 failed/);
  });

  it('refuses a heap that is not shared', async () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    await expect(
      KernelPool.start(2, { memory, module: sharedModule(), main: {}, names: [], scratch: () => 0 }),
    ).rejects.toThrow(/not shared memory/);
  });
});

describe('withLogicalCores (pages: TF.js sizes XNNPACK from hardwareConcurrency / 2)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  const cores = () => (globalThis as { navigator: { hardwareConcurrency: number } }).navigator;

  it('reads 2·threads while the module starts, and the real count after, also after a failed start', async () => {
    const nav = Object.create({ hardwareConcurrency: 2 });
    vi.stubGlobal('navigator', nav);
    expect(await withLogicalCores(2, async () => cores().hardwareConcurrency)).toBe(4);
    expect(Object.hasOwn(nav, 'hardwareConcurrency')).toBe(false);
    expect(nav.hardwareConcurrency).toBe(2);
    await expect(
      withLogicalCores(3, async () => {
        expect(cores().hardwareConcurrency).toBe(6);
        throw new Error('no wasm');
      }),
    ).rejects.toThrow('no wasm');
    expect(Object.hasOwn(nav, 'hardwareConcurrency')).toBe(false);
  });

  it('leaves navigator alone when TF.js would not cap the pool, or without a count', async () => {
    const nav = Object.create({ hardwareConcurrency: 8 });
    vi.stubGlobal('navigator', nav);
    expect(await withLogicalCores(4, async () => cores().hardwareConcurrency)).toBe(8);
    expect(await withLogicalCores(undefined, async () => cores().hardwareConcurrency)).toBe(8);
  });
});
