// BERT-mini-sized model (4 layers, 256 wide, 4 heads, vocab 30522), batch 8 × 128 tokens: encoder forward
// latency and masked-LM training throughput (fresh on-device masks, AdamW, clipping) on each backend, next to
// the same model in PyTorch (bench/bert_torch.py, system torch) in the same run. Each backend runs in its own
// node process so they do not share memory or warm-up. Run: node bench/bert.bench.mjs (after the build).
import os from 'node:os';
import { fastestOf, printTable, reportChild, runChild, runTorch, timeIt, writeResults } from './lib.mjs';

const CONFIG = {
  vocab: 30522,
  hidden: 256,
  layers: 4,
  heads: 4,
  inter: 1024,
  maxPos: 512,
  batch: 8,
  seq: 128,
  dropout: 0.1,
};
const THREADS = 2; // torch threads = the cores here; wasm uses its own thread pool when available

async function child(backend) {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend, Rng, Trainer } = await import('@transformer-kit/core');
  const { BertForMaskedLM, MaskedLMMaskGenerator, bertConfig } = await import('@transformer-kit/bert');
  const info = await initBackend(backend);
  const c = CONFIG;
  const config = bertConfig('mini', {
    vocabSize: c.vocab,
    maxPositions: c.maxPos,
    hiddenDropout: c.dropout,
    attentionDropout: c.dropout,
  });
  const model = new BertForMaskedLM(config);
  const rng = new Rng(1);
  const inputIds = Array.from({ length: c.batch }, () =>
    Array.from({ length: c.seq }, () => 5 + rng.int(c.vocab - 5)),
  );
  const attentionMask = inputIds.map((r) => r.map(() => 1));
  // The cpu backend takes tens of seconds per step at this size: one timed run (no warm-up needed there).
  const runs =
    backend === 'cpu' ? { warmup: 0, iters: 1 } : backend === 'webgpu' ? { warmup: 1, iters: 3 } : null;

  model.eval();
  const forwardMs = await timeIt(async () => {
    const h = tf.tidy(() => model.bert.forward({ inputIds, attentionMask }).lastHiddenState);
    await h.data();
    h.dispose();
  }, runs ?? { warmup: 2, iters: 7 });

  model.train();
  const gen = new MaskedLMMaskGenerator({
    vocabSize: c.vocab,
    maskTokenId: 4,
    unselectableIds: [0, 2, 3],
    seed: 1,
  });
  const trainer = new Trainer(model, { lr: 1e-4, weightDecay: 0.01, clipNorm: 1 });
  // Before the first step and after each one. On GPU backends AdamW's moments are tensors made at the first
  // step (on cpu/wasm they live in host arrays), so flat means: equal after every step.
  const before = tf.memory().numTensors;
  const afterStep = [];
  const trainMs = await timeIt(async () => {
    const batch = gen.generate({ inputIds, attentionMask });
    await trainer.step(() => model.loss(batch, { attentionMask }));
    tf.dispose(Object.values(batch));
    afterStep.push(tf.memory().numTensors);
  }, runs ?? { warmup: 2, iters: 5 });
  reportChild({
    backend: info.backend,
    device: info.device,
    forwardMs,
    trainMs,
    tensorsBefore: before,
    tensorsAfterFirstStep: afterStep[0],
    tensorsAfterLastStep: afterStep.at(-1),
  });
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
  process.exit(0);
}

const { probeWebGPU } = await import('@transformer-kit/core');
const probe = await probeWebGPU();
// `node bert.bench.mjs wasm` runs only the named backends (PyTorch always runs).
const named = process.argv.slice(2);
const backends = named.length ? named : ['wasm', 'cpu', ...(probe.available ? ['webgpu'] : [])];

// PyTorch before and after the node runs; the faster of the two (other load on the machine only slows it).
const torchRuns = [];
const runPyTorch = () => {
  const r = runTorch('bert_torch.py', { ...CONFIG, threads: THREADS });
  if (r.error) console.log(`PyTorch not run: ${r.error}`);
  else torchRuns.push(r);
};
runPyTorch();
const results = {};
for (const b of backends) {
  const r = runChild(import.meta.url, [b]);
  if (r.error) console.log(`${b}: failed (${r.error})`);
  else results[b] = r;
}
runPyTorch();
if (torchRuns.length) results.pytorch = fastestOf(torchRuns, ['forward_ms', 'train_step_ms']);
const tokens = CONFIG.batch * CONFIG.seq;
const pt = results.pytorch;
const rows = Object.entries(results).map(([name, r]) => {
  const fwd = r.forwardMs ?? r.forward_ms;
  const step = r.trainMs ?? r.train_step_ms;
  return {
    backend: name === 'pytorch' ? `pytorch ${pt.torch} (${pt.threads} threads)` : name,
    'forward ms': fwd,
    'forward vs PyTorch': pt ? `${(pt.forward_ms / fwd).toFixed(2)}x` : '',
    'MLM step ms': step,
    'MLM tokens/s': (tokens / step) * 1000,
    'MLM vs PyTorch': pt ? `${(pt.train_step_ms / step).toFixed(2)}x` : '',
  };
});
printTable(
  `BERT-mini (L4 H256 A4, V30522), batch ${CONFIG.batch} × ${CONFIG.seq}, dropout ${CONFIG.dropout}; ${os.cpus().length} cores (${os.cpus()[0]?.model}); ` +
    `"vs PyTorch" = PyTorch time / ours (higher is better); WebGPU: ${probe.available ? 'yes' : probe.reason}`,
  rows,
);
writeResults(named.length ? `bert-${named.join('-')}` : 'bert', {
  config: CONFIG,
  tokensPerStep: tokens,
  webgpu: probe,
  results,
});
