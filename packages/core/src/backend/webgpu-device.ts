import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError, DeviceError, type DeviceErrorKind, DeviceLimitError } from '../errors.js';

/*
 * The WebGPU device behind TF.js's backend, created here instead of by TF.js so that
 *  - its limits are chosen (`limits: 'adapter'` asks for the adapter's maxima as TF.js does; 'default'
 *    asks for none, i.e. the spec's 128 MiB binding / 256 MiB buffer that Android Chrome gives);
 *  - no device error is silent: TF.js records every op under error scopes that nobody pops, so a
 *    validation or out-of-memory error only reaches the console and the results are zeros. Here the scopes
 *    are popped at each read-back (`data()`), which then throws DeviceError instead of returning them;
 *  - an op that would bind more than the device allows throws DeviceLimitError before it is dispatched;
 *  - dispatches are counted (bench/).
 * TF.js 4.22 is its last release; each hook into its internals is feature-detected, and without them the
 * backend is TF.js's own (one warning).
 */

export type WebGPULimits = 'default' | 'adapter';

// The limits TF.js's own factory asks the adapter for (tfjs-backend-webgpu/src/base.ts).
const TFJS_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

interface GPUErrorLike {
  message: string;
  constructor: { name: string };
}
export interface GPUDeviceLike {
  limits: Record<string, number>;
  features: { has(name: string): boolean };
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GPUErrorLike | null>;
  addEventListener?(type: 'uncapturederror', fn: (e: { error?: GPUErrorLike }) => void): void;
  lost?: Promise<{ message: string; reason?: string }>;
  createBuffer(desc: { size: number; usage: number }): unknown;
  destroy(): void;
}
interface AdapterLike {
  limits: Record<string, number>;
  features: { has(name: string): boolean };
  info?: unknown;
  requestDevice(desc: {
    requiredFeatures: string[];
    requiredLimits: Record<string, number>;
  }): Promise<GPUDeviceLike>;
}
interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface ProgramLike {
  outputShape: number[];
  shaderKey?: string;
  constructor: { name: string };
}
interface TfWebGPUBackend {
  runWebGPUProgram(
    program: ProgramLike,
    inputs: TensorInfoLike[],
    dtype: string,
    uniforms?: unknown,
    output?: TensorInfoLike,
  ): TensorInfoLike;
  read(dataId: object): Promise<unknown>;
  readSync?(dataId: object): unknown;
  tensorMap?: { get(dataId: object): { values?: unknown } | undefined };
}

/** What core knows about the WebGPU device it created. */
export interface WebGPUDeviceState {
  limitsMode: WebGPULimits;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  /** Compute dispatches recorded on this device so far: TF.js's programs and backend-webgpu's kernels. */
  readonly dispatches: number;
  device: GPUDeviceLike;
}

let state: WebGPUDeviceState | undefined;
// backend-webgpu's own dispatches (its kernels bypass TF.js's programs), given by initWebGPU.
let kernelDispatches: () => number = () => 0;
let registered: WebGPULimits | undefined;
let warnedNoHooks = false;

/** The device core created for TF.js's webgpu backend (undefined before, or when TF.js made its own). */
export function webgpuDeviceState(): WebGPUDeviceState | undefined {
  return state;
}

/**
 * Replaces TF.js's 'webgpu' backend factory with one that creates the device with `limits` and watches
 * it. A change of limits disposes the previous device (its tensors with it).
 */
export function registerWebGPUFactory(
  limits: WebGPULimits,
  Backend: unknown,
  warn: (m: string) => void,
  countKernelDispatches?: () => number,
): void {
  if (countKernelDispatches) kernelDispatches = countKernelDispatches;
  if (registered === limits) return;
  if (typeof Backend !== 'function') {
    if (!warnedNoHooks) {
      warnedNoHooks = true;
      warn(
        "webgpu: this TF.js has no WebGPUBackend export: its own device is used, so 'limits' is ignored and device errors are only printed",
      );
    }
    return;
  }
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  state = undefined;
  tf.registerBackend(
    'webgpu',
    async () => {
      const nav = (
        globalThis as { navigator?: { gpu?: { requestAdapter(o: object): Promise<AdapterLike | null> } } }
      ).navigator;
      const lowPower = tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU');
      const adapter = await nav!.gpu!.requestAdapter({
        powerPreference: lowPower ? 'low-power' : 'high-performance',
      });
      if (!adapter) throw new Error('navigator.gpu found no adapter');
      const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) =>
        adapter.features.has(f),
      );
      const requiredLimits: Record<string, number> = {};
      if (limits === 'adapter') for (const k of TFJS_LIMITS) requiredLimits[k] = adapter.limits[k]!;
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      const backend = new (Backend as new (d: unknown, i: unknown) => TfWebGPUBackend)(device, adapter.info);
      state = watch(backend, device, limits);
      return backend as unknown as tf.KernelBackend;
    },
    3,
  );
  registered = limits;
}

