/** Character-level model for tiny experiments: one token per character (code point), unknowns → unk. */
import { TokenizerError } from './errors.js';
import type { Model, Vocab, WordTokens } from './vocab.js';

export class CharModel implements Model {
  readonly kind = 'char' as const;
  readonly vocab: Vocab;
  readonly unkToken: string | null;
  private readonly unkId: number;

  constructor(vocab: Vocab, unkToken: string | null = null) {
    this.vocab = vocab;
    this.unkToken = unkToken;
    this.unkId = -1;
    if (unkToken !== null) {
      const id = vocab.tokenToId.get(unkToken);
      if (id === undefined) {
        throw new TokenizerError(
          'MISSING_SPECIAL_TOKEN',
          `char model: unknown token ${JSON.stringify(unkToken)} is not in the vocabulary`,
        );
      }
      this.unkId = id;
    }
  }

  tokenizeWord(word: string): WordTokens {
    const ids: number[] = [];
    const offsets: number[] = [];
    for (let i = 0; i < word.length; ) {
      const cp = word.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      const id = this.vocab.tokenToId.get(word.slice(i, i + w));
      if (id !== undefined) ids.push(id);
      else if (this.unkId >= 0) ids.push(this.unkId);
      else {
        throw new TokenizerError(
          'INVALID_INPUT',
          `char tokenizer: character ${JSON.stringify(word.slice(i, i + w))} (U+${cp.toString(16).toUpperCase()}) is not in the vocabulary and no unk token is set`,
        );
      }
      offsets.push(i, i + w);
      i += w;
    }
    return { ids: Int32Array.from(ids), offsets: Int32Array.from(offsets) };
  }
}
