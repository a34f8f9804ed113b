/**
 * Training from a corpus: a WordPiece vocabulary (BERT-style, built by BPE merges with "##" continuation
 * pieces, as HF's WordPieceTrainer does), byte-level BPE merges (GPT-2-style), or a character vocabulary.
 * Special tokens are reserved first, so they get ids 0, 1, 2, …
 */
import type { Merge } from './bpe.js';
import { TokenizerError } from './errors.js';
import { BertNormalizer, type BertNormalizerConfig } from './normalizer.js';
import { bertSplit, byteLevelSplit } from './pretokenizers.js';
import { Tokenizer } from './tokenizer.js';
import { BYTE_TO_CHAR, utf8Encode } from './unicode.js';

export interface TrainOptions {
  /** Target size of the vocabulary, special tokens included. */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged. Default 2. */
  minFrequency?: number;
  specialTokens?: string[];
}

export interface WordPieceTrainOptions extends TrainOptions {
  /** BertNormalizer settings (default uncased); null for none. */
  normalizer?: Partial<BertNormalizerConfig> | null;
}

type Corpus = string | Iterable<string>;

function texts(corpus: Corpus): Iterable<string> {
  if (typeof corpus === 'string') return [corpus];
  if (corpus === null || typeof (corpus as Iterable<string>)[Symbol.iterator] !== 'function') {
    throw new TokenizerError(
      'INVALID_INPUT',
      `training corpus must be a string or an iterable of strings, got ${typeof corpus}`,
    );
  }
  return corpus;
}

function checkOptions(o: TrainOptions, minimum: number): void {
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < minimum) {
    throw new TokenizerError(
      'INVALID_INPUT',
      `vocabSize must be an integer ≥ ${minimum} (special tokens + alphabet), got ${o.vocabSize}`,
    );
  }
  const specials = o.specialTokens ?? [];
  if (new Set(specials).size !== specials.length)
    throw new TokenizerError('DUPLICATE_TOKEN', `specialTokens has duplicates: ${JSON.stringify(specials)}`);
}

/**
 * Learns merges over words (each a list of symbols, with a count) until the vocabulary is full.
 * Pair counts are updated incrementally and the best pair comes from a lazy max-heap, so each merge only
 * touches the words that contain it.
 */
