import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasWasmKernels, wasmBatchMatMul, wasmSumLeading, wasmTranspose2d } from './kernels/wasm-kernels.js';
import { Rng } from './random.js';

/*
 * The few primitives every model is made of, written so that they train on every backend and run at
 * speed on wasm. Model code uses these instead of tf.matMul / tf.gather, so kernel gaps stay here:
 *  - wasm's matMul is fast (XNNPACK) only for plain 2-D, non-transposed operands, so on wasm every product
 *    (linear layers forward and backward, column sums, attention, one-token decoding) runs on core's own
 *    SIMD kernel (kernels/matmul.wat), which reads transposed operands in place on TF.js's heap;
 *  - wasm has no UnsortedSegmentSum, so the gradient of an embedding lookup is a scatter-add (ScatterNd).
 */

/** Plain 2-D product a (M,K) @ b (K,N) whose gradients are plain 2-D products too. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulWithGrad(a, b) as tf.Tensor2D;
}

const matMulWithGrad = tf.customGrad((...args) => {
  const [x, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, y]);
  return {
    value: product(x, y),
    gradFunc: (dy, [sx, sy]) => [
      timesTransposed(dy as tf.Tensor2D, sy as tf.Tensor2D),
      transposedTimes(sx as tf.Tensor2D, dy as tf.Tensor2D),
    ],
  };
});

/** a (M, K) @ b (N, K)ᵀ → (M, N), e.g. a tied vocabulary projection; on wasm bᵀ is never materialised. */
export function matMulTransposed(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulTransposedWithGrad(a, b) as tf.Tensor2D;
}

const matMulTransposedWithGrad = tf.customGrad((...args) => {
  const [x, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, y]);
  return {
    value: timesTransposed(x, y),
    gradFunc: (dy, [sx, sy]) => [
      product(dy as tf.Tensor2D, sy as tf.Tensor2D),
      transposedTimes(dy as tf.Tensor2D, sx as tf.Tensor2D),
    ],
  };
});

/** (R, C) → (C, R); on wasm a strided copy in core's kernel (TF.js's Transpose is ~10x slower there). */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2) throw new ShapeError(`transpose2d: expected a matrix, got shape [${x.shape}]`);
  if (!hasWasmKernels() || x.dtype !== 'float32') return tf.transpose(x);
  return wasmTranspose2d(x);
}

/**
 * xᵀ @ y for x (N, K), y (N, M): weight gradients. On wasm core's kernel reads x transposed in place of
 * a transpose + XNNPACK product (faster than the pair at every training shape measured).
 */
function transposedTimes(x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
  if (!hasWasmKernels()) return tf.matMul(transpose2d(x), y);
  const [n, k] = x.shape;
  const m = y.shape[1];
  return wasmBatchMatMul(x.reshape([1, n, k]), y.reshape([1, n, m]), true, false).reshape([k, m]);
}

/**
 * Sum over every axis but the last: (..., D) → (D). Bias and LayerNorm-gain gradients. On wasm it is
 * ones (1, N) @ x (N, D) in core's kernel: TF.js's reduction over the outer axis transposes first (~15x
 * slower), and XNNPACK would repack x for a single row.
 */
export function sumLeading(x: tf.Tensor): tf.Tensor1D {
  if (hasWasmKernels()) return wasmSumLeading(x);
  const d = x.shape[x.rank - 1]!;
  return x.reshape([-1, d]).sum(0);
}

/** x (..., in) @ weight (in, out) + bias (out) → (..., out). */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = weight.shape[0]!;
  const lastDim = x.shape[x.rank - 1];
  if (lastDim !== inDim)
    throw new ShapeError(`linear: input last dim ${lastDim} != weight in-features ${inDim}`);
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inDim]) as tf.Tensor2D;
  const y = bias
    ? linearWithGrad(x2, weight as tf.Tensor2D, bias as tf.Tensor1D)
    : matMul(x2, weight as tf.Tensor2D);
  return y.reshape([...lead, weight.shape[1]!]);
}

