import * as tf from '@tensorflow/tfjs';
import { keepMask } from '@transformer-kit/backend-wasm';
import { hostView } from './backend/host-memory.js';
import { InvalidArgumentError, ShapeError } from './errors.js';
import { fusedKernels } from './fused.js';
import { Rng } from './random.js';
import { blockedGather, rowsPerBinding } from './row-blocks.js';

/*
 * (Each custom gradient below saves its tensors after computing its value: TF.js keeps what is saved, so a
 * value that fails to allocate must not leave saved tensors behind.)
 *
 * The few primitives every model is made of, written so that they train on every backend and run at
 * speed on wasm. Model code uses these instead of tf.matMul / tf.gather, so kernel gaps stay here:
 *  - wasm's matMul is fast (XNNPACK) only for plain 2-D, non-transposed operands, so on wasm every product
 *    (linear layers forward and backward, column sums, attention, one-token decoding) runs on the fused
 *    batched product (fused.ts; on wasm @transformer-kit/backend-wasm's SIMD kernel, which reads transposed
 *    operands in place on TF.js's heap);
 *  - wasm has no UnsortedSegmentSum, so the gradient of an embedding lookup is a scatter-add (ScatterNd).
 */

/** Plain 2-D product a (M,K) @ b (K,N) whose gradients are plain 2-D products too. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (isFrozen(b))
    return frozenRight(
      a,
      (x) => product(x, b),
      (dy) => timesTransposed(dy, b),
    );
  return matMulWithGrad(a, b) as tf.Tensor2D;
}

/** A variable marked not trainable (a frozen base weight under LoRA): no gradient is made for it. */
const isFrozen = (t: tf.Tensor): boolean => t instanceof tf.Variable && !t.trainable;

/**
 * A product with a frozen right operand: the backward pass makes only dx. The operand is closed over, not
 * an input, so its (K, N) gradient (a third of a training step's products) is never computed.
 */
function frozenRight(
  x: tf.Tensor2D,
  forward: (x: tf.Tensor2D) => tf.Tensor2D,
  dx: (dy: tf.Tensor2D) => tf.Tensor2D,
): tf.Tensor2D {
  return tf.customGrad((...args) => {
    const input = args[0] as tf.Tensor2D;
    return { value: forward(input), gradFunc: (dy) => dx(dy as tf.Tensor2D) };
  })(x) as tf.Tensor2D;
}

const matMulWithGrad = tf.customGrad((...args) => {
  const [x, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const value = product(x, y);
  save([x, y]);
  return {
    value,
    gradFunc: (dy, [sx, sy]) => [
      timesTransposed(dy as tf.Tensor2D, sy as tf.Tensor2D),
      transposedTimes(sx as tf.Tensor2D, dy as tf.Tensor2D),
    ],
  };
});

/** a (M, K) @ b (N, K)ᵀ → (M, N), e.g. a tied vocabulary projection; on wasm bᵀ is never materialised. */
export function matMulTransposed(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (isFrozen(b))
    return frozenRight(
      a,
      (x) => timesTransposed(x, b),
      (dy) => product(dy, b),
    );
  return matMulTransposedWithGrad(a, b) as tf.Tensor2D;
}

const matMulTransposedWithGrad = tf.customGrad((...args) => {
  const [x, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const value = timesTransposed(x, y);
  save([x, y]);
  return {
    value,
    gradFunc: (dy, [sx, sy]) => [
      product(dy as tf.Tensor2D, sy as tf.Tensor2D),
      transposedTimes(dy as tf.Tensor2D, sx as tf.Tensor2D),
    ],
  };
});

/** (R, C) → (C, R); on wasm a strided copy in the wasm runtime's kernel (TF.js's Transpose is ~10x slower there). */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2) throw new ShapeError(`transpose2d: expected a matrix, got shape [${x.shape}]`);
  return (x.dtype === 'float32' && fusedKernels().transpose2d?.(x)) || tf.transpose(x);
}

/**
 * xᵀ @ y for x (N, K), y (N, M): weight gradients. On wasm the runtime's kernel reads x transposed in place of
 * a transpose + XNNPACK product (faster than the pair at every training shape measured).
 */
function transposedTimes(x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
  const bmm = fusedKernels().batchMatMul;
  if (!bmm) return tf.matMul(transpose2d(x), y);
  const [n, k] = x.shape;
  const m = y.shape[1];
  return (
    bmm(x.reshape([1, n, k]), y.reshape([1, n, m]), true, false)?.reshape([k, m]) ??
    tf.matMul(transpose2d(x), y)
  );
}

