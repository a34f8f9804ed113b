import * as tf from '@tensorflow/tfjs';
import { warnDecline } from './warn.js';

/*
 * Running a hand-written WGSL pipeline inside TF.js's WebGPU command stream. TF.js's own programs bind whole
 * buffers and write only their output; a kernel that updates several tensors in place, or binds sub-ranges
 * of a buffer larger than a binding, records its dispatch here instead, in TF.js's current compute pass, so
 * it is ordered with TF.js's work and submitted in TF.js's batches. These are TF.js 4.22 internals, not
 * public API: each is feature-detected (webgpuBackendHooks), and without them the kernels decline.
 */

// Just the parts of the WebGPU API used here (TypeScript's DOM lib has no WebGPU types).
export interface GPUDeviceLike {
  limits: Record<string, number | undefined>;
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBuffer): void };
  createShaderModule(desc: { code: string; label?: string }): unknown;
  createComputePipeline(desc: object): unknown;
  createBindGroup(desc: { layout: unknown; entries: { binding: number; resource: object }[] }): unknown;
}
interface PassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}
interface TensorData {
  resource?: unknown;
  values?: unknown;
}
export interface BackendHooks {
  backend: {
    device: GPUDeviceLike;
    tensorMap: { get(dataId: object): TensorData | undefined };
    commandQueueOwnedIds: WeakSet<object>;
    commandEncoder: {
      beginComputePass(d: object): PassLike;
      copyBufferToBuffer(...a: unknown[]): void;
    } | null;
    computePassEncoder: PassLike | null;
    dispatchCountInPass: number;
    uniformPendingDisposal: unknown[];
    bufferManager: { acquireBuffer(size: number, usage: number): unknown };
    uploadToGPU(dataId: object): void;
    makeTensorInfo(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
    refCount(dataId: object): number;
    ensureCommandEncoderReady(): void;
    endComputePassEncoder(): void;
    submitQueue(): void;
  };
}

const NEEDED = [
  'tensorMap',
  'commandQueueOwnedIds',
  'bufferManager',
  'uniformPendingDisposal',
  'uploadToGPU',
  'makeTensorInfo',
  'refCount',
  'ensureCommandEncoderReady',
  'endComputePassEncoder',
  'submitQueue',
] as const;

let count = 0;

/** Dispatches this package's own pipelines have recorded (TF.js's programs are counted by core). */
export function rawDispatchCount(): number {
  return count;
}

/** TF.js's webgpu backend with the internals used here, or undefined (one warning when they are missing). */
export function webgpuBackendHooks(): BackendHooks | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const b = tf.backend() as unknown as Record<string, unknown>;
  const missing = NEEDED.filter((k) => b[k] === undefined);
  if (
    missing.length ||
    typeof (b.device as GPUDeviceLike | undefined)?.createComputePipeline !== 'function'
  ) {
    warnDecline(`TF.js's webgpu backend has no ${missing.join(', ') || 'device'}`);
    return undefined;
  }
  return { backend: b as unknown as BackendHooks['backend'] };
}

/** `t`'s GPUBuffer, uploading its values first where TF.js holds them on the host only. */
export function gpuBuffer(hooks: BackendHooks, t: { dataId: object }): unknown {
  hooks.backend.uploadToGPU(t.dataId);
  return hooks.backend.tensorMap.get(t.dataId)!.resource;
}

const UNIFORM = 0x40; // GPUBufferUsage.UNIFORM
const COPY_DST = 0x8; // GPUBufferUsage.COPY_DST

/**
 * Records one dispatch of `pipeline` with storage `bindings` 0..n−1 and a uniform buffer holding `uniforms`
 * at binding n, in TF.js's open compute pass, and submits when TF.js would (its batch size).
 */
export function dispatchOnBackend(
  hooks: BackendHooks,
  pipeline: unknown,
  bindings: { buffer: unknown; offset: number; size: number }[],
  uniforms: ArrayBuffer,
  workgroups: [number, number?, number?],
): void {
  const b = hooks.backend;
  const ubuf = b.bufferManager.acquireBuffer(uniforms.byteLength, UNIFORM | COPY_DST);
  b.device.queue.writeBuffer(ubuf, 0, uniforms);
  // TF.js returns it to its pool after the next submit, as it does its own programs' uniforms.
  b.uniformPendingDisposal.push(ubuf);
  const group = b.device.createBindGroup({
    layout: (pipeline as { getBindGroupLayout(i: number): unknown }).getBindGroupLayout(0),
    entries: [
      ...bindings.map((resource, binding) => ({ binding, resource })),
      { binding: bindings.length, resource: { buffer: ubuf, offset: 0, size: uniforms.byteLength } },
    ],
  });
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  const pass = b.computePassEncoder;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
  count++;
  b.dispatchCountInPass++;
  if (b.dispatchCountInPass >= (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number)) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
}

/**
 * Values a block may hold so that it fits one storage binding of `maxBindingBytes` (default: the device's
 * limit) and starts at an offset the device can bind (minStorageBufferOffsetAlignment).
 */
export function valuesPerBinding(hooks: BackendHooks, maxBindingBytes?: number): number {
  const limits = hooks.backend.device.limits;
  const limit = maxBindingBytes ?? limits.maxStorageBufferBindingSize!;
  const align = limits.minStorageBufferOffsetAlignment ?? 256;
  return Math.max(align / 4, Math.floor(limit / align) * (align / 4));
}

/** A 2-D grid of `workgroups` (a dimension holds at most maxComputeWorkgroupsPerDimension). */
export function grid(hooks: BackendHooks, workgroups: number): [number, number] {
  const x = Math.min(workgroups, hooks.backend.device.limits.maxComputeWorkgroupsPerDimension ?? 65535);
  return [x, Math.ceil(workgroups / x)];
}

const pipelines = new WeakMap<object, Map<string, unknown>>();

/** The compute pipeline of WGSL `code` (entry point `main`) on the backend's device, compiled once. */
export function pipeline(hooks: BackendHooks, label: string, code: string): unknown {
  const device = hooks.backend.device;
  let cache = pipelines.get(device);
  if (!cache) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let p = cache.get(label);
  if (!p) {
    p = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' },
      label,
    });
    cache.set(label, p);
  }
  return p;
}
