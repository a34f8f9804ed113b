/** Bad input → a TokenizerError with a code and a message that names the problem. */
import { describe, expect, test } from 'vitest';
import {
  parseMerges,
  parseTokenizerJson,
  parseVocabJson,
  parseVocabTxt,
  Tokenizer,
  TokenizerError,
  type TokenizerErrorCode,
} from '../src/index.js';
import { bert, gpt2 } from './setup.js';

function expectError(fn: () => unknown, code: TokenizerErrorCode, message: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    expect((e as TokenizerError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected a TokenizerError');
}

describe('typed errors', () => {
  const b = bert();

  test('non-string input', () => {
    expectError(
      () => b.encode(42 as unknown as string),
      'INVALID_INPUT',
      /encode: text must be a string, got number/,
    );
    expectError(
      () => b.encode('a', {} as unknown as string),
      'INVALID_INPUT',
      /encode: pair must be a string, got object/,
    );
    expectError(
      () => b.encodeBatch(['a', null as unknown as string]),
      'INVALID_INPUT',
      /input 1 must be a string/,
    );
    expectError(
      () => b.decode([101, 999999]),
      'INVALID_INPUT',
      /id 999999 at position 1 is not in the vocabulary/,
    );
  });

  test('malformed vocab.txt / vocab.json / merges report file and line', () => {
    expectError(
      () => parseVocabTxt('[PAD]\na\nb\na\n', 'my-vocab.txt'),
      'DUPLICATE_TOKEN',
      /my-vocab\.txt:4: duplicate token "a" \(first on line 2\)/,
    );
    expectError(() => parseVocabTxt(''), 'MALFORMED_FILE', /vocabulary is empty/);
    expectError(
      () => parseVocabJson('{"a": 0,\n "b": }', 'v.json'),
      'MALFORMED_FILE',
      /v\.json(:2)?: not valid JSON/,
    );
    expectError(
      () => parseVocabJson('{"a": 0, "b": 0}'),
      'DUPLICATE_TOKEN',
      /id 0 is given to both "a" and "b"/,
    );
    expectError(() => parseVocabJson('{"a": 0, "b": 2}'), 'MALFORMED_FILE', /no token has id 1/);
    expectError(
      () => parseMerges('#version: 0.2\na b\nc\n', 'm.txt'),
      'MALFORMED_FILE',
      /m\.txt:3: expected "left right", got "c"/,
    );
    expectError(
      () => Tokenizer.byteLevelBPE({ a: 0, b: 1 }, [['a', 'b']]),
      'MALFORMED_FILE',
      /merges: line 1 \("a b"\) uses "ab", which is not in the vocabulary/,
    );
  });

  test('tokenizer.json: malformed, unsupported parts are named', () => {
    expectError(
      () => parseTokenizerJson('{\n"model": {\n}', 'tok.json'),
      'MALFORMED_FILE',
      /tok\.json(:\d+)?: not valid JSON/,
    );
    const base = { model: { type: 'WordPiece', unk_token: '[UNK]', vocab: { '[UNK]': 0, a: 1 } } };
    expectError(
      () => parseTokenizerJson(JSON.stringify({ ...base, model: { type: 'Unigram', vocab: [] } })),
      'UNSUPPORTED',
      /model type "Unigram"/,
    );
    expectError(
      () => parseTokenizerJson(JSON.stringify({ ...base, normalizer: { type: 'NFKC' } })),
      'UNSUPPORTED',
      /normalizer "NFKC"/,
    );
    expectError(
      () => parseTokenizerJson(JSON.stringify({ ...base, pre_tokenizer: { type: 'Metaspace' } })),
      'UNSUPPORTED',
      /pre_tokenizer "Metaspace"/,
    );
    expectError(
      () =>
        parseTokenizerJson(JSON.stringify({ ...base, post_processor: { type: 'Sequence', processors: [] } })),
      'UNSUPPORTED',
      /post_processor "Sequence"/,
    );
    expectError(
      () => parseTokenizerJson(JSON.stringify({ ...base, decoder: { type: 'Metaspace' } })),
      'UNSUPPORTED',
      /decoder "Metaspace"/,
    );
    expectError(
      () =>
        parseTokenizerJson(
          JSON.stringify({ ...base, model: { type: 'BPE', vocab: {}, merges: [], dropout: 0.1 } }),
        ),
      'UNSUPPORTED',
      /BPE model option dropout = 0.1/,
    );
  });

  test('a special token the template or model needs is missing', () => {
    expectError(
      () => Tokenizer.wordPiece(['[UNK]', '[SEP]', 'a']),
      'MISSING_SPECIAL_TOKEN',
      /special token "\[PAD\]" is not in the vocabulary/,
    );
    expectError(
      () => Tokenizer.wordPiece(['[UNK]', '[SEP]', 'a'], { specialTokens: ['[UNK]', '[SEP]'] }),
      'MISSING_SPECIAL_TOKEN',
      /token "\[CLS\]" is needed but not in the vocabulary/,
    );
    expectError(
      () => Tokenizer.wordPiece(['[X]', 'a'], { specialTokens: [], template: null }),
      'MISSING_SPECIAL_TOKEN',
      /unknown token "\[UNK\]"/,
    );
  });

  test('duplicate added token ids', () => {
    const g = gpt2();
    expectError(
      () => g.addTokens([{ content: '<x>', id: 50256 }]),
      'DUPLICATE_TOKEN',
      /id 50256 already belongs to "<\|endoftext\|>"/,
    );
  });

  test('max length smaller than the special tokens', () => {
    expectError(
      () => b.encodeBatch(['a'], { truncation: { maxLength: 1 } }),
      'MAX_LENGTH_TOO_SMALL',
      /maxLength 1 is smaller than the 2 special tokens/,
    );
  });
});
