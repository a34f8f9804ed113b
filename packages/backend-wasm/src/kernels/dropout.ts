import * as tf from '@tensorflow/tfjs';
import { address, type WasmBackendLike } from '../tfjs-wasm.js';
import { f32Bits, type KernelConfigFor, SPLIT_ELEMENTS } from './host.js';

/*
 * Dropout's mask and its application, one pass each where TF.js draws floats (4 bytes a value) in a
 * JavaScript loop, then compares and selects in separate kernels.
 */

export const DROPOUT = 'TkDropout';
export const DROPOUT_MASK = 'TkDropoutMask';

export interface DropoutInputs {
  x: tf.TensorInfo;
  /** bool, x's shape: true = keep. */
  keep: tf.TensorInfo;
}
export interface DropoutAttrs {
  scale: number;
}
export interface DropoutMaskAttrs {
  shape: number[];
  rate: number;
  seed: number;
}

/** → keep ? x · scale : 0. */
export const dropoutConfig: KernelConfigFor = (host) => ({
  kernelName: DROPOUT,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, keep } = inputs as unknown as DropoutInputs;
    const scale = f32Bits((attrs as unknown as DropoutAttrs).scale);
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const out = wasm.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const [x0, k0, out0] = [address(wasm, x), address(wasm, keep), address(wasm, out)];
    host.runSplit('dropout', n, 4, n >= SPLIT_ELEMENTS, (i, k) => [
      x0 + 4 * i,
      k0 + i,
      scale,
      out0 + 4 * i,
      k,
    ]);
    return out;
  },
});

/*
 * The keep-mask is a counter-based hash of (seed, element index), the same function as backend-webgpu's
 * shader: every backend drops the same elements for a seed (core's cpu path runs `keepMask` below), any
 * split over threads gives the same mask, and it runs at memory speed. (It replaced a replay of TF.js's
 * randomUniform, an alea stream: sequential by nature, one thread at ~5 ns an element, 5% of a BERT-base
 * LoRA step.) Element i is kept when u_i >= rate, u_i the top 24 bits of pcg(pcg(i ^ key) + key) over 2^24.
 */

/** PCG's output permutation on 32 bits (O'Neill; "Hash Functions for GPU Rendering", Jarzynski & Olano 2020). */
export function pcgHash(v: number): number {
  const s = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The seed's key (seed: an integer in [0, 2⁵³)). */
export function dropoutKey(seed: number): number {
  const lo = (seed % 2 ** 32) >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return pcgHash(lo ^ pcgHash(hi + 2654435769));
}

/** u >= rate (u a float32 of 24 bits over 2^24, rate rounded to float32) as an integer compare. */
const keepThreshold = (rate: number): number => Math.ceil(Math.fround(rate) * 2 ** 24);

/** The keep-mask of n elements in JavaScript (1 = keep): what the kernels make, for backends without one. */
export function keepMask(n: number, rate: number, seed: number): Uint8Array {
  checkMaskArgs(rate, seed);
  const [key, threshold] = [dropoutKey(seed), keepThreshold(rate)];
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) keep[i] = pcgHash(pcgHash(i ^ key) + key) >>> 8 >= threshold ? 1 : 0;
  return keep;
}

function checkMaskArgs(rate: number, seed: number): void {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`dropout seed must be an integer in [0, 2^53), got ${seed}`);
}

/** → bool keep-mask (true = keep), on every core. */
export const dropoutMaskConfig: KernelConfigFor = (host) => ({
  kernelName: DROPOUT_MASK,
  backendName: 'wasm',
  kernelFunc: ({ backend, attrs }) => {
    const { shape, rate, seed } = attrs as unknown as DropoutMaskAttrs;
    checkMaskArgs(rate, seed);
    const wasm = backend as unknown as WasmBackendLike;
    host.on(wasm);
    const keep = wasm.makeOutput(shape, 'bool');
    const n = tf.util.sizeFromShape(shape);
    const [key, threshold, k0] = [dropoutKey(seed) | 0, keepThreshold(rate), address(wasm, keep)];
    host.runSplit('hashKeepMask', n, 16, n >= SPLIT_ELEMENTS, (i, k) => [key, threshold, i, k0 + i, k]);
    return keep;
  },
});

/** keep ? x · scale : 0, keep a bool tensor of x's shape. Not differentiable. */
export function dropout(x: tf.Tensor, keep: tf.Tensor, scale: number): tf.Tensor {
  const attrs: DropoutAttrs = { scale };
  return tf.engine().runKernel(DROPOUT, { x, keep }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** Dropout's keep-mask (bool, true = keep, probability 1 − rate): `keepMask`'s, made on the heap. */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const attrs: DropoutMaskAttrs = { shape, rate, seed };
  return tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
