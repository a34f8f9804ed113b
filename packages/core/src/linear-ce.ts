import * as tf from '@tensorflow/tfjs';
import { hostView } from './backend/host-memory.js';
import { InvalidArgumentError, ShapeError } from './errors.js';
import { fusedKernels } from './fused.js';
import { crossEntropy, IGNORE_INDEX, matMul, matMulTransposed, transpose2d } from './ops.js';
import { bindingBytes, concatRows, rowBlock, rowsPerBinding } from './row-blocks.js';

/*
 * The vocabulary projection and its cross-entropy as one op, chunked over the vocabulary, so the (N, V)
 * logits never exist (Liger-Kernel's FusedLinearCrossEntropy; it chunks the rows, this chunks the
 * vocabulary so that on WebGPU each chunk of the weight also fits a storage binding). The forward pass
 * keeps a running log-sum-exp and the target logit; the backward pass recomputes each chunk's logits
 * (one extra product, as activation checkpointing does) and turns them into its slice of the gradient
 * at once. At GPT-2's 50,257-way head and 8 × 128 tokens the unfused path held ~200 MB a logits tensor.
 */

export interface LinearCrossEntropyOptions {
  /** Weight given as (V, D), e.g. a tied embedding table (default); false: (D, V). */
  transposed?: boolean;
  /** (V) added to the logits. */
  bias?: tf.Tensor;
  ignoreIndex?: number;
  /** Vocabulary entries a chunk (default: about 2M logits, 8 MB, a chunk; at least 256). */
  chunkSize?: number;
}

const LOGITS_PER_CHUNK = 1 << 21;
/**
 * Up to this many logits (256 MB) that also fit one binding, the plain product + crossEntropy runs: the
 * fused path recomputes the logits in its backward (one more N × D × V product) in smaller products, which
 * measured 47 → 69 s for a GPT-2 step's loss on wasm for −10% heap. Chunks are for logits that would not
 * fit (WebGPU's 128 MiB binding, larger batches), as Liger trades that product for the memory.
 */
const UNCHUNKED_LOGITS = 1 << 26;

/**
 * Floats linearCrossEntropy holds at its peak on wasm for `rows` × `vocab` logits (memory estimates): the
 * logits and their gradient, whole up to 2^26 logits, else one chunk's.
 */
export function linearCrossEntropyFloats(rows: number, vocab: number): number {
  const logits = rows * vocab;
  return 2 * (logits <= UNCHUNKED_LOGITS ? logits : Math.min(logits, LOGITS_PER_CHUNK));
}

/**
 * Mean cross-entropy of `x @ weightᵀ (+ bias)` (x (..., D), weight (V, D)) against integer targets (...),
 * skipping `ignoreIndex`; equals `crossEntropy(matMulTransposed(x, weight) + bias, targets)` with
 * gradients into x, weight and bias, without materialising the logits.
 */
