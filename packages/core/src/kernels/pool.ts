import { KernelError } from '../errors.js';
import type { KernelExports } from './wasm-kernels.js';

/*
 * Matrix products on every core, in Node. TF.js never starts wasm threads in Node and its heap is not
 * shared, so other threads cannot read tensors where they lie: a product big enough to pay for it is
 * copied (operands in, product out) into one shared memory, where the calling thread and N−1 worker
 * threads each run the same kernel over their own block of rows. A row is computed exactly as on one
 * thread, so the result is bitwise the same for every thread count.
 *
 * Protocol, one slot of the control array per worker: IDLE → (caller) JOB → (worker) DONE | FAILED →
 * (caller) IDLE. The caller waits with a deadline, so a worker that died cannot hang a training step.
 */

const IDLE = 0;
const JOB = 1;
const DONE = 2;
const FAILED = 3;
/** Ints per slot: state, then the 16 arguments of the kernel's matmul. */
const SLOT = 17;
const WAIT_MS = 120_000;
/** The most bytes a product may stage (operands + result); bigger ones (GPT-2's vocabulary head) run on one thread. */
const MAX_STAGED = 96 * 2 ** 20;
const PAGE = 65536;

// Runs in each worker (CommonJS, `eval`): instantiate the kernel on the shared memory, then serve jobs.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, slot, scratch } = workerData;
const ctrl = new Int32Array(control);
const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
kernel.setScratch(scratch);
const at = slot * ${SLOT};
for (;;) {
  let s;
  while ((s = Atomics.load(ctrl, at)) !== ${JOB}) Atomics.wait(ctrl, at, s);
  let state = ${DONE};
  try {
    kernel.matmul(...ctrl.subarray(at + 1, at + ${SLOT}));
  } catch {
    state = ${FAILED};
  }
  Atomics.store(ctrl, at, state);
  Atomics.notify(ctrl, at);
}
`;

/** The product's shape and operands as the kernel takes them (byte strides), with host views to copy. */
export interface PoolProduct {
  batch: number;
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  aStrides: [number, number, number];
  b: Float32Array;
  bStrides: [number, number, number];
  bias?: Float32Array;
  /** Where the (batch, m, n) row-major product goes. */
  out: Float32Array;
}

export class KernelPool {
  readonly threads: number;
  readonly #memory: WebAssembly.Memory;
  readonly #control: Int32Array;
  readonly #main: KernelExports;
  readonly #dataStart: number;
  readonly #workers: { terminate(): Promise<number> }[] = [];

  private constructor(threads: number, memory: WebAssembly.Memory, main: KernelExports, dataStart: number) {
    this.threads = threads;
    this.#memory = memory;
    this.#control = new Int32Array(new SharedArrayBuffer(4 * SLOT * threads));
    this.#main = main;
    this.#dataStart = dataStart;
  }

  /**
   * Starts `threads − 1` worker threads (Node's worker_threads; they never keep the process alive).
   * `moduleFor` gives the kernel module importing a shared memory; `instantiate` an instance on it.
   */
  static async start(
    threads: number,
    moduleFor: () => WebAssembly.Module,
    instantiate: (memory: WebAssembly.Memory) => KernelExports,
  ): Promise<KernelPool> {
    const { Worker } = (await import(
      /* @vite-ignore */ 'node:worker_threads'
    )) as typeof import('node:worker_threads');
    const probe = instantiate(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }));
    const scratch = Math.ceil(probe.scratchBytes() / 64) * 64;
    const dataStart = Math.ceil((threads * scratch) / PAGE) * PAGE;
    const maxPages = (dataStart + MAX_STAGED) / PAGE + 1;
    const memory = new WebAssembly.Memory({ initial: dataStart / PAGE + 1, maximum: maxPages, shared: true });
    const main = instantiate(memory);
    main.setScratch(0);
    const pool = new KernelPool(threads, memory, main, dataStart);
    const module = moduleFor();
    for (let slot = 1; slot < threads; slot++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module, memory, control: pool.#control.buffer, slot, scratch: slot * scratch },
      });
      worker.unref();
      pool.#workers.push(worker);
    }
    return pool;
  }

  /** Whether `p` is worth splitting: enough rows for every thread and enough work per byte copied. */
  worthIt(batch: number, m: number, n: number, k: number, bytes: number): boolean {
    const flops = 2 * batch * m * n * k;
    return m >= 8 * this.threads && bytes <= MAX_STAGED && flops >= 1e7 && flops / bytes >= 24;
  }

  /** Runs one product split by rows over all threads; throws if a worker fails or does not answer. */
  run(p: PoolProduct): void {
    const cBytes = p.batch * p.m * p.n * 4;
    // Staged back to back: a, b, bias, c (16-byte aligned for the kernel's vector loads).
    const align = (x: number) => Math.ceil(x / 16) * 16;
    const aAt = this.#dataStart;
    const bAt = align(aAt + p.a.byteLength);
    const biasAt = align(bAt + p.b.byteLength);
    const cAt = align(biasAt + (p.bias?.byteLength ?? 0));
    const end = cAt + cBytes;
    const grow = Math.ceil((end - this.#memory.buffer.byteLength) / PAGE);
    if (grow > 0) this.#memory.grow(grow);
    const heap = new Float32Array(this.#memory.buffer);
    heap.set(p.a, aAt / 4);
    heap.set(p.b, bAt / 4);
    if (p.bias) heap.set(p.bias, biasAt / 4);

    const [aBatch, aRow, aCol] = p.aStrides;
    const [bBatch, bRow, bCol] = p.bStrides;
    const args = (m0: number, m1: number) => [
      p.batch,
      m1 - m0,
      p.n,
      p.k,
      aAt + m0 * aRow,
      aBatch,
      aRow,
      aCol,
      bAt,
      bBatch,
      bRow,
      bCol,
      cAt + m0 * p.n * 4,
      p.m * p.n * 4,
      p.n * 4,
      p.bias ? biasAt : 0,
    ];
    // Rows in blocks of 4 (the kernel's tile), as evenly as that allows; the caller takes the first block.
    const per = Math.ceil(p.m / this.threads / 4) * 4;
    const ctrl = this.#control;
    for (let slot = 1; slot < this.threads; slot++) {
      const m0 = Math.min(p.m, slot * per);
      const m1 = Math.min(p.m, m0 + per);
      const at = slot * SLOT;
      if (m0 === m1) continue;
      ctrl.set(args(m0, m1), at + 1);
      Atomics.store(ctrl, at, JOB);
      Atomics.notify(ctrl, at);
    }
    let failure: unknown;
    try {
      this.#main.matmul(...(args(0, Math.min(p.m, per)) as Parameters<KernelExports['matmul']>));
    } catch (err) {
      failure = err;
    }
    // Always collect every worker, also after a failure here, so no job is left running into the next call.
    for (let slot = 1; slot < this.threads; slot++) {
      const at = slot * SLOT;
      const deadline = Date.now() + WAIT_MS;
      while (Atomics.load(ctrl, at) === JOB) {
        if (Atomics.wait(ctrl, at, JOB, deadline - Date.now()) === 'timed-out') {
          failure ??= new KernelError(`kernel worker ${slot} did not answer within ${WAIT_MS / 1000} s`);
          break;
        }
      }
      if (Atomics.load(ctrl, at) === FAILED) failure ??= new KernelError(`kernel worker ${slot} failed`);
      Atomics.store(ctrl, at, IDLE);
    }
    if (failure) throw failure;
    p.out.set(new Float32Array(this.#memory.buffer, cAt, p.batch * p.m * p.n));
  }

  /** Stops the workers (they also end with the process). */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