function learnMerges(
  words: Map<string, number>,
  split: (w: string) => string[],
  join: (a: string, b: string) => string,
  alphabet: string[],
  room: number,
  minFrequency: number,
): { tokens: string[]; merges: Merge[] } {
  const ids = new Map<string, number>();
  const syms: string[] = [];
  const idOf = (s: string) => {
    let id = ids.get(s);
    if (id === undefined) {
      id = syms.length;
      ids.set(s, id);
      syms.push(s);
    }
    return id;
  };
  for (const a of alphabet) idOf(a);
  const seqs: number[][] = [];
  const counts: number[] = [];
  for (const [w, c] of words) {
    seqs.push(split(w).map(idOf));
    counts.push(c);
  }
  const K = 0x1000000;
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const heap: [number, number][] = []; // [count, key], max-heap by count then smaller key
  const better = (a: [number, number], b: [number, number]) => a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);
  const push = (e: [number, number]) => {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!better(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = () => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const a = 2 * i + 1;
        const b = a + 1;
        let m = i;
        if (a < heap.length && better(heap[a]!, heap[m]!)) m = a;
        if (b < heap.length && better(heap[b]!, heap[m]!)) m = b;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  const add = (seq: number[], wi: number, sign: number, touched: Set<number>) => {
    for (let i = 0; i + 1 < seq.length; i++) {
      const key = seq[i]! * K + seq[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[wi]!);
      if (sign > 0) {
        let s = where.get(key);
        if (!s) {
          s = new Set();
          where.set(key, s);
        }
        s.add(wi);
      }
      touched.add(key);
    }
  };
  const init = new Set<number>();
  seqs.forEach((s, wi) => {
    add(s, wi, 1, init);
  });
  for (const key of init) push([pairCount.get(key)!, key]);

  const merges: Merge[] = [];
  const tokens: string[] = [];
  while (tokens.length < room && heap.length) {
    const [c, key] = pop();
    if (pairCount.get(key) !== c) continue; // stale
    if (c < minFrequency) break;
    const a = Math.floor(key / K);
    const b = key % K;
    const merged = join(syms[a]!, syms[b]!);
    const isNew = !ids.has(merged);
    const m = idOf(merged);
    merges.push([syms[a]!, syms[b]!]);
    if (isNew) tokens.push(merged);
    const touched = new Set<number>();
    for (const wi of where.get(key) ?? []) {
      const seq = seqs[wi]!;
      add(seq, wi, -1, touched);
      const out: number[] = [];
      for (let i = 0; i < seq.length; i++) {
        if (i + 1 < seq.length && seq[i] === a && seq[i + 1] === b) {
          out.push(m);
          i++;
        } else out.push(seq[i]!);
      }
      seqs[wi] = out;
      add(out, wi, 1, touched);
    }
    where.delete(key);
    pairCount.delete(key);
    touched.delete(key);
    for (const k of touched) {
      const n = pairCount.get(k) ?? 0;
      if (n > 0) push([n, k]);
    }
  }
  return { tokens, merges };
}

/** Trains a BERT-style WordPiece tokenizer (normalizer, pre-tokenizer and template as Tokenizer.wordPiece). */
export function trainWordPiece(corpus: Corpus, opts: WordPieceTrainOptions): Tokenizer {
  const specials = opts.specialTokens ?? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  checkOptions(opts, specials.length + 1);
  const normalizer = opts.normalizer === null ? null : new BertNormalizer(opts.normalizer ?? {});
  const words = new Map<string, number>();
  const spans: number[] = [];
  for (const t of texts(corpus)) {
    if (typeof t !== 'string')
      throw new TokenizerError('INVALID_INPUT', `training corpus items must be strings, got ${typeof t}`);
    const n = normalizer ? normalizer.normalize(t, 0, t.length).text : t;
    spans.length = 0;
    bertSplit(n, spans);
    for (let i = 0; i < spans.length; i += 2) {
      const w = n.slice(spans[i]!, spans[i + 1]!);
      words.set(w, (words.get(w) ?? 0) + 1);
    }
  }
  const split = (w: string) => [...w].map((c, i) => (i === 0 ? c : `##${c}`));
  const alphabet = new Set<string>();
  for (const w of words.keys()) for (const s of split(w)) alphabet.add(s);
  const alpha = [...alphabet].filter((s) => !specials.includes(s)).sort();
  const room = opts.vocabSize - specials.length - alpha.length;
  const { tokens } = learnMerges(
    words,
    split,
    (a, b) => a + (b.startsWith('##') ? b.slice(2) : b),
    alpha,
    Math.max(0, room),
    opts.minFrequency ?? 2,
  );
  const vocab = [...specials, ...alpha, ...tokens.filter((t) => !specials.includes(t))].slice(
    0,
    Math.max(opts.vocabSize, specials.length + 1),
  );
  const unk = specials.includes('[UNK]') ? '[UNK]' : specials[0];
  if (unk === undefined)
    throw new TokenizerError(
      'MISSING_SPECIAL_TOKEN',
      'trainWordPiece needs an unknown token among specialTokens (e.g. "[UNK]")',
    );
  const hasBert = specials.includes('[CLS]') && specials.includes('[SEP]');
  return Tokenizer.wordPiece(vocab, {
    specialTokens: specials,
    unkToken: unk,
    normalizer: opts.normalizer,
    template: hasBert ? undefined : null,
  });
}

/** Trains GPT-2-style byte-level BPE: all 256 byte symbols are always in the vocabulary, so nothing is unknown. */
export function trainByteLevelBPE(corpus: Corpus, opts: TrainOptions): Tokenizer {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  checkOptions(opts, specials.length + 256);
  const words = new Map<string, number>();
  const spans: number[] = [];
  for (const t of texts(corpus)) {
    if (typeof t !== 'string')
      throw new TokenizerError('INVALID_INPUT', `training corpus items must be strings, got ${typeof t}`);
    spans.length = 0;
    byteLevelSplit(t, spans);
    for (let i = 0; i < spans.length; i += 2) {
      const w = utf8Encode(t.slice(spans[i]!, spans[i + 1]!))
        .map((b) => BYTE_TO_CHAR[b]!)
        .join('');
      words.set(w, (words.get(w) ?? 0) + 1);
    }
  }
  const alpha = [...BYTE_TO_CHAR];
  const room = opts.vocabSize - specials.length - alpha.length;
  const { tokens, merges } = learnMerges(
    words,
    (w) => [...w],
    (a, b) => a + b,
    alpha,
    room,
    opts.minFrequency ?? 2,
  );
  const vocab: Record<string, number> = {};
  for (const t of [...specials, ...alpha, ...tokens]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  return Tokenizer.byteLevelBPE(vocab, merges, { specialTokens: specials });
}

/** A character-level tokenizer whose vocabulary is every character of the corpus (sorted), after the specials. */
export function trainChar(
  corpus: Corpus,
  opts: { specialTokens?: string[]; unkToken?: string | null } = {},
): Tokenizer {
  const chars = new Set<string>();
  for (const t of texts(corpus)) {
    if (typeof t !== 'string')
      throw new TokenizerError('INVALID_INPUT', `training corpus items must be strings, got ${typeof t}`);
    for (const c of t) chars.add(c);
  }
  return Tokenizer.char([...chars].sort(), opts);
}
