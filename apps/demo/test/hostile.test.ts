import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { maxAbsDiff } from '../src/checkpoints.js';
import { main } from '../src/cli.js';
import type { Output } from '../src/io.js';
import { DataError, MAX_LABELS, readLabelledTable, splitData } from '../src/table.js';

// The fine-tuning CLI at large data: linear in rows and labels, a stated label limit, --out checked before
// training, and every typed error (the tokenizer's included) exits 2 with one line.

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const tinyBert = join(fixtures, 'tiny-bert');
const csv = join(fixtures, 'sentiment-small.csv');
const dir = mkdtempSync(join(tmpdir(), 'tk-demo-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const lines: string[] = [];
  const out: Output = { log: (l) => void lines.push(l), write: (c) => void lines.push(c), progress: false };
  const err: string[] = [];
  const code = await main(argv, out, (l) => err.push(l));
  return { code, out: lines.join('\n'), err };
}

const table = (rows: number, label: (i: number) => string) => {
  const lines = ['text,label'];
  for (let i = 0; i < rows; i++) lines.push(`row ${i},${label(i)}`);
  return `${lines.join('\n')}\n`;
};

describe('demo finetune at large data', () => {
  it('200k rows and 10,000 labels: read and split in linear time', () => {
    const start = performance.now();
    const data = readLabelledTable(
      table(200_000, (i) => `L${i % MAX_LABELS}`),
      'big.csv',
    );
    const split = splitData(data, 0.2, 0);
    const ms = performance.now() - start;
    expect(data.labels.length).toBe(MAX_LABELS);
    expect(split.train.length + split.validation.length).toBe(200_000);
    // The majority label is the most frequent in train; ties go to the first.
    const counts = new Map<number, number>();
    for (const e of split.train) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
    let best = 0;
    for (const c of counts.values()) best = Math.max(best, c);
    expect(counts.get(split.labels.indexOf(split.majority.label))).toBe(best);
    expect(ms).toBeLessThan(10_000); // a filter per label took 17.5 s for 100k labels
  });

  it('more labels than MAX_LABELS is a DataError naming the limit', () => {
    let err: unknown;
    try {
      readLabelledTable(
        table(100_000, (i) => `L${i}`),
        'free-text.csv',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).problem).toBe('TOO_MANY_LABELS');
    expect((err as Error).message).toBe(
      `free-text.csv: 100000 different labels (at most ${MAX_LABELS}); is the label column free text?`,
    );
  });

  it('the reload check compares 200k rows without spreading them into Math.max', () => {
    const a = Array.from({ length: 200_000 }, (_, i) => [i / 200_000, 1 - i / 200_000]);
    const b = a.map((r) => [...r]);
    expect(maxAbsDiff(a, b)).toBe(0);
    b[123_456]![1]! += 0.25;
    expect(maxAbsDiff(a, b)).toBeCloseTo(0.25, 12);
    b[5]![0] = Number.NaN;
    expect(maxAbsDiff(a, b)).toBeNaN();
  });

  it('--out that cannot be written is refused before training (exit 2, nothing written)', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    for (const out of [blocker, join(blocker, 'below')]) {
      const r = await run(['finetune', '--from', tinyBert, '--data', csv, '--out', out, '--backend', 'cpu']);
      expect(r.code).toBe(2);
      expect(r.err.join('\n')).toMatch(/--out .*: not a folder/);
      expect(r.out).not.toMatch(/step|loss/);
    }
    expect(readFileSync(blocker, 'utf8')).toBe('x');
  });

  it("a tokenizer's typed error (a duplicate vocab line) exits 2, not 1", async () => {
    const d = join(dir, 'dup-vocab');
    cpSync(tinyBert, d, { recursive: true });
    const vocab = readFileSync(join(d, 'vocab.txt'), 'utf8').split('\n');
    vocab[10] = vocab[9]!;
    writeFileSync(join(d, 'vocab.txt'), vocab.join('\n'));
    mkdirSync(join(dir, 'out-dup'));
    const r = await run([
      'finetune',
      '--from',
      d,
      '--data',
      csv,
      '--out',
      join(dir, 'out-dup'),
      '--backend',
      'cpu',
    ]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(/duplicate token/);
    expect(readdirSync(join(dir, 'out-dup'))).toEqual([]);
  });
});
