/**
 * What encode returns, and the steps after the model: truncation, the special-token template
 * ([CLS] A [SEP] B [SEP]) and padding — with HF's exact rules for each.
 */
import { invalidInput, TokenizerError } from './errors.js';

export interface Encoding {
  ids: number[];
  tokens: string[];
  /** Segment (token type) ids: 0 for the first sequence, 1 for the pair, as the template says. */
  typeIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  /** 1 for tokens the template or padding added ([CLS], [SEP], [PAD]); 0 for tokens from the text. */
  specialTokensMask: number[];
  /** [start, end) of each token in its own input string; [0, 0] for added and padding tokens. */
  offsets: [number, number][];
  /** 0 or 1 for tokens from the first or second input; null for added and padding tokens. */
  sequenceIds: (number | null)[];
}

export type TemplatePiece = { special: string; typeId: number } | { sequence: 'A' | 'B'; typeId: number };

/** Where special tokens go around one sequence and around a pair. */
export interface Template {
  single: TemplatePiece[];
  pair: TemplatePiece[];
}

/** RoBERTa's template (HF's RobertaProcessing): <s> A </s>, and <s> A </s></s> B </s> for a pair; all type 0. */
export function robertaTemplate(bos = '<s>', eos = '</s>'): Template {
  return {
    single: [
      { special: bos, typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { special: eos, typeId: 0 },
    ],
    pair: [
      { special: bos, typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { special: eos, typeId: 0 },
      { special: eos, typeId: 0 },
      { sequence: 'B', typeId: 0 },
      { special: eos, typeId: 0 },
    ],
  };
}

/** BERT's template: [CLS] A [SEP] for one sequence, [CLS] A [SEP] B [SEP] (B and its [SEP] typed 1) for a pair. */
export function bertTemplate(cls = '[CLS]', sep = '[SEP]'): Template {
  return {
    single: [
      { special: cls, typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { special: sep, typeId: 0 },
    ],
    pair: [
      { special: cls, typeId: 0 },
      { sequence: 'A', typeId: 0 },
      { special: sep, typeId: 0 },
      { sequence: 'B', typeId: 1 },
      { special: sep, typeId: 1 },
    ],
  };
}

export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

export interface TruncationOptions {
  /** Maximum length of the whole encoding, special tokens included. */
  maxLength: number;
  strategy?: TruncationStrategy;
  /** Which end to cut tokens from. */
  direction?: 'right' | 'left';
}

export interface PaddingOptions {
  /** Pad to this fixed length; omitted: pad to the longest encoding of the batch. */
  length?: number;
  direction?: 'right' | 'left';
  /** The padding token (default "[PAD]"); must be in the vocabulary unless padId is given. */
  padToken?: string;
  padId?: number;
  padTypeId?: number;
  padToMultipleOf?: number;
}

/** One sequence's tokens before the template: ids, tokens and [start, end) offsets. */
export interface Seq {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
}

function cut(seq: Seq, length: number, direction: 'right' | 'left'): void {
  if (seq.ids.length <= length) return;
  const from = direction === 'right' ? 0 : seq.ids.length - length;
  seq.ids = seq.ids.slice(from, from + length);
  seq.tokens = seq.tokens.slice(from, from + length);
  seq.offsets = seq.offsets.slice(from, from + length);
}

/**
 * HF's truncate_encodings, given the budget left after the template's special tokens. (The tokenizer has
 * already stopped each sequence at maxLength tokens in whole words, as HF does; see tokenizeSeq.)
 */
export function truncate(a: Seq, b: Seq | null, maxLength: number, opts: TruncationOptions): void {
  const strategy = opts.strategy ?? 'longest_first';
  const direction = opts.direction ?? 'right';
  if (maxLength === 0) {
    // HF: no room at all empties both sequences, whatever the strategy.
    cut(a, 0, direction);
    if (b) cut(b, 0, direction);
    return;
  }
  const total = a.ids.length + (b ? b.ids.length : 0);
  if (total <= maxLength) return;
  const toRemove = total - maxLength;
  if (strategy === 'longest_first') {
    if (!b) {
      cut(a, maxLength, direction);
      return;
    }
    let n1 = a.ids.length;
    let n2 = b.ids.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > maxLength ? n1 : Math.max(n1, maxLength - n1);
    if (n1 + n2 > maxLength) {
      n1 = Math.floor(maxLength / 2);
      n2 = n1 + (maxLength % 2);
    }
    if (swap) [n1, n2] = [n2, n1];
    cut(a, n1, direction);
    cut(b, n2, direction);
    return;
  }
  const target = strategy === 'only_first' ? a : b;
  if (!target) {
    throw new TokenizerError('INVALID_INPUT', `truncation strategy "only_second" needs a second sequence`);
  }
  if (target.ids.length <= toRemove) {
    throw new TokenizerError(
      'MAX_LENGTH_TOO_SMALL',
      `truncation to maxLength ${opts.maxLength} with "${strategy}" would remove ${toRemove} tokens from a sequence of ${target.ids.length}`,
    );
  }
  cut(target, target.ids.length - toRemove, direction);
}

export function countSpecial(t: Template | null, pair: boolean): number {
  if (!t) return 0;
  return (pair ? t.pair : t.single).filter((p) => 'special' in p).length;
}

/** Lays out A (and B) with the template's special tokens, type ids and masks. */
export function applyTemplate(
  t: Template | null,
  a: Seq,
  b: Seq | null,
  specialId: (token: string) => number,
): Encoding {
  const pieces: TemplatePiece[] = t
    ? b
      ? t.pair
      : t.single
    : b
      ? [
          { sequence: 'A', typeId: 0 },
          { sequence: 'B', typeId: 1 },
        ]
      : [{ sequence: 'A', typeId: 0 }];
  // Preallocate and fill by index: encodings of whole books are hundreds of thousands of tokens.
  let n = 0;
  for (const p of pieces) n += 'special' in p ? 1 : p.sequence === 'A' ? a.ids.length : (b?.ids.length ?? 0);
  const e: Encoding = {
    ids: new Array(n),
    tokens: new Array(n),
    typeIds: new Array(n),
    attentionMask: new Array(n).fill(1),
    specialTokensMask: new Array(n),
    offsets: new Array(n),
    sequenceIds: new Array(n),
  };
  let k = 0;
  for (const p of pieces) {
    if ('special' in p) {
      e.ids[k] = specialId(p.special);
      e.tokens[k] = p.special;
      e.typeIds[k] = p.typeId;
      e.specialTokensMask[k] = 1;
      e.offsets[k] = [0, 0];
      e.sequenceIds[k++] = null;
    } else {
      const s = p.sequence === 'A' ? a : b;
      if (!s) continue;
      const seqId = p.sequence === 'A' ? 0 : 1;
      for (let i = 0; i < s.ids.length; i++, k++) {
        e.ids[k] = s.ids[i]!;
        e.tokens[k] = s.tokens[i]!;
        e.typeIds[k] = p.typeId;
        e.specialTokensMask[k] = 0;
        e.offsets[k] = s.offsets[i]!;
        e.sequenceIds[k] = seqId;
      }
    }
  }
  return e;
}

/**
 * The longest encoding padding may produce: 2^20 tokens, past every model's context, far below what
 * exhausts memory (a tokenizer.json asking for Fixed 1e9 would otherwise abort the process).
 */
export const MAX_PADDED_LENGTH = 2 ** 20;

/** Throws INVALID_INPUT unless `v` is an integer in [min, MAX_PADDED_LENGTH]. */
export function checkLength(what: string, v: unknown, min: number): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_PADDED_LENGTH)
    throw invalidInput(`${what} must be an integer in [${min}, ${MAX_PADDED_LENGTH}], got ${String(v)}`);
}

/** HF's Encoding::pad: adds tokens up to `length` (never truncates). */
export function pad(
  e: Encoding,
  length: number,
  padId: number,
  padToken: string,
  padTypeId: number,
  left: boolean,
): void {
  const n = length - e.ids.length;
  if (n <= 0) return;
  // In place by index: spreading n values into unshift/push overflows the call stack past ~100k.
  const fill = <T>(arr: T[], v: () => T) => {
    const len = arr.length;
    arr.length = len + n;
    if (left) {
      for (let i = len - 1; i >= 0; i--) arr[i + n] = arr[i]!;
      for (let i = 0; i < n; i++) arr[i] = v();
    } else for (let i = len; i < len + n; i++) arr[i] = v();
  };
  fill(e.ids, () => padId);
  fill(e.tokens, () => padToken);
  fill(e.typeIds, () => padTypeId);
  fill(e.attentionMask, () => 0);
  fill(e.specialTokensMask, () => 1);
  fill(e.offsets, () => [0, 0] as [number, number]);
  fill(e.sequenceIds, () => null);
}
