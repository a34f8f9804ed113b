/**
 * HF's BertNormalizer with alignment tracking: every UTF-16 unit of the normalized text remembers the
 * original character it came from, so token offsets point into the caller's string.
 * Each step works per character, as HF does (NFD is applied to each character on its own).
 */
import {
  compareCombiningClass,
  hasCombiningClass,
  isAssigned9,
  isChineseChar,
  isControl,
  isNonspacingMark,
  isWhitespace,
} from './unicode.js';

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
  private readonly strip: boolean;
  /** cp → clean_text + chinese chars: the characters NFD then sees. */
  private readonly early = new Map<number, string>();
  /** cp → strip accents + lowercase of one (decomposed) character. */
  private readonly late = new Map<number, string>();
  private readonly ascii: string[] = [];

  constructor(config: Partial<BertNormalizerConfig> = {}) {
    this.config = {
      cleanText: config.cleanText ?? true,
      handleChineseChars: config.handleChineseChars ?? true,
      stripAccents: config.stripAccents ?? null,
      lowercase: config.lowercase ?? true,
    };
    this.strip = this.config.stripAccents ?? this.config.lowercase;
    for (let c = 0; c < 128; c++) {
      const e = this.earlyOf(c);
      this.ascii.push(e === '' ? '' : this.lateOf(e.codePointAt(0)!));
    }
  }

  private earlyOf(cp: number): string {
    let s = this.early.get(cp);
    if (s !== undefined) return s;
    const { cleanText, handleChineseChars } = this.config;
    if (cleanText && (cp === 0 || cp === 0xfffd || isControl(cp))) s = '';
    else if (cleanText && isWhitespace(cp)) s = ' ';
    else {
      s = String.fromCodePoint(cp);
      if (handleChineseChars && isChineseChar(cp)) s = ` ${s} `;
    }
    if (this.early.size > 50_000) this.early.clear();
    this.early.set(cp, s);
    return s;
  }

  private readonly decomposed = new Map<number, string>();
  /** NFD of one character, as far as Unicode 9.0 (HF's tables) knows it. */
  private decompOf(cp: number): string {
    let s = this.decomposed.get(cp);
    if (s === undefined) {
      s = String.fromCodePoint(cp);
      if (isAssigned9(cp)) s = s.normalize('NFD');
      if (this.decomposed.size > 50_000) this.decomposed.clear();
      this.decomposed.set(cp, s);
    }
    return s;
  }

  private lateOf(cp: number): string {
    let s = this.late.get(cp);
    if (s !== undefined) return s;
    s = this.strip && isNonspacingMark(cp) ? '' : String.fromCodePoint(cp);
    // Per character, like Rust's char::to_lowercase (no final-sigma context rule).
    if (this.config.lowercase) s = s.toLowerCase();
    if (this.late.size > 50_000) this.late.clear();
    this.late.set(cp, s);
    return s;
  }

  /**
   * Normalizes text[start, end) of the original string. HF applies NFD to the whole string, so combining
   * marks are canonically reordered across characters and each moved mark keeps the alignment HF gives it
   * (see flush); runs of non-ASCII characters are handled that way, ASCII takes a fast path.
   */
  normalize(text: string, start: number, end: number): Normalized {
    let oStart = new Int32Array((end - start) * 2 + 16);
    let oEnd = new Int32Array(oStart.length);
    let n = 0;
    const parts: string[] = [];
    const ensure = (extra: number) => {
      if (n + extra <= oStart.length) return;
      const size = Math.max(oStart.length * 2, n + extra);
      const a = new Int32Array(size);
      a.set(oStart);
      oStart = a;
      const b = new Int32Array(size);
      b.set(oEnd);
      oEnd = b;
    };
    const emit = (s: string, os: number, oe: number) => {
      ensure(s.length);
      for (let k = 0; k < s.length; k++) {
        oStart[n] = os;
        oEnd[n++] = oe;
      }
    };
    // A pending run of non-ASCII characters. NFD's input units (after clean_text / chinese chars) keep
    // their source ranges; NFD's output code points carry a change flag (0: replaces the next unit,
    // 1: inserted after it) that moves with them when canonical ordering reorders marks, as in HF.
    const unitStart: number[] = [];
    const unitEnd: number[] = [];
    const cps: number[] = [];
    const change: number[] = [];
    const flush = () => {
      if (!cps.length) return;
      const order = this.strip ? canonicalOrder(cps) : null;
      let u = -1;
      for (let k = 0; k < cps.length; k++) {
        const at = order ? order[k]! : k;
        if (change[at] === 0 || u < 0) u++;
        const out = this.lateOf(cps[at]!);
        if (out) {
          parts.push(out);
          const uu = Math.min(u, unitStart.length - 1);
          emit(out, unitStart[uu]!, unitEnd[uu]!);
        }
      }
      unitStart.length = 0;
      unitEnd.length = 0;
      cps.length = 0;
      change.length = 0;
    };
    let same = start; // start of a run of ASCII characters that normalize to themselves, not yet copied
    const copySame = (to: number) => {
      if (same >= to) return;
      parts.push(text.slice(same, to));
      ensure(to - same);
      for (let k = same; k < to; k++) {
        oStart[n] = k;
        oEnd[n++] = k + 1;
      }
      same = to;
    };
    for (let i = start; i < end; ) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        const out = this.ascii[c]!;
        if (out.length === 1 && out.charCodeAt(0) === c && !cps.length) {
          i++;
          continue;
        }
        copySame(i);
        flush();
        if (out) {
          parts.push(out);
          emit(out, i, i + 1);
        }
        i++;
        same = i;
        continue;
      }
      copySame(i);
      const cp = text.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      for (const ch of this.earlyOf(cp)) {
        unitStart.push(i);
        unitEnd.push(i + w);
        const d = this.strip ? this.decompOf(ch.codePointAt(0)!) : ch;
        let first = 0;
        for (const x of d) {
          cps.push(x.codePointAt(0)!);
          change.push(first);
          first = 1;
        }
      }
      i += w;
      same = i;
    }
    flush();
    copySame(end);
    return { text: parts.join(''), origStart: oStart, origEnd: oEnd, base: start };
  }
}

/**
 * NFD's canonical ordering, as HF's Unicode 9.0 tables see it: each maximal run of code points with a
 * combining class > 0 is stably sorted by class. Returns the new order as indices into `cps`.
 */
function canonicalOrder(cps: number[]): number[] {
  const order = cps.map((_, i) => i);
  for (let i = 0; i < cps.length; ) {
    if (!hasCombiningClass(cps[i]!)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < cps.length && hasCombiningClass(cps[j]!)) j++;
    if (j - i > 1) {
      const seg = order
        .slice(i, j)
        .sort((x, y) => compareCombiningClass(String.fromCodePoint(cps[x]!), String.fromCodePoint(cps[y]!))); // stable
      for (let k = i; k < j; k++) order[k] = seg[k - i]!;
    }
    i = j;
  }
  return order;
}
