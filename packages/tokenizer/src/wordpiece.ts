/**
 * WordPiece (BERT): greedy longest-match-first from the left; pieces after the first carry the `##`
 * prefix. A word with any unmatchable rest, or longer than maxInputCharsPerWord characters, is one [UNK].
 */
import { invalidInput, TokenizerError } from './errors.js';
import { type Model, type Vocab, WordCache, type WordTokens } from './vocab.js';

export interface WordPieceConfig {
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
}

/** Upper bound of maxInputCharsPerWord (HF's default is 100): longer words are [UNK] anyway. */
export const MAX_INPUT_CHARS_PER_WORD = 10_000;

export class WordPiece implements Model {
  readonly kind = 'wordpiece' as const;
  readonly vocab: Vocab;
  readonly config: WordPieceConfig;
  private readonly unkId: number;
  private readonly cache = new WordCache();
  /** The longest token's length without the prefix (UTF-16 units): no longer piece can match. */
  private readonly maxPiece: number;

  constructor(vocab: Vocab, config: Partial<WordPieceConfig> = {}) {
    this.vocab = vocab;
    this.config = {
      unkToken: config.unkToken ?? '[UNK]',
      continuingSubwordPrefix: config.continuingSubwordPrefix ?? '##',
      maxInputCharsPerWord: config.maxInputCharsPerWord ?? 100,
    };
    const { unkToken, continuingSubwordPrefix: prefix, maxInputCharsPerWord: max } = this.config;
    if (typeof unkToken !== 'string') throw invalidInput('WordPiece: unkToken must be a string');
    if (typeof prefix !== 'string') throw invalidInput('WordPiece: continuingSubwordPrefix must be a string');
    if (!Number.isInteger(max) || max < 1 || max > MAX_INPUT_CHARS_PER_WORD)
      throw invalidInput(
        `WordPiece: maxInputCharsPerWord must be an integer in [1, ${MAX_INPUT_CHARS_PER_WORD}], got ${JSON.stringify(max)}`,
      );
    let longest = 0;
    for (const t of vocab.idToToken) {
      const n = prefix && t.startsWith(prefix) ? t.length - prefix.length : t.length;
      if (n > longest) longest = n;
    }
    this.maxPiece = longest;
    const unk = vocab.tokenToId.get(this.config.unkToken);
    if (unk === undefined) {
      throw new TokenizerError(
        'MISSING_SPECIAL_TOKEN',
        `WordPiece: unknown token ${JSON.stringify(this.config.unkToken)} is not in the vocabulary`,
      );
    }
    this.unkId = unk;
  }

  tokenizeWord(word: string): WordTokens {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const r = this.split(word);
    this.cache.set(word, r);
    return r;
  }

  private split(word: string): WordTokens {
    const unk = (): WordTokens => ({
      ids: Int32Array.of(this.unkId),
      offsets: Int32Array.of(0, word.length),
    });
    // Count characters (code points), stopping early: a 1 MB word must not cost more than the limit.
    const max = this.config.maxInputCharsPerWord;
    let chars = 0;
    for (let i = 0; i < word.length && chars <= max; i++) {
      const c = word.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < word.length) {
        const d = word.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
      chars++;
    }
    if (chars > max) return unk();
    const map = this.vocab.tokenToId;
    const prefix = this.config.continuingSubwordPrefix;
    const ids: number[] = [];
    const offsets: number[] = [];
    let start = 0;
    while (start < word.length) {
      // Longest match first, from the longest piece that could be in the vocabulary: linear in the word's
      // length (trying every end from the word's end was cubic).
      let end = Math.min(word.length, start + this.maxPiece);
      let found = -1;
      while (end > start) {
        const sub = start > 0 ? prefix + word.slice(start, end) : word.slice(start, end);
        const id = map.get(sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        // step back one whole character (never split a surrogate pair)
        const c = word.charCodeAt(end - 1);
        end -= c >= 0xdc00 && c <= 0xdfff && end - 2 >= start && isHigh(word.charCodeAt(end - 2)) ? 2 : 1;
      }
      if (found < 0) return unk();
      ids.push(found);
      offsets.push(start, end);
      start = end;
    }
    return { ids: Int32Array.from(ids), offsets: Int32Array.from(offsets) };
  }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
