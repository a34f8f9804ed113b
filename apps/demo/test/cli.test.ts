import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { runGenerate } from '../src/generate-cli.js';
import type { Output } from '../src/io.js';
import { type DemoOptions, parseOptions } from '../src/options.js';
import { runPretrain } from '../src/pretrain-cli.js';
import { runSentiment } from '../src/sentiment-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tk-demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): Output & { lines: string[]; text: () => string } {
  const lines: string[] = [];
  let partial = '';
  return {
    lines,
    log: (l) => {
      lines.push(partial + l);
      partial = '';
    },
    write: (c) => {
      partial += c;
    },
    progress: false,
    text: () => lines.join('\n'),
  };
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out = capture();
  const err: string[] = [];
  const code = await main(argv, out, (l) => err.push(l));
  return { code, out: out.text(), err };
}

describe('bad input: one clear line and a non-zero exit', () => {
  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['sentiment', '--steps', 'ten'], /--steps must be an integer >= 1, got 'ten'/],
    [['--steps', '0'], /--steps must be an integer >= 1, got '0'/],
    [['pretrain', '--pretrain-steps', '0'], /--pretrain-steps must be an integer >= 1, got '0'/],
    [['pretrain', 'now'], /'pretrain' takes no arguments/],
    [['train'], /unknown command 'train'; valid: all, pretrain, sentiment, generate, classify, sample/],
    [['--backend', 'tpu'], /unknown backend 'tpu'; valid: auto, webgpu/],
    [['generate', 'extra'], /'generate' takes no arguments/],
    [['classify'], /classify needs a non-empty sentence/],
    [['classify', '   '], /classify needs a non-empty sentence/],
  ])('%j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^error: /);
    expect(r.err[0]).toMatch(message);
    expect(r.err[0]).not.toContain('\n');
  });

  it('a missing checkpoint names the folder and the command that makes it', async () => {
    const missing = join(dir, 'nowhere');
    for (const [argv, what] of [
      [
        ['classify', 'great food', '--checkpoint-dir', missing, '--backend', 'cpu'],
        'no sentiment checkpoint',
      ],
      [['sample', '--checkpoint-dir', missing, '--backend', 'cpu'], 'no GPT checkpoint'],
    ] as const) {
      const r = await run([...argv]);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([expect.stringContaining(`${what} in ${join(missing)}`)]);
    }
  });

  it('--help prints usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: pnpm demo [command] [options]');
  });

  it('the built CLI exits non-zero with a single stderr line', () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    expect(existsSync(cli), 'build the demo first (pnpm build)').toBe(true);
    const r = spawnSync(process.execPath, [cli, '--nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: Unknown option '--nope'/)]);
  });
});

