import type * as tf from '@tensorflow/tfjs';
import { elementwise, f32, i32, run, webgpuBackend } from './program.js';

/*
 * Dropout's keep-mask made on the device from a counter-based hash of (seed, element index): the same seed
 * gives the same mask on any device and in any order, and nothing is uploaded. backend-wasm's kernel and
 * its JavaScript `keepMask` (core's cpu path) are the same function, so every backend drops the same
 * elements. The hash is PCG's output permutation (O'Neill; "Hash Functions for GPU Rendering", Jarzynski
 * & Olano 2020) applied twice around the seed's key; 24 bits of it make a uniform in [0, 1).
 */
const HASH = `
  fn pcgHash(v : u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
  }`;

const MASK = `
  let key = pcgHash(bitcast<u32>(uniforms.seedLo) ^ pcgHash(bitcast<u32>(uniforms.seedHi) + 2654435769u));
  let r = pcgHash(pcgHash(u32(index) ^ key) + key);
  let u = f32(r >> 8u) * (1.0 / 16777216.0);
  result[index] = select(0, 1, u >= uniforms.rate);`;

const APPLY = 'result[index] = select(0.0, f32(x[index]) * uniforms.scale, keep[index] != 0);';

/** Keep-mask (bool, true = keep) with keep probability 1 − rate, from `seed` (an integer in [0, 2⁵³)). */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor | undefined {
  const backend = webgpuBackend();
  if (!backend || !Number.isSafeInteger(seed) || seed < 0 || !(rate >= 0 && rate < 1)) return undefined;
  if (shape.reduce((a, b) => a * b, 1) >= 2 ** 31) return undefined; // the index is an i32
  const program = elementwise(
    'dropout_mask',
    [],
    shape,
    MASK,
    'seedLo : i32, seedHi : i32, rate : f32,',
    HASH,
  );
  const lo = (seed % 2 ** 32) | 0;
  const hi = Math.floor(seed / 2 ** 32) | 0;
  return run(backend, program, [], 'bool', [i32(lo), i32(hi), f32(rate)]);
}

/** keep ? x · scale : 0, one dispatch. */
export function dropout(x: tf.Tensor, keep: tf.Tensor, scale: number): tf.Tensor | undefined {
  const backend = webgpuBackend();
  if (!backend || x.dtype !== 'float32' || keep.dtype !== 'bool' || keep.size !== x.size) return undefined;
  if (keep.rank !== x.rank || keep.shape.some((d, i) => d !== x.shape[i])) return undefined;
  return run(
    backend,
    elementwise('dropout', ['x', 'keep'], x.shape, APPLY, 'scale : f32,'),
    [x, keep],
    'float32',
    [f32(scale)],
  );
}
