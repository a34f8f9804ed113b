import * as tf from '@tensorflow/tfjs';
import {
  type BackendHooks,
  dispatchOnBackend,
  gpuBuffer,
  grid,
  pipeline,
  valuesPerBinding,
  webgpuBackendHooks,
} from './raw-dispatch.js';

/*
 * AdamW as one WGSL dispatch per parameter: m, v and the parameter are read and written in place, so a step
 * costs one pass over each tensor instead of TF.js's ~10 element-wise kernels (each a dispatch and a
 * parameter-sized temporary). A parameter larger than one storage binding (GPT-2's 154 MB embedding table
 * against the spec's 128 MiB) is updated block by block, each block a sub-range of the same buffers bound at
 * an aligned offset: one dispatch per block, nothing copied.
 */

/** AdamW's constants for one parameter (the same fields as core's AdamWConstants; this package imports no core). */
export interface AdamWKernelConstants {
  b1: number;
  b2: number;
  eps: number;
  /** lr / (1 − b1^t) */
  stepSize: number;
  /** √(1 − b2^t) */
  sqrtBc2: number;
  gradScale: number;
  /** 1 − lr · weightDecay, or 1 */
  decayFactor: number;
}

export interface AdamWDeviceOptions {
  /**
   * Bytes one binding may hold (default: the device's maxStorageBufferBindingSize). Tests pass a small
   * value to exercise the blocked path on small tensors.
   */
  maxBindingBytes?: number;
}

const WORKGROUP = 256;

// torch's update, in torch's order: m ← b1·m + (1−b1)·g; v ← b2·v + (1−b2)·g²;
// p ← p·(1 − lr·wd) − stepSize · m / (√v / √(1−b2^t) + eps). (1−b1) and (1−b2) come from the host in f64.
const SHADER = /* wgsl */ `
struct K {
  b1: f32, omb1: f32, b2: f32, omb2: f32,
  eps: f32, stepSize: f32, sqrtBc2: f32, gradScale: f32,
  decay: f32, n: u32, rowStride: u32, pad: u32,
}
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> k: K;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * k.rowStride;
  if (i >= k.n) { return; }
  let gi = g[i] * k.gradScale;
  let mi = k.b1 * m[i] + k.omb1 * gi;
  let vi = k.b2 * v[i] + k.omb2 * (gi * gi);
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] * k.decay - k.stepSize * (mi / (sqrt(vi) / k.sqrtBc2 + k.eps));
}
`;

/**
 * One AdamW step for `param` from `grad`, with `m` and `v` (variables of param's shape) updated in place.
 * Returns false where it does not apply (not TF.js's webgpu backend, or its internals are not there):
 * the caller then composes TF.js ops.
 */
export function adamWDevice(
  param: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  k: AdamWKernelConstants,
  options: AdamWDeviceOptions = {},
): boolean {
  const hooks = webgpuBackendHooks();
  if (!hooks) return false;
  if ([param, grad, m, v].some((t) => t.dtype !== 'float32' || t.size !== param.size) || param.size === 0)
    return false;
  // The kernel writes the variables' buffers: a buffer another tensor shares (a clone of the parameter)
  // is first given to the variable alone, so that tensor keeps its values.
  for (const t of [param, m, v]) ownBuffer(hooks, t);
  const bufs = [param, grad, m, v].map((t) => gpuBuffer(hooks, t));
  // A parameter that fits one binding is one block, one dispatch.
  const perBlock = valuesPerBinding(hooks, options.maxBindingBytes);
  const kernel = pipeline(hooks, 'TkAdamW', SHADER);
  // TF.js defers freeing buffers its recorded commands use until they are submitted.
  for (const t of [param, grad, m, v]) hooks.backend.commandQueueOwnedIds.add(t.dataId);
  for (let start = 0; start < param.size; start += perBlock) {
    const n = Math.min(perBlock, param.size - start);
    const [x, y] = grid(hooks, Math.ceil(n / WORKGROUP));
    const uniforms = new ArrayBuffer(48);
    const f = new Float32Array(uniforms);
    const u = new Uint32Array(uniforms);
    f.set([k.b1, 1 - k.b1, k.b2, 1 - k.b2, k.eps, k.stepSize, k.sqrtBc2, k.gradScale, k.decayFactor]);
    u[9] = n;
    u[10] = x * WORKGROUP;
    dispatchOnBackend(
      hooks,
      kernel,
      bufs.map((buffer) => ({ buffer, offset: start * 4, size: n * 4 })),
      uniforms,
      [x, y],
    );
  }
  // TF.js may hold a host copy of what it last read; the buffers now hold newer values.
  for (const t of [param, m, v]) hooks.backend.tensorMap.get(t.dataId)!.values = null;
  return true;
}

/** Gives `t` a buffer of its own when its data is shared with other tensors (a device copy, no binding). */
function ownBuffer(hooks: BackendHooks, t: tf.Variable): void {
  if (hooks.backend.refCount(t.dataId) <= 1) return;
  const b = hooks.backend;
  const info = b.makeTensorInfo(t.shape, t.dtype);
  b.uploadToGPU(info.dataId);
  const src = gpuBuffer(hooks, t);
  const dst = b.tensorMap.get(info.dataId)!.resource;
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  b.commandEncoder!.copyBufferToBuffer(src, 0, dst, 0, t.size * 4);
  b.commandQueueOwnedIds.add(t.dataId);
  b.commandQueueOwnedIds.add(info.dataId);
  const copy = tf.engine().makeTensorFromTensorInfo(info as unknown as tf.TensorInfo);
  t.assign(copy);
  copy.dispose();
}
