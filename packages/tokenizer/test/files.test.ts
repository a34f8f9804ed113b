import { describe, expect, it } from 'vitest';
import {
  tokenizerFiles,
  tokenizerFromFiles,
  trainByteLevelBPE,
  trainChar,
  trainWordPiece,
} from '../src/index.js';

const corpus = ['the whale was white', 'call me ishmael', 'the sea, the sea!', 'Ahab hunts the whale'];
const text = 'the white whale hunts Ahab';

describe('tokenizer files (saved next to the weights)', () => {
  it.each([
    ['wordpiece', () => trainWordPiece(corpus, { vocabSize: 60 }), ['tokenizer.json', 'vocab.txt']],
    [
      'byte-level BPE',
      () => trainByteLevelBPE(corpus, { vocabSize: 280 }),
      ['tokenizer.json', 'vocab.json', 'merges.txt'],
    ],
    ['char', () => trainChar(corpus.join(' ') + text), ['tokenizer.json', 'vocab.json']],
  ] as const)('%s round-trips through its files', (_, make, names) => {
    const t = make();
    const files = tokenizerFiles(t);
    expect(Object.keys(files).sort()).toEqual([...names].sort());
    const back = tokenizerFromFiles(files)!;
    expect(back.encode(text).ids).toEqual(t.encode(text).ids);
    expect(back.decode(back.encode(text).ids)).toEqual(t.decode(t.encode(text).ids));
  });

  it('falls back to the classic vocabulary files; none is undefined', () => {
    const wp = trainWordPiece(corpus, { vocabSize: 60 });
    const { 'vocab.txt': vocab } = tokenizerFiles(wp);
    expect(tokenizerFromFiles({ 'vocab.txt': vocab! })!.encode(text).ids).toEqual(wp.encode(text).ids);
    const bpe = trainByteLevelBPE(corpus, { vocabSize: 280 });
    const f = tokenizerFiles(bpe);
    expect(
      tokenizerFromFiles({ 'vocab.json': f['vocab.json']!, 'merges.txt': f['merges.txt']! })!.encode(text)
        .ids,
    ).toEqual(bpe.encode(text).ids);
    expect(tokenizerFromFiles({})).toBeUndefined();
  });
});
