/**
 * Byte-level BPE (GPT-2): a word's UTF-8 bytes become byte-characters, then the lowest-ranked adjacent
 * pair is merged until no pair has a rank. Short words use a plain scan; long ones a heap, so a 1 MB
 * "word" costs O(n log n), not O(n²).
 */
import { TokenizerError } from './errors.js';
import { BYTE_TO_CHAR, utf8Len } from './unicode.js';
import { type Model, type Vocab, WordCache, type WordTokens } from './vocab.js';

export type Merge = [string, string];

const KEY = 0x200000; // pair key = left * KEY + right (ids < 2^21 keep it exact)

export class BPE implements Model {
  readonly kind = 'bpe' as const;
  readonly vocab: Vocab;
  readonly merges: Merge[];
  /** pair key → rank * KEY + merged id */
  private readonly ranks = new Map<number, number>();
  private readonly byteIds: Int32Array;
  private readonly cache = new WordCache();

  constructor(vocab: Vocab, merges: Merge[]) {
    this.vocab = vocab;
    this.merges = merges;
    if (vocab.size >= KEY)
      throw new TokenizerError('UNSUPPORTED', `BPE: vocabularies over ${KEY} tokens are not supported`);
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.tokenToId.get(BYTE_TO_CHAR[b]!) ?? -1;
    merges.forEach(([a, b], rank) => {
      const ia = vocab.tokenToId.get(a);
      const ib = vocab.tokenToId.get(b);
      const im = vocab.tokenToId.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new TokenizerError(
          'MALFORMED_FILE',
          `merges: line ${rank + 1} ("${a} ${b}") uses ${JSON.stringify(missing)}, which is not in the vocabulary`,
        );
      }
      const key = ia * KEY + ib;
      if (!this.ranks.has(key)) this.ranks.set(key, rank * KEY + im);
    });
  }

  tokenizeWord(word: string): WordTokens {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const r = this.split(word);
    this.cache.set(word, r);
    return r;
  }

  private split(word: string): WordTokens {
    // Symbols: one per byte, with the UTF-16 range of the character that byte belongs to.
    const ids: number[] = [];
    const uStart: number[] = [];
    const uEnd: number[] = [];
    for (let i = 0; i < word.length; ) {
      let c = word.charCodeAt(i);
      let w = 1;
      let nb = utf8Len(c);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < word.length) {
        const d = word.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          w = 2;
          nb = 4;
        }
      }
      const bytes =
        nb === 1
          ? [c]
          : nb === 2
            ? [0xc0 | (c >> 6), 0x80 | (c & 63)]
            : nb === 3
              ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)]
              : [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
      for (const b of bytes) {
        const id = this.byteIds[b]!;
        if (id < 0) {
          throw new TokenizerError(
            'MISSING_SPECIAL_TOKEN',
            `BPE: byte 0x${b.toString(16)} (${JSON.stringify(BYTE_TO_CHAR[b])}) is not in the vocabulary`,
          );
        }
        ids.push(id);
        uStart.push(i);
        uEnd.push(i + w);
      }
      i += w;
    }
    const n = ids.length;
    const out = n < 64 ? this.mergeScan(ids, uStart, uEnd) : this.mergeHeap(ids, uStart, uEnd);
    return out;
  }

  /** O(n²) but allocation-free: best for the short words that make up nearly all text. */
  private mergeScan(ids: number[], st: number[], en: number[]): WordTokens {
    const ranks = this.ranks;
    for (;;) {
      let best = -1;
      let bestPos = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = ranks.get(ids[i]! * KEY + ids[i + 1]!);
        if (r !== undefined && (best < 0 || r < best)) {
          best = r;
          bestPos = i;
        }
      }
      if (best < 0) break;
      ids[bestPos] = best % KEY;
      en[bestPos] = en[bestPos + 1]!;
      ids.splice(bestPos + 1, 1);
      st.splice(bestPos + 1, 1);
      en.splice(bestPos + 1, 1);
    }
    const offsets = new Int32Array(ids.length * 2);
    for (let i = 0; i < ids.length; i++) {
      offsets[2 * i] = st[i]!;
      offsets[2 * i + 1] = en[i]!;
    }
    return { ids: Int32Array.from(ids), offsets };
  }

  /** Linked list of symbols + binary heap of (rank, position); stale entries are skipped when popped. */
  private mergeHeap(ids0: number[], st: number[], en: number[]): WordTokens {
    const n = ids0.length;
    const ranks = this.ranks;
    const ids = Int32Array.from(ids0);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // heap entries: rankAndId (rank * KEY + id) with position; ordered by rank, then position.
    const hr: number[] = [];
    const hp: number[] = [];
    const hl: number[] = []; // left id at push time
    const hrid: number[] = []; // right id at push time
    const less = (a: number, b: number) => hr[a]! < hr[b]! || (hr[a] === hr[b] && hp[a]! < hp[b]!);
    const swap = (a: number, b: number) => {
      for (const arr of [hr, hp, hl, hrid]) {
        const t = arr[a]!;
        arr[a] = arr[b]!;
        arr[b] = t;
      }
    };
    const push = (pos: number) => {
      const nx = next[pos]!;
      if (nx < 0) return;
      const r = ranks.get(ids[pos]! * KEY + ids[nx]!);
      if (r === undefined) return;
      hr.push(Math.floor(r / KEY));
      hp.push(pos);
      hl.push(ids[pos]!);
      hrid.push(ids[nx]!);
      let i = hr.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(i, p)) break;
        swap(i, p);
        i = p;
      }
    };
    const pop = () => {
      const last = hr.length - 1;
      swap(0, last);
      const r = hr.pop()!;
      const p = hp.pop()!;
      const l = hl.pop()!;
      const rr = hrid.pop()!;
      let i = 0;
      for (;;) {
        const a = 2 * i + 1;
        const b = a + 1;
        let m = i;
        if (a < hr.length && less(a, m)) m = a;
        if (b < hr.length && less(b, m)) m = b;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
      return [r, p, l, rr] as const;
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (hr.length) {
      const [, pos, l, r] = pop();
      const nx = next[pos]!;
      if (!alive[pos] || nx < 0 || ids[pos] !== l || ids[nx] !== r) continue; // stale
      ids[pos] = ranks.get(l * KEY + r)! % KEY;
      en[pos] = en[nx]!;
      alive[nx] = 0;
      const nn = next[nx]!;
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      if (prev[pos]! >= 0) push(prev[pos]!);
      push(pos);
    }
    const outIds: number[] = [];
    const offs: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) {
      outIds.push(ids[i]!);
      offs.push(st[i]!, en[i]!);
    }
    return { ids: Int32Array.from(outIds), offsets: Int32Array.from(offs) };
  }
}
