/**
 * `pnpm demo finetune-gpt --from DIR --text FILE [--lora R]`: fine-tune a HuggingFace GPT-2 folder on a plain
 * text file (LoRA with PEFT's semantics, or every weight), with held-out perplexity before and after, then
 * save a PEFT adapter folder (or, with --save merged, the merged model as an HF folder) and reload it to
 * check it gives the same held-out loss. Bad input is one line on stderr and exit code 2.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { OutOfMemoryError } from '@transformer-kit/core';
import {
  checkTrainingFits,
  evaluateLoss,
  loadPretrained,
  pretrain,
  savePretrained,
} from '@transformer-kit/gpt';
import {
  addLora,
  loadLoraAdapter,
  saveLoraAdapter,
  trainableParameterCount,
  unloadLora,
} from '@transformer-kit/lora';
import { type Output, UsageError } from './io.js';
import type { DemoOptions } from './options.js';
import { progressBar } from './progress.js';

export interface FineTuneGptReport {
  trainTokens: number;
  heldOutTokens: number;
  perplexityBefore: number;
  perplexityAfter: number;
  trainable: number;
  total: number;
  losses: number[];
  out: string;
  saved: 'adapter' | 'merged' | 'full';
  /** Held-out perplexity of the reloaded folder (the same model: equal to perplexityAfter). */
  perplexityReloaded: number;
}

/** The cheap checks (flags and paths), before the backend starts. */
export function checkFineTuneGptInputs(opts: DemoOptions): void {
  const g = opts.finetuneGpt;
  if (!g.from)
    throw new UsageError('finetune-gpt needs --from DIR: a HuggingFace GPT-2 folder with its tokenizer');
  if (!g.text) throw new UsageError('finetune-gpt needs --text FILE: a plain-text file to fine-tune on');
  const from = resolve(g.from);
  if (!existsSync(from) || !statSync(from).isDirectory())
    throw new UsageError(`--from ${from}: no such folder`);
  if (!existsSync(join(from, 'config.json')))
    throw new UsageError(`--from ${from}: no config.json there (is it a HuggingFace model folder?)`);
  const text = resolve(g.text);
  if (!existsSync(text) || !statSync(text).isFile()) throw new UsageError(`--text ${text}: no such file`);
  if (g.save !== undefined && !['adapter', 'merged'].includes(g.save))
    throw new UsageError(`--save must be 'adapter' or 'merged', got '${g.save}'`);
  if (g.save === 'adapter' && g.lora === undefined)
    throw new UsageError('--save adapter needs --lora R (a full fine-tune saves the whole model)');
}

