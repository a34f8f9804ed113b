import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  DeviceError,
  initBackend,
  TransformerKitError,
  webgpuDevice,
} from '../src/index.js';

// The synchronous read-backs (dataSync, arraySync) and array() on core's WebGPU device. Error scopes answer
// only asynchronously, so a sync read throws what is already known and leaves what its own check finds to
// the next read; in Node (no OffscreenCanvas) TF.js cannot read the GPU synchronously at all.

const GPUBufferUsageStorage = 0x80;

/** A validation error on the device, as TF.js would cause it (a buffer over maxBufferSize). */
function injectValidationError(): void {
  const dev = webgpuDevice()!;
  dev.device.createBuffer({ size: dev.maxBufferSize * 2, usage: GPUBufferUsageStorage });
}

const tick = () => new Promise((r) => setTimeout(r, 50));

beforeAll(async () => {
  await initBackend('webgpu', { limits: 'default' });
});

describe('dataSync()/arraySync() on WebGPU', () => {
  it("of a tensor on the GPU in Node: a typed error that names data(), not TF.js's ReferenceError", async () => {
    const a = tf.ones([64, 64]);
    const y = tf.matMul(a, a); // large enough to run on the GPU, not TF.js's CPU hand-off
    const before = tf.memory().numTensors;
    expect(() => y.dataSync()).toThrow(BackendUnavailableError);
    expect(() => y.arraySync()).toThrow(/await tensor\.data\(\)/);
    expect(tf.memory().numTensors).toBe(before);
    expect((await y.data())[0]).toBe(64); // the async read is unaffected
    expect(y.dataSync()[0]).toBe(64); // and once read, the values are on the host
    tf.dispose([a, y]);
  });

  it('of a tensor the device rejected: DeviceError, also from arraySync() and array()', async () => {
    const x = tf.ones([64, 64]);
    const y = tf.matMul(x, x);
    injectValidationError();
    await expect(y.data()).rejects.toBeInstanceOf(DeviceError);
    expect(() => y.dataSync()).toThrow(DeviceError);
    expect(() => y.arraySync()).toThrow(DeviceError);
    await expect(y.array()).rejects.toBeInstanceOf(DeviceError);
    tf.dispose([x, y]);
  });

  it('an error found after a sync read is thrown by the next read, and that tensor stays unreadable', async () => {
    const y = tf.tensor1d([1, 2, 3]); // values on the host: dataSync needs no GPU read
    injectValidationError();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]); // cannot know yet
    await tick(); // the check it started has answered
    const z = tf.tidy(() => tf.ones([64, 64]).matMul(tf.ones([64, 64])));
    const err = await z.data().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toBeInstanceOf(TransformerKitError);
    expect((err as DeviceError).message).toMatch(/max buffer size/);
    expect(() => y.dataSync()).toThrow(DeviceError);
    // The error is reported once: new work reads normally.
    const w = tf.tidy(() => tf.ones([64, 64]).matMul(tf.ones([64, 64])));
    expect((await w.data())[0]).toBe(64);
    tf.dispose([y, z, w]);
  });

  it('an error already found is thrown by the next dataSync()', async () => {
    const y = tf.tensor1d([1, 2, 3]);
    injectValidationError();
    y.dataSync(); // starts the check
    await tick();
    const other = tf.tensor1d([4, 5]);
    expect(() => other.dataSync()).toThrow(DeviceError);
    expect(Array.from(other.dataSync())).toEqual([4, 5]); // reported once
    tf.dispose([y, other]);
  });
});
