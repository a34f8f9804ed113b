/**
 * Pre-tokenizers split normalized text into words; models then split words into tokens.
 * Each pushes [start, end) ranges (UTF-16 units of the normalized text) onto `out`.
 */
import { isPunctuation, isWhitespace, WS_CLASS } from './unicode.js';

/**
 * 'digitsByteLevel' is HF's Sequence[Digits(individual_digits), ByteLevel] (SmolLM2, Llama 3-style files):
 * every digit is a word of its own, and the text between digits goes through ByteLevel.
 */
export type PreTokenizerKind = 'bert' | 'byteLevel' | 'digitsByteLevel' | 'whitespaceSplit' | 'none';

/** Cached per code point: 0 = word char, 1 = whitespace, 2 = punctuation. */
const classCache = new Map<number, number>();
const asciiClass = new Uint8Array(128).map((_, c) => (isWhitespace(c) ? 1 : isPunctuation(c) ? 2 : 0));

function charClass(cp: number): number {
  if (cp < 128) return asciiClass[cp]!;
  let k = classCache.get(cp);
  if (k === undefined) {
    k = isWhitespace(cp) ? 1 : isPunctuation(cp) ? 2 : 0;
    classCache.set(cp, k);
  }
  return k;
}

/** HF BertPreTokenizer: split on whitespace (dropped) and isolate every punctuation character. */
export function bertSplit(text: string, out: number[]): void {
  let wordStart = -1;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    const k = charClass(cp);
    if (k === 0) {
      if (wordStart < 0) wordStart = i;
    } else {
      if (wordStart >= 0) out.push(wordStart, i);
      wordStart = -1;
      if (k === 2) out.push(i, i + w);
    }
    i += w;
  }
  if (wordStart >= 0) out.push(wordStart, text.length);
}

/** HF WhitespaceSplit: words are maximal runs of non-whitespace. */
export function whitespaceSplit(text: string, out: number[]): void {
  let wordStart = -1;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    if (charClass(cp) === 1) {
      if (wordStart >= 0) out.push(wordStart, i);
      wordStart = -1;
    } else if (wordStart < 0) wordStart = i;
    i += w;
  }
  if (wordStart >= 0) out.push(wordStart, text.length);
}

/** GPT-2's pattern, with \s spelled as onig's White_Space so it matches HF (Rust) exactly. */
export const GPT2_PATTERN = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS_CLASS}\\p{L}\\p{N}]+|[${WS_CLASS}]+(?![^${WS_CLASS}])|[${WS_CLASS}]+`;
const gpt2Re = new RegExp(GPT2_PATTERN, 'gu');

/** HF ByteLevel pre-tokenizer (use_regex: true): GPT-2's pattern; every character lands in some match. */
export function byteLevelSplit(text: string, out: number[]): void {
  gpt2Re.lastIndex = 0;
  for (let m = gpt2Re.exec(text); m !== null; m = gpt2Re.exec(text)) out.push(m.index, m.index + m[0].length);
}

// Rust's char::is_numeric, which HF's Digits pre-tokenizer tests: the Unicode numeric categories.
const numericRe = /\p{N}/u;

/** HF Digits(individual_digits: true) then ByteLevel on the pieces between digits. */
export function digitsByteLevelSplit(text: string, out: number[]): void {
  let start = 0;
  const rest = (end: number) => {
    if (end <= start) return;
    const part: number[] = [];
    byteLevelSplit(text.slice(start, end), part);
    for (const o of part) out.push(o + start);
  };
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    if (numericRe.test(String.fromCodePoint(cp))) {
      rest(i);
      out.push(i, i + w);
      start = i + w;
    }
    i += w;
  }
  rest(text.length);
}

export function preTokenize(kind: PreTokenizerKind, text: string, out: number[]): void {
  if (kind === 'bert') bertSplit(text, out);
  else if (kind === 'byteLevel') byteLevelSplit(text, out);
  else if (kind === 'digitsByteLevel') digitsByteLevelSplit(text, out);
  else if (kind === 'whitespaceSplit') whitespaceSplit(text, out);
  else if (text.length) out.push(0, text.length);
}
