/**
 * HF's BertNormalizer with alignment tracking: every UTF-16 unit of the normalized text remembers the
 * original character it came from, so token offsets point into the caller's string.
 * Each step works per character, as HF does (NFD is applied to each character on its own).
 */
import { isChineseChar, isControl, isNonspacingMark, isWhitespace } from './unicode.js';

export interface BertNormalizerConfig {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** null: strip accents when lowercasing (HF's default). */
  stripAccents: boolean | null;
  lowercase: boolean;
}

/** Normalized text; origStart/origEnd give, per normalized unit, the original [start, end) in UTF-16 units. */
export interface Normalized {
  text: string;
  origStart: Int32Array | null; // null: identity (text is a slice of the original at `base`)
  origEnd: Int32Array | null;
  base: number;
}

export function identity(text: string, base: number): Normalized {
  return { text, origStart: null, origEnd: null, base };
}

/** Original [start, end) of normalized units [s, e) (e > s). */
export function originalRange(n: Normalized, s: number, e: number): [number, number] {
  if (n.origStart === null) return [n.base + s, n.base + e];
  return [n.origStart[s]!, n.origEnd![e - 1]!];
}

export class BertNormalizer {
  readonly config: BertNormalizerConfig;
  private readonly cache = new Map<number, string>();
  private readonly ascii: string[] = [];

  constructor(config: Partial<BertNormalizerConfig> = {}) {
    this.config = {
      cleanText: config.cleanText ?? true,
      handleChineseChars: config.handleChineseChars ?? true,
      stripAccents: config.stripAccents ?? null,
      lowercase: config.lowercase ?? true,
    };
    for (let c = 0; c < 128; c++) this.ascii.push(this.transform(c));
  }

  /** What one character becomes: '' (removed), itself, or several characters. */
  private transform(cp: number): string {
    const { cleanText, handleChineseChars, lowercase } = this.config;
    const strip = this.config.stripAccents ?? lowercase;
    if (cleanText) {
      if (cp === 0 || cp === 0xfffd || isControl(cp)) return '';
      if (isWhitespace(cp)) return ' ';
    }
    let s = String.fromCodePoint(cp);
    if (handleChineseChars && isChineseChar(cp)) s = ` ${s} `;
    if (strip) {
      let kept = '';
      for (const ch of s.normalize('NFD')) if (!isNonspacingMark(ch.codePointAt(0)!)) kept += ch;
      s = kept;
    }
    // Per character, like Rust's char::to_lowercase (no final-sigma context rule).
    if (lowercase) {
      let low = '';
      for (const ch of s) low += ch.toLowerCase();
      s = low;
    }
    return s;
  }

  private map(cp: number): string {
    if (cp < 128) return this.ascii[cp]!;
    let s = this.cache.get(cp);
    if (s === undefined) {
      s = this.transform(cp);
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(cp, s);
    }
    return s;
  }

  /** Normalizes text[start, end) of the original string. */
  normalize(text: string, start: number, end: number): Normalized {
    const cap = (end - start) * 2 + 16;
    let oStart = new Int32Array(cap);
    let oEnd = new Int32Array(cap);
    const parts: string[] = [];
    let run = start; // start of a run of unchanged characters not yet copied
    let n = 0;
    const grow = (need: number) => {
      if (n + need <= oStart.length) return;
      const size = Math.max(oStart.length * 2, n + need);
      const a = new Int32Array(size);
      a.set(oStart);
      oStart = a;
      const b = new Int32Array(size);
      b.set(oEnd);
      oEnd = b;
    };
    for (let i = start; i < end; ) {
      const cp = text.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      const out = this.map(cp);
      if (out.length === w && (w === 1 ? out.charCodeAt(0) === cp : out === text.slice(i, i + 2))) {
        grow(w);
        for (let k = 0; k < w; k++) {
          oStart[n] = i;
          oEnd[n++] = i + w;
        }
      } else {
        if (run < i) parts.push(text.slice(run, i));
        if (out.length) parts.push(out);
        grow(out.length);
        for (let k = 0; k < out.length; k++) {
          oStart[n] = i;
          oEnd[n++] = i + w;
        }
        run = i + w;
      }
      i += w;
    }
    if (run < end) parts.push(text.slice(run, end));
    return { text: parts.join(''), origStart: oStart, origEnd: oEnd, base: start };
  }
}
