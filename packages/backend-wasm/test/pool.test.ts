import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KernelPool, type WasmRuntime, withLogicalCores } from '../src/index.js';
import { startWasm } from './setup.js';

/** The error the runtime's owner passes in (core passes its KernelError). */
class OwnersKernelError extends Error {}
const kernelError = (message: string) => new OwnersKernelError(message);

let runtime: WasmRuntime;
beforeAll(async () => {
  runtime = await startWasm();
});

describe('the pool itself (the protocol pages share with Node)', () => {
  /** A pool on a small shared memory of its own: scratch for two threads, then `dataAt` free for operands. */
  const poolOn = (module: () => WebAssembly.Module) => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    const main = runtime.instantiate(memory);
    const scratchBytes = Math.ceil(main.scratchBytes() / 64) * 64;
    main.setScratch(0);
    return {
      memory,
      start: () =>
        KernelPool.start(
          2,
          { memory, module: module(), main, names: ['matmul'], scratch: (slot) => slot * scratchBytes },
          kernelError,
        ),
      dataAt: 2 * scratchBytes,
    };
  };

  it("a worker that traps fails the job with the owner's kernel error and leaves the pool working", async () => {
    const { memory, start, dataAt } = poolOn(() => runtime.sharedModule());
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
      expect(() => pool.run(bad)).toThrow(OwnersKernelError);
      // The worker's own error, not swallowed: wasm's out-of-bounds trap, named by kernel.
      expect(() => pool.run(bad)).toThrow(/kernel worker 1 failed in matmul: .*out of bounds/);
      // A trap on the calling thread is typed too (after the worker's share was collected).
      const badMain = [job(memory.buffer.byteLength - 64), job(c)];
      expect(() => pool.run(badMain)).toThrow(OwnersKernelError);
      expect(() => pool.run(badMain)).toThrow(/kernel matmul failed on the calling thread: .*out of bounds/);
      // Both threads' shares, in place: every entry of both products exactly k.
      pool.run([job(c), job(c + m * n * 4)]);
      const out = new Float32Array(memory.buffer, c, 2 * m * n);
      expect(out.every((v) => v === k)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("a worker that cannot start rejects start with the owner's kernel error", async () => {
    // An empty module: the worker finds no kernel to set up and fails before it serves.
    const { start } = poolOn(() => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])));
    const started = start();
    await expect(started).rejects.toThrow(OwnersKernelError);
    await expect(started).rejects.toThrow(/kernel worker 1 failed/);
  });

  it('refuses a heap that is not shared', async () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    await expect(
      KernelPool.start(
        2,
        { memory, module: runtime.sharedModule(), main: {}, names: [], scratch: () => 0 },
        kernelError,
      ),
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
