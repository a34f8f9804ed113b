/** Node (worker_threads) rather than a page or worker (Web Workers). */
const isNode = () =>
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

/** Makes the error the pool throws (the runtime's kernel error). */
export type KernelErrorFactory = (message: string) => Error;

/*
 * The runtime's kernels on every core. TF.js's wasm heap is shared between threads: in a cross-origin isolated page
 * its threaded build makes it so; in Node, where TF.js runs only its non-threaded build, the runtime makes its
 * memory a shared import while it starts (shared-heap.ts). The calling thread and N−1 workers
 * (Node: worker_threads; pages: Web Workers) each hold an instance of the kernel module on that heap and
 * run the same kernel over their own block of rows, reading and writing tensors where they lie. A row is
 * computed exactly as on one thread, so results are bitwise the same for every thread count.
 *
 * Protocol, one slot of the control array per worker: IDLE → (caller) JOB → (worker) DONE | FAILED →
 * (caller) IDLE. A job is a kernel export's index and up to MAX_ARGS i32 arguments. The caller waits with a
 * deadline, so a worker that died cannot hang a training step. What differs by platform is only how a
 * worker starts (spawnNode, spawnWeb) and how the caller waits (waitWhileJob: a page's main thread may not
 * block in Atomics.wait, so it spins there).
 */

const IDLE = 0;
const JOB = 1;
const DONE = 2;
const FAILED = 3;
/** The most i32 arguments a pooled kernel takes (matmul's 16). */
const MAX_ARGS = 16;
/** Ints per slot: state, kernel index, arguments. */
const SLOT = 2 + MAX_ARGS;
const WAIT_MS = 120_000;
/** Bytes per slot for a failed job's error message (UTF-8, zero-terminated). */
const MESSAGE_BYTES = 256;
/** How long a worker may take to start serving. */
const START_MS = 30_000;

// Runs in each worker, in both platforms: instantiate the kernel on the shared heap, say so, serve jobs.
const SERVE = `
function serve({ module, memory, control, messages, slot, scratch, names }, ready) {
  const ctrl = new Int32Array(control);
  const message = new Uint8Array(messages, slot * ${MESSAGE_BYTES}, ${MESSAGE_BYTES});
  const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
  kernel.setScratch(scratch);
  const fns = names.map((n) => kernel[n]);
  ready();
  const at = slot * ${SLOT};
  for (;;) {
    let s;
    while ((s = Atomics.load(ctrl, at)) !== ${JOB}) Atomics.wait(ctrl, at, s);
    let state = ${DONE};
    try {
      fns[ctrl[at + 1]](...ctrl.subarray(at + 2, at + ${SLOT}));
    } catch (err) {
      // The caller cannot receive a message while it waits: the reason goes next to the state.
      state = ${FAILED};
      message.fill(0);
      new TextEncoder().encodeInto(String(err?.message ?? err), message.subarray(0, ${MESSAGE_BYTES - 1}));
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

/** What a worker gets: the kernel module, the shared heap and control buffer, its slot, scratch, kernels. */
interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** MESSAGE_BYTES per slot: why the slot's last job failed. */
  messages: SharedArrayBuffer;
  slot: number;
  scratch: number;
  names: readonly string[];
}

interface KernelWorker {
  terminate(): unknown;
}

/** Settles when the worker says 'ready'; rejects on its error or exit, or after START_MS. */
function whenReady(
  kernelError: KernelErrorFactory,
  slot: number,
  listen: (onMessage: (data: unknown) => void, onFail: (why: string) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${START_MS / 1000} s`), START_MS);
    function fail(why: string) {
      clearTimeout(timer);
      reject(kernelError(`kernel worker ${slot} ${why}`));
    }
    listen((data) => {
      if (data !== 'ready') return;
      clearTimeout(timer);
      resolve();
    }, fail);
  });
}

