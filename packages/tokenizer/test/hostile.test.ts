import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_PADDED_LENGTH,
  parseTokenizerJson,
  parseVocabJson,
  Tokenizer,
  TokenizerError,
  tokenizerToJson,
  Vocab,
  WordPiece,
} from '../src/index.js';
import { saveTokenizer } from '../src/node.js';

// Hostile sizes and shapes: each is a typed TokenizerError or a result, in bounded time, never a stack
// overflow or an aborted process.

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'a', '##a', 'aa', '##aa'];
const bert = () => Tokenizer.wordPiece(VOCAB);

function typed(fn: () => unknown, code: string, pattern: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenizerError);
  expect((err as TokenizerError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
  // The brand core's TransformerKitError recognises (asserted with core in bert's hostile test).
  expect((err as Record<symbol, unknown>)[Symbol.for('transformer-kit.error')]).toBe(true);
}

describe('tokenizer under hostile sizes', () => {
  it('pads to 150,000 tokens (right and left) without spreading into a call', () => {
    const t = bert();
    for (const direction of ['right', 'left'] as const) {
      const [e] = t.encodeBatch(['hello'], { padding: { length: 150_000, direction } });
      expect(e!.ids.length).toBe(150_000);
      const at = direction === 'right' ? 0 : 150_000 - 3;
      expect(e!.ids.slice(at, at + 3)).toEqual([2, 5, 3]);
      expect(e!.attentionMask.reduce((a, b) => a + b, 0)).toBe(3);
      expect(e!.offsets.length).toBe(150_000);
    }
  });

  it('200,000 texts with batch-longest padding', () => {
    const texts = Array.from({ length: 200_000 }, (_, i) => (i === 7 ? 'hello a a' : 'a'));
    const out = bert().encodeBatch(texts, { padding: {} });
    expect(out.length).toBe(200_000);
    expect(out.every((e) => e.ids.length === 5)).toBe(true);
    expect(out[7]!.ids).toEqual([2, 5, 6, 6, 3]);
  });

  it('padding lengths are bounded integers', () => {
    const t = bert();
    for (const length of [MAX_PADDED_LENGTH + 1, 1e9, -1, 2.5, Number.NaN])
      typed(
        () => t.encode('hello', null, { padding: { length } }),
        'INVALID_INPUT',
        /padding.length must be an integer/,
      );
    typed(
      () => t.encode('hello', null, { padding: { length: 10, padToMultipleOf: 1.5 } }),
      'INVALID_INPUT',
      /padToMultipleOf/,
    );
  });

  it('tokenizer.json padding and truncation sizes are validated before anything is allocated', () => {
    const json = tokenizerToJson(bert());
    const withPad = (padding: unknown) => JSON.stringify({ ...json, padding });
    const fixed = (n: unknown) => withPad({ strategy: { Fixed: n }, pad_id: 0, pad_token: '[PAD]' });
    typed(
      () => parseTokenizerJson(fixed(1e9)),
      'MALFORMED_FILE',
      /padding.strategy.Fixed must be an integer in \[0, 1048576\], got 1000000000/,
    );
    typed(() => parseTokenizerJson(fixed('8')), 'MALFORMED_FILE', /padding.strategy.Fixed/);
    typed(
      () => parseTokenizerJson(withPad({ strategy: 'BatchLongest', pad_to_multiple_of: 1e12 })),
      'MALFORMED_FILE',
      /pad_to_multiple_of/,
    );
    typed(
      () => parseTokenizerJson(withPad({ strategy: 'BatchLongest', pad_id: -3 })),
      'MALFORMED_FILE',
      /pad_id/,
    );
    typed(() => parseTokenizerJson(withPad('yes')), 'MALFORMED_FILE', /padding must be an object/);
    const trunc = (t: unknown) => JSON.stringify({ ...json, truncation: t });
    typed(
      () => parseTokenizerJson(trunc({ strategy: 'LongestFirst', max_length: 1e10 })),
      'MALFORMED_FILE',
      /truncation.max_length/,
    );
    expect(parseTokenizerJson(fixed(16)).encode('hello').ids.length).toBe(16);
  });

  it('WordPiece: max_input_chars_per_word validated; a long word costs linear time', () => {
    const v = new Vocab(VOCAB);
    for (const m of [1e9, 'abc', 0, 2.5, -1])
      typed(
        () => new WordPiece(v, { maxInputCharsPerWord: m as number }),
        'INVALID_INPUT',
        /maxInputCharsPerWord must be an integer in \[1, 10000\]/,
      );
    const json = tokenizerToJson(bert());
    typed(
      () =>
        parseTokenizerJson(
          JSON.stringify({ ...json, model: { ...json.model, max_input_chars_per_word: 1e9 } }),
        ),
      'INVALID_INPUT',
      /maxInputCharsPerWord/,
    );
    // 'a' + '##aa' × k: every piece found scanning back from the longest token, not from the word's end.
    const t = Tokenizer.wordPiece(VOCAB, { maxInputCharsPerWord: 10_000 });
    const word = 'a'.repeat(9_999);
    const start = performance.now();
    const ids = t.encode(word).ids;
    const ms = performance.now() - start;
    expect(ids.length).toBe(2 + 5_000);
    expect(ids.slice(0, 3)).toEqual([2, 8, 9]);
    expect(ms).toBeLessThan(1_000); // was cubic: a 4,000-char word took 15.9 s
  });

  it('vocab.json ids out of range are refused without walking a sparse table', () => {
    for (const id of [2 ** 32 - 1, 1e300, 3])
      typed(() => parseVocabJson(JSON.stringify({ a: 0, b: id })), 'MALFORMED_FILE', /no token has id 1/);
  });

  it('every malformed tokenizer.json shape is a typed error', () => {
    const json = tokenizerToJson(bert());
    const bpe = { type: 'BPE', vocab: { a: 0 }, merges: [] };
    const template = json.post_processor;
    const cases: unknown[] = [
      { ...json, model: { ...bpe, merges: 'a b' } },
      { ...json, model: { ...bpe, merges: { 0: 'a b' } } },
      { ...json, added_tokens: { id: 0 } },
      { ...json, added_tokens: [null] },
      { ...json, post_processor: { ...template, single: [null] } },
      { ...json, post_processor: { ...template, single: [{ SpecialToken: { id: 5 } }] } },
      { ...json, post_processor: { ...template, pair: [{ Sequence: { id: 'A', type_id: -1 } }] } },
      { ...json, model: { ...json.model, vocab: 'abc' } },
      { ...json, model: 5 },
      { ...json, normalizer: 7 },
      { ...json, post_processor: { type: 'BertProcessing', cls: 5, sep: null } },
      [],
      null,
      'text',
    ];
    for (const [i, c] of cases.entries()) {
      let err: unknown;
      try {
        parseTokenizerJson(JSON.stringify(c));
      } catch (e) {
        err = e;
      }
      expect(err, `case ${i}`).toBeInstanceOf(TokenizerError);
    }
  });
});

describe('saveTokenizer under failure', () => {
  const root = mkdtempSync(join(tmpdir(), 'tok-save-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a file in the way: typed WRITE_FAILED, old files byte-identical, no temp file left', () => {
    const dir = join(root, 'blocked');
    mkdirSync(dir);
    saveTokenizer(bert(), dir);
    const before = readFileSync(join(dir, 'tokenizer.json'));
    // vocab.txt replaced by a folder: its rename fails after tokenizer.json's temp is written.
    rmSync(join(dir, 'vocab.txt'));
    mkdirSync(join(dir, 'vocab.txt'));
    writeFileSync(join(dir, 'vocab.txt', 'x'), 'x');
    const other = Tokenizer.wordPiece([...VOCAB, 'extra']);
    typed(() => saveTokenizer(other, dir), 'WRITE_FAILED', /saving the tokenizer to .* failed/);
    expect(readdirSync(dir).sort()).toEqual(['tokenizer.json', 'vocab.txt']);
    // tokenizer.json was renamed first, so it is the new one or the old one, never half of either.
    const after = readFileSync(join(dir, 'tokenizer.json'));
    expect([before.toString(), JSON.stringify(tokenizerToJson(other), null, 2)]).toContain(after.toString());
  });

  it('a missing folder: typed WRITE_FAILED, nothing written', () => {
    typed(
      () => saveTokenizer(bert(), join(root, 'nope', 'deeper')),
      'WRITE_FAILED',
      /previous files are untouched/,
    );
    expect(readdirSync(root)).not.toContain('nope');
  });
});
