/** `pnpm demo sentiment` and `pnpm demo classify`: pretrain, fine-tune from it and from scratch, save, reload, classify. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Sentiment from 'sentiment';
import { loadSentimentCheckpoint, maxAbsDiff, saveSentimentCheckpoint } from './checkpoints.js';
import { type LabelledSentence, trainTestSplit } from './data.js';
import { loadSentences } from './data-node.js';
import { type Output, UsageError } from './io.js';
import type { DemoOptions } from './options.js';
import { loadOrPretrain, type Pretrained } from './pretrain-cli.js';
import { progressBar } from './progress.js';
import { LABELS, SentimentExperiment, type SentimentSizes, sentimentSizes } from './sentiment.js';

export const TYPED_SENTENCES = [
  'attention is not too shabby',
  'the food was cold and the service was slow',
  'I love this phone, the battery lasts all day',
  'not bad at all',
  'this movie was a complete waste of time',
];

/**
 * The fine-tuned models, side by side: same split, same recipe, same vocabulary; only the start (and the
 * head) differs. The two [CLS] models run every seed; the mean-pool baseline only the first (time).
 */
export const MODELS = [
  {
    key: 'pretrained',
    name: 'BERT [CLS], pretrained encoder',
    head: 'cls',
    pretrained: true,
    allSeeds: true,
  },
  { key: 'scratch', name: 'BERT [CLS], from scratch', head: 'cls', pretrained: false, allSeeds: true },
  { key: 'mean', name: 'BERT mean-pool, pretrained', head: 'mean', pretrained: true, allSeeds: false },
] as const;
export type ModelKey = (typeof MODELS)[number]['key'];

