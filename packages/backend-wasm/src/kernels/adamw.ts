import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import { f32Bits, type KernelHost, SPLIT_ELEMENTS } from './host.js';

/*
 * One AdamW update a parameter in one pass, where TF.js would run a chain of element-wise kernels (and
 * core's host loop a JavaScript one). Memory bound: ~5 ns a parameter where the JavaScript loop took ~8.
 */

export const EMPTY = 'TkEmpty';

export interface EmptyAttrs {
  shape: number[];
}

/** A float32 tensor of `shape` whose contents are not set (for a kernel to fill). */
export const emptyConfig: tf.KernelConfig = {
  kernelName: EMPTY,
  backendName: 'wasm',
  kernelFunc: ({ backend, attrs }) =>
    (backend as unknown as WasmBackendLike).makeOutput((attrs as unknown as EmptyAttrs).shape, 'float32'),
};

/** AdamW's constants for one parameter (computed on the host, as torch does). */
export interface AdamWConstants {
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

/** Parameters a chunk of the moments staged on the heap holds (they live on the host: 2 MB of heap). */
const ADAMW_CHUNK = 1 << 18;

/**
 * One AdamW update: `param` and `grad` read where they lie on the heap; returns the new values (a fresh
 * tensor). The moments `m`, `v` stay host arrays (out of the 4 GB heap): a chunk at a time is copied into a
 * heap scratch, updated there (on the pool) and copied back.
 */
export function adamW(
  host: KernelHost,
  param: tf.Tensor,
  grad: tf.Tensor,
  m: Float32Array,
  v: Float32Array,
  k: AdamWConstants,
): tf.Tensor {
  const wasm = tf.backend() as unknown as WasmBackendLike;
  host.on(wasm);
  const out = tf.engine().runKernel(EMPTY, {}, { shape: param.shape }) as tf.Tensor;
  const mAt = host.scratch(wasm, 'adamw', 2 * ADAMW_CHUNK * 4);
  const [p0, g0, out0] = [param, grad, out].map((t) => address(wasm, t)) as [number, number, number];
  const vAt = mAt + ADAMW_CHUNK * 4;
  const constants = [k.b1, k.b2, k.eps, k.stepSize, k.sqrtBc2, k.gradScale, k.decayFactor].map(f32Bits);
  const heap = new Float32Array(host.memory.buffer);
  for (let i0 = 0; i0 < m.length; i0 += ADAMW_CHUNK) {
    const c = Math.min(ADAMW_CHUNK, m.length - i0);
    heap.set(m.subarray(i0, i0 + c), mAt / 4);
    heap.set(v.subarray(i0, i0 + c), vAt / 4);
    host.runSplit('adamw', c, 4, c >= SPLIT_ELEMENTS, (j, len) => {
      const at = 4 * (i0 + j);
      return [p0 + at, g0 + at, mAt + 4 * j, vAt + 4 * j, out0 + at, len, ...constants];
    });
    m.set(heap.subarray(mAt / 4, mAt / 4 + c), i0);
    v.set(heap.subarray(vAt / 4, vAt / 4 + c), i0);
  }
  return out;
}
