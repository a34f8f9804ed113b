// The reference GPT's training step (vocab 65, 4 layers, hidden 128, batch 16 × 64) on wasm with core's
// products on 1 and 2 threads, with and without fused multiply-add, vs PyTorch on 1 and 2 threads: the
// #12 goal's measurement. One child process per setting (V8's relaxed-SIMD flag is per process).
//   node bench/reference-threads.bench.mjs
import os from 'node:os';
import { printTable, reportChild, runChild, runTorch, timeIt, writeResults } from './lib.mjs';

const REF = { vocab: 65, block: 64, layers: 4, heads: 4, dim: 128, batch: 16 };
const SETTINGS = [
  { threads: 1, fma: false },
  { threads: 2, fma: false },
  { threads: 2, fma: true },
];

async function child(threads, fma) {
  if (fma) (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
  const tf = await import('@tensorflow/tfjs');
  const { initBackend, Trainer } = await import('@transformer-kit/core');
  const { GPT } = await import('@transformer-kit/gpt');
  const info = await initBackend('wasm', { threads, quiet: true });
  const model = new GPT('reference', { seed: 0 });
  const trainer = new Trainer(model, { lr: 3e-4, weightDecay: 0.1, clipNorm: 1 });
  const x = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 1);
  const y = tf.randomUniformInt([REF.batch, REF.block], 0, REF.vocab, 2);
  const rounds = [];
  for (let r = 0; r < 3; r++)
    rounds.push(await timeIt(() => trainer.step(() => model.loss(x, y)), { warmup: 3, iters: 15 }));
  reportChild({
    kernels: info.wasm.kernels,
    kernelThreads: info.wasm.kernelThreads,
    stepMs: Math.min(...rounds),
  });
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]), process.argv[4] === 'fma');
  process.exit(0);
}

const torch = {};
for (const threads of [1, 2]) {
  const cfg = { ...REF, threads, gen_block: 64, positions: [], gen_tokens: 0 };
  torch[threads] = runTorch('gpt_torch.py', cfg);
}
const ours = SETTINGS.map((s) => ({
  ...s,
  ...runChild(import.meta.url, [String(s.threads), s.fma ? 'fma' : 'simd']),
}));
const rows = ours.map((r) => ({
  backend: `wasm, ${r.threads} thread${r.threads > 1 ? 's' : ''}${r.fma ? ', FMA' : ''}`,
  kernels: r.error ? r.error : `${r.kernels} ×${r.kernelThreads}`,
  'step ms': r.stepMs,
  'vs torch 1 thr': torch[1]?.step_ms ? torch[1].step_ms / r.stepMs : '',
  'vs torch 2 thr': torch[2]?.step_ms ? torch[2].step_ms / r.stepMs : '',
}));
for (const t of [1, 2])
  rows.push({
    backend: `PyTorch, ${t} thread${t > 1 ? 's' : ''}`,
    kernels: torch[t]?.error ?? '',
    'step ms': torch[t]?.step_ms,
  });
printTable(
  `Reference GPT training step (batch 16 × 64), ${os.cpus().length} cores (${os.cpus()[0]?.model}); "vs torch" = PyTorch ms / ours`,
  rows,
);
writeResults('reference-threads', { config: REF, ours, torch });
