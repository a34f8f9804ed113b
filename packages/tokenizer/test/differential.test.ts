/**
 * Differential tests: our tokenizers vs HuggingFace's own (the Rust `tokenizers` binding) on the real
 * bert-base-uncased and gpt2 vocabularies, thousands of generated strings and pairs. 0 mismatches allowed
 * in ids, token type ids, offsets, special-tokens masks and decoded text.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { Tokenizer } from '../src/index.js';
import { parseMerges, parseVocabJson, parseVocabTxt } from '../src/loaders.js';
import {
  bertTokenizerJson,
  bertVocabTxt,
  gpt2EncoderJson,
  gpt2TokenizerJson,
  gpt2VocabBpe,
  hfFromJson,
  type Oracle,
} from './fixtures.js';
import { Rand, randomText } from './gen.js';

const N = Number(process.env.DIFF_N ?? 5000); // single strings per tokenizer (DIFF_N/DIFF_SEED for deeper runs)
const P = 1000; // pairs per tokenizer

const fixed = [
  '',
  ' ',
  'Hello, World!',
  'unaffable',
  '[CLS] x [SEP]',
  'a<|endoftext|>b',
  '  leading and trailing  ',
  'x'.repeat(101),
  '中文字符',
  '👨‍👩‍👧‍👦 family',
  'e\u0301',
  '\u0000\u0001',
  "I'M here, you're there; it'S 3.14",
];

interface Case {
  a: string;
  b: string | null;
}

function cases(seed: number): Case[] {
  const r = new Rand(seed);
  const out: Case[] = fixed.map((a) => ({ a, b: null }));
  for (let i = 0; i < N; i++) out.push({ a: randomText(r), b: null });
  for (let i = 0; i < P; i++) out.push({ a: randomText(r, 6), b: randomText(r, 6) });
  return out;
}

const cps = (s: string) => [...s].map((c) => c.codePointAt(0)!.toString(16)).join(' ');

async function compare(ours: Tokenizer, oracle: Oracle, all: Case[]) {
  const mismatches: string[] = [];
  for (const { a, b } of all) {
    const e = ours.encode(a, b, { offsetUnit: 'codepoint' });
    const o = await oracle.encode(a, b);
    const got = {
      ids: e.ids,
      typeIds: e.typeIds,
      offsets: e.offsets,
      specialTokensMask: e.specialTokensMask,
    };
    const want = {
      ids: o.ids,
      typeIds: o.typeIds,
      offsets: o.offsets,
      specialTokensMask: o.specialTokensMask,
    };
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      mismatches.push(
        `${JSON.stringify([a, b])} ${cps(a)} | ${cps(b ?? '')}\n ours ${JSON.stringify(got)}\n hf   ${JSON.stringify(want)}`,
      );
      continue;
    }
    // UTF-16 offsets slice the same text the code point offsets point at.
    const u = ours.encode(a, b);
    for (let i = 0; i < u.offsets.length; i++) {
      const sid = u.sequenceIds[i];
      if (sid === null) continue;
      const text = sid === 0 ? a : b!;
      const [s, t] = u.offsets[i]!;
      const [cs, ct] = e.offsets[i]!;
      if (text.slice(s, t) !== [...text].slice(cs, ct).join(''))
        mismatches.push(`utf16 offsets ${JSON.stringify(a)} token ${i}`);
    }
    for (const skip of [false, true]) {
      const d = ours.decode(e.ids, { skipSpecialTokens: skip });
      const od = await oracle.decode(o.ids, skip);
      if (d !== od)
        mismatches.push(
          `decode(skip=${skip}) ${JSON.stringify(a)}: ours ${JSON.stringify(d)} hf ${JSON.stringify(od)}`,
        );
    }
    if (mismatches.length > 10) break;
  }
  expect(mismatches.slice(0, 5).join('\n')).toBe('');
}

describe('BERT uncased WordPiece vs HF tokenizers', () => {
  let ours: Tokenizer;
  let oracle: Oracle;
  beforeAll(() => {
    const vt = bertVocabTxt();
    ours = Tokenizer.wordPiece(parseVocabTxt(vt));
    oracle = hfFromJson(bertTokenizerJson(vt));
  });
  test(`${N + P + fixed.length} strings and pairs: 0 mismatches`, async () => {
    await compare(ours, oracle, cases(1234 + Number(process.env.DIFF_SEED ?? 0)));
  });
});

describe('GPT-2 byte-level BPE vs HF tokenizers', () => {
  let ours: Tokenizer;
  let oracle: Oracle;
  beforeAll(() => {
    ours = Tokenizer.byteLevelBPE(
      parseVocabJson(gpt2EncoderJson(), 'encoder.json'),
      parseMerges(gpt2VocabBpe(), 'vocab.bpe'),
    );
    oracle = hfFromJson(gpt2TokenizerJson(gpt2EncoderJson(), gpt2VocabBpe()));
  });
  test(`${N + P + fixed.length} strings and pairs: 0 mismatches`, async () => {
    await compare(ours, oracle, cases(98765 + Number(process.env.DIFF_SEED ?? 0)));
  });
});
