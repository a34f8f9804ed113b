/** Shared tokenizers for the tests, built once per file from the real vocabularies. */
import { parseMerges, parseVocabJson, parseVocabTxt, Tokenizer } from '../src/index.js';
import { bertVocabTxt, gpt2EncoderJson, gpt2VocabBpe } from './fixtures.js';

export const bert = (): Tokenizer => Tokenizer.wordPiece(parseVocabTxt(bertVocabTxt()));
export const gpt2 = (): Tokenizer =>
  Tokenizer.byteLevelBPE(
    parseVocabJson(gpt2EncoderJson(), 'encoder.json'),
    parseMerges(gpt2VocabBpe(), 'vocab.bpe'),
  );
