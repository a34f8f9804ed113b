/** `pnpm demo vit`: MAE pretraining on the UCI digits, then a [CLS] classifier from the MAE encoder vs from scratch. */

import type { Output } from './io.js';
import type { DemoOptions } from './options.js';
import { progressBar } from './progress.js';
import { FineTuning, loadDigits, MaePretraining, splitDigits, vitSizes } from './vit.js';

export interface VitReport {
  maeLosses: number[];
  accuracy: { mae: number; scratch: number };
  labelled: number;
  test: number;
}

async function train(
  run: { steps: number; step(): Promise<{ loss: number; tokens: number }> },
  total: number,
  label: string,
  out: Output,
): Promise<{ losses: number[]; seconds: number }> {
  const bar = out.progress ? progressBar(label, total) : undefined;
  const losses: number[] = [];
  const t0 = performance.now();
  let tokens = 0;
  try {
    while (run.steps < total) {
      const r = await run.step();
      losses.push(r.loss);
      tokens += r.tokens;
      bar?.update(run.steps, r.loss, tokens);
    }
  } finally {
    bar?.stop();
  }
  return { losses, seconds: (performance.now() - t0) / 1000 };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export async function runVit(opts: DemoOptions, out: Output): Promise<VitReport> {
  const sizes = vitSizes(opts.fast);
  if (opts.steps !== undefined) sizes.maeSteps = opts.steps;
  const digits = await loadDigits();
  const split = splitDigits(digits, { test: sizes.test, labelled: sizes.labelled, seed: opts.seed });
  const c = sizes.vit;
  out.log('');
  out.log(
    `== ViT + MAE on the UCI handwritten digits (${digits.n.toLocaleString('en-US')} 8×8 images, CC BY 4.0)`,
  );
  out.log(
    `   split: ${split.train.n} train (MAE, no labels; ${split.labelled.n} of them labelled for fine-tuning) / ${split.test.n} test`,
  );
  const mae = new MaePretraining(sizes, split.train, opts.seed);
  out.log(
    `   ViT: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, ${c.patchSize}×${c.patchSize} patches (${(c.imageSize / c.patchSize) ** 2} per image); ` +
      `MAE decoder ${sizes.mae.decoderNumLayers} layers × ${sizes.mae.decoderHiddenSize}, ${sizes.mae.maskRatio * 100}% masked; ${(mae.model.numParameters() / 1e6).toFixed(2)}M parameters`,
  );
  let fromMae: FineTuning | undefined;
  let scratch: FineTuning | undefined;
  try {
    const pre = await train(mae, sizes.maeSteps, 'MAE pretraining', out);
    const first = pre.losses.slice(0, 20);
    const last = pre.losses.slice(-20);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    out.log(
      `   MAE reconstruction loss (masked patches): ${mean(first).toFixed(4)} → ${mean(last).toFixed(4)} in ${pre.seconds.toFixed(0)} s`,
    );
    fromMae = new FineTuning(sizes, split.labelled, { encoder: mae.model, seed: opts.seed });
    scratch = new FineTuning(sizes, split.labelled, { seed: opts.seed });
    const a = await train(fromMae, sizes.fineTuneSteps, 'fine-tune from MAE', out);
    const b = await train(scratch, sizes.fineTuneSteps, 'fine-tune from scratch', out);
    const accuracy = { mae: await fromMae.accuracy(split.test), scratch: await scratch.accuracy(split.test) };
    out.log('');
    out.log(
      `   Test accuracy on ${split.test.n} held-out digits (classifier trained on ${split.labelled.n} labelled images):`,
    );
    out.log(`   ${'model'.padEnd(34)}${'accuracy'.padStart(9)}${'train'.padStart(9)}`);
    for (const [name, acc, s] of [
      ['ViT [CLS], encoder from MAE', accuracy.mae, a.seconds],
      ['ViT [CLS], from scratch', accuracy.scratch, b.seconds],
      ['chance', 0.1, undefined],
    ] as const)
      out.log(
        `   ${name.padEnd(34)}${pct(acc).padStart(9)}${(s === undefined ? '-' : `${s.toFixed(0)} s`).padStart(9)}`,
      );
    return { maeLosses: pre.losses, accuracy, labelled: split.labelled.n, test: split.test.n };
  } finally {
    mae.dispose();
    fromMae?.dispose();
    scratch?.dispose();
  }
}
