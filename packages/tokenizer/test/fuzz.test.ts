/**
 * Fuzz: 100k random UTF-16 strings (lone surrogates included) never throw, and byte-level BPE round-trips
 * exactly. Plus pathological sizes: a 1 MB single "word" and a 10 MB text finish (linear-time paths).
 */
import { describe, expect, test } from 'vitest';
import { trainChar } from '../src/index.js';
import { Rand, randomUnits } from './gen.js';
import { bert, gpt2 } from './setup.js';

describe('fuzz', () => {
  const g = gpt2();
  const b = bert();

  test('100k random strings: no throw; BPE decode(encode(x)) === x', () => {
    const r = new Rand(2024);
    let bad = 0;
    let tokens = 0;
    for (let i = 0; i < 100_000; i++) {
      const s = randomUnits(r);
      const e = g.encode(s);
      tokens += e.ids.length;
      if (g.decode(e.ids) !== s) bad++;
      if (i % 4 === 0) b.encode(s, i % 8 === 0 ? s : null);
    }
    expect(bad).toBe(0);
    expect(tokens).toBeGreaterThan(100_000);
  });

  test('char tokenizer round-trips its corpus', () => {
    const r = new Rand(7);
    const corpus = Array.from({ length: 200 }, () => randomUnits(r, 40));
    const c = trainChar(corpus);
    for (const s of corpus) expect(c.decode(c.encode(s).ids)).toBe(s);
  });

  test('a 1 MB single word: BPE (heap merge) and WordPiece ([UNK] early)', () => {
    const word = 'abcdefghij'.repeat(100_000);
    const e = g.encode(word);
    expect(g.decode(e.ids)).toBe(word);
    expect(e.ids.length).toBeLessThan(word.length / 2);
    expect(b.encode(word, null, { addSpecialTokens: false }).ids).toEqual([100]);
  });

  test('a 10 MB text encodes (both tokenizers)', () => {
    const para = 'The quick brown fox, naïve and 中文, jumps over 12 lazy dogs! ';
    const text = para.repeat(Math.ceil(10_000_000 / para.length));
    const n = g.encode(text).ids.length;
    expect(n).toBeGreaterThan(text.length / 6);
    expect(b.encode(text).ids.length).toBeGreaterThan(text.length / 6);
  });
});