describe('fast mode on wasm', () => {
  let opts: DemoOptions;
  beforeAll(async () => {
    await initBackend('wasm');
    const parsed = parseOptions(['--fast', '--checkpoint-dir', dir]);
    if (parsed === 'help') throw new Error('unexpected');
    opts = parsed;
  });

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('sentiment: pretraining lowers the MLM loss and is cached; every model learns and beats chance; the reloaded checkpoint predicts identically; nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const out = capture();
    const r = await runSentiment({ ...opts, steps: 100 }, out);
    expect(tf.memory().numTensors).toBe(before);
    const pre = r.pretraining.losses;
    expect(r.pretraining.cached).toBe(false);
    expect(pre).toHaveLength(60);
    expect(mean(pre.slice(-10))).toBeLessThan(mean(pre.slice(0, 10)) - 0.3);
    for (const key of ['pretrained', 'scratch', 'mean'] as const) {
      const l = r.losses[key];
      expect(l).toHaveLength(100);
      expect(mean(l.slice(-8))).toBeLessThan(mean(l.slice(0, 8)) - 0.05);
    }
    expect(r.seeds).toEqual([0, 1]);
    const row = Object.fromEntries(r.rows.map((x) => [x.name, x]));
    const chance = row['majority class']!.mean;
    expect(chance).toBeGreaterThan(0.45);
    for (const name of ['BERT [CLS], pretrained encoder', 'BERT [CLS], from scratch']) {
      expect(row[name]!.accuracies).toHaveLength(2);
      expect(row[name]!.mean).toBeGreaterThan(chance + 0.05);
      const [a, b] = row[name]!.accuracies as [number, number];
      expect(row[name]!.spread).toBeCloseTo(Math.abs(a - b) / 2, 10);
    }
    expect(row['BERT mean-pool, pretrained']!.accuracies).toHaveLength(1);
    expect(row['BERT mean-pool, pretrained']!.mean).toBeGreaterThan(chance + 0.05);
    expect(r.reloadIdentical).toBe(true);
    const shabby = r.typed.find((t) => t.text === 'attention is not too shabby')!;
    for (const key of ['pretrained', 'scratch', 'mean'] as const)
      expect(['negative', 'positive']).toContain(shabby[key].label);
    const text = out.text();
    expect(text).toMatch(
      /before pretraining, the model fills in the blanks[\s\S]*"the \[MASK\] of the union" +→ (\S+ 0\.\d\d, ){4}\S+ 0\.\d\d/,
    );
    expect(text).toMatch(/after pretraining \(top 5\):\n +"the \[MASK\] of the union"/);
    expect(text).toMatch(/Test accuracy on \d+ held-out sentences \(mean ± half the range over 2 seeds;/);
    expect(text).toMatch(/BERT \[CLS\], pretrained encoder +\d+\.\d% ± \d+\.\d/);
    expect(text).toContain('identical predictions on all');
    for (const f of ['model.safetensors', 'config.json', 'vocab.txt', 'tokenizer.json'])
      expect(existsSync(join(dir, 'pretrained-bert', f))).toBe(true);
    expect(existsSync(join(dir, 'sentiment-bert', 'model.safetensors'))).toBe(true);

    // The second run takes the cached pretraining at once (the same model: the same guesses).
    const again = capture();
    const cached = await runPretrain(opts, again);
    expect(cached.cached).toBe(true);
    expect(cached.losses).toEqual([]);
    expect(again.text()).toContain(`loaded from ${join(dir, 'pretrained-bert')}`);
    const guesses = (t: string) => t.split('\n').filter((l) => l.includes('"the [MASK] of the union"'));
    expect(guesses(again.text())).toEqual(guesses(text).slice(-1));
    expect(tf.memory().numTensors).toBe(before);

    // And the saved checkpoint classifies from the command line.
    const c = await run([
      'classify',
      'attention is not too shabby',
      '--fast',
      '--checkpoint-dir',
      dir,
      '--backend',
      'wasm',
    ]);
    expect(c.err).toEqual([]);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/(positive|negative) 0\.\d{3} {2}"attention is not too shabby"/);
  });

  it('--pretrain-steps: another step count is not the cached pretraining; it pretrains again', async () => {
    const out = capture();
    const r = await runPretrain({ ...opts, pretrainSteps: 3 }, out);
    expect(r.cached).toBe(false);
    expect(r.losses).toHaveLength(3);
    expect(out.text()).toContain('batch 32, 3 steps');
    expect(out.text()).toContain(
      'was pretrained with other settings (corpus, sizes, steps or seed): pretraining again',
    );
  });

  it('generate: loss falls below uniform, samples stream, the reloaded checkpoint continues identically, nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const out = capture();
    const r = await runGenerate({ ...opts, tokens: 40 }, out);
    expect(tf.memory().numTensors).toBe(before);
    expect(mean(r.losses.slice(-5))).toBeLessThan(mean(r.losses.slice(0, 5)) - 0.3);
    expect(r.evalLoss).toBeLessThan(Math.log(80) - 0.5);
    expect(r.sample).toHaveLength(40);
    expect(r.reloadIdentical).toBe(true);
    expect(out.text()).toContain(`Call me Ishmael. ${r.sample}`);

    const s = await run([
      'sample',
      'The whale',
      '--tokens',
      '20',
      '--checkpoint-dir',
      dir,
      '--backend',
      'wasm',
    ]);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/^backend: wasm[^\n]*\nThe whale.{20}$/s);
  });
});