export function linearCrossEntropy(
  x: tf.Tensor,
  weight: tf.Tensor,
  targets: tf.Tensor,
  { transposed = true, bias, ignoreIndex = IGNORE_INDEX, chunkSize }: LinearCrossEntropyOptions = {},
): tf.Scalar {
  if (weight.rank !== 2)
    throw new ShapeError(`linearCrossEntropy: weight must be 2-D, got [${weight.shape}]`);
  const [v, d] = (transposed ? weight.shape : [weight.shape[1], weight.shape[0]]) as [number, number];
  if (x.shape[x.rank - 1] !== d) {
    throw new ShapeError(`linearCrossEntropy: hidden size ${x.shape[x.rank - 1]} != weight's ${d}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== v)) {
    throw new ShapeError(`linearCrossEntropy: bias must be (${v}), got [${bias.shape}]`);
  }
  const flatX = x.reshape([-1, d]) as tf.Tensor2D;
  const n = flatX.shape[0];
  if (targets.size !== n) {
    throw new ShapeError(`linearCrossEntropy: ${n} hidden rows but ${targets.size} targets`);
  }
  if (chunkSize !== undefined && !(Number.isInteger(chunkSize) && chunkSize >= 1)) {
    throw new InvalidArgumentError(`linearCrossEntropy: chunkSize must be an integer >= 1, got ${chunkSize}`);
  }
  if (
    chunkSize === undefined &&
    n * v <= UNCHUNKED_LOGITS &&
    n * v * 4 <= bindingBytes() &&
    rowsPerBinding(weight) === Number.POSITIVE_INFINITY
  ) {
    const w2 = weight as tf.Tensor2D;
    const product = transposed ? matMulTransposed(flatX, w2) : matMul(flatX, w2);
    return crossEntropy(bias ? product.add(bias) : product, targets, ignoreIndex);
  }
  // On WebGPU a chunk of a (V, D) weight must also fit one storage binding (row-blocks.ts).
  const chunk = Math.min(
    v,
    transposed ? rowsPerBinding(weight) : v,
    chunkSize ?? Math.max(256, Math.floor(LOGITS_PER_CHUNK / Math.max(n, 1))),
  );
  const flatTargets = targets.reshape([-1]).cast('int32') as tf.Tensor1D;
  const valid = flatTargets.notEqual(ignoreIndex);
  const weights = valid.cast('float32') as tf.Tensor1D;
  const safeTargets = tf.where(valid, flatTargets, tf.zerosLike(flatTargets)) as tf.Tensor1D;
  const op = fused(transposed, chunk, v);
  return bias ? op(flatX, weight, safeTargets, weights, bias) : op(flatX, weight, safeTargets, weights);
}

type Fused = (...t: tf.Tensor[]) => tf.Scalar;

function fused(transposed: boolean, chunk: number, v: number): Fused {
  const starts: number[] = [];
  for (let c = 0; c < v; c += chunk) starts.push(c);

  /** Logits of vocabulary entries [c0, c0 + size) for rows x: (N, size). */
  const logitsOf = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor | undefined, c0: number) => {
    const size = Math.min(chunk, v - c0);
    const wc = transposed ? rowBlock(w, c0, size) : w.slice([0, c0], [w.shape[0], size]);
    const l = transposed ? matMulTransposed(x, wc) : matMul(x, wc);
    const out = b ? l.add(b.slice([c0], [size])) : l;
    return { logits: out as tf.Tensor2D, wc, size };
  };
  /** Where the target falls in chunk [c0, c0 + size): its column (clamped) and whether it is there. */
  const local = (targets: tf.Tensor1D, c0: number, size: number) => {
    const inChunk = targets.greaterEqual(c0).logicalAnd(targets.less(c0 + size));
    return {
      inChunk,
      col: targets
        .sub(c0)
        .clipByValue(0, size - 1)
        .cast('int32') as tf.Tensor1D,
    };
  };

  return tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [x, w, targets, weights, b] = args as [
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.Tensor?,
    ];
    const n = x.shape[0];
    let lse: tf.Tensor1D | undefined;
    let picked = tf.zeros([n]) as tf.Tensor1D;
    for (const c0 of starts) {
      const next = tf.tidy(() => {
        const { logits, size } = logitsOf(x, w, b, c0);
        const chunkLse = (fusedKernels().logSumExp?.(logits)?.reshape([n]) ??
          tf.logSumExp(logits, -1)) as tf.Tensor1D;
        // log(eᵃ + eᵇ) = max + log1p(e^−|a−b|)
        const merged = lse
          ? tf.maximum(lse, chunkLse).add(tf.log1p(tf.exp(lse.sub(chunkLse).abs().neg())))
          : chunkLse;
        const { inChunk, col } = local(targets, c0, size);
        const at = tf.range(0, n * size, size, 'int32').add(col);
        const hit = tf.gather(logits.reshape([-1]), at);
        return [merged, picked.add(tf.where(inChunk, hit, tf.zerosLike(hit)))] as tf.Tensor1D[];
      });
      tf.dispose([lse, picked]);
      [lse, picked] = next as [tf.Tensor1D, tf.Tensor1D];
    }
    const count = weights.sum().maximum(1) as tf.Scalar;
    const value = lse!.sub(picked).mul(weights).sum().div(count) as tf.Scalar;
    picked.dispose();
    save([x, w, targets, weights, lse!, count, ...(b ? [b] : [])]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, sw, st, sWeights, sLse, sCount, sb] = saved as [
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor1D,
          tf.Tensor1D,
          tf.Tensor1D,
          tf.Scalar,
          tf.Tensor?,
        ];
        const scale = sWeights.mul(dy).div(sCount) as tf.Tensor1D;
        // exp(l − lse + log s) = s·softmax(l); a skipped row (s = 0) gives exp(−∞) = 0.
        const shift = sLse.sub(tf.log(scale)).expandDims(1);
        let dx = tf.zerosLike(sx) as tf.Tensor2D;
        const dw: tf.Tensor[] = [];
        // cpu/wasm: a (V, D) weight's gradient is filled chunk by chunk in place, so the chunks and their
        // concatenation never coexist (two table-sized tensors at GPT-2's head).
        let inPlace: tf.Tensor | undefined =
          transposed && starts.length > 1 ? tf.zeros([v, sx.shape[1]]) : undefined;
        if (inPlace && !hostView(inPlace)) {
          inPlace.dispose();
          inPlace = undefined;
        }
        const db: tf.Tensor[] = [];
        for (const c0 of starts) {
          const [ndx, dwc, dbc] = tf.tidy(() => {
            const { logits, wc, size } = logitsOf(sx, sw, sb, c0);
            const { inChunk, col } = local(st, c0, size);
            const atTarget = tf.range(0, size, 1, 'int32').expandDims(0).equal(col.expandDims(1));
            const hit = atTarget
              .cast('float32')
              .mul(tf.where(inChunk, scale, tf.zerosLike(scale)).expandDims(1));
            const e = fusedKernels().expShift?.(logits, shift as tf.Tensor2D) ?? tf.exp(logits.sub(shift));
            const g = e.sub(hit) as tf.Tensor2D;
            return transposed
              ? [dx.add(matMul(g, wc)), matMul(transpose2d(g), sx), g.sum(0)]
              : [dx.add(matMulTransposed(g, wc)), matMul(transpose2d(sx), g), g.sum(0)];
          });
          dx.dispose();
          dx = ndx as tf.Tensor2D;
          if (inPlace) {
            const values = dwc!.dataSync();
            hostView(inPlace)!.set(values, c0 * sx.shape[1]); // the view after the read, which may allocate
            dwc!.dispose();
          } else dw.push(dwc!);
          db.push(dbc!);
        }
        const dW = inPlace ?? (dw.length === 1 ? dw[0]! : transposed ? concatRows(dw) : tf.concat(dw, 1));
        const dB = db.length === 1 ? db[0]! : tf.concat(db, 0);
        if (dw.length > 1) tf.dispose(dw);
        if (db.length > 1) tf.dispose(db);
        tf.dispose([scale, shift]);
        const grads = [dx, dW, tf.zerosLike(st), tf.zerosLike(sWeights)];
        if (sb) grads.push(dB);
        else dB.dispose();
        return grads;
      },
    };
  }) as Fused;
}
