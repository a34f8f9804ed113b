import * as tf from '@tensorflow/tfjs';
import { warnDecline } from './warn.js';

/*
 * How a kernel here runs: a WGSL program in the shape TF.js's WebGPU backend compiles
 * (tfjs-backend-webgpu/src/webgpu_program.ts: it declares `result`, one read-only array per variable name and
 * a `uniforms` struct, then appends getUserCode()), run by `backend.runWebGPUProgram`, whose result becomes a
 * tensor through the engine. Both are TF.js internals (4.22 is its last release): they are checked before
 * each use, and without them every kernel declines (core then runs its plain TF.js ops), saying why once.
 * A float32 tensor may sit on an i32 buffer (TF.js's Cast from bool or int32 shares the input's buffer, and
 * the compiler declares the buffer's type), so the WGSL reads every float input through f32().
 */

/** The fields of tfjs-backend-webgpu's WebGPUProgram that its compiler reads. */
export interface Program {
  variableNames: string[];
  outputShape: number[];
  /** With the variable names, ranks and dtypes (TF.js adds those), what selects the compiled pipeline. */
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  /** Adds `size : i32` (the output's element count) to the uniforms. */
  size?: boolean;
  /** WGSL struct fields (`name : type,`) appended to TF.js's uniforms, in the order of the uniform data. */
  uniforms?: string;
  getUserCode(): string;
}

export interface Uniform {
  type: 'float32' | 'int32';
  data: number[];
}

interface WebGPUBackendLike {
  runWebGPUProgram(
    program: Program,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: Uniform[],
  ): tf.TensorInfo;
}

/** The active backend when it is TF.js's WebGPU backend with the hooks the kernels need; else undefined. */
export function webgpuBackend(): WebGPUBackendLike | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const why = missingHook();
  if (why) {
    warnDecline(why);
    return undefined;
  }
  return tf.backend() as unknown as WebGPUBackendLike;
}

/** Why the kernels cannot run on the active WebGPU backend ('' when they can). */
export function missingHook(): string {
  if (typeof (tf.backend() as unknown as Partial<WebGPUBackendLike>).runWebGPUProgram !== 'function') {
    return 'this TF.js WebGPU backend has no runWebGPUProgram';
  }
  if (
    typeof (tf.engine() as { makeTensorFromTensorInfo?: unknown }).makeTensorFromTensorInfo !== 'function'
  ) {
    return 'this TF.js engine has no makeTensorFromTensorInfo';
  }
  return '';
}

/** Runs `program` on `inputs` and returns its output as a tensor (the caller owns it). */
export function run(
  backend: WebGPUBackendLike,
  program: Program,
  inputs: tf.Tensor[],
  dtype: tf.DataType = 'float32',
  uniforms?: Uniform[],
): tf.Tensor {
  const info = backend.runWebGPUProgram(program, inputs, dtype, uniforms);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Threads a workgroup runs in an element-wise program (TF.js's own choice for its unary ops). */
const ELEMENTWISE_THREADS = 64;

/** One thread per output element; `body` sees `index` (i32, < uniforms.size) and writes `result[index]`. */
export function elementwise(
  key: string,
  variableNames: string[],
  outputShape: number[],
  body: string,
  uniforms?: string,
  helpers = '',
): Program {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    variableNames,
    outputShape,
    shaderKey: `tk_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / ELEMENTWISE_THREADS), 1, 1],
    workgroupSize: [ELEMENTWISE_THREADS, 1, 1],
    size: true,
    ...(uniforms ? { uniforms } : {}),
    getUserCode: () => `
      ${helpers}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/**
 * Threads of a row program's workgroup: a power of two (the tree reduction halves it); 32 for short rows
 * (a small model's hidden size, attention over few keys), so half the workgroup does not idle.
 */
export function rowThreads(cols: number): number {
  return cols >= 4096 ? 256 : cols > 32 ? 64 : 32;
}

/**
 * One workgroup per row of a (rows, cols) problem: `body` sees `row`, `tid` (this thread's first column;
 * it strides by `W`), `cols`, `valid` (the row exists: TF.js may round a large dispatch up) and may call
 * `rowSum(v)` / `rowMax(v)`, which reduce one value per thread over the workgroup in shared memory. Every
 * thread must reach each call (they hold barriers), so `valid` guards only reads and writes. The uniform
 * data starts with `rowUniforms(rows, cols)`, then `uniforms`' fields.
 */
export function rowProgram(
  key: string,
  variableNames: string[],
  outputShape: number[],
  rows: number,
  cols: number,
  body: string,
  uniforms = '',
  helpers = '',
): Program {
  const w = rowThreads(cols);
  return {
    variableNames,
    outputShape,
    shaderKey: `tk_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [rows, 1, 1],
    workgroupSize: [w, 1, 1],
    uniforms: `rows : i32, cols : i32, ${uniforms}`,
    getUserCode: () => `
      const W = ${w};
      var<workgroup> shared_ : array<f32, ${w}>;
      fn rowSum(v : f32) -> f32 {
        let t = localId.x;
        shared_[t] = v;
        workgroupBarrier();
        for (var s = ${w / 2}u; s > 0u; s = s >> 1u) {
          if (t < s) { shared_[t] = shared_[t] + shared_[t + s]; }
          workgroupBarrier();
        }
        let r = shared_[0];
        workgroupBarrier();
        return r;
      }
      fn rowMax(v : f32) -> f32 {
        let t = localId.x;
        shared_[t] = v;
        workgroupBarrier();
        for (var s = ${w / 2}u; s > 0u; s = s >> 1u) {
          if (t < s) { shared_[t] = max(shared_[t], shared_[t + s]); }
          workgroupBarrier();
        }
        let r = shared_[0];
        workgroupBarrier();
        return r;
      }
      ${helpers}
      fn main(index : i32) {
        let row = index / W;
        let tid = i32(localId.x);
        let cols = uniforms.cols;
        let valid = row < uniforms.rows;
        ${body}
      }`,
  };
}

/** The first uniforms of a row program. */
export function rowUniforms(rows: number, cols: number): Uniform[] {
  return [
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [cols] },
  ];
}

export const f32 = (v: number): Uniform => ({ type: 'float32', data: [v] });
export const i32 = (v: number): Uniform => ({ type: 'int32', data: [v] });

/** Both float32 with one shape (what an element-wise kernel takes; anything else declines). */
export function sameFloat32(a: tf.Tensor, b: tf.Tensor): boolean {
  return a.dtype === 'float32' && b.dtype === 'float32' && tf.util.arraysEqual(a.shape, b.shape);
}