export interface SentimentReport {
  pretraining: { losses: number[]; cached: boolean };
  /** One row per model (accuracy per seed, mean, half the range), then the references. */
  rows: Array<{ name: string; accuracies: number[]; mean: number; spread: number; seconds?: number }>;
  /** The first seed's training losses per model. */
  losses: Record<ModelKey, number[]>;
  seeds: number[];
  testSize: number;
  reloadIdentical: boolean;
  /** What each model (first seed) says about the typed sentences. */
  typed: Array<{ text: string } & Record<ModelKey, { label: string; p: number }>>;
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

function summary(accuracies: number[]): { mean: number; spread: number } {
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const hi = accuracies.reduce((a, b) => Math.max(a, b));
  const lo = accuracies.reduce((a, b) => Math.min(a, b));
  return { mean, spread: (hi - lo) / 2 };
}

/**
 * BERT's two steps: masked-LM pretraining (cached), then the [CLS] classifier fine-tuned from the
 * pretrained encoder and from scratch (and a mean-pool head on the pretrained encoder), each with `seeds`
 * seeds on one fixed split; test accuracy as mean ± half the range. The first seed's pretrained [CLS] model
 * is saved, reloaded and checked.
 */
export async function runSentiment(opts: DemoOptions, out: Output): Promise<SentimentReport> {
  const sizes = sentimentSizes(opts.fast);
  if (opts.steps !== undefined) sizes.steps = opts.steps;
  const pre = await loadOrPretrain(opts, out);
  try {
    return await fineTuneAll(opts, sizes, pre, out);
  } finally {
    pre.model.dispose();
  }
}

async function fineTuneAll(
  opts: DemoOptions,
  sizes: SentimentSizes,
  pre: Pretrained,
  out: Output,
): Promise<SentimentReport> {
  const sentences = loadSentences();
  const bySource = new Map<string, number>();
  for (const s of sentences) bySource.set(s.source, (bySource.get(s.source) ?? 0) + 1);
  const split = trainTestSplit(sentences, 0.2, opts.seed);
  const seeds = Array.from({ length: sizes.seeds }, (_, i) => opts.seed + i);
  out.log('');
  out.log(
    `== Sentiment: fine-tuning the small BERT on ${sentences.length.toLocaleString('en-US')} labelled sentences (${[...bySource].map(([k, v]) => `${k} ${v}`).join(', ')})`,
  );
  out.log(
    `   split: ${split.train.length} train / ${split.test.length} test (seeded shuffle, seed ${opts.seed}; the same split for every model and seed)`,
  );
  out.log(
    `   vocabulary: the pretraining corpus's ${pre.tokenizer.vocabSize} WordPiece tokens, for every model (so only the starting weights differ)`,
  );
  out.log(
    `   each model: batch ${sizes.batchSize}, ${sizes.steps} steps, AdamW lr ${sizes.lr}; [CLS] models with seeds ${seeds.join(', ')} (initialisation of what is not pretrained, batch order, dropout), mean-pool with seed ${seeds[0]}`,
  );

  const accuracies = Object.fromEntries(MODELS.map((m) => [m.key, [] as number[]])) as Record<
    ModelKey,
    number[]
  >;
  const seconds = Object.fromEntries(MODELS.map((m) => [m.key, 0])) as Record<ModelKey, number>;
  const losses = {} as Record<ModelKey, number[]>;
  const first = {} as Partial<Record<ModelKey, SentimentExperiment>>;
  try {
    for (const seed of seeds) {
      for (const m of MODELS) {
        if (!m.allSeeds && seed !== seeds[0]) continue;
        const exp = await SentimentExperiment.create(sentences, {
          ...sizes,
          seed,
          head: m.head,
          split,
          tokenizer: pre.tokenizer,
          ...(m.pretrained ? { pretrained: pre.model } : {}),
        });
        let keep = false;
        try {
          const r = await train(exp, `${m.key} (seed ${seed})`, out);
          accuracies[m.key].push(await exp.accuracy(exp.test));
          seconds[m.key] += r.seconds;
          if (seed === seeds[0]) {
            losses[m.key] = r.losses;
            first[m.key] = exp;
            keep = true;
          }
        } finally {
          if (!keep) exp.dispose();
        }
      }
    }
    const majority =
      [0, 1].reduce((m, l) => Math.max(m, split.test.filter((s) => s.label === l).length), 0) /
      split.test.length;
    const rows: SentimentReport['rows'] = [
      ...MODELS.map((m) => ({
        name: m.name,
        accuracies: accuracies[m.key],
        ...summary(accuracies[m.key]),
        seconds: seconds[m.key] / accuracies[m.key].length,
      })),
      ...[
        ['AFINN word list (no training)', afinnAccuracy(split.test)] as const,
        ['majority class', majority] as const,
      ].map(([name, a]) => ({ name, accuracies: [a], mean: a, spread: 0 })),
    ];
    out.log('');
    out.log(
      `   Test accuracy on ${split.test.length} held-out sentences (mean ± half the range over ${seeds.length} seeds; train = seconds per run):`,
    );
    out.log(
      `   ${'model'.padEnd(32)}${'accuracy'.padStart(16)}   ${'per seed'.padEnd(22)}${'train'.padStart(7)}`,
    );
    for (const r of rows) {
      const acc = r.accuracies.length > 1 ? `${pct(r.mean)} ± ${(r.spread * 100).toFixed(1)}` : pct(r.mean);
      const perSeed = r.accuracies.length > 1 ? r.accuracies.map(pct).join(' ') : '';
      out.log(
        `   ${r.name.padEnd(32)}${acc.padStart(16)}   ${perSeed.padEnd(22)}${(r.seconds === undefined ? '-' : `${r.seconds.toFixed(0)} s`).padStart(7)}`,
      );
    }

    out.log('');
    out.log(`   Typed sentences (seed ${seeds[0]} models):`);
    const probs = Object.fromEntries(
      await Promise.all(MODELS.map(async (m) => [m.key, await first[m.key]!.predict(TYPED_SENTENCES)])),
    ) as Record<ModelKey, number[][]>;
    const typed = TYPED_SENTENCES.map((text, i) => {
      const row = { text } as SentimentReport['typed'][number];
      for (const m of MODELS) {
        const p = probs[m.key][i]!;
        const k = p[1]! > p[0]! ? 1 : 0;
        row[m.key] = { label: LABELS[k], p: p[k]! };
      }
      return row;
    });
    out.log(`   ${MODELS.map((m) => m.key.padEnd(15)).join('')}sentence`);
    for (const t of typed)
      out.log(
        `   ${MODELS.map((m) => `${t[m.key].label.slice(0, 3)} ${t[m.key].p.toFixed(2)}`.padEnd(15)).join('')}"${t.text}"`,
      );

    // Save, reload into a fresh model, and check that predictions are identical.
    const best = first.pretrained!;
    const dir = join(opts.checkpointDir, 'sentiment-bert');
    await saveSentimentCheckpoint(dir, best);
    const reloaded = await loadSentimentCheckpoint(dir, sizes, split);
    let identical = false;
    try {
      const before = await best.predict(split.test.map((s) => s.text));
      const after = await reloaded.predict(split.test.map((s) => s.text));
      const maxDiff = maxAbsDiff(before, after);
      identical = maxDiff === 0;
      out.log('');
      out.log(
        `   checkpoint: ${dir} (the pretrained [CLS] model, seed ${seeds[0]}: model.safetensors, config.json, tokenizer.json, vocab.txt)`,
      );
      out.log(
        `   reloaded: ${identical ? 'identical' : 'DIFFERENT'} predictions on all ${before.length} test sentences (max |Δp| = ${maxDiff})`,
      );
    } finally {
      reloaded.dispose();
    }
    return {
      pretraining: { losses: pre.losses, cached: pre.cached },
      rows,
      losses,
      seeds,
      testSize: split.test.length,
      reloadIdentical: identical,
      typed,
    };
  } finally {
    for (const exp of Object.values(first)) exp?.dispose();
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
