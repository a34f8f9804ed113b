import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setWasmHeapBudget, wasmHeapStats } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, parseOptions } from '../src/cli.js';
import { DEFAULT_SETTINGS, FineTuneExperiment, isOutOfMemory } from '../src/finetune.js';
import { runFineTune } from '../src/finetune-cli.js';
import type { Output } from '../src/io.js';
import { readLabelledTable, splitData } from '../src/table.js';

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const tinyBert = join(fixtures, 'tiny-bert');
const csv = join(fixtures, 'sentiment-small.csv');
const pairs = join(fixtures, 'sentiment-pairs.csv');
const dir = mkdtempSync(join(tmpdir(), 'tk-finetune-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): Output & { text: () => string } {
  const lines: string[] = [];
  return {
    log: (l) => void lines.push(l),
    write: (c) => void lines.push(c),
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

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A copy of the fixture folder, changed by `edit`. */
function folder(name: string, edit: (d: string) => void): string {
  const d = join(dir, name);
  cpSync(tinyBert, d, { recursive: true });
  edit(d);
  return d;
}

const FAST = ['--lr', '5e-3', '--batch-size', '16', '--epochs', '3', '--backend', 'wasm'];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('pnpm demo finetune: bad input is one line and exit 2', () => {
  const config = JSON.parse(readFileSync(join(tinyBert, 'config.json'), 'utf8'));
  it.each([
    ['no --from', () => ['finetune', '--data', csv], /finetune needs --from DIR/],
    ['no --data', () => ['finetune', '--from', tinyBert], /finetune needs --data FILE/],
    ['a missing folder', () => ['finetune', '--from', join(dir, 'nope'), '--data', csv], /no such folder/],
    [
      'a folder without config.json',
      () => ['finetune', '--from', fixtures, '--data', csv],
      /no config\.json there/,
    ],
    [
      'a missing data file',
      () => ['finetune', '--from', tinyBert, '--data', join(dir, 'x.csv')],
      /x\.csv: no such file/,
    ],
    [
      'a bad --lr',
      () => ['finetune', '--from', tinyBert, '--data', csv, '--lr', '0'],
      /--lr must be a number > 0/,
    ],
    [
      'missing columns',
      () => ['finetune', '--from', tinyBert, '--data', file('cols.csv', 'review,label\na,b\nc,d\n')],
      /cols\.csv: no text column; the header has review, label; expected text\[, text_pair\], label/,
    ],
    [
      'an unknown label column',
      () => ['finetune', '--from', tinyBert, '--data', csv, '--label-column', 'stars'],
      /the label column 'stars' is not among the columns: text, label/,
    ],
    [
      'a single label',
      () => ['finetune', '--from', tinyBert, '--data', file('one.csv', 'text,label\na,pos\nb,pos\nc,pos\n')],
      /every one of the 3 rows has the label 'pos'/,
    ],
    [
      'empty rows',
      () => ['finetune', '--from', tinyBert, '--data', file('empty.csv', 'text,label\na,pos\n,neg\nc,neg\n')],
      /1 row has an empty text or label \(line 3\)/,
    ],
    [
      'another architecture',
      () => [
        'finetune',
        '--from',
        folder('gpt2', (d) =>
          writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' })),
        ),
        '--data',
        csv,
      ],
      /config\.json says model_type 'gpt2'.*not 'bert'/,
    ],
    [
      'no vocabulary',
      () => ['finetune', '--from', folder('novocab', (d) => rmSync(join(d, 'vocab.txt'))), '--data', csv],
      /the folder has no vocabulary: a BERT folder needs tokenizer\.json, vocab\.txt or vocab\.json \+ merges\.txt/,
    ],
    [
      'a vocabulary larger than the embedding table',
      () => [
        'finetune',
        '--from',
        folder('bigvocab', (d) =>
          writeFileSync(
            join(d, 'vocab.txt'),
            `${readFileSync(join(d, 'vocab.txt'), 'utf8')}${Array.from({ length: 20 }, (_, i) => `extra${i}`).join('\n')}\n`,
          ),
        ),
        '--data',
        csv,
      ],
      /the vocabulary has 730 tokens but the embedding table has 710 rows/,
    ],
    [
      'a batch that cannot fit the wasm heap (a BERT-base config, checked before any weight is read)',
      () => [
        'finetune',
        '--from',
        folder('large', (d) => {
          writeFileSync(
            join(d, 'config.json'),
            JSON.stringify({
              ...config,
              hidden_size: 768,
              num_hidden_layers: 12,
              num_attention_heads: 12,
              intermediate_size: 3072,
              max_position_embeddings: 512,
            }),
          );
          rmSync(join(d, 'model.safetensors'));
        }),
        '--data',
        csv,
        '--batch-size',
        '64',
        '--max-length',
        '512',
      ],
      /batch 64 × 512 tokens needs about [\d.]+ GB, more than the 3\.60 GB wasm heap: use batch \d+ × \d+ accumulation steps \(the same effective batch of 64\)/,
    ],
  ])('%s', async (_, argv, message) => {
    const r = await run([...argv(), '--backend', 'wasm']);
    expect(r.err).toEqual([expect.stringMatching(message)]);
    expect(r.err[0]).toMatch(/^error: /);
    expect(r.code).toBe(2);
  });
});

describe('pnpm demo finetune on the tiny HF folder (wasm)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('loss falls, validation accuracy beats the majority class, the saved HF folder reloads with identical predictions, nothing leaks', async () => {
    const out = join(dir, 'out');
    const opts = parseOptions(['finetune', '--from', tinyBert, '--data', csv, '--out', out, ...FAST]);
    if (opts === 'help') throw new Error('unexpected');
    const before = tf.memory().numTensors;
    const log = capture();
    const r = await runFineTune(opts, log);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.labels).toEqual(['negative', 'positive']);
    expect(r.trainSize + r.validationSize).toBe(400);
    expect(r.newHead).toBe(true);
    expect(r.losses).toHaveLength(60);
    expect(mean(r.losses.slice(-10))).toBeLessThan(mean(r.losses.slice(0, 10)) - 0.2);
    expect(r.evals.map((e) => e.step)).toEqual([20, 40, 60]);
    expect(r.final.accuracy).toBeGreaterThan(r.majority.accuracy + 0.15);
    expect(r.final.f1).toBeGreaterThan(0.6);
    expect(r.reloadIdentical).toBe(true);
    for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer.json'])
      expect(existsSync(join(out, f)), f).toBe(true);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(saved.architectures).toEqual(['BertForSequenceClassification']);
    expect(saved.id2label).toEqual({ 0: 'negative', 1: 'positive' });
    expect(log.text()).toContain('labels found: negative (200), positive (200)');
    expect(log.text()).toMatch(/reloaded: identical predictions on all 80 validation rows/);

    // PyTorch reads the folder too (HF names and layouts, BERT's tokenizer rules): same probabilities.
    const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
    if (torch.status === 0) {
      const py = spawnSync(
        '/usr/bin/python3',
        [
          fileURLToPath(new URL('../scripts/check_with_pytorch.py', import.meta.url)),
          out,
          String(r.maxLength),
        ],
        { input: JSON.stringify(r.validation.map((v) => v.text)), encoding: 'utf8', timeout: 120_000 },
      );
      expect(py.stderr).toBe('');
      const probs = JSON.parse(py.stdout) as number[][];
      expect(probs).toHaveLength(80);
      expect(r.validationProbs).toHaveLength(80);
      const diff = Math.max(
        ...probs.flatMap((p, i) => p.map((v, j) => Math.abs(v - r.validationProbs[i]![j]!))),
      );
      expect(diff).toBeLessThan(1e-4);
    } else
      console.warn(
        'no PyTorch here (/usr/bin/python3 -c "import torch"): the PyTorch cross-check is skipped',
      );

    // Fine-tuning the saved classifier again keeps its head (same labels); the command exits 0.
    const again = await run([
      'finetune',
      '--from',
      out,
      '--data',
      csv,
      '--out',
      join(dir, 'again'),
      ...FAST,
      '--epochs',
      '1',
    ]);
    expect(again.err).toEqual([]);
    expect(again.code).toBe(0);
    expect(again.out).toContain("head: the folder's own classifier (same labels)");
  });

  it('--recompute and --accumulation-steps train the same model (within float error)', async () => {
    const report = async (extra: string[], out: string) => {
      const opts = parseOptions([
        'finetune',
        '--from',
        tinyBert,
        '--data',
        csv,
        '--out',
        join(dir, out),
        ...FAST,
        ...extra,
      ]);
      if (opts === 'help') throw new Error('unexpected');
      return runFineTune(opts, capture());
    };
    const plain = await report(['--epochs', '1'], 'plain');
    const recompute = await report(['--epochs', '1', '--recompute'], 'recompute');
    expect(recompute.losses).toHaveLength(plain.losses.length);
    recompute.losses.forEach((l, i) => {
      expect(l).toBeCloseTo(plain.losses[i]!, 4);
    });
    // Batch 8 × 2 accumulated: the same number of optimizer steps as batch 16, the loss still falls.
    const accumulated = await report(['--batch-size', '8', '--accumulation-steps', '2'], 'accumulated');
    expect(accumulated.losses).toHaveLength(60);
    expect(mean(accumulated.losses.slice(-10))).toBeLessThan(mean(accumulated.losses.slice(0, 10)) - 0.2);
  });

  it("an out-of-memory step (core's OutOfMemoryError, code OUT_OF_MEMORY) loses nothing: a smaller batch with accumulation continues from the same weights", async () => {
    const split = splitData(readLabelledTable(readFileSync(csv, 'utf8'), 'sentiment-small.csv'), 0.2, 0);
    const exp = await FineTuneExperiment.create(tinyBert, split, {
      ...DEFAULT_SETTINGS,
      lr: 5e-3,
      epochs: 1,
      batchSize: 16,
    });
    try {
      const off = exp.loop.on({ onStep: (r) => void (r.step === 5 && exp.loop.stop()) });
      await exp.loop.run();
      off();
      const rows = split.validation.slice(0, 8);
      const before = await exp.predict(rows);
      // Room for a few hundred KB more: the next step (batch 16 × up to 64 tokens) cannot fit.
      const old = setWasmHeapBudget(wasmHeapStats()!.liveBytes + 256 * 1024);
      let error: unknown;
      try {
        await exp.loop.run();
      } catch (e) {
        error = e;
      } finally {
        setWasmHeapBudget(old);
      }
      expect(isOutOfMemory(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/accumulationSteps|smaller batch/);
      expect(exp.loop.step).toBe(5);
      expect(await exp.predict(rows)).toEqual(before);
      // The page's and CLI's offer: half the batch, twice the accumulation; training goes on.
      exp.reconfigure({ ...exp.settings, batchSize: 8, accumulationSteps: 2 });
      await exp.loop.run();
      expect(exp.losses).toHaveLength(5 + 20);
      expect((await exp.evaluate()).accuracy).toBeGreaterThan(0);
    } finally {
      exp.dispose();
    }
  });

  it('sentence pairs (text,text_pair,label) train and save', async () => {
    const r = await run([
      'finetune',
      '--from',
      tinyBert,
      '--data',
      pairs,
      '--out',
      join(dir, 'pairs'),
      ...FAST,
      '--epochs',
      '1',
    ]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('columns text, text_pair, label');
    expect(r.out).toContain('labels found: different');
    expect(r.out).toMatch(/reloaded: identical predictions/);
  });
});
