// Matrix products at BERT-base / GPT-2-small sizes on wasm: the runtime's kernel (@transformer-kit/backend-wasm,
// through core's ops models use) against TF.js's tf.matMul (XNNPACK, plain 2-D: the backend's peak), and one-token
// decoding products (memory-bound: GB/s of weights read). Best of several rounds (a shared machine is noisy);
// decoding products alternate the two sides within a round, so both see the same memory traffic.
// Run: node bench/matmul.bench.mjs (after `turbo run build`). TK_BENCH_QUICK=1 for fewer repeats.
import * as tf from '@tensorflow/tfjs';
import { batchMatMul, initBackend, matMul, matMulTransposed } from '@transformer-kit/core';
import { printTable, writeResults } from './lib.mjs';

await initBackend('wasm');
const quick = process.env.TK_BENCH_QUICK === '1';

/**
 * Best wall times (ms) of each function (each returns a tensor, disposed here) over `iters` rounds; the
 * functions alternate within a round, so both see the same machine load.
 */
function bestMs(fns, iters) {
  for (const fn of fns) tf.dispose(fn());
  const best = fns.map(() => Number.POSITIVE_INFINITY);
  for (let i = 0; i < iters; i++) {
    fns.forEach((fn, j) => {
      const t0 = performance.now();
      const out = fn();
      out.dataSync();
      best[j] = Math.min(best[j], performance.now() - t0);
      out.dispose();
    });
  }
  return best;
}

const rand = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const kernel = (a, b, transposeA, transposeB) =>
  tf.engine().runKernel('TkBatchMatMul', { a, b }, { transposeA, transposeB });

// [name, M, K, N, batch, ours(a, b), operand shapes for ours]. XNNPACK runs the same (M,K)@(K,N) plain.
const training = [
  [
    'qkv/out proj  x@W (1024x768)@(768x768)',
    1024,
    768,
    768,
    1,
    (a, b) => matMul(a, b),
    [1024, 768],
    [768, 768],
  ],
  [
    'mlp up        x@W (1024x768)@(768x3072)',
    1024,
    768,
    3072,
    1,
    (a, b) => matMul(a, b),
    [1024, 768],
    [768, 3072],
  ],
  [
    'mlp down      x@W (1024x3072)@(3072x768)',
    1024,
    3072,
    768,
    1,
    (a, b) => matMul(a, b),
    [1024, 3072],
    [3072, 768],
  ],
  [
    'weight grad   xT@dy (768x1024)@(1024x3072)',
    768,
    1024,
    3072,
    1,
    (a, b) => kernel(a.reshape([1, 1024, 768]), b.reshape([1, 1024, 3072]), true, false),
    [1024, 768],
    [1024, 3072],
  ],
  [
    'input grad    dy@WT (1024x3072)@(768x3072)T',
    1024,
    3072,
    768,
    1,
    (a, b) => matMulTransposed(a, b),
    [1024, 3072],
    [768, 3072],
  ],
  [
    'attention     96x (128x64)@(64x128)',
    128,
    64,
    128,
    96,
    (a, b) => batchMatMul(a, b),
    [96, 128, 64],
    [96, 64, 128],
  ],
  [
    'attention     96x (128x128)@(128x64)',
    128,
    128,
    64,
    96,
    (a, b) => batchMatMul(a, b),
    [96, 128, 128],
    [96, 128, 64],
  ],
  [
    'LM head       (1024x768)@(50257x768)T',
    1024,
    768,
    50257,
    1,
    (a, b) => matMulTransposed(a, b),
    [1024, 768],
    [50257, 768],
  ],
];

