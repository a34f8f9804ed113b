import type * as tf from '@tensorflow/tfjs';
import { elementwise, i32, rowProgram, rowUniforms, run, webgpuBackend } from './program.js';

/*
 * The two vocabulary-wide pieces of core's cross-entropy (ops.ts crossEntropy, and each chunk of
 * linear-ce.ts): the row-wise log-sum-exp of the forward pass, one workgroup per row (max, then Σ e^(x − max)
 * in shared memory; 256 threads on GPT-2's 50,257-way rows), and e^(x − shift) of the backward pass.
 * TF.js's logSumExp is max, subtract, exp, sum, log, add: six dispatches and three (N, V) temporaries.
 */

const LSE = `
  var m = -3.402823e+38;
  if (valid) { for (var c = tid; c < cols; c = c + W) { m = max(m, f32(x[row * cols + c])); } }
  let rowMax_ = rowMax(m);
  var s = 0.0;
  if (valid) { for (var c = tid; c < cols; c = c + W) { s = s + exp(f32(x[row * cols + c]) - rowMax_); } }
  let total = rowSum(s);
  if (valid && tid == 0) { result[row] = rowMax_ + log(total); }`;

const EXP_SHIFT = 'result[index] = exp(f32(x[index]) - f32(shift[index / uniforms.cols]));';

const isMatrix = (t: tf.Tensor): t is tf.Tensor2D => t.rank === 2 && t.dtype === 'float32';

/** log Σ e^x over each row of x (N, V) → (N, 1), one dispatch. */
export function logSumExp(x: tf.Tensor2D): tf.Tensor2D | undefined {
  const backend = webgpuBackend();
  if (!backend || !isMatrix(x) || x.size === 0) return undefined;
  const [n, v] = x.shape;
  const program = rowProgram('log_sum_exp', ['x'], [n, 1], n, v, LSE);
  return run(backend, program, [x], 'float32', rowUniforms(n, v)) as tf.Tensor2D;
}

/** e^(x − shift) for x (N, V), shift (N, 1), one dispatch. */
export function expShift(x: tf.Tensor2D, shift: tf.Tensor2D): tf.Tensor2D | undefined {
  const backend = webgpuBackend();
  if (!backend || !isMatrix(x) || !isMatrix(shift)) return undefined;
  const [n, v] = x.shape;
  if (shift.shape[0] !== n || shift.shape[1] !== 1) return undefined;
  const program = elementwise('exp_shift', ['x', 'shift'], x.shape, EXP_SHIFT, 'cols : i32,');
  return run(backend, program, [x, shift], 'float32', [i32(v)]) as tf.Tensor2D;
}
