import type * as tf from '@tensorflow/tfjs';
import { elementwise, run, sameFloat32, webgpuBackend } from './program.js';

/** GELU's two forms: exact (erf, BERT's `gelu`) and the tanh approximation (GPT-2's `gelu_new`). */
export type GeluForm = 'erf' | 'tanh';

/*
 * WGSL has no erf: Φ(x) = ½·erfc(−x/√2) with Numerical Recipes' erfc (Chebyshev fit, relative error
 * < 1.2e-7 everywhere), which stays accurate in the left tail where ½(1 + erf) would cancel. The tanh form
 * is x·σ(2u), u = c·(x + a·x³), with σ evaluated so that exp never overflows.
 */
const HELPERS = `
  fn erfcTk(z : f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * abs(z));
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
      t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
      t * (-0.82215223 + t * 0.17087277)))))))));
    return select(2.0 - r, r, z >= 0.0);
  }
  fn normalCdf(x : f32) -> f32 { return 0.5 * erfcTk(-x * 0.70710678118654752); }
  fn sigmoidTk(z : f32) -> f32 {
    let e = exp(-abs(z));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
  }
  fn tanhGate(x : f32) -> f32 {
    return sigmoidTk(x * (1.5957691216057308 + 0.0713548162726 * x * x));
  }
`;
// 2c = 2·√(2/π) = 1.5957691216057308; 2c·a = 0.0713548162726 (a = 0.044715)

const FORWARD: Record<GeluForm, string> = {
  erf: 'let v = f32(x[index]); result[index] = v * normalCdf(v);',
  tanh: 'let v = f32(x[index]); result[index] = v * tanhGate(v);',
};
// erf: Φ(x) + x·φ(x); tanh: s + x·s·(1 − s)·2c·(1 + 3a·x²)
const GRADIENT: Record<GeluForm, string> = {
  erf: `let v = f32(x[index]);
    result[index] = f32(dy[index]) * (normalCdf(v) + v * 0.3989422804014327 * exp(-0.5 * v * v));`,
  tanh: `let v = f32(x[index]); let s = tanhGate(v);
    result[index] = f32(dy[index]) * (s + v * s * (1.0 - s) * (1.5957691216057308 + 0.2140644488178 * v * v));`,
};

/** GELU of x in `form`, one dispatch. */
export function gelu(form: GeluForm, x: tf.Tensor): tf.Tensor | undefined {
  const backend = webgpuBackend();
  if (!backend || x.dtype !== 'float32') return undefined;
  return run(backend, elementwise(`gelu_${form}`, ['x'], x.shape, FORWARD[form], undefined, HELPERS), [x]);
}

/** dy · GELU'(x) in `form`, one dispatch. */
export function geluGrad(form: GeluForm, x: tf.Tensor, dy: tf.Tensor): tf.Tensor | undefined {
  const backend = webgpuBackend();
  if (!backend || !sameFloat32(x, dy)) return undefined;
  const program = elementwise(`gelu_grad_${form}`, ['x', 'dy'], x.shape, GRADIENT[form], undefined, HELPERS);
  return run(backend, program, [x, dy]);
}
