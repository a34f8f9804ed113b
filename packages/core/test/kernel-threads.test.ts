import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { KernelPool } from '@transformer-kit/backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wasmRuntime } from '../src/backend/wasm-runtime.js';
import { KernelError, TransformerKitError } from '../src/errors.js';
import {
  batchMatMul,
  crossEntropy,
  initBackend,
  kernelThreads,
  Linear,
  linear,
  Module,
  matMul,
  Rng,
  setKernelThreads,
  Trainer,
} from '../src/index.js';

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

describe("the runtime's errors are core's", () => {
  beforeAll(async () => {
    await initBackend('wasm', { threads: 1 });
  });

  it('a pool that cannot start rejects with KernelError (a TransformerKitError), as users catch it', async () => {
    // A heap that is not shared: the pool refuses it before starting a worker.
    const err = await KernelPool.start(
      2,
      {
        memory: new WebAssembly.Memory({ initial: 1 }),
        module: wasmRuntime.sharedModule(),
        main: {},
        names: [],
        scratch: () => 0,
      },
      wasmRuntime.errors.kernel,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toBeInstanceOf(TransformerKitError);
    expect((err as KernelError).code).toBe('KERNEL');
    expect((err as Error).message).toMatch(/not shared memory/);
  });
});
