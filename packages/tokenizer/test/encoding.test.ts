/** encode / encodeBatch: truncation, templates, padding — literal cases, then HF's own rules as the oracle. */
import { describe, expect, test } from 'vitest';
import { parseVocabTxt, Tokenizer, TokenizerError, type TruncationStrategy } from '../src/index.js';
import { bertTokenizerJson, bertVocabTxt, hfFromJson } from './fixtures.js';
import { Rand, randomText } from './gen.js';
import { bert, gpt2 } from './setup.js';

const tok = bert();

describe('encodeBatch', () => {
  test('pads to the longest, right, with [PAD]: masks and type ids', () => {
    const [a, b] = tok.encodeBatch(['hello world', ['hello', 'world']]).map((e) => e);
    const [p, q] = tok.encodeBatch(['hello', ['hello', 'world']], { padding: {} });
    expect(a!.ids).toEqual([101, 7592, 2088, 102]);
    expect(b!.ids).toEqual([101, 7592, 102, 2088, 102]);
    expect(p!.ids).toEqual([101, 7592, 102, 0, 0]);
    expect(p!.attentionMask).toEqual([1, 1, 1, 0, 0]);
    expect(p!.specialTokensMask).toEqual([1, 0, 1, 1, 1]);
    expect(p!.offsets.slice(3)).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(q!.typeIds).toEqual([0, 0, 0, 1, 1]);
  });

  test('fixed length, left padding', () => {
    const [e] = tok.encodeBatch(['hello'], { padding: { length: 6, direction: 'left' } });
    expect(e!.ids).toEqual([0, 0, 0, 101, 7592, 102]);
    expect(e!.attentionMask).toEqual([0, 0, 0, 1, 1, 1]);
  });

  test('truncation keeps the specials: longest-first and only-second', () => {
    const long = 'one two three four five six seven eight';
    const e = tok.encode(long, 'a b c', { truncation: { maxLength: 8 } });
    expect(e.ids.length).toBe(8);
    expect(e.tokens).toEqual(['[CLS]', 'one', 'two', 'three', '[SEP]', 'a', 'b', '[SEP]']); // longer one cut first
    const f = tok.encode('a b c', long, { truncation: { maxLength: 7, strategy: 'only_second' } });
    expect(f.tokens).toEqual(['[CLS]', 'a', 'b', 'c', '[SEP]', 'one', '[SEP]']);
  });

  test('max length smaller than the special tokens is a typed error', () => {
    expect(() => tok.encode('a', 'b', { truncation: { maxLength: 2 } })).toThrow(
      /maxLength 2 is smaller than the 3 special tokens/,
    );
    try {
      tok.encode('a', null, { truncation: { maxLength: 1 } });
    } catch (e) {
      expect((e as TokenizerError).code).toBe('MAX_LENGTH_TOO_SMALL');
    }
    expect(() => tok.encode('a b c', 'd', { truncation: { maxLength: 5, strategy: 'only_second' } })).toThrow(
      TokenizerError,
    );
  });

  test('GPT-2 has no [PAD]: padding names the missing token unless padId is given', () => {
    const g = gpt2();
    expect(() => g.encodeBatch(['a', 'b c'], { padding: {} })).toThrow(
      /"\[PAD\]" is needed but not in the vocabulary/,
    );
    const [e] = g.encodeBatch(['a', 'b c'], { padding: { padId: 50256 } });
    expect(e!.ids).toEqual([64, 50256]);
  });
});

describe('truncation and padding vs HF tokenizers', () => {
  const vt = bertVocabTxt();
  const ours = Tokenizer.wordPiece(parseVocabTxt(vt));
  const r = new Rand(42);
  const pairs: [string, string][] = Array.from({ length: 48 }, () => [randomText(r, 14), randomText(r, 14)]);
  const view = (e: {
    ids: number[];
    typeIds: number[];
    attentionMask: number[];
    specialTokensMask: number[];
    offsets: number[][];
  }) => [e.ids, e.typeIds, e.attentionMask, e.specialTokensMask, e.offsets];
  const hfView = (e: any) =>
    view({
      ids: e.getIds(),
      typeIds: e.getTypeIds(),
      attentionMask: e.getAttentionMask(),
      specialTokensMask: e.getSpecialTokensMask(),
      offsets: e.getOffsets(),
    });

  test('every truncation strategy, direction and length on random pairs (errors included)', async () => {
    const hf = hfFromJson(bertTokenizerJson(vt)).raw;
    const hfStrategy = {
      longest_first: 'LongestFirst',
      only_first: 'OnlyFirst',
      only_second: 'OnlySecond',
    } as const;
    let compared = 0;
    let refused = 0;
    for (const strategy of ['longest_first', 'only_first', 'only_second'] as TruncationStrategy[]) {
      for (const direction of ['right', 'left'] as const) {
        for (const maxLength of [3, 5, 8, 13, 21]) {
          hf.setTruncation(maxLength, { strategy: hfStrategy[strategy], direction });
          for (const [a, b] of pairs) {
            let want: any = null;
            try {
              want = await hf.encode(a, b);
            } catch {
              want = null; // HF refuses (a sequence too short to cut): so must we
            }
            const run = () =>
              ours.encode(a, b, { truncation: { maxLength, strategy, direction }, offsetUnit: 'codepoint' });
            if (want === null) {
              expect(run).toThrow(TokenizerError);
              refused++;
            } else {
              const got = run();
              if (process.env.DEBUG_TRUNC && JSON.stringify(view(got)) !== JSON.stringify(hfView(want)))
                console.log(
                  strategy,
                  direction,
                  maxLength,
                  JSON.stringify([a, b]),
                  JSON.stringify(ours.encode(a, b).tokens),
                  JSON.stringify(got.tokens),
                  JSON.stringify(want.getTokens()),
                );
              expect(view(got)).toEqual(hfView(want));
              compared++;
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(800);
    expect(refused).toBeGreaterThan(0);
  });

  test('padding to the longest / fixed / multiple-of, left and right', async () => {
    const hf = hfFromJson(bertTokenizerJson(vt)).raw;
    const texts = pairs.slice(0, 24).map((p) => p[0]);
    for (const direction of ['right', 'left'] as const) {
      for (const opts of [{}, { length: 40 }, { padToMultipleOf: 8 }]) {
        hf.setPadding({
          direction,
          padId: 0,
          padToken: '[PAD]',
          ...('length' in opts ? { maxLength: opts.length } : {}),
          ...opts,
        });
        const want = await hf.encodeBatch(texts);
        const got = ours.encodeBatch(texts, { padding: { direction, ...opts }, offsetUnit: 'codepoint' });
        expect(got.map(view)).toEqual(want.map(hfView));
      }
    }
  });
});
