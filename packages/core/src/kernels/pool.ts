import { isNode } from '../env.js';
import { KernelError } from '../errors.js';
import type { KernelExports } from './wasm-kernels.js';

/*
 * Matrix products on every core. In Node, TF.js never starts wasm threads and its heap is not shared; in a
 * page, TF.js's threads are XNNPACK's, and core's kernels would run on the page's thread alone. So a product
 * big enough to pay for it is copied (operands in, product out) into one shared memory, where the calling
 * thread and N−1 workers (Node: worker_threads; pages: Web Workers, which need a cross-origin isolated page
 * for SharedArrayBuffer) each run the same kernel over their own block of rows. A row is computed exactly as
 * on one thread, so the result is bitwise the same for every thread count.
 *
 * Protocol, one slot of the control array per worker: IDLE → (caller) JOB → (worker) DONE | FAILED →
 * (caller) IDLE. The caller waits with a deadline, so a worker that died cannot hang a training step.
 * What differs by platform is only how a worker starts (spawnNode, spawnWeb) and how the caller waits
 * (waitWhileJob: a page's main thread may not block in Atomics.wait, so it spins there).
 */

const IDLE = 0;
const JOB = 1;
const DONE = 2;
const FAILED = 3;
/** Ints per slot: state, then the 16 arguments of the kernel's matmul. */
const SLOT = 17;
const WAIT_MS = 120_000;
/** How long a worker may take to start serving. */
const START_MS = 30_000;
/** The most bytes a product may stage (operands + result); bigger ones (GPT-2's vocabulary head) run on one thread. */
const MAX_STAGED = 96 * 2 ** 20;
const PAGE = 65536;

// Runs in each worker, in both platforms: instantiate the kernel on the shared memory, say so, serve jobs.
const SERVE = `
function serve({ module, memory, control, slot, scratch }, ready) {
  const ctrl = new Int32Array(control);
  const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
  kernel.setScratch(scratch);
  ready();
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
}
`;
/** Node: CommonJS (an eval worker), its data in workerData. */
const NODE_WORKER = `${SERVE}
const { workerData, parentPort } = require('node:worker_threads');
serve(workerData, () => parentPort.postMessage('ready'));
`;
/** Pages: a classic worker from a Blob URL, its data in the first message. */
const WEB_WORKER = `${SERVE}
onmessage = (e) => {
  onmessage = null;
  serve(e.data, () => postMessage('ready'));
};
`;

/** What a worker gets: the kernel module, the shared memory and control buffer, its slot and scratch. */
interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  slot: number;
  scratch: number;
}

interface KernelWorker {
  terminate(): unknown;
}

