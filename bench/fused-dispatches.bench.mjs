// WebGPU dispatches per BERT fine-tuning step with TF.js's kernels (one dispatch per op) and with
// @transformer-kit/backend-webgpu's fused kernels, and the first steps' losses against wasm (dropout 0: the
// WebGPU dropout mask is drawn by a different generator than wasm's). Each variant runs in its own process.
// Run (after the build): node bench/fused-dispatches.bench.mjs [mini|base] [--layers N] [--batch B] [--steps S]
import { printTable, reportChild, runChild, writeResults } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const VARIANTS = ['wasm', 'webgpu:tfjs', 'webgpu:fused'];

async function child([variant, size, layers, batch, seq, steps]) {
  const tf = await import('@tensorflow/tfjs');
  const core = await import('@transformer-kit/core');
  const { BertForSequenceClassification, bertConfig } = await import('@transformer-kit/bert');
  const [backend, kernels] = variant.split(':');
  const info = await core.initBackend(backend);
  if (kernels === 'tfjs') core.unregisterFusedKernels('webgpu');
  const overrides = {
    hiddenDropout: 0,
    attentionDropout: 0,
    ...(Number(layers) ? { numLayers: Number(layers) } : {}),
  };
  const model = new BertForSequenceClassification(bertConfig(size, overrides), { numLabels: 2 });
  model.train();
  const rng = new core.Rng(1);
  const inputIds = Array.from({ length: Number(batch) }, () =>
    Array.from({ length: Number(seq) }, () => 1 + rng.int(30521)),
  );
  const attentionMask = inputIds.map((r, i) =>
    r.map((_, t) => (i % 2 === 1 && t >= Number(seq) - 7 ? 0 : 1)),
  );
  const labels = tf.tensor1d(
    inputIds.map((_, i) => i % 2),
    'int32',
  );
  const trainer = new core.Trainer(model, { lr: 1e-4, weightDecay: 0.01, clipNorm: 1 });
  const losses = [];
  const dispatches = [];
  const ms = [];
  for (let s = 0; s < Number(steps); s++) {
    const d0 = core.webgpuDevice()?.dispatches;
    const t0 = performance.now();
    losses.push((await trainer.step(() => model.loss({ inputIds, attentionMask }, labels))).loss);
    ms.push(Math.round(performance.now() - t0));
    if (d0 !== undefined) dispatches.push(core.webgpuDevice().dispatches - d0);
  }
  reportChild({
    variant,
    softwareAdapter: info.softwareAdapter || undefined,
    losses,
    dispatchesPerStep: dispatches.length ? dispatches : undefined,
    ms,
    fused: core.fusedKernelNames(tf.getBackend()).length,
  });
}

if (argv[0] === '--child') {
  await child(argv.slice(1));
} else {
  const size = argv.find((a) => a === 'mini' || a === 'base') ?? 'mini';
  const layers = opt('layers', 0);
  const batch = opt('batch', 2);
  const seq = opt('seq', 128);
  const steps = opt('steps', 3);
  const rows = VARIANTS.map((v) => runChild(new URL(import.meta.url), [v, size, layers, batch, seq, steps]));
  const wasm = rows[0]?.losses;
  const table = rows.map((r, i) => ({
    variant: r.variant ?? VARIANTS[i],
    error: r.error,
    losses: r.losses?.map((l) => l.toFixed(6)).join(' '),
    'max rel. diff vs wasm':
      wasm && r.losses
        ? Math.max(...r.losses.map((l, j) => Math.abs(l - wasm[j]) / Math.abs(wasm[j]))).toExponential(2)
        : undefined,
    'dispatches/step': r.dispatchesPerStep?.join(' '),
    'ms/step': r.ms?.join(' '),
  }));
  printTable(`BERT ${size}${layers ? ` (${layers} layers)` : ''}, batch ${batch} × ${seq}, dropout 0`, table);
  writeResults(`fused-dispatches-${size}${layers ? `-${layers}l` : ''}`, { size, layers, batch, seq, rows });
}
