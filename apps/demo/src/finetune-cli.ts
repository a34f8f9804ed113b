/**
 * `pnpm demo finetune --from DIR|HUB_ID --data FILE.csv`: fine-tune a HuggingFace BERT, DistilBERT or RoBERTa
 * folder (or Hub repo; config.json's model_type picks the family) on the user's labels
 * with a progress bar and validation accuracy / F1 as it trains, save the result as an HF folder, reload it
 * and check that it predicts the same. Bad input (a missing file, bad data, a folder that is not a BERT
 * with a vocabulary, a batch that cannot fit) is one line on stderr and exit code 2.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadSequenceClassifier } from '@transformer-kit/bert';
import { type CheckpointSource, isHubId, listFirst, resolveSource } from '@transformer-kit/core';
import { loadLoraAdapter, loraState, trainableParameterCount } from '@transformer-kit/lora';
import { maxAbsDiff } from './checkpoints.js';
import {
  DEFAULT_SETTINGS,
  type EvalMetrics,
  FAMILY_NAMES,
  FineTuneExperiment,
  type FineTuneSettings,
  inspectFolder,
  isOutOfMemory,
  planMemory,
  predictProbs,
} from './finetune.js';
import { type Output, UsageError } from './io.js';
import type { DemoOptions } from './options.js';
import { progressBar } from './progress.js';
import { readLabelledTable, splitData } from './table.js';

export interface FineTuneReport {
  labels: string[];
  trainSize: number;
  validationSize: number;
  majority: { label: string; accuracy: number };
  newHead: boolean;
  losses: number[];
  evals: Array<EvalMetrics & { step: number }>;
  final: EvalMetrics;
  out: string;
  reloadIdentical: boolean;
  /** The validation rows and the fine-tuned model's probabilities on them (for cross-checks). */
  validation: Array<{ text: string; pair?: string }>;
  validationProbs: number[][];
  maxLength: number;
}

/** The cheap checks (flags and paths), before the backend starts. */
export function checkFineTuneInputs(opts: DemoOptions): void {
  const f = opts.finetune;
  if (!f.from)
    throw new UsageError(
      'finetune needs --from DIR or a Hub id: a HuggingFace BERT, DistilBERT or RoBERTa folder (config.json, weights, vocabulary)',
    );
  if (!f.data) throw new UsageError('finetune needs --data FILE: a CSV/TSV with text[,text_pair],label');
  const from = resolve(f.from);
  if (existsSync(from)) {
    if (!statSync(from).isDirectory()) throw new UsageError(`--from ${from}: not a folder`);
    if (!existsSync(join(from, 'config.json')))
      throw new UsageError(`--from ${from}: no config.json there (is it a HuggingFace model folder?)`);
  } else if (!isHubId(f.from))
    throw new UsageError(`--from ${from}: no such folder (nor a Hub id such as 'distilbert-base-uncased')`);
  const data = resolve(f.data);
  if (!existsSync(data) || !statSync(data).isFile()) throw new UsageError(`--data ${data}: no such file`);
  if (f.save !== undefined && (f.lora === undefined || !['adapter', 'merged'].includes(f.save)))
    throw new UsageError(`--save takes 'adapter' or 'merged' with --lora R, got '${f.save}'`);
  checkOutDir(outDir(opts));
}

/** --lora saves a PEFT adapter folder unless --save merged asks for the whole HF folder. */
const savesAdapter = (f: DemoOptions['finetune']) => f.lora !== undefined && f.save !== 'merged';

const outDir = (opts: DemoOptions) =>
  resolve(
    opts.finetune.out ??
      join(opts.checkpointDir, savesAdapter(opts.finetune) ? 'bert-lora' : 'finetuned-bert'),
  );

/**
 * Refuses an output folder the save would fail on (a file in the way, no write permission) before any
 * training, not after it: the folder, or the nearest existing folder above it, must be a writable folder.
 */
