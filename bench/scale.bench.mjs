// The sizes users bring: BERT-base fine-tuning (sequence classification, batch 8 × 128) and forward, GPT-2
// small (124M) training at batch 8 × 128 and KV-cache generation ms/token at positions 16 and 512. Each
// workload runs in its own node process per backend (so peak RSS is that workload's), next to the same
// models in PyTorch (bench/scale_torch.py) on 1 and 2 threads in the same run.
//
// MFU is against the backend's own single-thread matmul peak measured in the same process (TF.js tf.matMul,
// plain 2-D, best of the BERT-base shapes; on several threads it can pass 100%): a ratio to PyTorch alone depends on the CPU (AVX-512 BLAS vs 128-bit wasm
// SIMD), MFU does not. Run: node bench/scale.bench.mjs [backends...] [--only workload,...] (after the build).
import os from 'node:os';
import { printTable, reportChild, runChild, runTorch, writeResults } from './lib.mjs';
// Constants only: TF.js itself loads in the children (after any V8 flag).
import { BERT, GEN_TOKENS, GPT2, MLM_POSITIONS, parseSpec, SEQ } from './scale-workloads.mjs';

// Environment overrides for slow (software WebGPU) runs: TK_BENCH_BATCH=2, TK_BENCH_BERT=mini (BERT preset),
// TK_BENCH_NO_DROPOUT=1 (so losses compare across backends: each draws its dropout masks its own way),
// TK_BENCH_STEPS=1 (timed steps after the first), TK_BENCH_RESULTS=name (results/<name>.json),
// TK_BENCH_NO_TORCH=1, TK_BENCH_POSITIONS, TK_BENCH_CHILD_MINUTES, TK_BENCH_GEN_BATCH=8 (prompts decoded
// together, default 1), TK_BENCH_PROGRESS=file (a line appended after each step, to watch a slow run).
// Chromium: scale-browser.bench.mjs.
const env = process.env;
const BATCH = Number(env.TK_BENCH_BATCH ?? 8);
const BERT_SIZE = env.TK_BENCH_BERT ?? 'base';
const NO_DROPOUT = env.TK_BENCH_NO_DROPOUT === '1';
// TK_BENCH_POSITIONS=16 (comma-separated): generation positions (default 16 and 512).
const POSITIONS = (env.TK_BENCH_POSITIONS ?? '16,512').split(',').map(Number);
const GEN_BATCH = Number(env.TK_BENCH_GEN_BATCH ?? 1);
const WORKLOADS = ['bert-finetune', 'bert-forward', 'bert-mlm', 'gpt2-train', 'gpt2-generate'];

/** Matmul FLOPs of one forward token through L blocks of width d, MLP width i, attending over s keys. */
const blockFlops = (layers, d, i, s) => layers * (2 * (4 * d * d + 2 * d * i) + 4 * s * d);
const FLOPS = {
  // Training = 3 × forward (forward, input gradients, weight gradients); attention over the full 128 keys.
  'bert-finetune': 3 * BATCH * SEQ * blockFlops(BERT.layers, BERT.dim, BERT.inter, SEQ),
  'bert-forward': BATCH * SEQ * blockFlops(BERT.layers, BERT.dim, BERT.inter, SEQ),
  'bert-mlm':
    3 *
    BATCH *
    (SEQ * blockFlops(BERT.layers, BERT.dim, BERT.inter, SEQ) + MLM_POSITIONS * 2 * BERT.dim * BERT.vocab),
  // Causal: on average half the keys; plus the tied 50,257-way head.
  'gpt2-train':
    3 * BATCH * SEQ * (blockFlops(GPT2.layers, GPT2.dim, 4 * GPT2.dim, SEQ / 2) + 2 * GPT2.dim * GPT2.vocab),
};

