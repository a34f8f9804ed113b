/** BERT uncased: each BasicTokenizer / WordPiece rule, with literal ids from bert-base-uncased's vocab. */
import { describe, expect, test } from 'vitest';
import { bert } from './setup.js';

const tok = bert();
const ids = (s: string) => tok.encode(s, null, { addSpecialTokens: false }).ids;
const tokens = (s: string) => tok.encode(s, null, { addSpecialTokens: false }).tokens;

describe('BERT WordPiece', () => {
  test('special token ids come from the vocabulary', () => {
    expect(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => tok.specialId(t))).toEqual([
      0, 100, 101, 102, 103,
    ]);
  });

  test('[CLS] A [SEP] with masks and offsets', () => {
    const e = tok.encode('Hello, World!');
    expect(e.ids).toEqual([101, 7592, 1010, 2088, 999, 102]);
    expect(e.tokens).toEqual(['[CLS]', 'hello', ',', 'world', '!', '[SEP]']);
    expect(e.typeIds).toEqual([0, 0, 0, 0, 0, 0]);
    expect(e.attentionMask).toEqual([1, 1, 1, 1, 1, 1]);
    expect(e.specialTokensMask).toEqual([1, 0, 0, 0, 0, 1]);
    expect(e.offsets).toEqual([
      [0, 0],
      [0, 5],
      [5, 6],
      [7, 12],
      [12, 13],
      [0, 0],
    ]);
  });

  test('pair: [CLS] A [SEP] B [SEP], B typed 1', () => {
    const e = tok.encode('hello', 'world');
    expect(e.ids).toEqual([101, 7592, 102, 2088, 102]);
    expect(e.typeIds).toEqual([0, 0, 0, 1, 1]);
    expect(e.sequenceIds).toEqual([null, 0, null, 1, null]);
  });

  test('greedy longest match with ## continuation', () => {
    expect(tokens('unaffable')).toEqual(['una', '##ffa', '##ble']);
    expect(ids('unaffable')).toEqual([14477, 20961, 3468]);
  });

  test('lowercase and accent stripping', () => {
    expect(tokens('NAÏVE Café')).toEqual(['naive', 'cafe']);
  });

  test('CJK characters become words; punctuation incl. ASCII symbols is split', () => {
    expect(ids('中文')).toEqual([1746, 1861]);
    expect(tokens('$5+3^2')).toEqual(['$', '5', '+', '3', '^', '2']);
  });

  test('control characters removed, whitespace runs collapse', () => {
    expect(tokens('he\u0000llo\u200b \t\n  world')).toEqual(['hello', 'world']);
  });

  test('words over 100 characters are [UNK]; 100 are not', () => {
    expect(ids('a'.repeat(101))).toEqual([100]);
    expect(ids('a'.repeat(100))).not.toContain(100);
  });

  test('special-token text stays whole, anywhere in the text', () => {
    expect(tokens('a[MASK]b [SEP]')).toEqual(['a', '[MASK]', 'b', '[SEP]']);
    expect(ids('[MASK]')).toEqual([103]);
    // lowercase text is not a special token
    expect(tokens('[mask]')).toEqual(['[', 'mask', ']']);
  });

  test('decode joins ## pieces and can skip special tokens', () => {
    expect(tok.decode([101, 7592, 2015, 102])).toBe('[CLS] hellos [SEP]');
    expect(tok.decode([101, 7592, 2015, 1010, 2088, 999, 102], { skipSpecialTokens: true })).toBe(
      'hellos, world!',
    );
    expect(tok.decode(tok.encode('unaffable').ids, { skipSpecialTokens: true })).toBe('unaffable');
  });

  test('offsets index the caller string (UTF-16), across astral characters', () => {
    const s = '😀 héllo';
    const e = tok.encode(s);
    const [a, b] = e.offsets[2]!;
    expect(s.slice(a, b)).toBe('héllo');
    expect(tok.encode(s, null, { offsetUnit: 'codepoint' }).offsets[2]).toEqual([2, 7]);
  });
});