export async function runFineTuneGpt(opts: DemoOptions, out: Output): Promise<FineTuneGptReport> {
  checkFineTuneGptInputs(opts);
  const g = opts.finetuneGpt;
  const from = resolve(g.from!);
  const textPath = resolve(g.text!);
  const { model, tokenizer } = await loadPretrained(from);
  try {
    if (!tokenizer)
      throw new UsageError(`--from ${from}: no tokenizer (vocab.json + merges.txt or tokenizer.json)`);
    const ids = tokenizer.encode(readFileSync(textPath, 'utf8'), null, { addSpecialTokens: false }).ids;
    const seq = Math.min(g.maxLength ?? 128, model.config.maxPositions);
    // The last tenth is held out (at least two windows); the rest trains.
    const heldOut = Math.max(2 * (seq + 1), Math.floor(ids.length / 10));
    if (ids.length < heldOut + 2 * (seq + 1)) {
      throw new UsageError(
        `--text ${basename(textPath)}: ${ids.length} tokens is too little for windows of ${seq} (need ${heldOut + 2 * (seq + 1)}); use a longer text or a smaller --max-length`,
      );
    }
    const train = ids.slice(0, ids.length - heldOut);
    const val = ids.slice(ids.length - heldOut);
    const batchSize = g.batchSize ?? 4;
    const steps = opts.steps ?? (opts.fast ? 20 : 200);
    const evalOpts = { batchSize, sequenceLength: seq, batches: 4, seed: 1 };
    const saveAs = g.lora === undefined ? 'full' : g.save === 'merged' ? 'merged' : 'adapter';

    out.log('');
    out.log(`== Fine-tune GPT-2 from ${from} on ${basename(textPath)} (${ids.length} tokens)`);
    out.log(
      `   GPT-2: ${model.config.numLayers} layers, hidden ${model.config.hiddenSize}, ${(model.numParameters() / 1e6).toFixed(1)}M parameters`,
    );
    out.log(`   split: ${train.length} train / ${val.length} held-out tokens (the last tenth)`);
    // lora_B starts at zero: the adapted model's perplexity before training is the base model's.
    if (g.lora !== undefined) addLora(model, { r: g.lora, alpha: 2 * g.lora, dropout: 0.05 });
    // Before any work: a step that cannot fit the wasm heap (GPT-2 medium trained in full) is refused.
    try {
      checkTrainingFits(model, { batchSize, seqLength: seq });
    } catch (e) {
      if (e instanceof OutOfMemoryError)
        throw new UsageError(`${e.message}${g.lora === undefined ? ' (here: --lora 8)' : ''}`);
      throw e;
    }
    const before = Math.exp(await evaluateLoss(model, val, evalOpts));
    out.log(`   held-out perplexity before: ${before.toFixed(2)}`);
    const { trainable, total } = trainableParameterCount(model);
    out.log(
      `   ${g.lora === undefined ? 'full fine-tune' : `LoRA r ${g.lora}, alpha ${2 * g.lora}, c_attn`}: ${(trainable / 1e6).toFixed(3)}M of ${(total / 1e6).toFixed(1)}M parameters train; ${steps} steps of ${batchSize} × ${seq} tokens`,
    );

    const bar = out.progress ? progressBar('fine-tune GPT-2', steps) : undefined;
    const losses: number[] = [];
    try {
      await pretrain(
        model,
        { train },
        {
          steps,
          batchSize,
          sequenceLength: seq,
          lr: g.lr ?? (g.lora === undefined ? 5e-5 : 1e-3),
          warmupSteps: Math.min(20, Math.floor(steps / 10)),
          totalSteps: steps,
          weightDecay: 0,
          clipNorm: 1,
          seed: opts.seed,
          onStep: (s) => {
            losses.push(s.loss);
            bar?.update(s.step, s.loss, s.step * batchSize * seq);
          },
        },
      );
    } finally {
      bar?.stop();
    }
    const after = Math.exp(await evaluateLoss(model, val, evalOpts));
    out.log(`   held-out perplexity after:  ${after.toFixed(2)} (before ${before.toFixed(2)})`);

    const dir = resolve(
      g.out ?? join(opts.checkpointDir, saveAs === 'adapter' ? 'gpt2-lora' : 'finetuned-gpt2'),
    );
    let reloadedPpl: number;
    if (saveAs === 'adapter') {
      await saveLoraAdapter(model, dir, { baseModelNameOrPath: from, taskType: 'CAUSAL_LM' });
      out.log(`   saved: ${dir} (PEFT adapter: adapter_config.json, adapter_model.safetensors)`);
      const base = (await loadPretrained(from)).model;
      try {
        await loadLoraAdapter(base, dir, { baseModelNameOrPath: from });
        reloadedPpl = Math.exp(await evaluateLoss(base, val, evalOpts));
      } finally {
        base.dispose();
      }
    } else {
      if (saveAs === 'merged') unloadLora(model, { merge: true });
      await savePretrained(model, dir, { tokenizer });
      out.log(`   saved: ${dir} (HF GPT-2 folder${saveAs === 'merged' ? ', adapters merged' : ''})`);
      const reloaded = (await loadPretrained(dir)).model;
      try {
        reloadedPpl = Math.exp(await evaluateLoss(reloaded, val, evalOpts));
      } finally {
        reloaded.dispose();
      }
    }
    out.log(`   reloaded: held-out perplexity ${reloadedPpl.toFixed(2)}`);
    return {
      trainTokens: train.length,
      heldOutTokens: val.length,
      perplexityBefore: before,
      perplexityAfter: after,
      trainable,
      total,
      losses,
      out: dir,
      saved: saveAs,
      perplexityReloaded: reloadedPpl,
    };
  } finally {
    model.dispose();
  }
}
