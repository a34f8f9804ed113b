import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { importSharedMemory, withSharedHeap } from '../src/index.js';
import { startWasm } from './setup.js';

// (module (memory (export "memory") 2 10) (func (export "size") (result i32) memory.size)), assembled.
const DEFINES_MEMORY = Uint8Array.from([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 5, 4, 1, 1, 2, 10, 7, 17, 2, 6, 109, 101,
  109, 111, 114, 121, 2, 0, 4, 115, 105, 122, 101, 0, 0, 10, 6, 1, 4, 0, 63, 0, 11,
]);

describe('importSharedMemory', () => {
  it('turns a defined memory into a shared import with its limits, leaving the rest working', () => {
    expect(WebAssembly.Module.imports(new WebAssembly.Module(DEFINES_MEMORY))).toEqual([]);
    const changed = importSharedMemory(DEFINES_MEMORY)!;
    expect([changed.initial, changed.maximum]).toEqual([2, 10]);
    const module = new WebAssembly.Module(changed.bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 10, shared: true });
    const { exports } = new WebAssembly.Instance(module, { env: { memory } });
    expect(exports.memory).toBe(memory);
    memory.grow(3);
    expect((exports.size as () => number)()).toBe(5);
  });

  it('leaves alone what is not a module defining one plain memory', () => {
    expect(importSharedMemory(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toBeUndefined();
    // no memory section
    expect(importSharedMemory(Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0]))).toBeUndefined();
  });

  it('withSharedHeap restores WebAssembly.instantiate, also when the start fails', async () => {
    const original = WebAssembly.instantiate;
    const [, memory] = await withSharedHeap(async () => {
      expect(WebAssembly.instantiate).not.toBe(original);
      const { instance } = (await WebAssembly.instantiate(DEFINES_MEMORY, { env: {} })) as unknown as {
        instance: WebAssembly.Instance;
      };
      return instance;
    });
    expect(memory?.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(WebAssembly.instantiate).toBe(original);
    await expect(withSharedHeap(() => Promise.reject(new Error('no start')))).rejects.toThrow('no start');
    expect(WebAssembly.instantiate).toBe(original);
  });
});

describe("TF.js's wasm heap in Node", () => {
  beforeAll(async () => {
    await startWasm();
  });

  it('is shared memory, and TF.js computes on it as before', async () => {
    const wasm = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm;
    expect(wasm.asm.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const x = tf.tensor1d([1, -2, 3]);
    expect(Array.from(await x.square().add(1).data())).toEqual([2, 5, 10]);
    // Growth: a 64 MB tensor grows the heap, and its contents survive.
    const n = 16 * 2 ** 20;
    const big = tf.fill([n], 3);
    const ends = tf.concat([big.slice(0, 2), big.slice(n - 2, 2)]);
    expect(Array.from(await ends.data())).toEqual([3, 3, 3, 3]);
    expect(wasm.asm.memory.buffer.byteLength).toBeGreaterThan(4 * n);
    tf.dispose([x, big, ends]);
  });
});
