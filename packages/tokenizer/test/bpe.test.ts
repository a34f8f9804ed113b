/** GPT-2 byte-level BPE with literal ids from GPT-2's own encoder.json / vocab.bpe. */
import { describe, expect, test } from 'vitest';
import { gpt2 } from './setup.js';

const tok = gpt2();

describe('GPT-2 byte-level BPE', () => {
  test('known ids', () => {
    expect(tok.encode('Hello world').ids).toEqual([15496, 995]);
    expect(tok.encode('Hello world').tokens).toEqual(['Hello', 'Ġworld']);
    expect(tok.encode(' the').ids).toEqual([262]);
  });

  test('<|endoftext|> is special, looked up, never split', () => {
    expect(tok.specialId('<|endoftext|>')).toBe(50256);
    const e = tok.encode('a<|endoftext|>b');
    expect(e.ids).toEqual([64, 50256, 65]);
    expect(e.specialTokensMask).toEqual([0, 0, 0]); // from the text, not added by a template
    expect(tok.decode(e.ids, { skipSpecialTokens: true })).toBe('ab');
    expect(tok.decode(e.ids)).toBe('a<|endoftext|>b');
  });

  test("GPT-2's pattern: contractions, numbers, whitespace runs", () => {
    expect(tok.encode("I'll 123  x").tokens).toEqual(['I', "'ll", 'Ġ123', 'Ġ', 'Ġx']);
  });

  test('bytes of multi-byte characters; offsets cover whole characters', () => {
    const e = tok.encode('é😀');
    expect(e.tokens).toEqual(['Ã©', 'ðŁĺ', 'Ģ']);
    expect(e.offsets).toEqual([
      [0, 1],
      [1, 3],
      [1, 3],
    ]);
  });

  test('decode(encode(x)) === x, including lone surrogates', () => {
    for (const s of ['', 'Hello  world\n\n', '👨‍👩‍👧‍👦 中文 naïve', 'a\ud800b', '\udfff', 'x'.repeat(1000)]) {
      expect(tok.decode(tok.encode(s).ids)).toBe(s);
    }
  });

  test('user-added special tokens get the next id and are never split', () => {
    const t = gpt2();
    expect(t.addSpecialTokens(['<|pad|>'])).toBe(1);
    expect(t.specialId('<|pad|>')).toBe(50257);
    expect(t.vocabSize).toBe(50258);
    expect(t.encode('x<|pad|>').ids).toEqual([87, 50257]);
  });
});
