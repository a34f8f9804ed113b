import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeviceError,
  DeviceLimitError,
  initBackend,
  Trainer,
  TransformerKitError,
  webgpuDevice,
} from '../src/index.js';
import { batch, TinyNet } from './tiny-net.js';

// TF.js's WebGPU backend only prints device errors and returns zeros; core's device turns each into a typed
// error at the read-back of the work that caused it. A device with the spec's default limits (128 MiB
// binding) is what mobile adapters give, and on lavapipe the adapter's own binding maximum is the same.

const GPUBufferUsageStorage = 0x80;
const MiB = 1024 * 1024;

/** A validation error on the device, as TF.js would cause it (a buffer over maxBufferSize). */
function injectValidationError(): void {
  const dev = webgpuDevice()!;
  dev.device.createBuffer({ size: dev.maxBufferSize * 2, usage: GPUBufferUsageStorage });
}

beforeAll(async () => {
  await initBackend('webgpu', { limits: 'default' });
});
afterAll(async () => {
  await initBackend('webgpu');
});

describe('limits', () => {
  it("'default' creates a device with the spec's limits, 'adapter' with the adapter's", async () => {
    await initBackend('webgpu', { limits: 'default' });
    const d = webgpuDevice()!;
    expect(d.limitsMode).toBe('default');
    expect(d.maxStorageBufferBindingSize).toBe(128 * MiB);
    expect(d.maxBufferSize).toBe(256 * MiB);
    await initBackend('webgpu', { limits: 'adapter' });
    const a = webgpuDevice()!;
    expect(a.limitsMode).toBe('adapter');
    expect(a.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * MiB);
    expect(a.maxBufferSize).toBeGreaterThan(256 * MiB); // lavapipe: 4 GiB
    const x = tf.tensor1d([1, 2, 3]);
    expect(Array.from(await x.square().data())).toEqual([1, 4, 9]);
    await initBackend('webgpu', { limits: 'default' });
  });

  it('rejects an unknown limits mode with a typed error', async () => {
    await expect(initBackend('webgpu', { limits: 'huge' as 'default' })).rejects.toThrow(/limits must be/);
  });
});

describe('an op over the binding limit', () => {
  it("throws DeviceLimitError naming the limit before dispatch: GPT-2's 50257 x 768 table", async () => {
    // The lookup that gave GPT-2 small all-zero logits: the table (154 MB) is over the 128 MiB binding.
    const table = tf.tensor2d(new Float32Array(50257 * 768).fill(0.5), [50257, 768]);
    const ids = tf.tensor1d([0, 50256], 'int32');
    const before = tf.memory().numTensors;
    const dispatches = webgpuDevice()!.dispatches;
    let err: unknown;
    try {
      tf.gather(table, ids);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect(err).toBeInstanceOf(TransformerKitError);
    const e = err as DeviceLimitError;
    expect(e.code).toBe('DEVICE');
    expect(e.limit).toBe('maxStorageBufferBindingSize');
    expect(e.max).toBe(128 * MiB);
    expect(e.requested).toBe(50257 * 768 * 4);
    expect(e.message).toMatch(/GatherProgram .*\[1,1,50257,768\].*maxStorageBufferBindingSize of 134217728/);
    expect(webgpuDevice()!.dispatches).toBe(dispatches);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([table, ids]);
  });

  it('names maxBufferSize for an output over the buffer limit', async () => {
    const a = tf.ones([8192, 1]);
    const b = tf.ones([1, 9000]); // (8192, 9000) floats = 295 MB > 256 MiB
    expect(() => tf.matMul(a, b)).toThrow(DeviceLimitError);
    try {
      tf.matMul(a, b);
    } catch (e) {
      expect((e as DeviceLimitError).limit).toBe('maxBufferSize');
    }
    tf.dispose([a, b]);
  });
});

describe('device errors TF.js would swallow', () => {
  it('surface at data() as DeviceError, and later work reads normally', async () => {
    const x = tf.tensor1d([1, 2, 3, 4]);
    const y = x.mul(3);
    injectValidationError();
    const err = await y.data().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).kind).toBe('validation');
    expect((err as DeviceError).message).toMatch(/max buffer size/);
    // The tensor read under the error stays unreadable (TF.js cached zeros for it); new work is fine.
    await expect(y.data()).rejects.toBeInstanceOf(DeviceError);
    expect(Array.from(await x.add(1).data())).toEqual([2, 3, 4, 5]);
    tf.dispose([x, y]);
  });

  it('unwind a training step: DeviceError, weights and step count unchanged, then training goes on', async () => {
    const model = new TinyNet();
    const trainer = new Trainer(model, { lr: 1e-2 });
    const { ids, targets } = batch();
    const before = Object.fromEntries(
      await Promise.all(
        model.namedParameters().map(async ([n, p]) => [n, Array.from(await p.data())] as const),
      ),
    );
    const tensors = tf.memory().numTensors;
    const err = await trainer
      .step(() => {
        const loss = model.loss(ids, targets);
        injectValidationError(); // as if a kernel of this step had been rejected
        return loss;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(trainer.stepCount).toBe(0);
    for (const [n, p] of model.namedParameters()) expect(Array.from(await p.data())).toEqual(before[n]);
    expect(tf.memory().numTensors).toBe(tensors);
    const ok = await trainer.step(() => model.loss(ids, targets));
    expect(ok.step).toBe(1);
    expect(Number.isFinite(ok.loss)).toBe(true);
    trainer.dispose();
    model.dispose();
    tf.dispose([ids, targets]);
  });
});
