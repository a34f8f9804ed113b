/**
 * `pnpm demo pretrain` (and the first step of `sentiment`): masked-LM pretraining of the small BERT on State
 * of the Union addresses + Moby Dick, cached as an HF BertForMaskedLM folder (bert's savePretrained, with the
 * tokenizer) so the next run fine-tunes at once. Shows the model filling in blanks before and after.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BertForMaskedLM, loadPretrained, savePretrained } from '@transformer-kit/bert';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import { loadMobyDick, loadSpeeches } from './data-node.js';
import type { Output } from './io.js';
import type { DemoOptions } from './options.js';
import {
  buildMaskedLM,
  fillMask,
  formatGuesses,
  type PretrainSizes,
  pretrain,
  pretrainingCorpus,
  pretrainSizes,
  trainVocabulary,
} from './pretrain.js';
import { progressBar } from './progress.js';
import { sentimentSizes } from './sentiment.js';

export const FILL_IN = ['the [MASK] of the union', 'call me [MASK].', 'the food was [MASK].'];

/** What a cached folder was made with; a folder made with anything else is pretrained again. */
interface Provenance {
  corpus: string;
  sentences: number;
  steps: number;
  seed: number;
  sizes: PretrainSizes;
}

const PROVENANCE_FILE = 'demo-pretraining.json';

export interface Pretrained {
  model: BertForMaskedLM;
  tokenizer: Tokenizer;
  /** Every step's loss; empty when the folder was loaded from the cache. */
  losses: number[];
  cached: boolean;
  dir: string;
}

async function showGuesses(model: BertForMaskedLM, tokenizer: Tokenizer, out: Output): Promise<void> {
  for (const text of FILL_IN)
    out.log(
      `     ${`"${text}"`.padEnd(30)} → ${formatGuesses((await fillMask(model, tokenizer, text))[0]!)}`,
    );
}

function readProvenance(dir: string): Provenance | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, PROVENANCE_FILE), 'utf8')) as Provenance;
  } catch {
    return undefined;
  }
}

/**
 * The pretrained masked LM: from `<checkpoint-dir>/pretrained-bert` when it was made with the same corpus,
 * sizes, steps and seed, else pretrained now (and cached). The caller disposes `model`.
 */
export async function loadOrPretrain(opts: DemoOptions, out: Output): Promise<Pretrained> {
  const sizes = pretrainSizes(opts.fast);
  if (opts.pretrainSteps !== undefined) sizes.steps = opts.pretrainSteps;
  const model = sentimentSizes(opts.fast).model;
  const dir = join(opts.checkpointDir, 'pretrained-bert');
  const corpus = pretrainingCorpus(loadSpeeches(sizes.fromYear), loadMobyDick());
  const want: Provenance = {
    corpus: `sotu>=${sizes.fromYear}+moby-dick`,
    sentences: corpus.sentences.length,
    steps: sizes.steps,
    seed: opts.seed,
    sizes,
  };
  out.log('');
  out.log(
    `== Pretraining: masked-word prediction on ${corpus.sentences.length.toLocaleString('en-US')} unlabelled sentences (${corpus.words.toLocaleString('en-US')} words: ${corpus.speeches} State of the Union addresses ${corpus.years} + Moby Dick)`,
  );
  const cachedHere = existsSync(join(dir, 'config.json'));
  if (cachedHere && JSON.stringify(readProvenance(dir)) === JSON.stringify(want)) {
    const loaded = await loadPretrained(dir);
    if (loaded.model instanceof BertForMaskedLM && loaded.tokenizer) {
      out.log(`   loaded from ${dir} (${sizes.steps} steps, cached; delete the folder to pretrain again)`);
      out.log('   the pretrained model fills in the blanks (top 5):');
      await showGuesses(loaded.model, loaded.tokenizer, out);
      return { model: loaded.model, tokenizer: loaded.tokenizer, losses: [], cached: true, dir };
    }
    loaded.model.dispose();
  }

  if (cachedHere)
    out.log(`   ${dir} was pretrained with other settings (corpus, sizes, steps or seed): pretraining again`);
  const t0 = performance.now();
  const tokenizer = trainVocabulary(corpus.sentences, sizes.vocabSize);
  out.log(
    `   WordPiece vocabulary: ${tokenizer.vocabSize} tokens, trained on these sentences in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const mlm = buildMaskedLM(tokenizer, model, opts.seed);
  try {
    const c = mlm.config;
    out.log(
      `   BertForMaskedLM: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, ${(mlm.numParameters() / 1e6).toFixed(2)}M parameters (decoder tied to the embeddings); batch ${sizes.batchSize}, ${sizes.steps} steps, AdamW lr ${sizes.lr}, 15% of tokens masked afresh each batch`,
    );
    out.log('   before pretraining, the model fills in the blanks (top 5):');
    await showGuesses(mlm, tokenizer, out);
    const bar = out.progress ? progressBar('MLM pretraining', sizes.steps) : undefined;
    const t1 = performance.now();
    let losses: number[];
    try {
      losses = await pretrain(mlm, tokenizer, corpus.sentences, {
        ...sizes,
        seed: opts.seed,
        onStep: (step, loss) => bar?.update(step, loss),
      });
    } finally {
      bar?.stop();
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    out.log(
      `   masked-LM loss: ${mean(losses.slice(0, 20)).toFixed(2)} → ${mean(losses.slice(-20)).toFixed(2)} (uniform guess: ln ${tokenizer.vocabSize} = ${Math.log(tokenizer.vocabSize).toFixed(2)}) in ${((performance.now() - t1) / 1000).toFixed(0)} s`,
    );
    out.log('   after pretraining (top 5):');
    await showGuesses(mlm, tokenizer, out);
    await savePretrained(mlm, dir, { tokenizer });
    // Written last: a folder without it (an interrupted save) is never taken for a finished pretraining.
    const file = join(dir, PROVENANCE_FILE);
    await writeFile(`${file}.tmp`, `${JSON.stringify(want, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
    out.log(`   saved: ${dir} (BertForMaskedLM: model.safetensors, config.json, tokenizer.json, vocab.txt)`);
    return { model: mlm, tokenizer, losses, cached: false, dir };
  } catch (e) {
    mlm.dispose();
    throw e;
  }
}

/** `pnpm demo pretrain`: pretrain (or load the cache) and show the guesses; nothing else. */
export async function runPretrain(opts: DemoOptions, out: Output): Promise<Pretrained> {
  const r = await loadOrPretrain(opts, out);
  r.model.dispose();
  return r;
}
