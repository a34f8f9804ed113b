/**
 * The demo's view of @transformer-kit/tokenizer: a WordPiece tokenizer whose vocabulary is trained on the
 * sentiment training sentences, a character tokenizer for Moby Dick, GPT-2's byte-level BPE for picked
 * checkpoints, each with the files saved next to the weights (vocab.txt; vocab.json [+ merges.txt]).
 */
import {
  mergesToTxt,
  parseMerges,
  parseVocabJson,
  parseVocabTxt,
  Tokenizer as TkTokenizer,
  trainChar,
  trainWordPiece,
  vocabToJson,
  vocabToTxt,
} from '@transformer-kit/tokenizer';

export interface Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  /** Ids (with [CLS] … [SEP] for WordPiece), truncated to `maxLength`, and their token strings. */
  encode(text: string, maxLength?: number): { ids: number[]; tokens: string[] };
  decode(ids: number[]): string;
  /** Tokenizer files to save next to the weights, by file name. */
  files(): Record<string, string>;
}

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

function wordPiece(tk: TkTokenizer): Tokenizer {
  return wrap(tk, tk.specialId('[PAD]'), () => ({ 'vocab.txt': vocabToTxt(tk.model.vocab) }));
}

/** Uncased WordPiece (BERT's normalizer, pre-tokenizer and [CLS] … [SEP] template) trained on `texts`. */
export function trainWordPieceTokenizer(texts: string[], vocabSize: number): Tokenizer {
  return wordPiece(trainWordPiece(texts, { vocabSize }));
}

export function wordPieceFromVocab(vocabTxt: string): Tokenizer {
  return wordPiece(TkTokenizer.wordPiece(parseVocabTxt(vocabTxt)));
}

function char(tk: TkTokenizer): Tokenizer {
  return wrap(tk, 0, () => ({ 'vocab.json': vocabToJson(tk.model.vocab) }));
}

/** One token per distinct character of `text`. */
export function charTokenizer(text: string): Tokenizer {
  return char(trainChar(text));
}

export function charTokenizerFromVocab(vocabJson: string): Tokenizer {
  return char(TkTokenizer.char(parseVocabJson(vocabJson).idToToken));
}

/** GPT-2's byte-level BPE from vocab.json + merges.txt. */
export function bpeFromFiles(vocabJson: string, mergesTxt: string): Tokenizer {
  const merges = parseMerges(mergesTxt);
  const tk = TkTokenizer.byteLevelBPE(parseVocabJson(vocabJson), merges);
  return wrap(tk, tk.tokenToId('<|endoftext|>') ?? 0, () => ({
    'vocab.json': vocabToJson(tk.model.vocab),
    'merges.txt': mergesToTxt(merges),
  }));
}
