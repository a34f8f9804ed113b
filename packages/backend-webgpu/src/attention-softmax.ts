import * as tf from '@tensorflow/tfjs';
import { dropout } from './dropout.js';
import { f32, i32, rowProgram, rowUniforms, run, type Uniform, webgpuBackend } from './program.js';

/*
 * Attention's probabilities, one workgroup per query row: softmax(scores · scale + bias) · rowHasKeys in one
 * dispatch (TF.js: multiply, add, softmax, multiply), dropout's apply in a second (a program writes one
 * output, and the backward pass needs the probabilities before dropout), and the gradient
 * scale · p ⊙ (dp − Σ dp ⊙ p), dp = keep ? dy · keepScale : 0, in one (TF.js: select, multiply,
 * multiply, sum, subtract, multiply, multiply). The bias and rowHasKeys are read where they broadcast
 * (strides of 0), never expanded to the scores' shape.
 */

/** Shape left-padded with 1s to rank 4, or undefined past rank 4. */
function rank4(shape: number[]): number[] | undefined {
  return shape.length > 4 ? undefined : [...new Array(4 - shape.length).fill(1), ...shape];
}

/** Strides of `t` read at the scores' (rank-4) coordinates, 0 on broadcast axes; undefined if it cannot broadcast. */
function broadcastStrides(t: tf.Tensor, target: number[]): number[] | undefined {
  const shape = rank4(t.shape);
  if (!shape) return undefined;
  const strides = [0, 0, 0, 0];
  let stride = 1;
  for (let i = 3; i >= 0; i--) {
    if (shape[i] !== 1 && shape[i] !== target[i]) return undefined;
    strides[i] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}

function forwardCode(bias: boolean, rowHasKeys: boolean): string {
  const at = bias
    ? ' + f32(bias[a * uniforms.bs0 + b * uniforms.bs1 + t * uniforms.bs2 + c * uniforms.bs3])'
    : '';
  return `
  let t = row % uniforms.dimT;
  let b = (row / uniforms.dimT) % uniforms.dimB;
  let a = row / (uniforms.dimT * uniforms.dimB);
  var m = -3.402823e+38;
  if (valid) { for (var c = tid; c < cols; c = c + W) { m = max(m, f32(scores[row * cols + c]) * uniforms.scale${at}); } }
  let rowMax_ = rowMax(m);
  var s = 0.0;
  if (valid) { for (var c = tid; c < cols; c = c + W) { s = s + exp(f32(scores[row * cols + c]) * uniforms.scale${at} - rowMax_); } }
  let norm = ${rowHasKeys ? 'f32(rowHasKeys[a * uniforms.rs0 + b * uniforms.rs1 + t * uniforms.rs2])' : '1.0'} / rowSum(s);
  if (valid) {
    for (var c = tid; c < cols; c = c + W) {
      result[row * cols + c] = exp(f32(scores[row * cols + c]) * uniforms.scale${at} - rowMax_) * norm;
    }
  }`;
}

function gradCode(keep: boolean): string {
  const dp = keep ? 'select(0.0, f32(dy[i]) * uniforms.keepScale, keep[i] != 0)' : 'f32(dy[i])';
  return `
  var d = 0.0;
  if (valid) { for (var c = tid; c < cols; c = c + W) { let i = row * cols + c; d = d + ${dp} * f32(probs[i]); } }
  let dot = rowSum(d);
  if (valid) {
    for (var c = tid; c < cols; c = c + W) {
      let i = row * cols + c;
      result[i] = uniforms.scale * f32(probs[i]) * (${dp} - dot);
    }
  }`;
}

/**
 * probs = softmax(scores · scale + bias) · rowHasKeys over the last axis of scores (..., T, S) (rank 2 to 4;
 * bias broadcastable to the scores, rowHasKeys to (..., T, 1)); with keep (bool, the scores' shape)
 * dropped = keep ? probs · keepScale : 0, else dropped is probs.
 */
export function attentionSoftmax(
  scores: tf.Tensor,
  scale: number,
  bias?: tf.Tensor,
  rowHasKeys?: tf.Tensor,
  keep?: tf.Tensor,
  keepScale = 1,
): { probs: tf.Tensor; dropped: tf.Tensor } | undefined {
  const backend = webgpuBackend();
  const shape = rank4(scores.shape);
  if (!backend || !shape || scores.rank < 2 || scores.dtype !== 'float32' || scores.size === 0)
    return undefined;
  const biasStrides = bias ? broadcastStrides(bias, shape) : [0, 0, 0, 0];
  const rowStrides = rowHasKeys ? broadcastStrides(rowHasKeys, [...shape.slice(0, 3), 1]) : [0, 0, 0, 0];
  const inputs = [scores, ...(bias ? [bias] : []), ...(rowHasKeys ? [rowHasKeys] : [])];
  if (!biasStrides || !rowStrides || inputs.some((t) => t.dtype !== 'float32')) return undefined;
  if (keep && (keep.dtype !== 'bool' || !tf.util.arraysEqual(keep.shape, scores.shape))) return undefined;
  const [dimA, dimB, dimT, cols] = shape as [number, number, number, number];
  const rows = dimA * dimB * dimT;
  const names = ['scores', ...(bias ? ['bias'] : []), ...(rowHasKeys ? ['rowHasKeys'] : [])];
  const uniforms: Uniform[] = [
    ...rowUniforms(rows, cols),
    f32(scale),
    i32(dimB),
    i32(dimT),
    ...biasStrides.map(i32),
    ...rowStrides.slice(0, 3).map(i32),
  ];
  const program = rowProgram(
    `attention_softmax_${bias ? 'b' : ''}${rowHasKeys ? 'r' : ''}`,
    names,
    scores.shape,
    rows,
    cols,
    forwardCode(!!bias, !!rowHasKeys),
    'scale : f32, dimB : i32, dimT : i32, bs0 : i32, bs1 : i32, bs2 : i32, bs3 : i32, rs0 : i32, rs1 : i32, rs2 : i32,',
  );
  const probs = run(backend, program, inputs, 'float32', uniforms);
  if (!keep) return { probs, dropped: probs };
  const dropped = dropout(probs, keep, keepScale);
  if (dropped) return { probs, dropped };
  probs.dispose();
  return undefined;
}

/** Gradient of attentionSoftmax's output with respect to the raw scores, one dispatch. */
export function attentionSoftmaxGrad(
  dy: tf.Tensor,
  probs: tf.Tensor,
  scale: number,
  keep?: tf.Tensor,
  keepScale = 1,
): tf.Tensor | undefined {
  const backend = webgpuBackend();
  if (!backend || dy.dtype !== 'float32' || probs.dtype !== 'float32' || dy.size !== probs.size)
    return undefined;
  if (probs.rank < 1 || probs.size === 0) return undefined;
  if (keep && (keep.dtype !== 'bool' || keep.size !== probs.size)) return undefined;
  const cols = probs.shape[probs.rank - 1]!;
  const rows = probs.size / cols;
  const program = rowProgram(
    `attention_softmax_grad${keep ? '_keep' : ''}`,
    ['dy', 'probs', ...(keep ? ['keep'] : [])],
    probs.shape,
    rows,
    cols,
    gradCode(!!keep),
    'scale : f32, keepScale : f32,',
  );
  return run(backend, program, [dy, probs, ...(keep ? [keep] : [])], 'float32', [
    ...rowUniforms(rows, cols),
    f32(scale),
    f32(keepScale),
  ]);
}
