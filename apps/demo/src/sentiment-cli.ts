/** `pnpm demo sentiment` and `pnpm demo classify`: train, compare heads, save, reload, classify. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Sentiment from 'sentiment';
import { loadSentimentCheckpoint, maxAbsDiff, saveSentimentCheckpoint } from './checkpoints.js';
import type { DemoOptions } from './cli.js';
import type { LabelledSentence } from './data.js';
import { loadSentences } from './data-node.js';
import { type Output, UsageError } from './io.js';
import { progressBar } from './progress.js';
import { type Head, LABELS, SentimentExperiment, sentimentSizes } from './sentiment.js';

export const TYPED_SENTENCES = [
  'attention is not too shabby',
  'the food was cold and the service was slow',
  'I love this phone, the battery lasts all day',
  'not bad at all',
  'this movie was a complete waste of time',
];

export interface SentimentReport {
  rows: Array<{ name: string; accuracy: number; seconds?: number }>;
  losses: Record<Head, number[]>;
  testSize: number;
  reloadIdentical: boolean;
  typed: Array<{ text: string; label: string; p: number }>;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Runs the experiment's training loop with a progress bar subscribed; returns the losses and wall time. */
async function train(
  exp: SentimentExperiment,
  label: string,
  out: Output,
): Promise<{ losses: number[]; seconds: number }> {
  const bar = out.progress ? progressBar(label, exp.totalSteps) : undefined;
  const t0 = performance.now();
  const off = exp.loop.on({ onStep: (s) => bar?.update(s.step, s.loss, exp.tokensSeen) });
  try {
    const { history } = await exp.loop.run();
    return { losses: history.map((s) => s.loss), seconds: (performance.now() - t0) / 1000 };
  } finally {
    off();
    bar?.stop();
  }
}

/** The `sentiment` package's own AFINN word-list scorer on the same test split: a no-training reference. */
function afinnAccuracy(test: LabelledSentence[]): number {
  const afinn = new Sentiment();
  let right = 0;
  for (const s of test) if (Number(afinn.analyze(s.text).score >= 0) === s.label) right++;
  return right / test.length;
}

export async function runSentiment(opts: DemoOptions, out: Output): Promise<SentimentReport> {
  const sizes = sentimentSizes(opts.fast);
  if (opts.steps !== undefined) sizes.steps = opts.steps;
  const sentences = loadSentences();
  const bySource = new Map<string, number>();
  for (const s of sentences) bySource.set(s.source, (bySource.get(s.source) ?? 0) + 1);
  out.log('');
  out.log(
    `== Sentiment: fine-tuning a small BERT on ${sentences.length.toLocaleString('en-US')} labelled sentences (${[...bySource].map(([k, v]) => `${k} ${v}`).join(', ')})`,
  );

  const t0 = performance.now();
  const cls = await SentimentExperiment.create(sentences, { ...sizes, seed: opts.seed, head: 'cls' });
  const tokSeconds = (performance.now() - t0) / 1000;
  const mean = await SentimentExperiment.create(sentences, {
    ...sizes,
    seed: opts.seed,
    head: 'mean',
    tokenizer: cls.tokenizer,
    split: { train: cls.train, test: cls.test },
  });
  const c = cls.model.config;
  out.log(
    `   split: ${cls.train.length} train / ${cls.test.length} test (seeded shuffle, seed ${opts.seed})`,
  );
  out.log(
    `   WordPiece vocabulary: ${cls.tokenizer.vocabSize} tokens, trained on the training sentences in ${tokSeconds.toFixed(1)} s`,
  );
  out.log(
    `   BERT: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, ${(cls.model.numParameters() / 1e6).toFixed(2)}M parameters; batch ${sizes.batchSize}, ${sizes.steps} steps, AdamW lr ${sizes.lr}`,
  );
  try {
    const a = await train(cls, 'BERT + [CLS] head', out);
    const b = await train(mean, 'BERT + mean-pool', out);
    const accCls = await cls.accuracy(cls.test);
    const accMean = await mean.accuracy(mean.test);
    const majority =
      Math.max(cls.test.filter((s) => s.label === 0).length, cls.test.filter((s) => s.label === 1).length) /
      cls.test.length;
    const rows = [
      { name: 'BERT + [CLS] head', accuracy: accCls, seconds: a.seconds },
      { name: 'BERT + mean-pool baseline', accuracy: accMean, seconds: b.seconds },
      { name: 'AFINN word list (no training)', accuracy: afinnAccuracy(cls.test) },
      { name: 'majority class', accuracy: majority },
    ];
    out.log('');
    out.log(`   Test accuracy on ${cls.test.length} held-out sentences:`);
    out.log(`   ${'model'.padEnd(32)}${'accuracy'.padStart(9)}${'train'.padStart(9)}`);
    for (const r of rows)
      out.log(
        `   ${r.name.padEnd(32)}${pct(r.accuracy).padStart(9)}${(r.seconds === undefined ? '-' : `${r.seconds.toFixed(0)} s`).padStart(9)}`,
      );

    out.log('');
    out.log('   Typed sentences ([CLS] model):');
    const probs = await cls.predict(TYPED_SENTENCES);
    const typed = TYPED_SENTENCES.map((text, i) => {
      const p = probs[i]!;
      const k = p[1]! > p[0]! ? 1 : 0;
      return { text, label: LABELS[k], p: p[k]! };
    });
    for (const t of typed) out.log(`   ${t.label.padEnd(9)} ${t.p.toFixed(2)}  "${t.text}"`);

    // Save, reload into a fresh model, and check that predictions are identical.
    const dir = join(opts.checkpointDir, 'sentiment-bert');
    await saveSentimentCheckpoint(dir, cls);
    const reloaded = await loadSentimentCheckpoint(dir, sizes, { train: cls.train, test: cls.test });
    let identical = false;
    try {
      const before = await cls.predict(cls.test.map((s) => s.text));
      const after = await reloaded.predict(reloaded.test.map((s) => s.text));
      const maxDiff = maxAbsDiff(before, after);
      identical = maxDiff === 0;
      out.log('');
      out.log(`   checkpoint: ${dir} (model.safetensors, config.json, tokenizer.json, vocab.txt)`);
      out.log(
        `   reloaded: ${identical ? 'identical' : 'DIFFERENT'} predictions on all ${before.length} test sentences (max |Δp| = ${maxDiff})`,
      );
    } finally {
      reloaded.dispose();
    }
    return {
      rows,
      losses: { cls: a.losses, mean: b.losses },
      testSize: cls.test.length,
      reloadIdentical: identical,
      typed,
    };
  } finally {
    cls.dispose();
    mean.dispose();
  }
}

export async function runClassify(opts: DemoOptions, out: Output): Promise<void> {
  const text = opts.positionals.join(' ').trim();
  if (!text) throw new UsageError('classify needs a non-empty sentence');
  const dir = join(opts.checkpointDir, 'sentiment-bert');
  if (!existsSync(join(dir, 'config.json')))
    throw new UsageError(
      `no sentiment checkpoint in ${dir}: run \`pnpm demo sentiment\` first (or pass --checkpoint-dir)`,
    );
  const exp = await loadSentimentCheckpoint(dir, sentimentSizes(opts.fast), { train: [], test: [] });
  try {
    const [p] = await exp.predict([text]);
    const k = p![1]! > p![0]! ? 1 : 0;
    out.log(`${LABELS[k]} ${p![k]!.toFixed(3)}  "${text}"`);
  } finally {
    exp.dispose();
  }
}
