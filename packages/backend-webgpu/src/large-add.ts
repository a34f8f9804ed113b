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
 * a + b for same-shape float32 tensors larger than one storage binding, in binding-sized blocks of the same
 * buffers. TF.js's autodiff adds the two gradients of a tensor used twice (GPT-2's tied 154 MB embedding:
 * the lookup and the LM head) with its own Add kernel, which binds the whole tensor; that is the one add
 * core cannot route through its ops, so TF.js's Add kernel is wrapped to come here past the limit.
 */

const WORKGROUP = 256;
const SHADER = /* wgsl */ `
struct K { n: u32, rowStride: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> k: K;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * k.rowStride;
  if (i < k.n) { out[i] = a[i] + b[i]; }
}
`;

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** a + b in blocks of `maxBindingBytes` (default the device's binding limit); undefined where it does not apply. */
export function addInBlocks(a: Info, b: Info, maxBindingBytes?: number): Info | undefined {
  const hooks = webgpuBackendHooks();
  if (!hooks || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  if (!tf.util.arraysEqual(a.shape, b.shape)) return undefined;
  return run(hooks, a, b, maxBindingBytes);
}

function run(hooks: BackendHooks, a: Info, b: Info, maxBindingBytes?: number): Info {
  const size = tf.util.sizeFromShape(a.shape);
  const out = hooks.backend.makeTensorInfo(a.shape, 'float32');
  const bufs = [out, a, b].map((t) => gpuBuffer(hooks, t));
  for (const t of [out, a, b]) hooks.backend.commandQueueOwnedIds.add(t.dataId);
  const kernel = pipeline(hooks, 'TkAddBlocks', SHADER);
  const perBlock = valuesPerBinding(hooks, maxBindingBytes);
  for (let start = 0; start < size; start += perBlock) {
    const n = Math.min(perBlock, size - start);
    const [x, y] = grid(hooks, Math.ceil(n / WORKGROUP));
    const uniforms = new Uint32Array([n, x * WORKGROUP, 0, 0]).buffer;
    const bindings = bufs.map((buffer) => ({ buffer, offset: start * 4, size: n * 4 }));
    dispatchOnBackend(hooks, kernel, bindings, uniforms, [x, y]);
  }
  return out;
}

let installed = false;

/**
 * Wraps TF.js's webgpu Add kernel so that a same-shape float32 add over the device's storage binding limit
 * runs in blocks (everything else goes to TF.js's kernel unchanged). Idempotent; false where TF.js has no
 * webgpu Add kernel to wrap.
 */
export function installBlockedAdd(): boolean {
  if (installed) return true;
  const original = tf.getKernel('Add', 'webgpu');
  if (!original) return false;
  tf.unregisterKernel('Add', 'webgpu');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: Info; b: Info };
      const hooks = webgpuBackendHooks();
      const limit = hooks?.backend.device.limits.maxStorageBufferBindingSize ?? Number.POSITIVE_INFINITY;
      const over = tf.util.sizeFromShape(a.shape) * 4 > limit;
      const blocked = over ? addInBlocks(a, b) : undefined;
      return (blocked ?? original.kernelFunc(args)) as tf.TensorInfo;
    },
  });
  installed = true;
  return true;
}
