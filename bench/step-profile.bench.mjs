// Where a BERT-base fine-tuning step (batch 8 × 128) spends its time on wasm, kernel by kernel: every wasm
// kernel is wrapped with a timer (they run synchronously), and what is left is JavaScript (AdamW's host
// loop, dropout's random draws in TF.js, autodiff). One child process per thread count.
//   node bench/step-profile.bench.mjs [threads...]   (default: 1 and every core)
import os from 'node:os';
import { printTable, reportChild, runChild, writeResults } from './lib.mjs';

async function child(threads) {
  const tf = await import('@tensorflow/tfjs');
  const core = await import('@transformer-kit/core');
  const { BertForSequenceClassification, bertConfig } = await import('@transformer-kit/bert');
  const info = await core.initBackend('wasm', { threads });
  const kernels = new Map();
  for (const k of tf.getKernelsForBackend('wasm')) {
    const run = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, 'wasm');
    const kernelFunc = (args) => {
      const t0 = performance.now();
      const out = run(args);
      const e = kernels.get(k.kernelName) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      kernels.set(k.kernelName, e);
      return out;
    };
    tf.registerKernel({ ...k, kernelFunc });
  }
  const model = new BertForSequenceClassification(bertConfig('base'), { numLabels: 2 });
  const rng = new core.Rng(1);
  const inputIds = Array.from({ length: 8 }, () => Array.from({ length: 128 }, () => 1 + rng.int(30000)));
  const attentionMask = inputIds.map((r) => r.map(() => 1));
  const labels = tf.tensor1d(
    inputIds.map((_, i) => i % 2),
    'int32',
  );
  model.train();
  const trainer = new core.Trainer(model, { lr: 2e-5, weightDecay: 0.01, clipNorm: 1 });
  const step = () => trainer.step(() => model.loss({ inputIds, attentionMask }, labels));
  await step();
  kernels.clear();
  const t0 = performance.now();
  await step();
  reportChild({
    threads: info.wasm.kernelThreads,
    kernels: info.wasm.kernels,
    stepMs: performance.now() - t0,
    byKernel: Object.fromEntries(kernels),
  });
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]));
  process.exit(0);
}

const args = process.argv.slice(2).map(Number);
const threads = args.length ? args : [1, os.availableParallelism()];
const runs = threads.map((t) => ({ threads: t, ...runChild(import.meta.url, [String(t)]) }));
const names = new Set(runs.flatMap((r) => Object.keys(r.byKernel ?? {})));
const ms = (r, name) => r.byKernel?.[name]?.ms ?? 0;
const rows = [...names]
  .map((name) => ({
    kernel: name,
    calls: runs[0].byKernel?.[name]?.calls ?? 0,
    ...Object.fromEntries(runs.map((r) => [`ms @${r.threads} thr`, ms(r, name)])),
  }))
  .sort((a, b) => ms(runs.at(-1), b.kernel) - ms(runs.at(-1), a.kernel))
  .filter((row) => runs.some((r) => ms(r, row.kernel) >= 5));
const kernelMs = (r) => Object.values(r.byKernel ?? {}).reduce((s, e) => s + e.ms, 0);
rows.push(
  {
    kernel: 'JavaScript (AdamW, random draws, autodiff)',
    calls: '',
    ...Object.fromEntries(runs.map((r) => [`ms @${r.threads} thr`, r.stepMs - kernelMs(r)])),
  },
  { kernel: 'step', calls: '', ...Object.fromEntries(runs.map((r) => [`ms @${r.threads} thr`, r.stepMs])) },
);
printTable('BERT-base fine-tuning step (8 × 128) on wasm, by kernel', rows);
writeResults('step-profile', { config: { model: 'bert-base', batch: 8, sequence: 128 }, runs });