const rows = [];
let peak = 0;
for (const [name, m, k, n, batch, ours, sa, sb] of training) {
  const flop = 2 * batch * m * k * n;
  const iters = quick ? 2 : flop > 2e10 ? 3 : 6;
  const pa = rand([m, k], 1);
  const pb = rand([k, n], 2);
  const a = rand(sa, 3);
  const b = rand(sb, 4);
  // XNNPACK runs one 2-D slice (its rate is per slice), warm and alone: its peak (it caches the packed
  // weight between calls on the same tensor; alternated with other work it measured up to 2x slower).
  const [xnnMs] = bestMs([() => tf.matMul(pa, pb)], iters);
  const [oursMs] = bestMs([() => ours(a, b)], iters);
  tf.dispose([pa, pb, a, b]);
  const xnn = flop / batch / (xnnMs * 1e6);
  const our = flop / (oursMs * 1e6);
  peak = Math.max(peak, xnn);
  rows.push({ shape: name, 'xnnpack GF/s': xnn, 'ours GF/s': our, 'ours ms': oursMs, 'ours/xnn': our / xnn });
}
printTable('training products, GFLOP/s (XNNPACK: the same product as a plain 2-D tf.matMul)', rows);

// One-token decoding: x (1, K) against a weight read once; GB/s of weight bytes.
const decode = [
  ['qkv    1x768 @ 768x2304', 768, 2304, false],
  ['mlp up 1x768 @ 768x3072', 768, 3072, false],
  ['mlp dn 1x3072 @ 3072x768', 3072, 768, false],
  ['LM head 1x768 @ (50257x768)T', 768, 50257, true],
];
const drows = [];
// Weights cycle through enough copies (>= 256 MB) that each call reads from memory, as decoding a real
// model does (12 layers of GPT-2 small do not fit in any cache); one copy would be measured in L3.
function bestCycling(fns, copies, iters) {
  const best = fns.map(() => Number.POSITIVE_INFINITY);
  for (let i = 0; i < iters; i++) {
    fns.forEach((fn, j) => {
      const t0 = performance.now();
      for (const w of copies) {
        const out = fn(w);
        out.dataSync();
        out.dispose();
      }
      best[j] = Math.min(best[j], (performance.now() - t0) / copies.length);
    });
  }
  return best;
}
for (const [name, k, n, transposed] of decode) {
  const x = rand([1, k], 5);
  const count = Math.max(2, Math.ceil(256e6 / (k * n * 4)));
  const ws = Array.from({ length: count }, (_, i) => rand(transposed ? [n, k] : [k, n], 6 + i));
  const iters = quick ? 2 : 8;
  const [tfMs, oursMs] = bestCycling(
    [(w) => tf.matMul(x, w, false, transposed), (w) => (transposed ? matMulTransposed(x, w) : matMul(x, w))],
    ws,
    iters,
  );
  tf.dispose([x, ...ws]);
  const gb = (k * n * 4) / 1e9;
  drows.push({
    product: name,
    'tf.matMul ms': tfMs,
    'ours ms': oursMs,
    'tf GB/s': gb / (tfMs / 1e3),
    'ours GB/s': gb / (oursMs / 1e3),
  });
}
// Decoding attention: 12 heads, q (12, 1, 64) against a 512-position cache.
{
  const q = rand([12, 1, 64], 7);
  const kc = rand([12, 512, 64], 8);
  const p = rand([12, 1, 512], 9);
  const iters = quick ? 5 : 20;
  const [scoresTf, scores] = bestMs(
    [() => tf.matMul(q, kc, false, true), () => batchMatMul(q, kc, true)],
    iters,
  );
  const [mixTf, mix] = bestMs([() => tf.matMul(p, kc), () => batchMatMul(p, kc)], iters);
  const gb = (12 * 512 * 64 * 4) / 1e9;
  for (const [product, t, o] of [
    ['attn q@KT 12x (1x64)@(512x64)T', scoresTf, scores],
    ['attn p@V 12x (1x512)@(512x64)', mixTf, mix],
  ]) {
    drows.push({
      product,
      'tf.matMul ms': t,
      'ours ms': o,
      'tf GB/s': gb / (t / 1e3),
      'ours GB/s': gb / (o / 1e3),
    });
  }
  tf.dispose([q, kc, p]);
}
printTable('one-token decoding products (ms, GB/s of weights read)', drows);
console.log(`\nXNNPACK 2-D peak in this run: ${peak.toFixed(1)} GFLOP/s`);
writeResults(process.env.TK_BENCH_NAME ?? 'matmul', { peakGflops: peak, training: rows, decode: drows });
