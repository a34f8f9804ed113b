/**
 * The demo's view of @transformer-kit/tokenizer: a WordPiece tokenizer whose vocabulary is trained on the
 * sentiment training sentences, and a character tokenizer for Moby Dick, each with the files saved next to
 * the weights (vocab.txt as BERT's, vocab.json as {token: id}).
 */
import { Tokenizer as TkTokenizer } from '@transformer-kit/tokenizer';

export interface Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  /** Ids (with [CLS] … [SEP] for WordPiece), truncated to `maxLength`, and their token strings. */
  encode(text: string, maxLength?: number): { ids: number[]; tokens: string[] };
  decode(ids: number[]): string;
  /** Tokenizer files to save next to the weights, by file name. */
  files(): Record<string, string>;
}

export const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function wrap(tk: TkTokenizer, padId: number, files: () => Record<string, string>): Tokenizer {
  return {
    vocabSize: tk.vocabSize,
    padId,
    encode(text, maxLength) {
      const e = tk.encode(text, null, maxLength === undefined ? {} : { truncation: { maxLength } });
      return { ids: e.ids, tokens: e.tokens };
    },
    decode: (ids) => tk.decode(ids),
    files,
  };
}

/** A WordPiece tokenizer (uncased, BERT's normalizer and template) over `vocab`, one token per line in id order. */
export function wordPieceFromTokens(vocab: string[]): Tokenizer {
  const tk = TkTokenizer.wordPiece(vocab);
  return wrap(tk, tk.specialId('[PAD]'), () => ({ 'vocab.txt': `${vocab.join('\n')}\n` }));
}

export function wordPieceFromVocab(vocabTxt: string): Tokenizer {
  const lines = vocabTxt.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return wordPieceFromTokens(lines);
}

export function trainWordPieceTokenizer(_texts: string[], _vocabSize: number): Tokenizer {
  throw new Error('WordPiece vocabulary training: waiting for @transformer-kit/tokenizer to export its trainer');
}

/** One token per distinct character of `text`, in code point order. */
export function charTokenizer(text: string): Tokenizer {
  const chars = [...new Set(Array.from(text))].sort();
  return charTokenizerFromChars(chars);
}

function charTokenizerFromChars(chars: string[]): Tokenizer {
  const tk = TkTokenizer.char(chars);
  return wrap(tk, 0, () => ({ 'vocab.json': `${JSON.stringify(Object.fromEntries(chars.map((c, i) => [c, i])), null, 0)}\n` }));
}

export function charTokenizerFromVocab(vocabJson: string): Tokenizer {
  const map = JSON.parse(vocabJson) as Record<string, number>;
  const chars = Object.entries(map)
    .sort((a, b) => a[1] - b[1])
    .map(([c]) => c);
  return charTokenizerFromChars(chars);
}
