import { BPE } from './bpe.js';
import { CharModel } from './char.js';
import {
  mergesToTxt,
  parseMerges,
  parseVocabJson,
  parseVocabTxt,
  vocabToJson,
  vocabToTxt,
} from './loaders.js';
import { Tokenizer } from './tokenizer.js';
import { parseTokenizerJson, tokenizerToJson } from './tokenizer-json.js';
import { WordPiece } from './wordpiece.js';

/*
 * The files a tokenizer is saved as next to a model's weights (what save_pretrained writes): tokenizer.json
 * (HF's fast format, everything in one file) plus the classic vocabulary files of the model kind
 * (vocab.txt for WordPiece, vocab.json + merges.txt for byte-level BPE, vocab.json for characters).
 */

/** File names a checkpoint folder may hold tokenizer files under, in the order they are tried. */
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt'] as const;

/** The tokenizer's files by name (text). */
export function tokenizerFiles(t: Tokenizer): Record<string, string> {
  const files: Record<string, string> = { 'tokenizer.json': JSON.stringify(tokenizerToJson(t)) };
  const m = t.model;
  if (m instanceof WordPiece) files['vocab.txt'] = vocabToTxt(m.vocab);
  if (m instanceof BPE) {
    files['vocab.json'] = vocabToJson(m.vocab);
    files['merges.txt'] = mergesToTxt(m.merges);
  }
  if (m instanceof CharModel) files['vocab.json'] = vocabToJson(m.vocab);
  return files;
}

/**
 * A tokenizer from the files of a folder: tokenizer.json when present, else vocab.txt (BERT's WordPiece),
 * else vocab.json + merges.txt (GPT-2's byte-level BPE). Undefined when there are none.
 */
export function tokenizerFromFiles(files: Partial<Record<string, string>>): Tokenizer | undefined {
  const json = files['tokenizer.json'];
  if (json !== undefined) return parseTokenizerJson(json);
  const vocabTxt = files['vocab.txt'];
  if (vocabTxt !== undefined) return Tokenizer.wordPiece(parseVocabTxt(vocabTxt));
  const vocabJson = files['vocab.json'];
  const merges = files['merges.txt'];
  if (vocabJson !== undefined && merges !== undefined)
    return Tokenizer.byteLevelBPE(parseVocabJson(vocabJson), parseMerges(merges));
  return undefined;
}
