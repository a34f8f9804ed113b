// Where a training step spends its time on wasm, kernel by kernel: BERT-base fine-tuning or GPT-2 small
// training, batch 8 × 128. Every wasm kernel is wrapped with a timer (they run synchronously); what is left
// is outside them (AdamW's update, autodiff, TF.js's random draws, bookkeeping). One child per thread count.
//   node bench/step-profile.bench.mjs [bert|gpt2] [threads...]   (default: bert, 1 and every core)
import os from 'node:os';
import { printTable, reportChild, runChild, writeResults } from './lib.mjs';

async function child(model, threads) {
  const tf = await import('@tensorflow/tfjs');
  const core = await import('@transformer-kit/core');
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
  const rng = new core.Rng(1);
  const ids = (vocab) =>
    Array.from({ length: 8 }, () => Array.from({ length: 128 }, () => 1 + rng.int(vocab - 1)));
  let step;
  if (model === 'gpt2') {
    const { GPT, gptConfig } = await import('@transformer-kit/gpt');
    const gpt = new GPT(gptConfig('gpt2'));
    gpt.train();
    const [x, y] = [tf.tensor2d(ids(50257), undefined, 'int32'), tf.tensor2d(ids(50257), undefined, 'int32')];
    const trainer = new core.Trainer(gpt, { lr: 3e-4, weightDecay: 0.1, clipNorm: 1 });
    step = () => trainer.step(() => gpt.loss(x, y));
  } else {
    const { BertForSequenceClassification, bertConfig } = await import('@transformer-kit/bert');
    const bert = new BertForSequenceClassification(bertConfig('base'), { numLabels: 2 });
    const inputIds = ids(30522);
    const attentionMask = inputIds.map((r) => r.map(() => 1));
    const labels = tf.tensor1d(
      inputIds.map((_, i) => i % 2),
      'int32',
    );
    bert.train();
    const trainer = new core.Trainer(bert, { lr: 2e-5, weightDecay: 0.01, clipNorm: 1 });
    step = () => trainer.step(() => bert.loss({ inputIds, attentionMask }, labels));
  }
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
  await child(process.argv[3], Number(process.argv[4]));
  process.exit(0);
}

const args = process.argv.slice(2);
const model = args[0] === 'gpt2' || args[0] === 'bert' ? args.shift() : 'bert';
const threads = args.length ? args.map(Number) : [1, os.availableParallelism()];
const runs = threads.map((t) => ({ threads: t, ...runChild(import.meta.url, [model, String(t)]) }));
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
    kernel: 'outside kernels (AdamW, autodiff, TF.js random draws, bookkeeping)',
    calls: '',
    ...Object.fromEntries(runs.map((r) => [`ms @${r.threads} thr`, r.stepMs - kernelMs(r)])),
  },
  { kernel: 'step', calls: '', ...Object.fromEntries(runs.map((r) => [`ms @${r.threads} thr`, r.stepMs])) },
);
const title = model === 'gpt2' ? 'GPT-2 small training' : 'BERT-base fine-tuning';
printTable(`${title} step (8 × 128) on wasm, by kernel`, rows);
writeResults(model === 'gpt2' ? 'step-profile-gpt2' : 'step-profile', {
  config: { model, batch: 8, sequence: 128 },
  runs,
});