// One fused product + bias forward; three products backward.
const linearWithGrad = tf.customGrad((...args) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: product(x, w, b),
    gradFunc: (dy, [sx, sw]) => [
      timesTransposed(dy as tf.Tensor2D, sw as tf.Tensor2D),
      transposedTimes(sx as tf.Tensor2D, dy as tf.Tensor2D),
      sumLeading(dy),
    ],
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

// On wasm, core's kernel runs the linear layer's products too: XNNPACK repacks every freshly updated
// weight on each call, and a transposed operand would need a separate transpose (bench/matmul.bench.mjs).

/**
 * x @ w (+ b); on wasm core's kernel (its accumulators start at the bias). Under 4 rows (one-token
 * decoding) the kernel streams w once, row by row, at memory bandwidth.
 */
function product(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (!hasWasmKernels()) return tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D;
  const [n, k] = x.shape;
  const m = w.shape[1];
  return wasmBatchMatMul(x.reshape([1, n, k]), w.reshape([1, k, m]), false, false, b).reshape([n, m]);
}

/**
 * y @ wᵀ for y (N, M), w (K, M): input gradients, and tied vocabulary heads. Under 4 rows the kernel takes
 * dot products with w's contiguous rows (no transposed copy; XNNPACK's transposed path is ~4x slower).
 */
function timesTransposed(y: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (!hasWasmKernels()) return tf.matMul(y, transpose2d(w));
  const [n, m] = y.shape;
  const k = w.shape[0];
  return wasmBatchMatMul(y.reshape([1, n, m]), w.reshape([1, k, m]), false, true).reshape([n, k]);
}

/**
 * Batched product for attention: a (..., T, K) @ b (..., K, S), optionally with b given as (..., S, K)
 * (`transposeB`). Leading dims must match. On wasm it runs core's SIMD kernel (TF.js's own is a scalar
 * loop for batched or transposed operands), forward and backward.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  // Fewer than 4 query rows (one-token decoding) run the kernel's matrix-vector path, reading each key once.
  if (a.rank < 3 || !hasWasmKernels()) return tf.matMul(a, b, false, transposeB);
  if (b.rank !== a.rank || b.shape.slice(0, -2).some((d, i) => d !== lead[i])) {
    throw new ShapeError(`batchMatMul: leading dims of [${a.shape}] and [${b.shape}] differ`);
  }
  const n = lead.reduce((x, y) => x * y, 1);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const out = wasmBatchMatMul(a.reshape([n, m, k]), b.reshape([n, br, bc]), false, transposeB);
  return out.reshape([...lead, m, transposeB ? br : bc]);
}

/** Rows of `table` (V, D) at integer `ids` of any shape → (...ids.shape, D). Trains on every backend. */
export function embedding(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const dim = table.shape[1]!;
  return embeddingWithGrad(table, ids.reshape([-1]).cast('int32')).reshape([...ids.shape, dim]);
}

const embeddingWithGrad = tf.customGrad((...args) => {
  const [table, ids, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([ids]);
  return {
    value: tf.gather(table, ids),
    // Scatter-add of the incoming rows (ScatterNd sums duplicate indices); ids get no gradient.
    gradFunc: (dy, [savedIds]) => [
      tf.scatterND(savedIds!.expandDims(1), dy, table.shape),
      tf.zerosLike(savedIds!),
    ],
  };
});

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  return layerNormWithGrad(eps)(x, gamma, beta);
}

// The analytic backward (about half the kernels of autodiff through moments), one closure per eps.
const layerNormByEps = new Map<number, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();
function layerNormWithGrad(eps: number): (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  let fn = layerNormByEps.get(eps);
  if (!fn) {
    fn = tf.customGrad((...args) => {
      const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const centered = x.sub(x.mean(-1, true));
      const rstd = centered.square().mean(-1, true).add(eps).rsqrt();
      const xhat = centered.mul(rstd);
      save([xhat, rstd, gamma]);
      return {
        value: xhat.mul(gamma).add(beta),
        gradFunc: (dy, [sxhat, srstd, sgamma]) => {
          const g = dy.mul(sgamma!);
          // dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))
          const dx = g
            .sub(g.mean(-1, true))
            .sub(sxhat!.mul(g.mul(sxhat!).mean(-1, true)))
            .mul(srstd!);
          return [dx, sumLeading(dy.mul(sxhat!)), sumLeading(dy)];
        },
      };
    }) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
    layerNormByEps.set(eps, fn);
  }
  return fn;
}

/** GELU, exact (erf) form: BERT's `gelu`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return geluWithGrad(x);
}

// Hand-written gradients: autodiff of these formulas costs 2-3x the kernels (and pow's gradient takes logs).
const geluWithGrad = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const cdf = tf.erf(x.mul(Math.SQRT1_2)).add(1).mul(0.5);
  save([x, cdf]);
  return {
    value: x.mul(cdf),
    // d/dx x·Φ(x) = Φ(x) + x·φ(x)
    gradFunc: (dy, [sx, scdf]) =>
      dy.mul(scdf!.add(sx!.mul(tf.exp(sx!.square().mul(-0.5)).mul(1 / Math.sqrt(2 * Math.PI))))),
  };
}) as (x: tf.Tensor) => tf.Tensor;

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** GELU, tanh approximation: GPT-2's `gelu_new`. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return geluTanhWithGrad(x);
}

// ½(1 + tanh(u)) = σ(2u), so y = x·σ(2u) with u = c·(x + a·x³): sigmoid is XNNPACK on wasm, tanh is a
// scalar loop there (1 ms vs 11 ms for 512k values). x³ is x·x², never pow.
const geluTanhWithGrad = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.sigmoid(
    x.mul(
      x
        .square()
        .mul(2 * GELU_C * GELU_A)
        .add(2 * GELU_C),
    ),
  );
  save([x, s]);
  return {
    value: x.mul(s),
    // y' = s + x·s·(1 − s)·2c·(1 + 3a·x²)
    gradFunc: (dy, [sx, ss]) => {
      const poly = sx!
        .square()
        .mul(6 * GELU_A * GELU_C)
        .add(2 * GELU_C);
      return dy.mul(ss!.add(sx!.mul(ss!).mul(tf.sub(1, ss!)).mul(poly)));
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

// Masks come from one seeded stream (TF.js would seed each from Math.random), so a seeded run repeats.
let dropoutRng = new Rng(0);

/** Restarts the stream dropout masks are drawn from: same seed, same masks, same training run. */
export function seedDropout(seed: number): void {
  dropoutRng = new Rng(seed);
}

/** Inverted dropout; identity when not training or rate is 0. Seeded by `seed`, else by seedDropout's stream. */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate === 0) return x;
  return tf.dropout(x, rate, undefined, seed ?? dropoutRng.nextSeed());
}

/**
 * Mean cross-entropy of logits (N, V) against integer targets (N), skipping positions whose target is
 * `ignoreIndex`. Written with a one-hot product rather than a gather so its gradient runs on wasm.
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, ignoreIndex = -100): tf.Scalar {
  const v = logits.shape[logits.rank - 1]!;
  const flatLogits = logits.reshape([-1, v]);
  const flatTargets = targets.reshape([-1]).cast('int32');
  if (flatLogits.shape[0] !== flatTargets.shape[0]) {
    throw new ShapeError(
      `crossEntropy: ${flatLogits.shape[0]} logit rows but ${flatTargets.shape[0]} targets`,
    );
  }
  const valid = flatTargets.notEqual(ignoreIndex);
  const safeTargets = tf.where(valid, flatTargets, tf.zerosLike(flatTargets));
  const logProbs = tf.logSoftmax(flatLogits);
  const picked = logProbs.mul(tf.oneHot(safeTargets, v)).sum(-1);
  const weights = valid.cast('float32');
  return picked.mul(weights).sum().neg().div(weights.sum().maximum(1)) as tf.Scalar;
}
