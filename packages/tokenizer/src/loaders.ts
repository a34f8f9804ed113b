/**
 * Reading and writing the files real tokenizers ship: BERT's vocab.txt, GPT-2's vocab.json + merges.txt
 * (also the original encoder.json + vocab.bpe) and HF tokenizer.json. Inputs are strings, so this works in
 * a browser; `@transformer-kit/tokenizer/node` adds reading from paths.
 */
import type { Merge } from './bpe.js';
import { malformed, TokenizerError } from './errors.js';
import { Vocab } from './vocab.js';

/** vocab.txt: one token per line, the line number (from 0) is the id. */
export function parseVocabTxt(text: string, file = 'vocab.txt'): Vocab {
  if (typeof text !== 'string')
    throw malformed(file, null, `expected the file's text as a string, got ${typeof text}`);
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const tokens = lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (!tokens.length) throw malformed(file, null, 'the vocabulary is empty');
  const seen = new Map<string, number>();
  tokens.forEach((t, i) => {
    const prev = seen.get(t);
    if (prev !== undefined) {
      throw new TokenizerError(
        'DUPLICATE_TOKEN',
        `${file}:${i + 1}: duplicate token ${JSON.stringify(t)} (first on line ${prev + 1})`,
      );
    }
    seen.set(t, i);
  });
  return new Vocab(tokens, file);
}

export function vocabToTxt(vocab: Vocab): string {
  return vocab.idToToken.map((t) => `${t}\n`).join('');
}

/** vocab.json / encoder.json: {"token": id, …}. */
export function parseVocabJson(text: string, file = 'vocab.json'): Vocab {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw malformed(file, jsonErrorLine(text, e), `not valid JSON (${(e as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw malformed(file, null, 'expected an object {"token": id}');
  for (const [t, id] of Object.entries(obj as Record<string, unknown>)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      throw malformed(
        file,
        null,
        `token ${JSON.stringify(t)} has id ${JSON.stringify(id)}, not a non-negative integer`,
      );
  }
  return new Vocab(obj as Record<string, number>, file);
}

export function vocabToJson(vocab: Vocab): string {
  const o: Record<string, number> = {};
  vocab.idToToken.forEach((t, i) => {
    o[t] = i;
  });
  return JSON.stringify(o);
}

/** merges.txt / vocab.bpe: an optional "#version" header, then "left right" per line. */
export function parseMerges(text: string, file = 'merges.txt'): Merge[] {
  if (typeof text !== 'string')
    throw malformed(file, null, `expected the file's text as a string, got ${typeof text}`);
  const merges: Merge[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!;
    if (l.endsWith('\r')) l = l.slice(0, -1);
    if ((i === 0 && l.startsWith('#version')) || l === '') continue;
    const parts = l.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1])
      throw malformed(file, i + 1, `expected "left right", got ${JSON.stringify(l)}`);
    merges.push([parts[0], parts[1]]);
  }
  return merges;
}

export function mergesToTxt(merges: Merge[]): string {
  return `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}\n`).join('')}`;
}

function jsonErrorLine(text: string, e: unknown): number | null {
  const m = /position (\d+)/.exec(String((e as Error).message));
  if (!m) return null;
  return text.slice(0, Number(m[1])).split('\n').length;
}
