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

/**
 * seedrandom's alea seeded with `seed` (what tf.randomUniform draws from): Baagoe's Mash of the seed string
 * into the state (s0, s1, s2, c) the draws continue from. Kept exactly as seedrandom 3 has it.
 */
function aleaState(seed: string): [s0: number, s1: number, s2: number, c: number] {
  let n = 0xefc8249d;
  const mash = (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
  const s = [mash(' '), mash(' '), mash(' ')];
  for (let i = 0; i < 3; i++) {
    s[i]! -= mash(seed);
    if (s[i]! < 0) s[i]! += 1;
  }
  return [s[0]!, s[1]!, s[2]!, 1];
}

/** → bool keep-mask; a sequential random stream, so on one thread. */
export const dropoutMaskConfig: KernelConfigFor = (host) => ({
  kernelName: DROPOUT_MASK,
  backendName: 'wasm',
  kernelFunc: ({ backend, attrs }) => {
    const { shape, rate, seed } = attrs as unknown as DropoutMaskAttrs;
    const wasm = backend as unknown as WasmBackendLike;
    const kernel = host.on(wasm);
    const keep = wasm.makeOutput(shape, 'bool');
    kernel.aleaKeepMask(...aleaState(String(seed)), rate, address(wasm, keep), tf.util.sizeFromShape(shape));
    return keep;
  },
});

/** keep ? x · scale : 0, keep a bool tensor of x's shape. Not differentiable. */
export function dropout(x: tf.Tensor, keep: tf.Tensor, scale: number): tf.Tensor {
  const attrs: DropoutAttrs = { scale };
  return tf.engine().runKernel(DROPOUT, { x, keep }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/**
 * Dropout's keep-mask (bool, true = keep): exactly tf.randomUniform(shape, 0, 1, 'float32', seed) >= rate,
 * drawn and compared in one pass without the float draws or TF.js's JavaScript loop.
 */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const attrs: DropoutMaskAttrs = { shape, rate, seed };
  return tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