async function child(spec, workload) {
  if (parseSpec(spec).fma) (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
  const { runWorkload } = await import('./scale-workloads.mjs');
  const steps = env.TK_BENCH_STEPS ? Number(env.TK_BENCH_STEPS) : undefined;
  const { appendFileSync } = await import('node:fs');
  const progress = env.TK_BENCH_PROGRESS
    ? (line) => appendFileSync(env.TK_BENCH_PROGRESS, `${new Date().toISOString()} ${line}\n`)
    : undefined;
  const cfg = { BATCH, BERT_SIZE, NO_DROPOUT, POSITIONS, GEN_BATCH, steps, progress };
  reportChild(await runWorkload(cfg, spec, workload));
}

function torch(threads, only) {
  const cfg = { batch: BATCH, seq: SEQ, bert: BERT, gpt2: GPT2, positions: POSITIONS, genTokens: GEN_TOKENS };
  // TK_BENCH_TORCH_DEVICE=cuda: PyTorch on the GPU (bench/gpu.sh).
  return runTorch('scale_torch.py', { ...cfg, threads, only, device: env.TK_BENCH_TORCH_DEVICE ?? 'cpu' });
}

async function main() {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1].split(',') : WORKLOADS;
  const backends = args.length ? args : await presentBackends();
  const ours = [];
  for (const backend of backends)
    for (const w of only) ours.push({ backend, workload: w, ...runChild(import.meta.url, [backend, w]) });
  // TK_BENCH_NO_TORCH=1: no PyTorch columns (slow software-adapter runs, where they say nothing).
  const torchRuns =
    env.TK_BENCH_NO_TORCH === '1' ? { 1: {}, 2: {} } : { 1: torch(1, only), 2: torch(2, only) };

  // Losses against wasm's for the same workload and seed (dropout 0 for this to mean anything): the largest
  // relative difference over the first three steps.
  const wasmLosses = Object.fromEntries(
    ours.filter((r) => r.backend.startsWith('wasm') && r.losses).map((r) => [r.workload, r.losses]),
  );
  // Greedy tokens against wasm's (generation): every row at every position the same, or how many differ.
  const wasmTokens = ours.find((r) => r.backend.startsWith('wasm') && r.tokens)?.tokens;
  const tokensVsWasm = (r, pos) => {
    const ref = wasmTokens?.[pos];
    const got = r.tokens?.[pos];
    if (!ref || !got || r.backend.startsWith('wasm')) return undefined;
    const differ = ref.flat().filter((id, i) => id !== got.flat()[i]).length;
    return differ === 0 ? 'equal' : `${differ} of ${ref.flat().length} differ`;
  };
  const vsWasm = (r) => {
    const ref = wasmLosses[r.workload];
    if (!ref || !r.losses || r.backend.startsWith('wasm')) return undefined;
    const n = Math.min(3, ref.length, r.losses.length);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(r.losses[i] - ref[i]) / Math.abs(ref[i]));
    return worst;
  };
  const rows = [];
  for (const r of ours) {
    if (r.error) {
      rows.push({ workload: r.workload, backend: r.backend, note: r.error });
      continue;
    }
    const t1 = torchRuns[1][r.workload];
    const t2 = torchRuns[2][r.workload];
    if (r.workload === 'gpt2-generate') {
      for (const pos of POSITIONS) {
        rows.push({
          workload: `gpt2-generate ${GEN_BATCH} × @${pos}`,
          backend: r.backend,
          kernels: r.kernels,
          ms: r.msPerToken[pos],
          // A decoding step makes one token for each of the GEN_BATCH rows.
          'tok/s': (GEN_BATCH * 1000) / r.msPerToken[pos],
          'torch1 ms': t1?.[pos],
          'torch2 ms': t2?.[pos],
          'ours/torch1': t1 ? t1[pos] / r.msPerToken[pos] : undefined,
          'heap MB': r.wasmHeapMB,
          'RSS MB': r.rssMB,
          'torch RSS MB': torchRuns[1].rssMB?.[r.workload],
          'GPU MB': r.gpuMB,
          'tokens vs wasm': tokensVsWasm(r, pos),
          software: r.softwareAdapter ? 'yes' : undefined,
          tensors: r.tensorsLeaked === 0 ? 'flat' : `+${r.tensorsLeaked}`,
        });
      }
      continue;
    }
    const gflops = FLOPS[r.workload] / r.ms / 1e6;
    rows.push({
      workload: r.workload,
      backend: r.backend,
      kernels: r.kernels,
      ms: r.ms,
      'tok/s': (BATCH * SEQ * 1000) / r.ms,
      GFLOPs: gflops,
      'peak GF/s': r.peakGflops,
      MFU: r.peakGflops ? `${Math.round((100 * gflops) / r.peakGflops)}%` : undefined,
      'torch1 ms': t1,
      'torch2 ms': t2,
      'ours/torch1': t1 ? t1 / r.ms : undefined,
      'heap MB': r.wasmHeapMB,
      'RSS MB': r.rssMB,
      'torch RSS MB': torchRuns[1].rssMB?.[r.workload],
      'GPU MB': r.gpuMB,
      'dispatches/step': r.dispatchesPerStep,
      losses: r.losses?.map((l) => l.toFixed(5)).join(' '),
      'Δloss vs wasm': vsWasm(r),
      software: r.softwareAdapter ? 'yes' : undefined,
      tensors:
        r.tensorsAfterFirstStep === undefined
          ? ''
          : r.tensorsAfterFirstStep === r.tensorsAfterLastStep
            ? 'flat'
            : `${r.tensorsAfterFirstStep}→${r.tensorsAfterLastStep}`,
    });
  }
  printTable(
    `BERT-base / GPT-2 small at batch ${BATCH} × ${SEQ} (ms = per step, best of runs; ours/torch1 > 1 = faster)`,
    rows,
  );
  writeResults(env.TK_BENCH_RESULTS ?? 'scale', {
    config: { batch: BATCH, genBatch: GEN_BATCH, seq: SEQ, bert: BERT, gpt2: GPT2, noDropout: NO_DROPOUT },
    ours,
    torch: torchRuns,
    rows,
    cpu: os.cpus()[0]?.model,
  });
}

/**
 * wasm on one thread and on every core (with fused multiply-add where Node needs V8's flag for it); cpu is
 * minutes per step at these sizes and is left out; GPUs when present.
 */
async function presentBackends() {
  const found = ['wasm:threads=1', 'wasm'];
  if (Number(process.versions.node.split('.')[0]) < 22) found.push('wasm:fma');
  const { probeWebGPU } = await import('@transformer-kit/core').catch(() => ({}));
  if (probeWebGPU) {
    const p = await probeWebGPU().catch(() => undefined);
    if (p?.available && !p.software) found.push('webgpu');
  }
  try {
    await import('@tensorflow/tfjs-node-gpu');
    found.push('node-gpu');
  } catch {}
  return found;
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await main();
