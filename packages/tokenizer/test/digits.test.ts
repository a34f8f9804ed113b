import { beforeAll, describe, expect, test } from 'vitest';
import { type Tokenizer, tokenizerFiles, tokenizerFromJson } from '../src/index.js';
import { gpt2EncoderJson, gpt2TokenizerJson, gpt2VocabBpe, hfFromJson, type Oracle } from './fixtures.js';

// SmolLM2's tokenizer.json (and Llama 3-style files) pre-tokenize with Sequence[Digits(individual_digits),
// ByteLevel]. GPT-2's real vocabulary and merges with that pre-tokenizer, against HF's own tokenizer.
const SEQUENCE = {
  type: 'Sequence',
  pretokenizers: [
    { type: 'Digits', individual_digits: true },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  ],
};

const TEXTS = [
  'In 1492 Columbus sailed 3 ships, costing $12,345.67!',
  'call 555-0199 or +44 (0)20 7946 0958',
  ' 42 ',
  'x1y22z333 and 2024-06-01T12:30:00Z',
  'Arabic-Indic ٣٤٥ and fullwidth １２３ digits, superscript ² and ½',
  "it's 7 o'clock; they've 10 cats\n\n\t 9",
  '   leading spaces 0',
  '',
  'no digits at all, just words.',
];

function randomTexts(n: number, seed: number): string[] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const alphabet = ['a', 'b', 'Z', ' ', '  ', '1', '23', '٤', '.', ',', "'s", '\n', 'é', '😀', '-', '0'];
  return Array.from({ length: n }, () =>
    Array.from(
      { length: 1 + Math.floor(next() * 24) },
      () => alphabet[Math.floor(next() * alphabet.length)],
    ).join(''),
  );
}

describe('Sequence[Digits, ByteLevel] pre-tokenizer (SmolLM2) vs HF tokenizers', () => {
  let ours: Tokenizer;
  let oracle: Oracle;
  beforeAll(() => {
    const json = { ...gpt2TokenizerJson(gpt2EncoderJson(), gpt2VocabBpe()), pre_tokenizer: SEQUENCE };
    ours = tokenizerFromJson(json);
    oracle = hfFromJson(json);
  });

  test('the same ids and offsets as HF on digits, spaces and non-ASCII numerals', async () => {
    for (const text of [...TEXTS, ...randomTexts(300, 7)]) {
      const want = await oracle.encode(text, null, false);
      const got = ours.encode(text, null, { addSpecialTokens: false, offsetUnit: 'codepoint' });
      expect(got.ids, JSON.stringify(text)).toEqual(want.ids);
      expect(got.offsets, JSON.stringify(text)).toEqual(want.offsets);
      expect(ours.decode(got.ids)).toBe(await oracle.decode(want.ids, false));
    }
  });

  test('every digit is a token of its own, and the file round-trips', () => {
    const ids = ours.encode('2024', null, { addSpecialTokens: false }).ids;
    expect(ids.length).toBe(4);
    const back = tokenizerFromJson(JSON.parse(tokenizerFiles(ours)['tokenizer.json']!));
    expect(back.encode('x 123 y', null, { addSpecialTokens: false }).ids).toEqual(
      ours.encode('x 123 y', null, { addSpecialTokens: false }).ids,
    );
    expect(JSON.parse(tokenizerFiles(ours)['tokenizer.json']!).pre_tokenizer).toMatchObject({
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', use_regex: true },
      ],
    });
  });

  test('other Sequences are named as unsupported', () => {
    const json = {
      ...gpt2TokenizerJson(gpt2EncoderJson(), gpt2VocabBpe()),
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Punctuation' }, { type: 'ByteLevel' }] },
    };
    expect(() => tokenizerFromJson(json)).toThrow(
      /pre_tokenizer \["Punctuation","ByteLevel"\] is not supported/,
    );
  });
});
