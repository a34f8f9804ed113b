export type ProductShape = readonly [m: number, k: number, n: number];
/** BERT-base's product shapes at batch 8 × 128 (QKV/output, MLP up, MLP down), as [M, K, N]. */
export const BERT_BASE_SHAPES: readonly ProductShape[];
/** The best GFLOP/s of TF.js's plain 2-D `tf.matMul` over `shapes` (default BERT_BASE_SHAPES). */
export function matmulPeakGflops(
  shapes?: readonly ProductShape[],
  options?: { runs?: number },
): Promise<number>;
