/**
 * Node-only helpers (`@transformer-kit/tokenizer/node`): load and save tokenizers by path. The main entry
 * stays free of `fs` so it bundles for browsers.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Writes every file to a temp file in the same folder, fsyncs it, and only then renames them over the old
 * ones (as core's saveCheckpoint): a failure (full disk, read-only folder, a folder in the way) leaves the
 * previous files untouched and no temp file behind, and is a TokenizerError WRITE_FAILED.
 */
function writeAllAtomic(dir: string, files: readonly [string, string][]): string[] {
  const tag = `${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const temps = files.map(([name]) => join(dir, `.${name}.tmp-${tag}`));
  let renamed = 0;
  try {
    files.forEach(([, text], i) => {
      const fd = openSync(temps[i]!, 'w');
      try {
        writeFileSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    });
    for (; renamed < files.length; renamed++) renameSync(temps[renamed]!, join(dir, files[renamed]![0]));
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    const state =
      renamed === 0
        ? 'the previous files are untouched'
        : `${renamed} of ${files.length} files were replaced`;
    throw new TokenizerError(
      'WRITE_FAILED',
      `saving the tokenizer to ${dir} failed: ${(e as Error).message}; ${state}`,
    );
  }
  return files.map(([name]) => join(dir, name));
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
  return writeAllAtomic(dir, out);
}
