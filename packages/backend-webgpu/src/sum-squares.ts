import * as tf from '@tensorflow/tfjs';
import {
  dispatchOnBackend,
  gpuBuffer,
  grid,
  pipeline,
  valuesPerBinding,
  webgpuBackendHooks,
} from './raw-dispatch.js';

/*
 * Σ x² of a tensor larger than one storage binding (the gradient norm of GPT-2's 154 MB embedding table),
 * block by block: each workgroup squares and sums 4,096 values into one partial (a tree in workgroup
 * memory), then TF.js sums the partials. Tensors that fit a binding are left to TF.js (undefined).
 */

const WORKGROUP = 256;
const PER_THREAD = 16;
const PER_GROUP = WORKGROUP * PER_THREAD;
const SHADER = /* wgsl */ `
struct K { n: u32, groups: u32, base: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<uniform> k: K;
var<workgroup> acc: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let group = wg.x + wg.y * nw.x;
  if (group >= k.groups) { return; }
  var s = 0.0;
  for (var j = 0u; j < ${PER_THREAD}u; j++) {
    let i = group * ${PER_GROUP}u + j * ${WORKGROUP}u + t;
    if (i < k.n) { let v = x[i]; s += v * v; }
  }
  acc[t] = s;
  workgroupBarrier();
  for (var w = ${WORKGROUP / 2}u; w > 0u; w = w >> 1u) {
    if (t < w) { acc[t] += acc[t + w]; }
    workgroupBarrier();
  }
  if (t == 0u) { partial[k.base + group] = acc[0]; }
}
`;

/** Σ x² as a scalar for float32 `x` over the binding limit (or `maxBindingBytes`); else undefined. */
export function sumSquaresInBlocks(x: tf.Tensor, maxBindingBytes?: number): tf.Scalar | undefined {
  const hooks = webgpuBackendHooks();
  if (!hooks || x.dtype !== 'float32') return undefined;
  const limit = maxBindingBytes ?? hooks.backend.device.limits.maxStorageBufferBindingSize!;
  if (x.size * 4 <= limit) return undefined;
  const perBlock = valuesPerBinding(hooks, maxBindingBytes);
  const groupsPerBlock = Math.ceil(perBlock / PER_GROUP);
  const blocks = Math.ceil(x.size / perBlock);
  const partials = hooks.backend.makeTensorInfo([blocks * groupsPerBlock], 'float32');
  const src = gpuBuffer(hooks, x);
  const dst = gpuBuffer(hooks, partials);
  for (const t of [x, partials]) hooks.backend.commandQueueOwnedIds.add(t.dataId);
  const kernel = pipeline(hooks, 'TkSumSquares', SHADER);
  for (let b = 0; b < blocks; b++) {
    const start = b * perBlock;
    const n = Math.min(perBlock, x.size - start);
    const groups = Math.ceil(n / PER_GROUP);
    const [gx, gy] = grid(hooks, groups);
    const uniforms = new Uint32Array([n, groups, b * groupsPerBlock, 0]).buffer;
    const bindings = [
      { buffer: src, offset: start * 4, size: n * 4 },
      { buffer: dst, offset: 0, size: blocks * groupsPerBlock * 4 },
    ];
    dispatchOnBackend(hooks, kernel, bindings, uniforms, [gx, gy]);
  }
  const t = tf.engine().makeTensorFromTensorInfo(partials as unknown as tf.TensorInfo);
  // Only the written partials count: a short last block leaves the rest of its slots unwritten.
  const used = (blocks - 1) * groupsPerBlock + Math.ceil((x.size - (blocks - 1) * perBlock) / PER_GROUP);
  return tf.tidy(() => {
    const sum = (used === t.size ? t : t.slice(0, used)).sum() as tf.Scalar;
    t.dispose();
    return sum;
  });
}