const SCOPES = ['out-of-memory', 'validation', 'internal'] as const;

function watch(backend: TfWebGPUBackend, device: GPUDeviceLike, limitsMode: WebGPULimits): WebGPUDeviceState {
  let programs = 0;
  const kernelsAtStart = kernelDispatches();
  const s: WebGPUDeviceState = {
    limitsMode,
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize!,
    maxBufferSize: device.limits.maxBufferSize!,
    get dispatches() {
      return programs + kernelDispatches() - kernelsAtStart;
    },
    device,
  };
  const uncaptured: DeviceError[] = [];
  let lost: string | undefined;
  const poisoned = new WeakSet<object>();
  for (const f of SCOPES) device.pushErrorScope(f);
  device.addEventListener?.('uncapturederror', (e) => {
    uncaptured.push(toDeviceError(e.error));
  });
  void device.lost?.then((info) => {
    lost = `${info.reason ?? 'lost'}: ${info.message}`;
  });

  // Pops the scopes every op so far ran under and pushes fresh ones (synchronously, so concurrent reads
  // keep the stack balanced); resolves to the first error they caught.
  // An error a check found after a synchronous read (which cannot wait for one) is thrown by the next read.
  let found: DeviceError | undefined;
  const check = async (): Promise<DeviceError | undefined> => {
    if (found) {
      const e = found;
      found = undefined;
      return e;
    }
    const pops = SCOPES.map(() => device.popErrorScope());
    for (const f of SCOPES) device.pushErrorScope(f);
    const errors = await Promise.all(pops);
    const first = errors.find((e) => e);
    if (lost) return new DeviceError('lost', `webgpu: the device was lost (${lost})`);
    if (first) return toDeviceError(first);
    return uncaptured.shift();
  };

  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (program, inputs, dtype, uniforms, output) => {
    checkBindings(s, program, inputs, output);
    programs++;
    return run(program, inputs, dtype, uniforms, output);
  };
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    if (poisoned.has(dataId)) {
      throw new DeviceError('validation', 'webgpu: this tensor was computed by work the device rejected');
    }
    let values: unknown;
    let failure: unknown;
    try {
      values = await read(dataId);
    } catch (err) {
      failure = err;
    }
    const err = await check();
    if (err) {
      // TF.js cached what it read (zeros); a second data() must not return them.
      poisoned.add(dataId);
      const data = backend.tensorMap?.get(dataId);
      if (data) data.values = undefined;
      if (failure) (err as { cause?: unknown }).cause = failure;
      throw err;
    }
    if (failure) throw failure;
    return values;
  };
  const readSync = backend.readSync?.bind(backend);
  if (readSync) {
    // dataSync()/arraySync(). Error scopes answer only asynchronously: what is known now (a rejected
    // tensor, a lost device, an earlier check's error) throws here; this read's own errors are looked for
    // at once and thrown by the next read, sync or async, and this tensor is then unreadable.
    backend.readSync = (dataId) => {
      if (poisoned.has(dataId)) {
        throw new DeviceError('validation', 'webgpu: this tensor was computed by work the device rejected');
      }
      const known = lost
        ? new DeviceError('lost', `webgpu: the device was lost (${lost})`)
        : (found ?? uncaptured.shift());
      if (known) {
        found = undefined;
        throw known;
      }
      const cached = backend.tensorMap?.get(dataId)?.values != null;
      if (!cached && typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined') {
        throw new BackendUnavailableError(
          "webgpu: dataSync()/arraySync() cannot read the GPU here (TF.js reads it synchronously only through a page's OffscreenCanvas, which Node lacks): use await tensor.data() or tensor.array()",
        );
      }
      const values = readSync(dataId);
      void check().then((err) => {
        if (!err) return;
        poisoned.add(dataId);
        const data = backend.tensorMap?.get(dataId);
        if (data) data.values = undefined;
        found ??= err;
      });
      return values;
    };
  }
  return s;
}

function toDeviceError(e: GPUErrorLike | undefined): DeviceError {
  const name = e?.constructor?.name ?? '';
  const kind: DeviceErrorKind = /OutOfMemory/.test(name)
    ? 'out-of-memory'
    : /Internal/.test(name)
      ? 'internal'
      : 'validation';
  const what = kind === 'out-of-memory' ? 'ran out of memory' : `reported a ${kind} error`;
  return new DeviceError(
    kind,
    `webgpu: the device ${what} for work TF.js submitted: ${e?.message ?? 'unknown'}`,
  );
}

const BYTES = 4; // TF.js stores float32, int32 and bool as 4 bytes a value on WebGPU

