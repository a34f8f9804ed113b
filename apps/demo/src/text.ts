/**
 * The demo's view of @transformer-kit/tokenizer: a WordPiece tokenizer trained on the sentiment sentences
 * and a character tokenizer for Moby Dick, with the files that are saved next to the weights.
 */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  /** Ids (with [CLS]/[SEP] for WordPiece) truncated to `maxLength`, and the token strings. */
  encode(text: string, maxLength?: number): { ids: number[]; tokens: string[] };
  decode(ids: number[]): string;
  /** Tokenizer files to save next to the weights, by file name. */
  files(): Record<string, string>;
}

const notReady = (what: string): never => {
  throw new Error(`${what}: waiting for @transformer-kit/tokenizer to export it`);
};

export function trainWordPieceTokenizer(_texts: string[], _vocabSize: number): Tokenizer {
  return notReady('WordPiece training');
}
export function wordPieceFromVocab(_vocabTxt: string): Tokenizer {
  return notReady('WordPiece from vocab.txt');
}
export function charTokenizer(_text: string): Tokenizer {
  return notReady('character tokenizer');
}
export function charTokenizerFromVocab(_vocabJson: string): Tokenizer {
  return notReady('character tokenizer from vocab.json');
}
