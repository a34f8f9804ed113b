/**
 * Added tokens ([CLS], [SEP], [MASK], <|endoftext|>, or your own) are matched in the text before anything
 * else and never split. Longest match wins at the leftmost position, as in HF's AddedVocabulary.
 */
import { TokenizerError } from './errors.js';
import { WS_CLASS } from './unicode.js';

export interface AddedToken {
  content: string;
  /** Special tokens are the ones decode(…, { skipSpecialTokens: true }) drops. */
  special: boolean;
  /** Match in the normalized text (true) or in the raw text (false, the default for special tokens). */
  normalized: boolean;
  /** Also swallow whitespace on the left / right of the match. */
  lstrip: boolean;
  rstrip: boolean;
}

/** A string, or the token's settings; `id` pins its id (as tokenizer.json does), otherwise it is looked up or appended. */
export type AddedTokenInput = string | (Partial<AddedToken> & { content: string; id?: number });

export function addedToken(t: AddedTokenInput, special: boolean): AddedToken {
  const o = typeof t === 'string' ? { content: t } : t;
  if (typeof o.content !== 'string' || o.content.length === 0) {
    throw new TokenizerError(
      'INVALID_INPUT',
      `an added token needs non-empty string content, got ${JSON.stringify(o.content)}`,
    );
  }
  return {
    content: o.content,
    special: o.special ?? special,
    normalized: o.normalized ?? !special,
    lstrip: o.lstrip ?? false,
    rstrip: o.rstrip ?? false,
  };
}

/** Splits text on a set of added tokens; pieces are [start, end, tokenIndex] with tokenIndex -1 for plain text. */
export class TokenMatcher {
  private readonly re: RegExp | null;
  private readonly index = new Map<string, number>();

  constructor(readonly tokens: AddedToken[]) {
    const sorted = tokens
      .map((t, i) => [t, i] as const)
      .sort((a, b) => b[0].content.length - a[0].content.length);
    for (const [t, i] of sorted) if (!this.index.has(t.content)) this.index.set(t.content, i);
    const ws = `[${WS_CLASS}]*`;
    const alts = sorted.map(
      ([t]) => `${t.lstrip ? ws : ''}(?:${escapeRegex(t.content)})${t.rstrip ? ws : ''}`,
    );
    this.re = alts.length ? new RegExp(alts.join('|'), 'gu') : null;
    if (tokens.some((t) => t.lstrip || t.rstrip)) {
      // With strip flags, the match text includes whitespace: find the token inside it.
      this.strip = true;
    }
  }
  private strip = false;

  split(text: string, start: number, end: number, out: number[]): void {
    const re = this.re;
    if (re === null) {
      if (end > start) out.push(start, end, -1);
      return;
    }
    const s = start === 0 && end === text.length ? text : text.slice(start, end);
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      let content = m[0];
      if (this.strip) content = this.findContent(m[0]);
      if (m.index > last) out.push(start + last, start + m.index, -1);
      out.push(start + m.index, start + m.index + m[0].length, this.index.get(content)!);
      last = m.index + m[0].length;
    }
    if (last < s.length) out.push(start + last, end, -1);
  }

  private findContent(match: string): string {
    for (const c of this.index.keys()) if (match.includes(c)) return c; // longest first
    return match;
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