function checkBindings(
  s: WebGPUDeviceState,
  program: ProgramLike,
  inputs: TensorInfoLike[],
  output: TensorInfoLike | undefined,
): void {
  const name = program.constructor?.name || 'a program';
  const out = output?.shape ?? program.outputShape;
  const bufs: [string, number[]][] = [
    ['output', out],
    ...inputs.map((t, i) => [`input ${i}`, t.shape] as [string, number[]]),
  ];
  for (const [which, shape] of bufs) {
    const bytes = tf.util.sizeFromShape(shape) * BYTES;
    const over =
      bytes > s.maxBufferSize
        ? (['maxBufferSize', s.maxBufferSize] as const)
        : bytes > s.maxStorageBufferBindingSize
          ? (['maxStorageBufferBindingSize', s.maxStorageBufferBindingSize] as const)
          : undefined;
    if (over) {
      const [limit, max] = over;
      const hint =
        s.limitsMode === 'default'
          ? "initBackend('webgpu', { limits: 'adapter' }) asks for the adapter's maxima"
          : 'this adapter allows no more';
      throw new DeviceLimitError(
        `webgpu: ${name} would bind its ${which} of shape [${shape}] (${bytes} bytes), over this device's ${limit} of ${max} bytes (limits: '${s.limitsMode}'; ${hint}); use smaller batches or sequences`,
        { limit, max, requested: bytes },
      );
    }
  }
}

interface BackendInternals {
  tensorMap?: { get(dataId: object): { resource?: unknown } | undefined };
  uploadToGPU?(dataId: object): void;
  makeTensorInfo?(shape: number[], dtype: string): TensorInfoLike;
  ensureCommandEncoderReady?(): void;
  endComputePassEncoder?(): void;
  commandEncoder?: { copyBufferToBuffer(s: unknown, so: number, d: unknown, dO: number, n: number): void };
  commandQueueOwnedIds?: WeakSet<object>;
}
let warnedNoCopy = false;

/**
 * Rows [begin, begin + size) of a 2-D float32/int32 tensor as a new tensor, by a buffer-to-buffer copy on
 * the device: a copy binds nothing, so it works on a table larger than a storage binding (TF.js's slice
 * would bind all of it). Undefined when not on core's webgpu device or TF.js's internals are not there.
 */
export function copyRowsOnDevice(t: tf.Tensor, begin: number, size: number): tf.Tensor | undefined {
  const row = t.size / t.shape[0]!;
  return copyOnDevice([size, ...t.shape.slice(1)], t.dtype, [[t, begin * row, 0, size * row]]);
}

/** 2-D+ tensors stacked along axis 0 by device copies (no binding); undefined as for copyRowsOnDevice. */
export function concatRowsOnDevice(parts: tf.Tensor[]): tf.Tensor | undefined {
  const rows = parts.reduce((n, p) => n + p.shape[0]!, 0);
  let at = 0;
  const copies = parts.map((p) => {
    const c: Copy = [p, 0, at, p.size];
    at += p.size;
    return c;
  });
  return copyOnDevice([rows, ...parts[0]!.shape.slice(1)], parts[0]!.dtype, copies);
}

/** [source, source offset, destination offset, length], in values. */
type Copy = [tf.Tensor, number, number, number];

function copyOnDevice(shape: number[], dtype: string, copies: Copy[]): tf.Tensor | undefined {
  if (!state || tf.getBackend() !== 'webgpu') return undefined;
  const b = tf.backend() as unknown as BackendInternals;
  const hooks =
    b.tensorMap &&
    b.uploadToGPU &&
    b.makeTensorInfo &&
    b.ensureCommandEncoderReady &&
    b.endComputePassEncoder;
  if (!hooks) {
    if (!warnedNoCopy) {
      warnedNoCopy = true;
      console.warn("webgpu: this TF.js's backend has no buffer hooks; large tables are sliced by TF.js");
    }
    return undefined;
  }
  const out = b.makeTensorInfo!(shape, dtype);
  b.uploadToGPU!(out.dataId);
  const dst = b.tensorMap!.get(out.dataId)?.resource;
  for (const [t] of copies) b.uploadToGPU!(t.dataId);
  b.ensureCommandEncoderReady!();
  b.endComputePassEncoder!();
  for (const [t, from, to, n] of copies) {
    const src = b.tensorMap!.get(t.dataId)?.resource;
    b.commandEncoder!.copyBufferToBuffer(src, from * BYTES, dst, to * BYTES, n * BYTES);
    // TF.js defers freeing buffers its pending commands use.
    b.commandQueueOwnedIds?.add(t.dataId);
  }
  b.commandQueueOwnedIds?.add(out.dataId);
  return tf.engine().makeTensorFromTensorInfo(out as unknown as tf.TensorInfo);
}
