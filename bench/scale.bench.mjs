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

// Environment overrides for slow (software WebGPU) runs: TK_BENCH_BATCH=2, TK_BENCH_BERT=mini (BERT preset),
// TK_BENCH_NO_DROPOUT=1 (so losses compare across backends: each draws its dropout masks its own way),
// TK_BENCH_STEPS=1 (timed steps after the first), TK_BENCH_RESULTS=name (results/<name>.json).
const env = process.env;
const BATCH = Number(env.TK_BENCH_BATCH ?? 8);
const SEQ = 128;
const BERT_SIZE = env.TK_BENCH_BERT ?? 'base';
const NO_DROPOUT = env.TK_BENCH_NO_DROPOUT === '1';
const BERT = { vocab: 30522, dim: 768, layers: 12, heads: 12, inter: 3072, maxPos: 512 };
const GPT2 = { vocab: 50257, dim: 768, layers: 12, heads: 12, block: 1024 };
// TK_BENCH_POSITIONS=16 (comma-separated): generation positions (default 16 and 512).
const POSITIONS = (env.TK_BENCH_POSITIONS ?? '16,512').split(',').map(Number);
const GEN_TOKENS = 8;
const WORKLOADS = ['bert-finetune', 'bert-forward', 'bert-mlm', 'gpt2-train', 'gpt2-generate'];
// BERT's masked-LM pretraining: 15% of the positions (BERT's rate) predicted over the tied 30,522-way head.
const MLM_POSITIONS = Math.ceil(0.15 * SEQ);

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

const fmtMB = (b) => (b === undefined ? undefined : Math.round(b / 2 ** 20));

/**
 * A backend spec: a backend name, optionally with `:threads=N` (wasm: threads for core's products) and
 * `:fma` (wasm on Node 20: V8's relaxed SIMD, so core's kernels use fused multiply-add).
 */
function parseSpec(spec) {
  const [backend, ...opts] = spec.split(':');
  const threads = opts.find((o) => o.startsWith('threads='));
  // webgpu:limits=default: a device with the spec's default limits (128 MiB binding), as mobile adapters give.
  const limits = opts.find((o) => o.startsWith('limits='))?.slice(7);
  return {
    backend,
    threads: threads ? Number(threads.slice(8)) : undefined,
    fma: opts.includes('fma'),
    limits,
  };
}

