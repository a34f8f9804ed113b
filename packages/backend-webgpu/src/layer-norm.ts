import type * as tf from '@tensorflow/tfjs';
import {
  elementwise,
  f32,
  i32,
  rowProgram,
  rowUniforms,
  run,
  sameFloat32,
  webgpuBackend,
} from './program.js';

/*
 * LayerNorm over the last axis, one workgroup per row: the mean and then the variance of the centred row
 * (two passes over a row that stays in cache, as torch does, rather than E[x²] − mean², which cancels)
 * reduced in shared memory. A TF.js program writes one output, so the forward pass is three dispatches
 * (rstd, x̂, then y = x̂·γ + β) where TF.js's ops took eleven; the input gradient is one.
 */

const STATS = `
  var s = 0.0;
  if (valid) { for (var c = tid; c < cols; c = c + W) { s = s + f32(x[row * cols + c]); } }
  let mean = rowSum(s) / f32(cols);
  var q = 0.0;
  if (valid) { for (var c = tid; c < cols; c = c + W) { let d = f32(x[row * cols + c]) - mean; q = q + d * d; } }
  let rstd = 1.0 / sqrt(rowSum(q) / f32(cols) + uniforms.eps);`;

const RSTD = `${STATS}
  if (valid && tid == 0) { result[row] = rstd; }`;

const XHAT = `${STATS}
  if (valid) { for (var c = tid; c < cols; c = c + W) { result[row * cols + c] = (f32(x[row * cols + c]) - mean) * rstd; } }`;

const AFFINE =
  'let c = index % uniforms.cols; result[index] = f32(xhat[index]) * f32(gamma[c]) + f32(beta[c]);';

// dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dy · γ
const GRAD = `
  var a = 0.0;
  var b = 0.0;
  if (valid) {
    for (var c = tid; c < cols; c = c + W) {
      let g = f32(dy[row * cols + c]) * f32(gamma[c]);
      a = a + g;
      b = b + g * f32(xhat[row * cols + c]);
    }
  }
  let meanG = rowSum(a) / f32(cols);
  let meanGX = rowSum(b) / f32(cols);
  if (valid) {
    let r = f32(rstd[row]);
    for (var c = tid; c < cols; c = c + W) {
      let i = row * cols + c;
      result[i] = r * (f32(dy[i]) * f32(gamma[c]) - meanG - f32(xhat[i]) * meanGX);
    }
  }`;

/** A parameter vector of the row length (γ or β), float32. */
const isVector = (t: tf.Tensor, cols: number) => t.dtype === 'float32' && t.size === cols;

/** [y, x̂, rstd (..., 1)] of LayerNorm over x's last axis. */
export function layerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined {
  const backend = webgpuBackend();
  const cols = x.shape[x.rank - 1] ?? 0;
  if (!backend || x.dtype !== 'float32' || x.rank < 1 || cols === 0) return undefined;
  if (!isVector(gamma, cols) || !isVector(beta, cols)) return undefined;
  const rows = x.size / cols;
  const stats = [...rowUniforms(rows, cols), f32(eps)];
  const rstdShape = [...x.shape.slice(0, -1), 1];
  const rstd = run(
    backend,
    rowProgram('ln_rstd', ['x'], rstdShape, rows, cols, RSTD, 'eps : f32,'),
    [x],
    'float32',
    stats,
  );
  const xhat = run(
    backend,
    rowProgram('ln_xhat', ['x'], x.shape, rows, cols, XHAT, 'eps : f32,'),
    [x],
    'float32',
    stats,
  );
  const affine = elementwise('ln_affine', ['xhat', 'gamma', 'beta'], x.shape, AFFINE, 'cols : i32,');
  const y = run(backend, affine, [xhat, gamma, beta], 'float32', [i32(cols)]);
  return [y, xhat, rstd];
}

/** LayerNorm's input gradient from x̂ and rstd (what the forward pass kept), one dispatch. */
export function layerNormGrad(
  dy: tf.Tensor,
  xhat: tf.Tensor,
  gamma: tf.Tensor,
  rstd: tf.Tensor,
): tf.Tensor | undefined {
  const backend = webgpuBackend();
  if (!backend || !sameFloat32(dy, xhat)) return undefined;
  const cols = xhat.shape[xhat.rank - 1] ?? 0;
  if (cols === 0 || !isVector(gamma, cols) || rstd.dtype !== 'float32') return undefined;
  const rows = xhat.size / cols;
  if (rstd.size !== rows) return undefined;
  const program = rowProgram('ln_grad', ['dy', 'xhat', 'gamma', 'rstd'], xhat.shape, rows, cols, GRAD);
  return run(backend, program, [dy, xhat, gamma, rstd], 'float32', rowUniforms(rows, cols));
}
