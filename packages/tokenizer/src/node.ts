/**
 * Node-only helpers (`@transformer-kit/tokenizer/node`): load and save tokenizers by path. The main entry
 * stays free of `fs` so it bundles for browsers.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BPE } from './bpe.js';
import { TokenizerError } from './errors.js';
import {
  mergesToTxt,
  parseMerges,
  parseVocabJson,
  parseVocabTxt,
  vocabToJson,
  vocabToTxt,
} from './loaders.js';
import { type BpeTokenizerOptions, Tokenizer, type WordPieceTokenizerOptions } from './tokenizer.js';
import { parseTokenizerJson, tokenizerToJson } from './tokenizer-json.js';
import { WordPiece } from './wordpiece.js';

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenizerError('INVALID_INPUT', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Writes via a temporary file and a rename, so a crash never leaves a half-written file. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** An HF tokenizer.json from disk. */
export function loadTokenizerJson(path: string): Tokenizer {
  return parseTokenizerJson(read(path), basename(path));
}

/** BERT from vocab.txt. */
export function loadWordPiece(vocabTxtPath: string, opts: WordPieceTokenizerOptions = {}): Tokenizer {
  return Tokenizer.wordPiece(parseVocabTxt(read(vocabTxtPath), basename(vocabTxtPath)), opts);
}

/** GPT-2 from vocab.json + merges.txt (or the original encoder.json + vocab.bpe). */
export function loadByteLevelBPE(
  vocabJsonPath: string,
  mergesPath: string,
  opts: BpeTokenizerOptions = {},
): Tokenizer {
  return Tokenizer.byteLevelBPE(
    parseVocabJson(read(vocabJsonPath), basename(vocabJsonPath)),
    parseMerges(read(mergesPath), basename(mergesPath)),
    opts,
  );
}

/**
 * Saves into a directory: tokenizer.json always, plus vocab.txt (WordPiece) or vocab.json + merges.txt
 * (BPE). Returns the paths written.
 */
export function saveTokenizer(t: Tokenizer, dir: string): string[] {
  const out: [string, string][] = [['tokenizer.json', JSON.stringify(tokenizerToJson(t), null, 2)]];
  if (t.model instanceof WordPiece) out.push(['vocab.txt', vocabToTxt(t.model.vocab)]);
  if (t.model instanceof BPE)
    out.push(['vocab.json', vocabToJson(t.model.vocab)], ['merges.txt', mergesToTxt(t.model.merges)]);
  return out.map(([name, text]) => {
    const p = join(dir, name);
    writeAtomic(p, text);
    return p;
  });
}