/**
 * Sum over every axis but the last: (..., D) → (D). Bias and LayerNorm-gain gradients. On wasm it is
 * ones (1, N) @ x (N, D) in the wasm runtime's kernel: TF.js's reduction over the outer axis transposes first (~15x
 * slower), and XNNPACK would repack x for a single row.
 */
export function sumLeading(x: tf.Tensor): tf.Tensor1D {
  const fused = x.dtype === 'float32' ? fusedKernels().sumLeading?.(x) : undefined;
  if (fused) return fused;
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
  // core's reshape: TF.js's would keep the 2-D output alive for the backward pass after its last use.
  const x2 = reshape<tf.Rank.R2>(x, [-1, inDim]);
  const y =
    isFrozen(weight) && (!bias || isFrozen(bias))
      ? frozenRight(
          x2,
          (i) => product(i, weight as tf.Tensor2D, bias as tf.Tensor1D | undefined),
          (dy) => timesTransposed(dy, weight as tf.Tensor2D),
        )
      : bias
        ? linearWithGrad(x2, weight as tf.Tensor2D, bias as tf.Tensor1D)
        : matMul(x2, weight as tf.Tensor2D);
  return reshape(y, [...lead, weight.shape[1]!]);
}

// One fused product + bias forward; three products backward.
const linearWithGrad = tf.customGrad((...args) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const value = product(x, w, b);
  save([x, w]);
  return {
    value,
    gradFunc: (dy, [sx, sw]) => [
      timesTransposed(dy as tf.Tensor2D, sw as tf.Tensor2D),
      transposedTimes(sx as tf.Tensor2D, dy as tf.Tensor2D),
      sumLeading(dy),
    ],
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

// On wasm the linear layer's products run on core's TkBatchMatMul, not XNNPACK: XNNPACK repacks every freshly
// updated weight on each call, and a transposed operand would need a separate transpose (bench/matmul.bench.mjs).

/**
 * x @ w (+ b); on wasm the runtime's kernel (its accumulators start at the bias). Under 4 rows (one-token
 * decoding) the kernel streams w once, row by row, at memory bandwidth.
 */
function product(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const [n, k] = x.shape;
  const m = w.shape[1];
  const fused = fusedKernels().batchMatMul?.(x.reshape([1, n, k]), w.reshape([1, k, m]), false, false, b);
  return fused ? fused.reshape([n, m]) : (tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D);
}

/**
 * y @ wᵀ for y (N, M), w (K, M): input gradients, and tied vocabulary heads. Under 4 rows the kernel takes
 * dot products with w's contiguous rows (no transposed copy; XNNPACK's transposed path is ~4x slower).
 */
function timesTransposed(y: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const [n, m] = y.shape;
  const k = w.shape[0];
  const fused = fusedKernels().batchMatMul?.(y.reshape([1, n, m]), w.reshape([1, k, m]), false, true);
  return fused ? fused.reshape([n, k]) : tf.matMul(y, transpose2d(w));
}

/**
 * Batched product for attention: a (..., T, K) @ b (..., K, S), optionally with a given as (..., K, T)
 * (`transposeA`) or b as (..., S, K) (`transposeB`). Leading dims must match. On wasm it runs the wasm
 * runtime's SIMD kernel (TF.js's own is a scalar loop for batched or transposed operands), forward and backward.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeB = false, transposeA = false): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  // Fewer than 4 query rows (one-token decoding) run the kernel's matrix-vector path, reading each key once.
  const bmm = fusedKernels().batchMatMul;
  if (a.rank < 3 || !bmm) return tf.matMul(a, b, transposeA, transposeB);
  if (b.rank !== a.rank || b.shape.slice(0, -2).some((d, i) => d !== lead[i])) {
    throw new ShapeError(`batchMatMul: leading dims of [${a.shape}] and [${b.shape}] differ`);
  }
  const n = lead.reduce((x, y) => x * y, 1);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const out = bmm(reshape(a, [n, ar, ac]), reshape(b, [n, br, bc]), transposeA, transposeB);
  const shape = [...lead, transposeA ? ac : ar, transposeB ? br : bc];
  return out ? reshape(out, shape) : tf.matMul(a, b, transposeA, transposeB);
}

/** Rows of `table` (V, D) at integer `ids` of any shape → (...ids.shape, D). Trains on every backend. */
export function embedding(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const dim = table.shape[1]!;
  const flat = ids.reshape([-1]).cast('int32') as tf.Tensor1D;
  // WebGPU: a table over the storage-binding limit is read in row blocks (row-blocks.ts).
  const block = rowsPerBinding(table);
  const rows =
    block === Number.POSITIVE_INFINITY
      ? embeddingWithGrad(table, flat)
      : blockedGather(table as tf.Tensor2D, flat, block);
  return rows.reshape([...ids.shape, dim]);
}

const embeddingWithGrad = tf.customGrad((...args) => {
  const [table, ids, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const value = tf.gather(table, ids);
  save([ids]);
  return {
    value,
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
      const kernels = fusedKernels();
      const out = x.dtype === 'float32' ? kernels.layerNorm?.(x, gamma, beta, eps) : undefined;
      let value: tf.Tensor;
      let xhat: tf.Tensor;
      let rstd: tf.Tensor;
      if (out) {
        [value, xhat, rstd] = out;
      } else {
        const centered = x.sub(x.mean(-1, true));
        rstd = centered.square().mean(-1, true).add(eps).rsqrt();
        xhat = centered.mul(rstd);
        value = xhat.mul(gamma).add(beta);
      }
      save([xhat, rstd, gamma]);
      return {
        value,
        gradFunc: (dy, [sxhat, srstd, sgamma]) => {
          // dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dy · γ
          const fused = out ? kernels.layerNormGrad?.(dy, sxhat!, sgamma!, srstd!) : undefined;
          const dx =
            fused ??
            tf.tidy(() => {
              const g = dy.mul(sgamma!);
              return g
                .sub(g.mean(-1, true))
                .sub(sxhat!.mul(g.mul(sxhat!).mean(-1, true)))
                .mul(srstd!);
            });
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
// Only x is kept: Φ(x) is recomputed in the backward pass (a (B, T, 4D) tensor less per layer).
const geluWithGrad = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const kernels = fusedKernels();
  const fused = x.dtype === 'float32' ? kernels.gelu?.('erf', x) : undefined;
  const value = fused ?? x.mul(normalCdf(x));
  save([x]);
  return {
    value,
    // d/dx x·Φ(x) = Φ(x) + x·φ(x)
    gradFunc: (dy, [sx]) =>
      (fused && kernels.geluGrad?.('erf', sx!, dy)) ||
      dy.mul(normalCdf(sx!).add(sx!.mul(tf.exp(sx!.square().mul(-0.5)).mul(1 / Math.sqrt(2 * Math.PI))))),
  };
}) as (x: tf.Tensor) => tf.Tensor;

const normalCdf = (x: tf.Tensor) => tf.erf(x.mul(Math.SQRT1_2)).add(1).mul(0.5);

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
  const kernels = fusedKernels();
  const fused = x.dtype === 'float32' ? kernels.gelu?.('tanh', x) : undefined;
  const value = fused ?? x.mul(geluTanhGate(x));
  save([x]);
  return {
    value,
    // y' = s + x·s·(1 − s)·2c·(1 + 3a·x²), s recomputed from x
    gradFunc: (dy, [sx]) => {
      const grad = fused ? kernels.geluGrad?.('tanh', sx!, dy) : undefined;
      if (grad) return grad;
      const s = geluTanhGate(sx!);
      const poly = sx!
        .square()
        .mul(6 * GELU_A * GELU_C)
        .add(2 * GELU_C);
      return dy.mul(s.add(sx!.mul(s).mul(tf.sub(1, s)).mul(poly)));
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** σ(2c·(x + a·x³)) = ½(1 + tanh(c·(x + a·x³))). */
const geluTanhGate = (x: tf.Tensor) =>
  tf.sigmoid(
    x.mul(
      x
        .square()
        .mul(2 * GELU_C * GELU_A)
        .add(2 * GELU_C),
    ),
  );

// Masks come from one seeded stream (TF.js would seed each from Math.random), so a seeded run repeats.
let dropoutRng = new Rng(0);

/** Restarts the stream dropout masks are drawn from: same seed, same masks, same training run. */
export function seedDropout(seed: number): void {
  dropoutRng = new Rng(seed);
}

/** A copy of the dropout stream where it stands now (activation recomputation replays from it). */
export function dropoutStream(): Rng {
  return dropoutRng.clone();
}

/** Makes `rng` the dropout stream; returns the one it replaces. */
export function setDropoutStream(rng: Rng): Rng {
  const previous = dropoutRng;
  dropoutRng = rng;
  return previous;
}

/**
 * A keep-mask (bool, true = keep) with keep probability 1 − rate: a counter-based hash of (seed, element
 * index), the same elements on every backend (wasm's and WebGPU's kernels, else backend-wasm's `keepMask` in
 * JavaScript). `seed` is an integer in [0, 2⁵³).
 */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  // Checked here, once, so every backend refuses the same input with the same typed error.
  if (!(rate >= 0 && rate < 1))
    throw new InvalidArgumentError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new InvalidArgumentError(`dropout: seed must be an integer in [0, 2^53), got ${seed}`);
  const fused = fusedKernels().dropoutMask?.(shape, rate, seed);
  if (fused) return fused;
  return tf.tensor(keepMask(tf.util.sizeFromShape(shape), rate, seed), shape, 'bool');
}

/** The next seed of the dropout stream (see seedDropout). */
export function nextDropoutSeed(): number {
  return dropoutRng.nextSeed();
}

/** Inverted dropout; identity when not training or rate is 0. Seeded by `seed`, else by seedDropout's stream. */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate === 0) return x;
  const s = seed ?? dropoutRng.nextSeed();
  const scale = 1 / (1 - rate);
  // Keeps only the 1-byte mask: TF.js's dropout kept its float mask and its input for the backward pass.
  return tf.customGrad((...args) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const mask = dropoutMask(input.shape, rate, s);
    const value = applyDropout(input, mask, scale);
    save([mask]);
    return { value, gradFunc: (dy, [m]) => applyDropout(dy as tf.Tensor, m!, scale) };
  })(x);
}

/** x · scale where `mask` (bool, x's shape) is true, else 0: dropout with a given mask, forward or backward. */
export function applyDropout(x: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor {
  return (
    (x.dtype === 'float32' && fusedKernels().dropout?.(x, mask, scale)) ||
    tf.tidy(() => tf.where(mask, x.mul(scale), tf.zerosLike(x)))
  );
}

/**
 * linear(dropout(x), weight) (no bias; LoRA's A), keeping x and the 1-byte mask for the backward pass and
 * making the dropped copy again there. Composed, the product kept its dropped input: one full-width
 * activation per adapter, where x itself is shared by every adapter reading it (BERT's query and value).
 */
export function dropoutLinear(
  x: tf.Tensor,
  weight: tf.Tensor,
  rate: number,
  training: boolean,
  seed?: number,
): tf.Tensor {
  if (!training || rate === 0) return linear(x, weight);
  const s = seed ?? dropoutRng.nextSeed();
  const scale = 1 / (1 - rate);
  const inDim = weight.shape[0]!;
  if (x.shape[x.rank - 1] !== inDim)
    throw new ShapeError(
      `dropoutLinear: input last dim ${x.shape[x.rank - 1]} != weight in-features ${inDim}`,
    );
  const lead = x.shape.slice(0, -1);
  const y = tf.customGrad((...args) => {
    const [input, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const mask = dropoutMask(input.shape, rate, s);
    const value = tf.tidy(() => product(applyDropout(input, mask, scale) as tf.Tensor2D, w));
    save([input, w, mask]);
    return {
      value,
      gradFunc: (dy, [sx, sw, m]) => [
        applyDropout(timesTransposed(dy as tf.Tensor2D, sw as tf.Tensor2D), m!, scale),
        tf.tidy(() => transposedTimes(applyDropout(sx!, m!, scale) as tf.Tensor2D, dy as tf.Tensor2D)),
      ],
    };
  })(reshape<tf.Rank.R2>(x, [-1, inDim]), weight);
  return reshape(y, [...lead, weight.shape[1]!]);
}

/**
 * a + b with broadcasting, keeping nothing for the backward pass (TF.js's Add keeps both inputs alive
 * until then, only to read their shapes: at BERT-base size that was 18 MB a layer of dead residuals).
 */
export function add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [sa, sb] = [a.shape, b.shape];
  return tf.customGrad((...args) => {
    const [x, y] = args as [tf.Tensor, tf.Tensor];
    return {
      value: tf.add(x, y),
      gradFunc: (dy) => [sumTo(dy as tf.Tensor, sa), sumTo(dy as tf.Tensor, sb)],
    };
  })(a, b);
}

/** x reshaped, keeping nothing for the backward pass (TF.js's Reshape keeps its input alive for its shape). */
export function reshape<R extends tf.Rank>(x: tf.Tensor, shape: number[]): tf.Tensor<R> {
  const from = x.shape;
  return tf.customGrad((...args) => ({
    value: (args[0] as tf.Tensor).reshape(shape),
    gradFunc: (dy) => (dy as tf.Tensor).reshape(from),
  }))(x) as tf.Tensor<R>;
}

/** dy summed over the axes that broadcasting added or stretched, back to `shape`. */
function sumTo(dy: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.util.arraysEqual(dy.shape, shape)) return dy.clone();
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) if (i < lead || shape[i - lead] === 1) axes.push(i);
  return dy.sum(axes).reshape(shape);
}

/**
 * x with x.flat[at[i]] −= values[i]. Where x lives in host memory (cpu, wasm) it is written in place, so
 * x must be a fresh tensor nobody else holds; elsewhere a scatter builds the difference.
 */
function subtractAt(x: tf.Tensor, at: tf.Tensor1D, values: tf.Tensor1D): tf.Tensor {
  if (!hostView(x)) {
    const hits = tf.scatterND(at.expandDims(1), values, [x.size]).reshape(x.shape);
    const out = x.sub(hits);
    tf.dispose([x, hits]);
    return out;
  }
  const idx = at.dataSync();
  const vals = values.dataSync();
  const target = hostView(x)!; // after the reads above, which may allocate
  idx.forEach((flat, i) => {
    target[flat] = (target[flat] as number) - (vals[i] as number);
  });
  return x;
}

/** The label value losses and metrics skip (PyTorch's and HF's convention). */
export const IGNORE_INDEX = -100;

/**
 * Mean cross-entropy of logits (N, V) against integer targets (N), skipping positions whose target is
 * `ignoreIndex`. One op with its own gradient, (softmax − onehot)·w/count: autodiff through logSoftmax
 * and a one-hot product held five (N, V) tensors, 1 GB for GPT-2's 50,257-way head at 8 × 128 tokens.
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, ignoreIndex = IGNORE_INDEX): tf.Scalar {
  const v = logits.shape[logits.rank - 1]!;
  const flatLogits = logits.reshape([-1, v]) as tf.Tensor2D;
  const flatTargets = targets.reshape([-1]).cast('int32') as tf.Tensor1D;
  if (flatLogits.shape[0] !== flatTargets.shape[0]) {
    throw new ShapeError(
      `crossEntropy: ${flatLogits.shape[0]} logit rows but ${flatTargets.shape[0]} targets`,
    );
  }
  const valid = flatTargets.notEqual(ignoreIndex);
  const weights = valid.cast('float32') as tf.Tensor1D;
  const safeTargets = tf.where(valid, flatTargets, tf.zerosLike(flatTargets)) as tf.Tensor1D;
  return crossEntropyWithGrad(flatLogits, safeTargets, weights);
}

const crossEntropyWithGrad = tf.customGrad((...args) => {
  const [logits, targets, weights, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
  const [n, v] = logits.shape;
  const kernels = fusedKernels();
  const fused = logits.dtype === 'float32';
  const lse = (fused && kernels.logSumExp?.(logits)) || tf.logSumExp(logits, -1, true);
  // The target logit of each row, by a flat gather (no (N, V) one-hot).
  const at = tf.range(0, n * v, v, 'int32').add(targets);
  const picked = tf.gather(logits.reshape([-1]), at);
  const count = weights.sum().maximum(1);
  const value = lse.reshape([n]).sub(picked).mul(weights).sum().div(count) as tf.Scalar;
  save([logits, lse, at, weights, count]);
  return {
    value,
    gradFunc: (dy, saved) => {
      const [sLogits, sLse, sAt, sWeights, sCount] = saved as [
        tf.Tensor2D,
        tf.Tensor,
        tf.Tensor1D,
        tf.Tensor1D,
        tf.Scalar,
      ];
      // Row scale w·dy/count folded into the exponent: exp(x − lse + log s) = s·softmax(x); a skipped row
      // (s = 0) gives exp(−∞) = 0.
      const scale = sWeights.mul(dy).div(sCount);
      const shift = sLse.reshape([n]).sub(tf.log(scale)).reshape([n, 1]) as tf.Tensor2D;
      // Each (N, V) tensor is ~200 MB at GPT-2's vocabulary and 8 × 128 tokens, so the logits go as soon as
      // they are read (this was their last use; another op that kept them holds its own reference).
      let dLogits: tf.Tensor | undefined = fused ? kernels.expShift?.(sLogits, shift) : undefined;
      if (dLogits) {
        sLogits.dispose();
      } else {
        const shifted = sLogits.sub(shift);
        sLogits.dispose();
        dLogits = tf.exp(shifted);
        shifted.dispose();
      }
      return [subtractAt(dLogits, sAt, scale as tf.Tensor1D), tf.zerosLike(targets), tf.zerosLike(weights)];
    },
  };
}) as (logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D) => tf.Scalar;
