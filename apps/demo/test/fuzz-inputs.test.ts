import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained as loadBert, savePretrained as saveBert } from '@transformer-kit/bert';
import { initBackend, loadCheckpoint, TransformerKitError } from '@transformer-kit/core';
import { GPT, loadPretrained as loadGpt, savePretrained as saveGpt } from '@transformer-kit/gpt';
import {
  parseMerges,
  parseTokenizerJson,
  parseVocabJson,
  parseVocabTxt,
  Tokenizer,
  tokenizerToJson,
} from '@transformer-kit/tokenizer';
import { loadPretrained as loadVit, savePretrained as saveVit, ViTModel } from '@transformer-kit/vit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLabelledTable, splitData } from '../src/table.js';

/*
 * A seeded, bounded fuzz suite over what a person brings: safetensors headers, config.json, tokenizer files
 * and CSV. Every case must end in success or a TransformerKitError (the tokenizer's TokenizerError counts),
 * within a per-case time limit, with tf.memory().numTensors back where it was, files on disk untouched and
 * the process's resident memory bounded. Tiny models keep the whole suite to seconds.
 */

const SEED = 19;
const PER_CASE_MS = 2_000;
const RSS_GROWTH_LIMIT = 1.5 * 2 ** 30;

/** mulberry32: a small seeded generator, so a failing case can be replayed by its index. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

/** Values a hostile or broken file puts where a size, rate, id or name goes. */
const HOSTILE: readonly unknown[] = [
  -1,
  0,
  1,
  1.5,
  -0.5,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 53,
  1e9,
  1e10,
  1e300,
  -1e300,
  null,
  '12',
  '',
  'constructor',
  '__proto__',
  [],
  [1, 2],
  {},
  { Fixed: 1e9 },
  true,
  false,
];

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

interface Outcome {
  ok: number;
  typed: number;
}

/** Runs one case: success or a typed error, in time, without leaking tensors. */
async function oneCase(label: string, fn: () => unknown, tally: Outcome): Promise<void> {
  const before = tf.memory().numTensors;
  const start = performance.now();
  try {
    const result = await fn();
    tally.ok++;
    if (result && typeof (result as { dispose?: unknown }).dispose === 'function')
      (result as { dispose(): void }).dispose();
  } catch (e) {
    if (!(e instanceof TransformerKitError))
      throw new Error(`${label}: untyped ${(e as Error)?.name}: ${(e as Error)?.message}`);
    tally.typed++;
  }
  const ms = performance.now() - start;
  expect(ms, `${label} took ${ms.toFixed(0)} ms`).toBeLessThan(PER_CASE_MS);
  expect(tf.memory().numTensors, `${label} leaked tensors`).toBe(before);
}

