import type * as tf from '@tensorflow/tfjs';
import { i32, type Program, run, webgpuBackend } from './program.js';

/*
 * Reductions over the leading axes: Σ x² (the gradient norm, once per parameter) and the column sums of a
 * (N, D) view (bias and LayerNorm-gain gradients). TF.js reduces only the innermost axis, so its column sum
 * transposes first; here a thread walks its column, reading consecutive addresses across the workgroup.
 * Sums are compensated (Kahan): a column of 1,024 rows or a 23M-value table adds with float32's rounding
 * once, not once per term.
 */

const KAHAN = `
  var<private> tkSum : f32;
  var<private> tkCarry : f32;
  fn addTk(v : f32) {
    let y = v - tkCarry;
    let t = tkSum + y;
    tkCarry = (t - tkSum) - y;
    tkSum = t;
  }`;

const THREADS = 256;
/** Σ x² runs as one workgroup's grid-stride loop up to this many values, else as partial sums + a final sum. */
const ONE_PASS = 1 << 16;

/** `parts` workgroups; workgroup g sums x² (or x) over the values i ≡ g·W + tid (mod parts·W). */
function partialSums(parts: number, square: boolean): Program {
  return {
    variableNames: ['x'],
    outputShape: [parts],
    shaderKey: `tk_partial_sums_${square ? 'sq' : 'x'}`,
    dispatchLayout: { x: [0] },
    dispatch: [parts, 1, 1],
    workgroupSize: [THREADS, 1, 1],
    uniforms: 'n : i32, parts : i32,',
    getUserCode: () => `
      ${KAHAN}
      var<workgroup> partial : array<f32, ${THREADS}>;
      fn main(index : i32) {
        let group = index / ${THREADS};
        let tid = i32(localId.x);
        tkSum = 0.0;
        tkCarry = 0.0;
        if (group < uniforms.parts) {
          for (var i = group * ${THREADS} + tid; i < uniforms.n; i = i + uniforms.parts * ${THREADS}) {
            let v = f32(x[i]);
            addTk(${square ? 'v * v' : 'v'});
          }
        }
        partial[tid] = tkSum;
        workgroupBarrier();
        for (var s = ${THREADS / 2}; s > 0; s = s >> 1u) {
          if (tid < s) { partial[tid] = partial[tid] + partial[tid + s]; }
          workgroupBarrier();
        }
        if (tid == 0 && group < uniforms.parts) { result[group] = partial[0]; }
      }`,
  };
}

/** Σ x² as a scalar: one dispatch up to 65,536 values, two past that. */
export function sumSquares(x: tf.Tensor): tf.Scalar | undefined {
  const backend = webgpuBackend();
  if (!backend || x.dtype !== 'float32' || x.size === 0 || x.size >= 2 ** 31) return undefined;
  const parts = x.size <= ONE_PASS ? 1 : Math.min(THREADS, Math.ceil(x.size / ONE_PASS));
  const first = run(backend, partialSums(parts, true), [x], 'float32', [i32(x.size), i32(parts)]);
  if (parts === 1) return reshapeScalar(first);
  const total = run(backend, partialSums(1, false), [first], 'float32', [i32(parts), i32(1)]);
  first.dispose();
  return reshapeScalar(total);
}

function reshapeScalar(t: tf.Tensor): tf.Scalar {
  const s = t.reshape([]) as tf.Scalar;
  t.dispose();
  return s;
}

const COLUMN_THREADS = 64;

/** Σ over every axis but the last: (..., D) → (D), one dispatch (a thread a column). */
export function sumLeading(x: tf.Tensor): tf.Tensor1D | undefined {
  const backend = webgpuBackend();
  const d = x.shape[x.rank - 1] ?? 0;
  if (!backend || x.dtype !== 'float32' || x.rank < 1 || d === 0 || x.size >= 2 ** 31) return undefined;
  const program: Program = {
    variableNames: ['x'],
    outputShape: [d],
    shaderKey: 'tk_sum_leading',
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(d / COLUMN_THREADS), 1, 1],
    workgroupSize: [COLUMN_THREADS, 1, 1],
    size: true,
    uniforms: 'rows : i32,',
    getUserCode: () => `
      ${KAHAN}
      fn main(index : i32) {
        if (index < uniforms.size) {
          tkSum = 0.0;
          tkCarry = 0.0;
          let d = uniforms.size;
          for (var r = 0; r < uniforms.rows; r = r + 1) { addTk(f32(x[r * d + index])); }
          result[index] = tkSum;
        }
      }`,
  };
  return run(backend, program, [x], 'float32', [i32(x.size / d)]) as tf.Tensor1D;
}
