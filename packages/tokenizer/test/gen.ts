/** Seeded generator of nasty test strings: every category the issue lists, mixed at random. */
export class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    // xorshift32
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
}

const cp = (c: number) => String.fromCodePoint(c);
const range = (r: Rand, lo: number, hi: number) => cp(lo + r.int(hi - lo + 1));

const WORDS = [
  'the',
  'Hello',
  'WORLD',
  'unaffable',
  'running',
  "don't",
  "it's",
  "we'll",
  "I'M",
  'naïve',
  'café',
  'Straße',
  'São',
  'Ελλάδα',
  'ΣΑΣ',
  'Москва',
  'İstanbul',
  'ǅemal',
  'Ωhm',
  'ﬁne',
  'x²',
  '½',
  '٣٤',
  'Ⅻ',
  'résumé',
  'coöperate',
  'ŉ',
  'ﬃ',
  'K',
];
const PUNCT = [
  '.',
  ',',
  '!',
  '?',
  ';',
  ':',
  '-',
  '—',
  '–',
  '…',
  '"',
  "'",
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '$',
  '%',
  '^',
  '&',
  '*',
  '+',
  '=',
  '<',
  '>',
  '/',
  '\\',
  '|',
  '~',
  '`',
  '@',
  '#',
  '_',
  '¿',
  '¡',
  '«',
  '»',
  '“',
  '”',
  '‘',
  '’',
  '·',
  '§',
  '©',
  '°',
  '€',
  '£',
  '¥',
  '℃',
  '→',
  '∑',
];
const SPACES = [
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\u00a0',
  '\u3000',
  '\u2003',
  '\u2028',
  '\u202f',
  '   \n  ',
  '\v',
  '\f',
];
const CONTROLS = [
  '\u0000',
  '\u0001',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u200e',
  '\ufeff',
  '\u00ad',
  '\ue000',
  '\uf8ff',
  '\u0378',
  '\uffff',
  '\ufffd',
  '\u2060',
  '\u061c',
  '\ufff9',
];
const EMOJI = ['😀', '🥰', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '❤️', '✌🏿', '🧑‍💻', '🫠', '#️⃣', '☕', '🐕‍🦺'];
const SPECIAL = [
  '[CLS]',
  '[SEP]',
  '[MASK]',
  '[PAD]',
  '[UNK]',
  '<|endoftext|>',
  '[mask]',
  '[SEP',
  'MASK]',
  '<|endoftext|',
  '<|endoftext|><|endoftext|>',
  '[[MASK]]',
];

function piece(r: Rand): string {
  switch (r.int(16)) {
    case 0:
    case 1:
      return r.pick(WORDS);
    case 2: {
      // ASCII word
      let w = '';
      const n = 1 + r.int(12);
      for (let i = 0; i < n; i++) w += range(r, r.next() < 0.8 ? 97 : 65, r.next() < 0.8 ? 122 : 90);
      return w;
    }
    case 3:
      return r.pick(PUNCT);
    case 4:
      return r.pick(SPACES);
    case 5: {
      // base letter + combining marks
      let w = range(r, 97, 122);
      const n = 1 + r.int(3);
      for (let i = 0; i < n; i++) w += range(r, 0x300, 0x36f);
      return w;
    }
    case 6:
      // CJK, kana, hangul, CJK ext B (astral)
      return r.pick([
        () => range(r, 0x4e00, 0x9fff),
        () => range(r, 0x3040, 0x30ff),
        () => range(r, 0xac00, 0xd7a3),
        () => range(r, 0x20000, 0x2a6df),
        () => range(r, 0xf900, 0xfaff),
      ])();
    case 7:
      return r.pick(EMOJI);
    case 8:
      return r.pick(CONTROLS);
    case 9:
      return String(r.int(100000)) + (r.next() < 0.3 ? `.${r.int(100)}` : '');
    case 10: {
      // long word around WordPiece's 100-character limit
      const n = r.pick([99, 100, 101, 150, 300]);
      return r
        .pick(['a', 'ab', 'é', '😀', 'x'])
        .repeat(n)
        .slice(0, n * 2);
    }
    case 11:
      return r.pick(SPECIAL);
    case 12: {
      // Latin-1 / Latin Extended / Greek / Cyrillic letters
      return range(
        r,
        r.pick([0xc0, 0x100, 0x370, 0x400, 0x1e00]),
        r.pick([0xff, 0x17f, 0x3ff, 0x4ff, 0x1eff]),
      );
    }
    case 13: {
      // any assigned-looking BMP code point (no surrogates)
      let c = r.int(0xfff0);
      if (c >= 0xd800 && c <= 0xdfff) c -= 0x800;
      return cp(c);
    }
    case 14:
      return r.pick(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "''", " 's"]);
    default:
      // scripts: Arabic, Hebrew, Devanagari, Thai
      return range(r, r.pick([0x600, 0x590, 0x900, 0xe00]), r.pick([0x6ff, 0x5ff, 0x97f, 0xe7f]));
  }
}

/** A random string of 0..maxPieces pieces, sometimes joined with spaces. */
export function randomText(r: Rand, maxPieces = 12): string {
  const n = r.int(maxPieces + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += piece(r) + (r.next() < 0.4 ? ' ' : '');
  return s;
}

/** Random UTF-16 (lone surrogates included). */
export function randomUnits(r: Rand, maxLen = 24): string {
  const n = r.int(maxLen + 1);
  const units: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = r.int(10);
    units.push(
      k < 4 ? 32 + r.int(95) : k < 6 ? r.int(0x800) : k < 8 ? 0xd800 + r.int(0x800) : r.int(0x10000),
    );
  }
  return String.fromCharCode(...units);
}