/** Node: a worker thread that never keeps the process alive once it serves. */
async function spawnNode(init: WorkerInit, kernelError: KernelErrorFactory): Promise<KernelWorker> {
  const { Worker } = (await import(
    /* @vite-ignore */ 'node:worker_threads'
  )) as typeof import('node:worker_threads');
  const worker = new Worker(NODE_WORKER, { eval: true, workerData: init });
  try {
    await whenReady(kernelError, init.slot, (onMessage, onFail) => {
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
async function spawnWeb(
  init: WorkerInit,
  url: string,
  kernelError: KernelErrorFactory,
): Promise<KernelWorker> {
  const worker = new Worker(url, { name: `transformer-kit kernel ${init.slot}` });
  try {
    await whenReady(kernelError, init.slot, (onMessage, onFail) => {
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
 * the thread may, else spins: the worker holds its core for the length of one block of rows.
 */
function waitWhileJob(ctrl: Int32Array, at: number, deadline: number, block: boolean): boolean {
  while (Atomics.load(ctrl, at) === JOB) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (block) Atomics.wait(ctrl, at, JOB, left);
  }
  return true;
}

/** What a pool runs on: one shared heap, and the calling thread's kernel instance on it. */
export interface PoolHeap {
  /** TF.js's wasm heap, shared. */
  memory: WebAssembly.Memory;
  /** The kernel module, importing a shared memory (what each worker instantiates). */
  module: WebAssembly.Module;
  /** The calling thread's instance of `module` on `memory` (its scratch already set). */
  main: object;
  /** Kernel exports the pool may run, by name. */
  names: readonly string[];
  /** Worker `slot`'s scratch (packing buffers) on the heap: its byte address. */
  scratch(slot: number): number;
}

/** One thread's share of a job: a kernel export's name and its i32 arguments. */
export interface Share {
  fn: string;
  args: readonly number[];
}

export class KernelPool {
  readonly threads: number;
  readonly #heap: PoolHeap;
  readonly #error: KernelErrorFactory;
  readonly #control: Int32Array;
  readonly #messages: Uint8Array;
  /** Whether the caller blocks in Atomics.wait (else it spins: a page's main thread). */
  readonly #block = canBlock();
  /** A worker did not answer in time: it may still write its slot, so the pool is no longer used. */
  #lost = false;
  #workers: KernelWorker[] = [];

  private constructor(threads: number, heap: PoolHeap, kernelError: KernelErrorFactory) {
    this.threads = threads;
    this.#heap = heap;
    this.#error = kernelError;
    this.#control = new Int32Array(new SharedArrayBuffer(4 * SLOT * threads));
    this.#messages = new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES * threads));
  }

  /**
   * Starts `threads − 1` workers on `heap` (Node: worker_threads, which never keep the process alive; else
   * Web Workers) and resolves once every one serves; rejects with a `kernelError`, all stopped, if one does
   * not. A failing kernel later is also a `kernelError` naming the kernel and the thread.
   */
  static async start(
    threads: number,
    heap: PoolHeap,
    kernelError: KernelErrorFactory = (message) => new Error(message),
  ): Promise<KernelPool> {
    if (!(heap.memory.buffer instanceof SharedArrayBuffer)) {
      throw kernelError("kernel pool: TF.js's wasm heap is not shared memory");
    }
    const pool = new KernelPool(threads, heap, kernelError);
    const inits = Array.from({ length: threads - 1 }, (_, i) => ({
      module: heap.module,
      memory: heap.memory,
      control: pool.#control.buffer as SharedArrayBuffer,
      messages: pool.#messages.buffer as SharedArrayBuffer,
      slot: i + 1,
      scratch: heap.scratch(i + 1),
      names: heap.names,
    }));
    const url = isNode()
      ? undefined
      : URL.createObjectURL(new Blob([WEB_WORKER], { type: 'text/javascript' }));
    const started = await Promise.allSettled(
      inits.map((init) =>
        url === undefined ? spawnNode(init, kernelError) : spawnWeb(init, url, kernelError),
      ),
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

  /** The heap the pool runs on. */
  get memory(): WebAssembly.Memory {
    return this.#heap.memory;
  }

  /** False once a worker failed to answer (then every kernel runs on the calling thread). */
  get usable(): boolean {
    return !this.#lost;
  }

  /**
   * Runs share i on thread i (share 0 on the calling thread) and returns when all are done; throws a
   * kernel error if a worker fails or does not answer. At most `threads` shares.
   */
  run(shares: readonly Share[]): void {
    const ctrl = this.#control;
    const { main, names } = this.#heap;
    for (let slot = 1; slot < shares.length; slot++) {
      const { fn, args } = shares[slot]!;
      const at = slot * SLOT;
      ctrl[at + 1] = names.indexOf(fn);
      ctrl.set(args, at + 2);
      Atomics.store(ctrl, at, JOB);
      Atomics.notify(ctrl, at);
    }
    let failure: unknown;
    try {
      const { fn, args } = shares[0]!;
      (main as Record<string, (...a: readonly number[]) => void>)[fn]!(...args);
    } catch (err) {
      failure = this.#error(
        `kernel ${shares[0]!.fn} failed on the calling thread: ${(err as Error).message}`,
      );
    }
    // Always collect every worker, also after a failure here, so no job is left running into the next call.
    const deadline = performance.now() + WAIT_MS;
    for (let slot = 1; slot < shares.length; slot++) {
      const at = slot * SLOT;
      if (!waitWhileJob(ctrl, at, deadline, this.#block)) {
        this.#lost = true;
        failure ??= this.#error(
          `kernel worker ${slot} did not answer within ${WAIT_MS / 1000} s; kernels run on one thread from now on`,
        );
        continue;
      }
      if (Atomics.load(ctrl, at) === FAILED) {
        failure ??= this.#error(
          `kernel worker ${slot} failed in ${shares[slot]!.fn}: ${this.#message(slot)}`,
        );
      }
      Atomics.store(ctrl, at, IDLE);
    }
    if (failure) throw failure;
  }

  /** Why worker `slot`'s last job failed, as it wrote it. */
  #message(slot: number): string {
    // A copy: TextDecoder does not read shared memory in every engine.
    const bytes = this.#messages.slice(slot * MESSAGE_BYTES, (slot + 1) * MESSAGE_BYTES);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)) || 'no message';
  }

  /** Stops the workers (they also end with the process or page). Their scratch stays allocated. */
  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
