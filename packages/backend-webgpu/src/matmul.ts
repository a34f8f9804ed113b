import * as tf from '@tensorflow/tfjs';
import { webgpuBackend } from './program.js';

/*
 * Products with either operand transposed, plus a bias. TF.js's WebGPU matmul (MatMulPackedProgram) reads a
 * transposed operand in place and adds the bias in the same dispatch, but core's ops (written for wasm,
 * where a transposed read was the slow part) transpose weights first when no kernel is registered: one
 * dispatch and a weight-sized copy more for every input gradient and every weight gradient.
 */

/** a (N, M, K) @ b (N, K, S), either given transposed, + bias (S): one dispatch; differentiable. */
export function batchMatMul(
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  transposeA: boolean,
  transposeB: boolean,
  bias?: tf.Tensor1D,
): tf.Tensor3D | undefined {
  if (!webgpuBackend() || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  if (bias && bias.dtype !== 'float32') return undefined;
  return tf.fused.matMul({ a, b, transposeA, transposeB, ...(bias ? { bias } : {}) }) as tf.Tensor3D;
}
