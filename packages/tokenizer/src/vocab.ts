/** A token ↔ id table shared by every model. Duplicate tokens and gaps are errors, not silent overwrites. */
import { TokenizerError } from './errors.js';

export class Vocab {
  readonly tokenToId: Map<string, number>;
  readonly idToToken: string[];

  constructor(tokens: Map<string, number> | Record<string, number> | readonly string[], source = 'vocab') {
    this.tokenToId = new Map();
    this.idToToken = [];
    if (Array.isArray(tokens)) {
      (tokens as readonly string[]).forEach((t, i) => {
        this.add(t, i, source);
      });
    } else {
      const entries = tokens instanceof Map ? [...tokens.entries()] : Object.entries(tokens);
      // n distinct ids without gaps are exactly 0..n-1: an id >= n (2^32 - 1, 1e300) is refused before it
      // can make a sparse table whose gap check would walk billions of slots.
      let outside: [string, number] | undefined;
      for (const [t, id] of entries) {
        if (typeof id === 'number' && id >= entries.length) outside ??= [t, id];
        else this.add(t, id, source);
      }
      if (outside) {
        let gap = 0;
        while (this.idToToken[gap] !== undefined) gap++;
        throw new TokenizerError(
          'MALFORMED_FILE',
          `${source}: no token has id ${gap} (ids must be 0..${entries.length - 1}; token ${JSON.stringify(outside[0])} has id ${outside[1]})`,
        );
      }
      for (let i = 0; i < this.idToToken.length; i++) {
        if (this.idToToken[i] === undefined) {
          throw new TokenizerError(
            'MALFORMED_FILE',
            `${source}: no token has id ${i} (ids must be 0..${this.idToToken.length - 1})`,
          );
        }
      }
    }
  }

  private add(token: string, id: number, source: string) {
    if (typeof token !== 'string' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError('MALFORMED_FILE', `${source}: bad entry ${JSON.stringify(token)} → ${id}`);
    }
    if (this.tokenToId.has(token)) {
      throw new TokenizerError(
        'DUPLICATE_TOKEN',
        `${source}: token ${JSON.stringify(token)} appears twice (ids ${this.tokenToId.get(token)} and ${id})`,
      );
    }
    if (this.idToToken[id] !== undefined) {
      throw new TokenizerError(
        'DUPLICATE_TOKEN',
        `${source}: id ${id} is given to both ${JSON.stringify(this.idToToken[id])} and ${JSON.stringify(token)}`,
      );
    }
    this.tokenToId.set(token, id);
    this.idToToken[id] = token;
  }

  get size(): number {
    return this.idToToken.length;
  }
}

/** Tokens produced for one word: ids with [start, end) offsets in UTF-16 units relative to the word. */
export interface WordTokens {
  ids: Int32Array;
  offsets: Int32Array; // start0, end0, start1, end1, ...
}

export interface Model {
  readonly kind: 'wordpiece' | 'bpe' | 'char';
  readonly vocab: Vocab;
  tokenizeWord(word: string): WordTokens;
}

/** A bounded memo for per-word results (English text repeats words; the bound keeps memory flat). */
export class WordCache {
  private map = new Map<string, WordTokens>();
  constructor(private readonly limit = 100_000) {}
  get(word: string): WordTokens | undefined {
    return this.map.get(word);
  }
  set(word: string, v: WordTokens): void {
    if (word.length > 256) return;
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(word, v);
  }
}