async function child(spec, workload) {
  const tf = await import('@tensorflow/tfjs');
  const core = await import('@transformer-kit/core');
  const { matmulPeakGflops } = await import('./peak.mjs');
  const { backend, threads, fma, limits } = parseSpec(spec);
  if (fma) (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
  const info = await core.initBackend(backend, { threads, ...(limits ? { limits } : {}) });
  // A software adapter's peak says nothing about a GPU and takes minutes to measure: no MFU there.
  const peakGflops = info.softwareAdapter ? undefined : await matmulPeakGflops();
  // Dispatches TF.js records on core's WebGPU device (undefined off WebGPU).
  const dispatches = () => core.webgpuDevice()?.dispatches;
  const rng = new core.Rng(1);
  const ids = (vocab, b, t) =>
    Array.from({ length: b }, () => Array.from({ length: t }, () => 1 + rng.int(vocab - 1)));
  const iters = env.TK_BENCH_STEPS
    ? Number(env.TK_BENCH_STEPS)
    : backend === 'cpu' || info.softwareAdapter
      ? 1
      : 2;
  const result = {
    backend: spec,
    device: info.device,
    softwareAdapter: info.softwareAdapter || undefined,
    batch: BATCH,
    kernels: info.wasm ? `${info.wasm.kernels} ×${info.wasm.kernelThreads}` : undefined,
    workload,
    peakGflops,
  };
  core.resetWasmHeapPeak();
  const losses = [];
  const timeSteps = async (fn, n) => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const d0 = dispatches();
      const t0 = performance.now();
      const r = await fn();
      times.push(performance.now() - t0);
      if (r?.loss !== undefined) losses.push(r.loss);
      if (d0 !== undefined) result.dispatchesPerStep = dispatches() - d0;
    }
    return Math.min(...times);
  };

  if (workload === 'bert-mlm') {
    const { BertForMaskedLM, bertConfig } = await import('@transformer-kit/bert');
    const overrides = NO_DROPOUT ? { hiddenDropout: 0, attentionDropout: 0 } : {};
    const model = new BertForMaskedLM(bertConfig(BERT_SIZE, overrides));
    model.train();
    // The same masked batch on every backend: the first MLM_POSITIONS positions of a seeded shuffle per row.
    const original = ids(BERT.vocab, BATCH, SEQ);
    const positions = original.map(() => {
      const order = Array.from({ length: SEQ }, (_, i) => i);
      for (let i = SEQ - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order.slice(0, MLM_POSITIONS);
    });
    const MASK = 103;
    const batch = {
      inputIds: tf.tensor2d(
        original.map((row, b) => row.map((id, t) => (positions[b].includes(t) ? MASK : id))),
        undefined,
        'int32',
      ),
      positions: tf.tensor2d(positions, undefined, 'int32'),
      positionLabels: tf.tensor2d(
        positions.map((row, b) => row.map((t) => original[b][t])),
        undefined,
        'int32',
      ),
    };
    const trainer = new core.Trainer(model, { lr: 1e-4, weightDecay: 0.01, clipNorm: 1 });
    const step = () => trainer.step(() => model.loss(batch));
    losses.push((await step()).loss);
    result.tensorsAfterFirstStep = tf.memory().numTensors;
    result.ms = await timeSteps(step, iters);
    result.tensorsAfterLastStep = tf.memory().numTensors;
  } else if (workload.startsWith('bert')) {
    const { BertForSequenceClassification, bertConfig } = await import('@transformer-kit/bert');
    const overrides = NO_DROPOUT ? { hiddenDropout: 0, attentionDropout: 0 } : {};
    const model = new BertForSequenceClassification(bertConfig(BERT_SIZE, overrides), { numLabels: 2 });
    const inputIds = ids(BERT.vocab, BATCH, SEQ);
    const attentionMask = inputIds.map((r) => r.map(() => 1));
    if (workload === 'bert-forward') {
      model.eval();
      const run = async () => {
        const h = tf.tidy(() => model.bert.forward({ inputIds, attentionMask }).lastHiddenState);
        await h.data();
        h.dispose();
      };
      await run();
      result.ms = await timeSteps(run, iters + 1);
    } else {
      model.train();
      const labels = tf.tensor1d(
        inputIds.map((_, i) => i % 2),
        'int32',
      );
      const trainer = new core.Trainer(model, { lr: 2e-5, weightDecay: 0.01, clipNorm: 1 });
      const step = () => trainer.step(() => model.loss({ inputIds, attentionMask }, labels));
      losses.push((await step()).loss);
      result.tensorsAfterFirstStep = tf.memory().numTensors;
      result.ms = await timeSteps(step, iters);
      result.tensorsAfterLastStep = tf.memory().numTensors;
    }
  } else {
    const { GPT, gptConfig } = await import('@transformer-kit/gpt');
    const model = new GPT(gptConfig('gpt2'));
    if (workload === 'gpt2-train') {
      model.train();
      const x = tf.tensor2d(ids(GPT2.vocab, BATCH, SEQ), undefined, 'int32');
      const y = tf.tensor2d(ids(GPT2.vocab, BATCH, SEQ), undefined, 'int32');
      const trainer = new core.Trainer(model, { lr: 3e-4, weightDecay: 0.1, clipNorm: 1 });
      const step = () => trainer.step(() => model.loss(x, y));
      losses.push((await step()).loss);
      result.tensorsAfterFirstStep = tf.memory().numTensors;
      result.ms = await timeSteps(step, iters);
      result.tensorsAfterLastStep = tf.memory().numTensors;
    } else {
      model.eval();
      result.msPerToken = {};
      const before = tf.memory().numTensors;
      for (const pos of POSITIONS) {
        const prompt = ids(GPT2.vocab, 1, pos)[0];
        const perToken = async () => {
          const cache = model.newCache();
          const first = tf.tidy(() => model.forward([prompt], { cache, lastOnly: true }));
          await first.data();
          first.dispose();
          const t0 = performance.now();
          for (let i = 0; i < GEN_TOKENS; i++) {
            const logits = tf.tidy(() => model.forward([[1 + i]], { cache, lastOnly: true }));
            await logits.data();
            logits.dispose();
          }
          cache.dispose();
          return (performance.now() - t0) / GEN_TOKENS;
        };
        await perToken();
        result.msPerToken[pos] = Math.min(await perToken(), await perToken());
      }
      result.tensorsLeaked = tf.memory().numTensors - before;
    }
  }
  if (losses.length) result.losses = losses;
  // TF.js's WebGPU buffer pool keeps what it allocated: its size after the run is the peak.
  const gpuBytes = tf.memory().numBytesAllocatedInGPU;
  if (gpuBytes !== undefined) result.gpuMB = fmtMB(gpuBytes);
  const heap = core.wasmHeapStats();
  result.wasmHeapMB = fmtMB(heap?.heapBytes);
  result.peakMB = fmtMB(heap?.peakBytes);
  result.rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  reportChild(result);
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
          workload: `gpt2-generate @${pos}`,
          backend: r.backend,
          kernels: r.kernels,
          ms: r.msPerToken[pos],
          'tok/s': 1000 / r.msPerToken[pos],
          'torch1 ms': t1?.[pos],
          'torch2 ms': t2?.[pos],
          'ours/torch1': t1 ? t1[pos] / r.msPerToken[pos] : undefined,
          'heap MB': r.wasmHeapMB,
          'RSS MB': r.rssMB,
          'torch RSS MB': torchRuns[1].rssMB?.[r.workload],
          'GPU MB': r.gpuMB,
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
    config: { batch: BATCH, seq: SEQ, bert: BERT, gpt2: GPT2, noDropout: NO_DROPOUT },
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