/** Settles when the worker says 'ready'; rejects on its error or exit, or after START_MS. */
function whenReady(
  slot: number,
  listen: (onMessage: (data: unknown) => void, onFail: (why: string) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${START_MS / 1000} s`), START_MS);
    function fail(why: string) {
      clearTimeout(timer);
      reject(new KernelError(`kernel worker ${slot} ${why}`));
    }
    listen((data) => {
      if (data !== 'ready') return;
      clearTimeout(timer);
      resolve();
    }, fail);
  });
}

/** Node: a worker thread that never keeps the process alive once it serves. */
async function spawnNode(init: WorkerInit): Promise<KernelWorker> {
  const { Worker } = (await import(
    /* @vite-ignore */ 'node:worker_threads'
  )) as typeof import('node:worker_threads');
  const worker = new Worker(NODE_WORKER, { eval: true, workerData: init });
  try {
    await whenReady(init.slot, (onMessage, onFail) => {
      worker.on('message', onMessage);
      worker.once('error', (err) => onFail(`failed: ${err.message}`));
      worker.once('exit', (code) => onFail(`exited (${code})`));
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.removeAllListeners();
  worker.unref();
  return worker;
}

/** Pages (and workers): a Web Worker from a Blob URL of WEB_WORKER. */
async function spawnWeb(init: WorkerInit, url: string): Promise<KernelWorker> {
  const worker = new Worker(url, { name: `transformer-kit kernel ${init.slot}` });
  try {
    await whenReady(init.slot, (onMessage, onFail) => {
      worker.onmessage = (e) => onMessage(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        onFail(`failed: ${e.message || 'error starting the worker'}`);
      };
      worker.postMessage(init);
    });
  } catch (err) {
    worker.terminate();
    throw err;
  } finally {
    worker.onmessage = worker.onerror = null;
  }
  return worker;
}

/** Whether this thread may block in Atomics.wait (not a page's main thread: it throws there). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits while the slot holds JOB; false if the deadline (performance.now() ms) passed first. Blocks where
 * the thread may, else spins: the worker holds its core for the length of one product's block of rows.
 */
function waitWhileJob(ctrl: Int32Array, at: number, deadline: number, block: boolean): boolean {
  while (Atomics.load(ctrl, at) === JOB) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (block) Atomics.wait(ctrl, at, JOB, left);
  }
  return true;
}

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
  /** Whether the caller blocks in Atomics.wait (else it spins: a page's main thread). */
  readonly #block = canBlock();
  /** A worker did not answer in time: it may still write its slot, so the pool is no longer used. */
  #lost = false;
  #workers: KernelWorker[] = [];

  private constructor(threads: number, memory: WebAssembly.Memory, main: KernelExports, dataStart: number) {
    this.threads = threads;
    this.#memory = memory;
    this.#control = new Int32Array(new SharedArrayBuffer(4 * SLOT * threads));
    this.#main = main;
    this.#dataStart = dataStart;
  }

  /**
   * Starts `threads − 1` workers (Node: worker_threads, which never keep the process alive; elsewhere Web
   * Workers) and resolves once every one serves; rejects with a KernelError, all stopped, if one does not.
   * `moduleFor` gives the kernel module importing a shared memory; `instantiate` an instance on it.
   */
  static async start(
    threads: number,
    moduleFor: () => WebAssembly.Module,
    instantiate: (memory: WebAssembly.Memory) => KernelExports,
  ): Promise<KernelPool> {
    const probe = instantiate(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }));
    const scratch = Math.ceil(probe.scratchBytes() / 64) * 64;
    const dataStart = Math.ceil((threads * scratch) / PAGE) * PAGE;
    const maxPages = (dataStart + MAX_STAGED) / PAGE + 1;
    const memory = new WebAssembly.Memory({ initial: dataStart / PAGE + 1, maximum: maxPages, shared: true });
    const main = instantiate(memory);
    main.setScratch(0);
    const pool = new KernelPool(threads, memory, main, dataStart);
    const module = moduleFor();
    const inits = Array.from({ length: threads - 1 }, (_, i) => ({
      module,
      memory,
      control: pool.#control.buffer as SharedArrayBuffer,
      slot: i + 1,
      scratch: (i + 1) * scratch,
    }));
    const url = isNode()
      ? undefined
      : URL.createObjectURL(new Blob([WEB_WORKER], { type: 'text/javascript' }));
    const started = await Promise.allSettled(
      inits.map((init) => (url === undefined ? spawnNode(init) : spawnWeb(init, url))),
    );
    if (url !== undefined) URL.revokeObjectURL(url);
    for (const r of started) if (r.status === 'fulfilled') pool.#workers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    return pool;
  }

  /** Whether `p` is worth splitting: enough rows for every thread and enough work per byte copied. */
  worthIt(batch: number, m: number, n: number, k: number, bytes: number): boolean {
    const flops = 2 * batch * m * n * k;
    return !this.#lost && m >= 8 * this.threads && bytes <= MAX_STAGED && flops >= 1e7 && flops / bytes >= 24;
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
    const deadline = performance.now() + WAIT_MS;
    for (let slot = 1; slot < this.threads; slot++) {
      const at = slot * SLOT;
      if (!waitWhileJob(ctrl, at, deadline, this.#block)) {
        this.#lost = true;
        failure ??= new KernelError(
          `kernel worker ${slot} did not answer within ${WAIT_MS / 1000} s; products run on one thread from now on`,
        );
        continue;
      }
      if (Atomics.load(ctrl, at) === FAILED) failure ??= new KernelError(`kernel worker ${slot} failed`);
      Atomics.store(ctrl, at, IDLE);
    }
    if (failure) throw failure;
    p.out.set(new Float32Array(this.#memory.buffer, cAt, p.batch * p.m * p.n));
  }

  /** Stops the workers (they also end with the process or page). */
  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