function checkOutDir(dir: string): void {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const what = at === dir ? '' : ` (its nearest existing parent ${at})`;
  if (!statSync(at).isDirectory()) throw new UsageError(`--out ${dir}${what}: not a folder`);
  try {
    accessSync(at, constants.W_OK);
  } catch {
    throw new UsageError(`--out ${dir}${what}: not writable`);
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export async function runFineTune(opts: DemoOptions, out: Output): Promise<FineTuneReport> {
  checkFineTuneInputs(opts);
  const f = opts.finetune;
  // A local folder, else a Hub id (core's cache and HF_ENDPOINT); the files download as they are read.
  const local = existsSync(resolve(f.from!));
  const from = local ? resolve(f.from!) : f.from!;
  const source: CheckpointSource = local
    ? from
    : await resolveSource(from, {
        onProgress: (p) => {
          if (p.total !== undefined && p.loaded === p.total)
            out.log(`   ${p.cached ? 'cached' : 'downloaded'}: ${from}/${p.file} (${p.total} bytes)`);
        },
      });
  const dataPath = resolve(f.data!);
  const data = readLabelledTable(
    readFileSync(dataPath, 'utf8'),
    basename(dataPath),
    f.labelColumn ? { labelColumn: f.labelColumn } : {},
  );
  const split = splitData(data, 0.2, opts.seed);
  const info = await inspectFolder(source);
  const family = FAMILY_NAMES[info.modelType];
  const c = info.config;
  const settings: FineTuneSettings = {
    epochs: f.epochs ?? DEFAULT_SETTINGS.epochs,
    batchSize: f.batchSize ?? DEFAULT_SETTINGS.batchSize,
    lr: f.lr ?? DEFAULT_SETTINGS.lr,
    maxLength: f.maxLength ?? DEFAULT_SETTINGS.maxLength,
    accumulationSteps: f.accumulationSteps ?? DEFAULT_SETTINGS.accumulationSteps,
    recompute: f.recompute,
    seed: opts.seed,
    ...(f.lora !== undefined ? { lora: f.lora } : {}),
  };
  const stepsPerEpoch = Math.ceil(split.train.length / settings.batchSize / settings.accumulationSteps);
  settings.evalEvery = f.evalEvery ?? stepsPerEpoch;

  out.log('');
  out.log(`== Fine-tune: ${info.architecture} from ${from} on ${basename(dataPath)}`);
  out.log(
    `   data: ${data.rows.length} rows, columns ${[data.columns.text, data.columns.pair, data.columns.label].filter(Boolean).join(', ')}${data.hasHeader ? '' : ' (no header)'}`,
  );
  out.log(
    `   labels found: ${listFirst(
      data.labels.map((l, i) => `${l} (${data.counts[i]})`),
      20,
    )}`,
  );
  out.log(
    `   split: ${split.train.length} train / ${split.validation.length} validation (seeded shuffle, seed ${opts.seed}); majority class '${split.majority.label}' scores ${pct(split.majority.accuracy)}`,
  );
  out.log(
    `   ${family}: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, vocabulary ${c.vocabSize} (${info.vocabulary})`,
  );
  const plan = planMemory(c, data.labels.length, settings, tf.getBackend());
  if (!plan.fits) throw new UsageError(plan.message);
  out.log(`   memory: ${plan.message}`);

  const exp = await FineTuneExperiment.create(source, split, settings, (w) => out.log(`   note: ${w}`));
  try {
    out.log(
      `   head: ${exp.info.newHead ? `new [CLS] classifier for ${split.labels.length} labels` : "the folder's own classifier (same labels)"}; ${(exp.model.numParameters() / 1e6).toFixed(2)}M parameters${settings.lora !== undefined ? ` (LoRA r ${settings.lora} on ${[loraState(exp.model)?.config.targetModules ?? []].flat().join('/')}: ${(trainableParameterCount(exp.model).trainable / 1e6).toFixed(3)}M train)` : ''}; batch ${settings.batchSize}${settings.accumulationSteps > 1 ? ` × ${settings.accumulationSteps} accumulated` : ''}, ${settings.epochs} epochs = ${exp.loop.totalSteps} steps, AdamW lr ${settings.lr}, max length ${exp.maxLength}`,
    );
    const evals: FineTuneReport['evals'] = [];
    const bar = out.progress ? progressBar('fine-tune', exp.loop.totalSteps) : undefined;
    const off = exp.loop.on({
      onStep: (s) => bar?.update(s.step, s.loss, exp.tokensSeen),
      onEval: (m, step) => {
        const e = { step, accuracy: m.accuracy!, f1: m.f1! };
        evals.push(e);
        bar?.note(`val acc ${pct(e.accuracy)} F1 ${e.f1.toFixed(3)}`);
        if (!bar) out.log(`   step ${step}: validation accuracy ${pct(e.accuracy)}, F1 ${e.f1.toFixed(3)}`);
      },
    });
    try {
      await exp.loop.run();
    } catch (e) {
      if (isOutOfMemory(e))
        throw new UsageError(
          `${(e as Error).message} — try --batch-size ${Math.max(1, Math.floor(settings.batchSize / 2))} --accumulation-steps ${settings.accumulationSteps * 2}`,
        );
      throw e;
    } finally {
      off();
      bar?.stop();
    }
    const final = evals.at(-1) ?? { ...(await exp.evaluate()), step: exp.loop.step };
    const losses = exp.losses;
    out.log('');
    out.log(`   Validation on ${split.validation.length} held-out rows:`);
    out.log(`   ${'model'.padEnd(30)}${'accuracy'.padStart(9)}${'F1'.padStart(8)}`);
    out.log(
      `   ${`fine-tuned ${family}`.padEnd(30)}${pct(final.accuracy).padStart(9)}${final.f1.toFixed(3).padStart(8)}`,
    );
    out.log(
      `   ${`majority class (${split.majority.label})`.padEnd(30)}${pct(split.majority.accuracy).padStart(9)}`,
    );
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const k = Math.max(1, Math.min(10, Math.floor(losses.length / 4)));
    out.log(
      `   loss ${mean(losses.slice(0, k)).toFixed(3)} → ${mean(losses.slice(-k)).toFixed(3)} (mean of the first and last ${k} steps)`,
    );

    // Save as an HF folder (or a PEFT adapter folder), reload it as a classifier for the same labels, and
    // compare predictions.
    const asAdapter = savesAdapter(f);
    const dir = outDir(opts);
    await exp.save(dir, { as: asAdapter ? 'adapter' : 'merged', baseModel: from });
    const reloaded = await loadSequenceClassifier(asAdapter ? source : dir, {
      labels: split.labels,
      seed: settings.seed,
    });
    if (asAdapter) await loadLoraAdapter(reloaded.model, dir, { baseModelNameOrPath: from });
    let identical = false;
    let probs: number[][] = [];
    try {
      const before = await exp.predict(split.validation);
      const after = await predictProbs(reloaded.model, reloaded.tokenizer!, split.validation, exp.maxLength);
      const maxDiff = maxAbsDiff(before, after);
      identical = maxDiff === 0 && (asAdapter || !reloaded.newHead);
      probs = before;
      out.log('');
      out.log(
        asAdapter
          ? `   saved: ${dir} (PEFT adapter: adapter_config.json, adapter_model.safetensors; base ${from})`
          : `   saved: ${dir} (config.json with id2label, model.safetensors, tokenizer files${settings.lora !== undefined ? '; LoRA merged' : ''})`,
      );
      out.log(
        `   reloaded: ${identical ? 'identical' : 'DIFFERENT'} predictions on all ${before.length} validation rows (max |Δp| = ${maxDiff})`,
      );
    } finally {
      reloaded.model.dispose();
    }
    return {
      labels: split.labels,
      trainSize: split.train.length,
      validationSize: split.validation.length,
      majority: split.majority,
      newHead: exp.info.newHead,
      losses: [...losses],
      evals,
      final: { accuracy: final.accuracy, f1: final.f1 },
      out: dir,
      reloadIdentical: identical,
      validation: split.validation.map((e) =>
        e.pair === undefined ? { text: e.text } : { text: e.text, pair: e.pair },
      ),
      validationProbs: probs,
      maxLength: exp.maxLength,
    };
  } finally {
    exp.dispose();
  }
}
