// The backend's matrix-product peak that benchmarks report MFU against. Benchmark code, not core's: core
// knows no model sizes. Also imported by apps/demo's threads page (web/threads.ts) for
// bench/page-threads.bench.mjs. Types: peak.d.mts.
import * as tf from '@tensorflow/tfjs';

/** BERT-base's product shapes at batch 8 × 128 (QKV/output, MLP up, MLP down), as [M, K, N]. */
export const BERT_BASE_SHAPES = [
  [1024, 768, 768],
  [1024, 768, 3072],
  [1024, 3072, 768],
];

/**
 * The best GFLOP/s of TF.js's plain 2-D `tf.matMul` (on wasm, XNNPACK on its own threads) over `shapes`,
 * the fastest of `runs` after one warm-up each. A peak, so other load on the machine only lowers it.
 */
export async function matmulPeakGflops(shapes = BERT_BASE_SHAPES, { runs = 4 } = {}) {
  let best = 0;
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      const ms = performance.now() - t0;
      c.dispose();
      if (i > 0) best = Math.max(best, (2 * m * k * n) / ms / 1e6);
    }
    tf.dispose([a, b]);
  }
  return best;
}
