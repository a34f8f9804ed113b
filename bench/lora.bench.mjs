// LoRA against full fine-tuning at the sizes that motivate it, batch 8 × 128 on wasm (every core), each
// workload in its own node process (so peak RSS and wasm heap are that workload's):
//   bert-full   BERT-base sequence classification, every weight trained (as scale's bert-finetune)
//   bert-lora   the same model with PEFT's LoRA (r 8, alpha 16, query/value; classifier in modules_to_save)
//   bert-lora-rc  bert-lora with attention's setRecompute (block activations recomputed in the backward pass)
//   gpt2m-lora  GPT-2 medium (355M) causal LM with LoRA (r 8, alpha 16, c_attn)
//   gpt2m-lora-rc  the same with recompute (keeps each block's input, reruns one block at a time)
//   gpt2m-full  GPT-2 medium, every weight trained: refused before any step by gpt's checkTrainingFits (its
//               gradients and activations do not fit the 4 GB heap next to its weights), an OutOfMemoryError
// GPT rows also report gpt's memory estimate for the step (est heap MB) beside the measured peak.
// PyTorch (bench/lora_torch.py: the same BERT, PEFT's LoRA Linear) runs bert-full and bert-lora in the same run on
// every core, so the LoRA/full ratio of each framework sits side by side (--no-torch skips it).
// Reported: the step time (best of 3 after a warm-up step) in wall and CPU time (all threads; the CPU time
// is the fairer ratio on a shared machine) with the 1-minute load average, peak RSS, peak wasm heap, trainable parameters,
// numTensors across steps. Run: node bench/lora.bench.mjs [backend] [--only bert-full,bert-lora,...]
// [--timeout-min N (per workload, default 15)] [--name results-file] [--no-torch] [--smoke] (--smoke: the same code on
// the tiny presets, seconds, to check the bench itself).
import os from 'node:os';
import { printTable, reportChild, runChild, runTorch, writeResults } from './lib.mjs';
import { BERT } from './scale-workloads.mjs';

const BATCH = 8;
const SEQ = 128;
const WORKLOADS = ['bert-full', 'bert-lora', 'bert-lora-rc', 'gpt2m-lora', 'gpt2m-lora-rc', 'gpt2m-full'];
const LORA = { r: 8, alpha: 16, dropout: 0.1 };
const fmtMB = (b) => (b === undefined ? undefined : Math.round(b / 2 ** 20));

async function child(backend, workload, smoke) {
  const tf = await import('@tensorflow/tfjs');
  const core = await import('@transformer-kit/core');
  const { addLora, trainableParameterCount } = await import('@transformer-kit/lora');
  const info = await core.initBackend(backend);
  const rng = new core.Rng(1);
  const seq = smoke ? 16 : SEQ;
  const ids = (vocab) =>
    Array.from({ length: BATCH }, () => Array.from({ length: seq }, () => 1 + rng.int(vocab - 1)));
  const result = { backend, device: info.device, workload };
  const lora = workload.includes('-lora');

  let model;
  let loss;
  if (workload.startsWith('bert')) {
    const { BertForSequenceClassification, bertConfig } = await import('@transformer-kit/bert');
    model = new BertForSequenceClassification(bertConfig(smoke ? 'tiny' : 'base'), { numLabels: 2 });
    if (lora) addLora(model, { ...LORA, targetModules: ['query', 'value'], modulesToSave: ['classifier'] });
    if (workload.endsWith('-rc')) (await import('@transformer-kit/attention')).setRecompute(model, true);
    const inputIds = ids(model.config.vocabSize);
    const attentionMask = inputIds.map((r) => r.map(() => 1));
    const labels = tf.tensor1d(
      inputIds.map((_, i) => i % 2),
      'int32',
    );
    loss = () => model.loss({ inputIds, attentionMask }, labels);
  } else {
    const { GPT, gptConfig, checkTrainingFits } = await import('@transformer-kit/gpt');
    model = new GPT(gptConfig(smoke ? 'tiny' : 'gpt2-medium'));
    if (lora) addLora(model, { ...LORA, targetModules: ['c_attn'] });
    const recompute = workload.endsWith('-rc');
    if (recompute) (await import('@transformer-kit/attention')).setRecompute(model, true);
    // The memory check a caller runs before training: a step that cannot fit is refused here, typed.
    try {
      result.estHeapMB = fmtMB(
        checkTrainingFits(model, { batchSize: BATCH, seqLength: seq, recompute }).heapBytes,
      );
    } catch (e) {
      Object.assign(result, trainableParameterCount(model));
      result.refused = `${e.constructor.name} (${e.code}): ${e.message}`;
      result.rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
      reportChild(result);
      return;
    }
    const x = tf.tensor2d(ids(model.config.vocabSize), undefined, 'int32');
    const y = tf.tensor2d(ids(model.config.vocabSize), undefined, 'int32');
    loss = () => model.loss(x, y);
  }
  model.train();
  Object.assign(result, trainableParameterCount(model));
  const trainer = new core.Trainer(model, { lr: lora ? 2e-4 : 2e-5, weightDecay: 0.01, clipNorm: 1 });
  const step = () => trainer.step(loss);
  core.resetWasmHeapPeak();
  await step();
  result.tensorsAfterFirstStep = tf.memory().numTensors;
  const times = [];
  const cpu = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await step();
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  result.ms = Math.min(...times);
  // CPU time of the step (every thread of the process): what the work costs, much less bent than the wall
  // time by other processes on a shared machine.
  result.cpuMs = Math.min(...cpu);
  result.loadAvg = os.loadavg()[0];
  result.tensorsAfterLastStep = tf.memory().numTensors;
  const heap = core.wasmHeapStats();
  result.peakHeapMB = fmtMB(heap?.peakBytes);
  result.rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  reportChild(result);
}

