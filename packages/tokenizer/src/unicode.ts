/**
 * Character classes exactly as HuggingFace tokenizers (Rust) define them, plus the byte-level pieces of
 * GPT-2: the byte↔unicode table and a UTF-8 codec that also round-trips lone surrogates (WTF-8), so
 * decode(encode(s)) === s for every JS string.
 */
import { ASSIGNED_9, MARK_NONSPACING, OTHER, PUNCTUATION } from './unicode8.js';

/** Rust's char::is_whitespace (the Unicode White_Space property). JS's \s differs (it has U+FEFF, lacks U+0085). */
export function isWhitespace(cp: number): boolean {
  if (cp < 0x80) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
  return (
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** The whitespace class spelled out for regexes (onig's \s = White_Space). */
export const WS_CLASS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** Decodes a unicode8.ts table into a flat sorted [start0, end0, start1, end1, ...] array. */
function decodeRanges(table: string): Uint32Array {
  const parts = table.split(',');
  const out = new Uint32Array(parts.length * 2);
  parts.forEach((p, i) => {
    const [a, b] = p.split('-');
    out[2 * i] = Number.parseInt(a!, 36);
    out[2 * i + 1] = Number.parseInt(b ?? a!, 36);
  });
  return out;
}

function inRanges(r: Uint32Array, cp: number): boolean {
  let lo = 0;
  let hi = r.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < r[2 * mid]!) hi = mid - 1;
    else if (cp > r[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

const OTHER_R = decodeRanges(OTHER);
const MARK_R = decodeRanges(MARK_NONSPACING);
const PUNCT_R = decodeRanges(PUNCTUATION);
const ASSIGNED9_R = decodeRanges(ASSIGNED_9);

/** Whether Unicode 9.0 (HF's NFD tables) assigned this code point. */
export function isAssigned9(cp: number): boolean {
  return inRanges(ASSIGNED9_R, cp);
}

const cccCache = new Map<number, boolean>();
/**
 * Canonical combining class > 0 in Unicode 9.0. Classes never change once assigned, so the engine's NFD
 * answers for 9.0's characters: c reorders around U+0334 (class 1) or U+0301 (class 230) iff its class > 0.
 */
export function hasCombiningClass(cp: number): boolean {
  if (cp < 0x300) return false;
  let v = cccCache.get(cp);
  if (v === undefined) {
    const c = String.fromCodePoint(cp);
    v =
      isAssigned9(cp) &&
      (`${c}\u0334`.normalize('NFD') !== `${c}\u0334` || `\u0301${c}`.normalize('NFD') !== `\u0301${c}`);
    cccCache.set(cp, v);
  }
  return v;
}

/** Orders two class > 0 characters by canonical combining class, using the engine's NFD as the oracle. */
export function compareCombiningClass(a: string, b: string): number {
  if (`${a}${b}`.normalize('NFD') !== a + b) return 1;
  if (`${b}${a}`.normalize('NFD') !== b + a) return -1;
  return 0;
}

/** HF BertNormalizer's is_control: Cc, Cf, Co in Unicode 8.0 (unassigned code points are kept), except \t \n \r. */
export function isControl(cp: number): boolean {
  if (cp === 0x09 || cp === 0x0a || cp === 0x0d) return false;
  return inRanges(OTHER_R, cp);
}

/** HF BertPreTokenizer's is_bert_punc: ASCII punctuation/symbols, or P* in Unicode 8.0. */
export function isPunctuation(cp: number): boolean {
  if (cp < 0x80) {
    return (
      (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)
    );
  }
  return inRanges(PUNCT_R, cp);
}

/** Mn in Unicode 8.0: what HF's strip_accents removes after NFD. */
export function isNonspacingMark(cp: number): boolean {
  return inRanges(MARK_R, cp);
}

/** BERT's "CJK Unified Ideographs" blocks: each such character becomes its own word. */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * GPT-2's byte↔unicode table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100…,
 * so every byte sequence is a string of visible characters.
 */
export const BYTE_TO_CHAR: string[] = (() => {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(keep.includes(b) ? b : 256 + n++);
  return table;
})();

export const CHAR_TO_BYTE: Map<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** Appends the UTF-8 bytes of `s` to `out`; a lone surrogate is written as its 3-byte WTF-8 form. */
export function utf8Encode(s: string, out: number[] = []): number[] {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
          continue;
        }
      }
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return out;
}

/** UTF-8 length of the code unit(s) at s[i] (4 for a surrogate pair, counted on its first unit). */
export function utf8Len(c: number): number {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
}

/**
 * Decodes UTF-8 (accepting WTF-8 surrogates, so lone surrogates round-trip). Invalid sequences become
 * U+FFFD per maximal subpart, like TextDecoder and HF's from_utf8_lossy.
 */
export function utf8Decode(bytes: ArrayLike<number>): string {
  let out = '';
  const units: number[] = [];
  const flush = () => {
    // bounded-spread: flushed every 8,192 units, far below the engine's argument limit.
    out += String.fromCharCode.apply(null, units);
    units.length = 0;
  };
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    let need = 0;
    let cp = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b < 0x80) {
      units.push(b);
      i++;
      if (units.length > 8192) flush();
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      if (b === 0xe0) lo = 0xa0;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else {
      units.push(0xfffd);
      i++;
      continue;
    }
    let j = 1;
    for (; j <= need; j++) {
      const c = i + j < n ? bytes[i + j]! : -1;
      const l = j === 1 ? lo : 0x80;
      const h = j === 1 ? hi : 0xbf;
      if (c < l || c > h) break;
      cp = (cp << 6) | (c & 63);
    }
    if (j <= need) {
      units.push(0xfffd);
      i += j;
      continue;
    }
    i += need + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else units.push(cp);
    if (units.length > 8192) flush();
  }
  flush();
  return out;
}