/** A JSON value with one random path set to a hostile value (or deleted). */
function mutateJson(value: unknown, r: Rng): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const paths: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 4 || v === null || typeof v !== 'object') return;
    const keys = Array.isArray(v) ? v.map((_, i) => i).slice(0, 8) : Object.keys(v).slice(0, 40);
    for (const k of keys) {
      paths.push([v as Record<string, unknown>, k]);
      walk((v as Record<string, unknown>)[k as string], depth + 1);
    }
  };
  walk(copy, 0);
  const edits = 1 + r.int(2);
  for (let i = 0; i < edits && paths.length; i++) {
    const [obj, key] = r.pick(paths);
    if (r.next() < 0.15 && !Array.isArray(obj)) delete (obj as Record<string, unknown>)[key as string];
    else (obj as Record<string, unknown>)[key as string] = r.pick(HOSTILE);
  }
  return copy;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function readFolder(dir: string): Map<string, Uint8Array> {
  return new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

describe('fuzz: hostile files end in success or a typed error, in time, leak-free', () => {
  const root = mkdtempSync(join(tmpdir(), 'tk-fuzz-'));
  const folders: Record<'gpt' | 'bert' | 'vit', Map<string, Uint8Array>> = {} as never;
  const loaders = {
    gpt: (s: Map<string, Uint8Array> | string) => loadGpt(s).then((p) => p.model),
    bert: (s: Map<string, Uint8Array> | string) => loadBert(s, { onWarning: () => {} }).then((p) => p.model),
    vit: (s: Map<string, Uint8Array> | string) => loadVit(s).then((p) => p.model),
  };
  let rss0 = 0;

  beforeAll(async () => {
    await initBackend('wasm');
    const tok = Tokenizer.wordPiece(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b', '##a']);
    const gpt = new GPT('tiny');
    await saveGpt(gpt, join(root, 'gpt'));
    gpt.dispose();
    const { BertModel } = await import('@transformer-kit/bert');
    const bert = new BertModel({
      vocabSize: 8,
      hiddenSize: 8,
      numHeads: 2,
      numLayers: 1,
      intermediateSize: 16,
    });
    await saveBert(bert, join(root, 'bert'), { tokenizer: tok });
    bert.dispose();
    const vit = new ViTModel('nano');
    await saveVit(vit, join(root, 'vit'));
    vit.dispose();
    for (const k of ['gpt', 'bert', 'vit'] as const) folders[k] = readFolder(join(root, k));
    rss0 = process.memoryUsage().rss;
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    expect(process.memoryUsage().rss - rss0).toBeLessThan(RSS_GROWTH_LIMIT);
  });

  it('config.json: 240 mutated configs across GPT, BERT and ViT (every 8th loaded from disk, files untouched)', async () => {
    const r = rng(SEED);
    const tally = { ok: 0, typed: 0 };
    for (let i = 0; i < 240; i++) {
      const family = r.pick(['gpt', 'bert', 'vit'] as const);
      const files = new Map(folders[family]);
      const config = JSON.parse(dec(files.get('config.json')!));
      const text =
        r.next() < 0.05 ? r.pick(['', '[]', 'null', '{"a":', '7']) : JSON.stringify(mutateJson(config, r));
      files.set('config.json', enc(text));
      if (i % 8 === 0) {
        const dir = join(root, `case-${i}`);
        mkdirSync(dir);
        for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
        const before = [...files].map(([n, b]) => [n, sha(b)]);
        await oneCase(`config #${i} (${family}, disk)`, () => loaders[family](dir), tally);
        expect([...readFolder(dir)].map(([n, b]) => [n, sha(b)])).toEqual(before);
      } else
        await oneCase(`config #${i} (${family}): ${text.slice(0, 200)}`, () => loaders[family](files), tally);
    }
    expect(tally.typed).toBeGreaterThan(0);
    expect(tally.ok).toBeGreaterThan(0);
  });

  it('safetensors: 240 mutated headers and byte ranges', async () => {
    const r = rng(SEED + 1);
    const tally = { ok: 0, typed: 0 };
    const valid = folders.gpt.get('model.safetensors')!;
    const n = Number(new DataView(valid.buffer, valid.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(dec(valid.subarray(8, 8 + n))) as Record<string, unknown>;
    const data = valid.subarray(8 + n);
    for (let i = 0; i < 240; i++) {
      let bytes: Uint8Array;
      const kind = r.int(4);
      if (kind === 0) {
        // A structurally mutated header over the same data.
        const json = enc(JSON.stringify(mutateJson(header, r)));
        bytes = new Uint8Array(8 + json.length + data.length);
        new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
        bytes.set(json, 8);
        bytes.set(data, 8 + json.length);
      } else if (kind === 1) {
        // A hostile header length.
        bytes = valid.slice();
        const len = r.pick([0, 1, n - 1, n + 1, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER, valid.length]);
        new DataView(bytes.buffer).setBigUint64(0, BigInt(len), true);
      } else if (kind === 2) {
        // Random bytes flipped inside the header.
        bytes = valid.slice();
        for (let k = 0; k < 1 + r.int(8); k++) bytes[8 + r.int(n)] = r.int(256);
      } else {
        // Truncated or extended.
        bytes =
          r.next() < 0.5
            ? valid.slice(0, r.int(valid.length))
            : new Uint8Array([...valid.subarray(0, 64), 0, 1, 2]);
      }
      const files = new Map(folders.gpt);
      files.set('model.safetensors', bytes);
      await oneCase(
        `safetensors #${i} (kind ${kind})`,
        async () => {
          const { tensors } = await loadCheckpoint(files);
          tf.dispose(Object.values(tensors));
        },
        tally,
      );
      if (i % 3 === 0) await oneCase(`safetensors #${i} as GPT`, () => loaders.gpt(files), tally);
    }
    expect(tally.typed).toBeGreaterThan(100);
  });

  it('tokenizer files: 240 mutated tokenizer.json, vocab.txt, vocab.json and merges.txt', async () => {
    const r = rng(SEED + 2);
    const tally = { ok: 0, typed: 0 };
    const base = tokenizerToJson(
      Tokenizer.wordPiece(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'a', '##a'], {}),
    );
    base.padding = {
      strategy: 'BatchLongest',
      pad_id: 0,
      pad_type_id: 0,
      pad_token: '[PAD]',
      direction: 'Right',
    };
    base.truncation = { max_length: 16, strategy: 'LongestFirst', direction: 'Right', stride: 0 };
    const encodeAll = (t: Tokenizer) => {
      t.encodeBatch(['hello a', 'aaaa hello'], {});
      t.decode(t.encode('hello aa').ids);
    };
    for (let i = 0; i < 240; i++) {
      const which = r.int(4);
      if (which === 0 || which === 3) {
        const text = JSON.stringify(mutateJson(base, r));
        await oneCase(
          `tokenizer.json #${i}: ${text.slice(0, 300)}`,
          () => encodeAll(parseTokenizerJson(text)),
          tally,
        );
      } else if (which === 1) {
        const lines = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', '##a'];
        const edit = r.int(3);
        if (edit === 0) lines[r.int(lines.length)] = r.pick(lines);
        if (edit === 1) lines.length = r.int(lines.length);
        if (edit === 2) lines.splice(r.int(lines.length), 0, String(r.pick(HOSTILE)));
        await oneCase(
          `vocab.txt #${i}`,
          () => encodeAll(Tokenizer.wordPiece(parseVocabTxt(lines.join('\n')))),
          tally,
        );
      } else {
        const vocab = JSON.stringify(mutateJson({ a: 0, b: 1, ab: 2, Ġ: 3 }, r));
        const merges = r.pick(['a b', '#version: 0.2\na b', 'a', 'a b c', '\n\n', 'a b\na b']);
        await oneCase(
          `vocab.json #${i}: ${vocab}`,
          () => {
            parseVocabJson(vocab);
            parseMerges(merges);
          },
          tally,
        );
      }
    }
    expect(tally.typed).toBeGreaterThan(0);
    expect(tally.ok).toBeGreaterThan(0);
  });

  it('CSV: 240 random tables read and split', async () => {
    const r = rng(SEED + 3);
    const tally = { ok: 0, typed: 0 };
    const alphabet = [
      'a',
      'b',
      'pos',
      'neg',
      ',',
      ',',
      '"',
      '""',
      '\n',
      '\n',
      '\r\n',
      '\t',
      ' ',
      'é',
      '\ufeff',
    ];
    for (let i = 0; i < 240; i++) {
      const header = r.pick([
        'text,label\n',
        'label,text\n',
        'text,text_pair,label\n',
        '',
        'a,b,c\n',
        '"text",label\n',
      ]);
      // Mostly well-formed rows with random cells, some labels, and random damage.
      const labels = r.pick([['pos', 'neg'], ['a', 'b', 'c'], ['1', '2', '10'], ['x']]);
      let body = '';
      for (let k = 0, rows = r.int(40); k < rows; k++) {
        let cell = '';
        for (let c = 0, len = r.int(8); c < len; c++) cell += r.pick(alphabet);
        body += `${r.next() < 0.5 ? cell : 'text'},${r.pick(labels)}${r.next() < 0.1 ? r.pick(alphabet) : ''}\n`;
      }
      const csv = header + body;
      await oneCase(
        `csv #${i}: ${JSON.stringify(csv.slice(0, 120))}`,
        () => {
          const data = readLabelledTable(csv, `fuzz-${i}.csv`);
          splitData(data, 0.2, i);
        },
        tally,
      );
    }
    expect(tally.typed).toBeGreaterThan(0);
    expect(tally.ok).toBeGreaterThan(0);
  });
});