async function main() {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1].split(',') : WORKLOADS;
  const flag = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : undefined;
  };
  // On a shared machine a GPT-2 medium step can take minutes: raise the per-workload limit (minutes).
  const timeout = Number(flag('--timeout-min') ?? 15) * 60_000;
  const name = flag('--name') ?? 'lora';
  const smoke = args.includes('--smoke');
  const noTorch = smoke || args.includes('--no-torch');
  const backend = args.filter((a) => !a.startsWith('--'))[0] ?? 'wasm';
  const runs = only.map((w) => ({
    workload: w,
    backend,
    ...runChild(import.meta.url, [backend, w, ...(smoke ? ['smoke'] : [])], { timeout }),
  }));
  const threads = os.cpus().length;
  const torchRuns = noTorch
    ? []
    : only
        .filter((w) => w === 'bert-full' || w === 'bert-lora')
        .map((w) => ({
          workload: w,
          backend: `pytorch ${threads}t`,
          ...runTorch('lora_torch.py', {
            workload: w,
            batch: BATCH,
            seq: SEQ,
            threads,
            bert: BERT,
            lora: LORA,
          }),
        }));
  const all = [...runs, ...torchRuns];
  const find = (workload, b) => all.find((r) => r.workload === workload && r.backend === b);
  const rows = all.map((r) => {
    const base = find(r.workload.replace(/-lora.*$/, '-full'), r.backend);
    const torch = r.backend === backend ? find(r.workload, `pytorch ${threads}t`) : undefined;
    return {
      workload: r.workload,
      backend: r.backend,
      'step ms': r.ms,
      'vs full': base?.ms && r.ms && r.workload.includes('-lora') ? r.ms / base.ms : undefined,
      'vs PyTorch': torch?.ms && r.ms ? r.ms / torch.ms : undefined,
      'step CPU ms': r.cpuMs,
      'CPU vs full':
        base?.cpuMs && r.cpuMs && r.workload.includes('-lora') ? r.cpuMs / base.cpuMs : undefined,
      load: r.loadAvg,
      'peak RSS MB': r.rssMB,
      'peak heap MB': r.peakHeapMB,
      'est heap MB': r.estHeapMB,
      trainable: r.trainable,
      total: r.total,
      tensors:
        r.error || r.refused
          ? ''
          : r.tensorsAfterFirstStep === r.tensorsAfterLastStep
            ? 'flat'
            : `${r.tensorsAfterFirstStep}→${r.tensorsAfterLastStep}`,
      note: r.error ?? (r.refused ? `refused before any step: ${r.refused}` : ''),
    };
  });
  printTable(
    `LoRA vs full fine-tuning at batch ${BATCH} × ${SEQ} (step ms = best of 3 after a warm-up)`,
    rows,
  );
  if (smoke) return;
  writeResults(name, { config: { batch: BATCH, seq: SEQ, lora: LORA }, runs, torch: torchRuns, rows });
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5] === 'smoke');
else await main();
