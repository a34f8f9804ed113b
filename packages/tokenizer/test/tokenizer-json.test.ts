/** tokenizer.json: what we save, HF loads and encodes identically; what HF-style JSON says, we load. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseTokenizerJson, tokenizerToJson, trainWordPiece } from '../src/index.js';
import { loadByteLevelBPE, loadTokenizerJson, loadWordPiece, saveTokenizer } from '../src/node.js';
import {
  bertTokenizerJson,
  bertVocabTxt,
  gpt2EncoderJson,
  gpt2TokenizerJson,
  gpt2VocabBpe,
  hfFromJson,
} from './fixtures.js';
import { Rand, randomText } from './gen.js';
import { bert, gpt2 } from './setup.js';

const r = new Rand(5);
const texts = Array.from({ length: 200 }, () => randomText(r));

describe('tokenizer.json', () => {
  test('HF-format bert-base-uncased and gpt2 JSON load and match the directly built tokenizers', () => {
    const b = parseTokenizerJson(JSON.stringify(bertTokenizerJson(bertVocabTxt())));
    const g = parseTokenizerJson(JSON.stringify(gpt2TokenizerJson(gpt2EncoderJson(), gpt2VocabBpe())));
    const b0 = bert();
    const g0 = gpt2();
    for (const t of texts) {
      expect(b.encode(t, t)).toEqual(b0.encode(t, t));
      expect(g.encode(t)).toEqual(g0.encode(t));
    }
  });

  test('saved JSON is loaded by HF tokenizers and gives the same encodings', async () => {
    for (const ours of [bert(), gpt2(), trainWordPiece(texts, { vocabSize: 300 })]) {
      const hf = hfFromJson(tokenizerToJson(ours));
      for (const t of texts.slice(0, 60)) {
        const e = ours.encode(t, null, { offsetUnit: 'codepoint' });
        const o = await hf.encode(t);
        expect([e.ids, e.typeIds, e.offsets]).toEqual([o.ids, o.typeIds, o.offsets]);
      }
    }
  });

  test('node: save to a folder and load back by path (tokenizer.json, vocab.txt, vocab.json + merges.txt)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-tok-'));
    const b = bert();
    const saved = saveTokenizer(b, dir);
    expect(saved.map((p) => p.slice(dir.length + 1))).toEqual(['tokenizer.json', 'vocab.txt']);
    expect(readFileSync(join(dir, 'vocab.txt'), 'utf8')).toBe(bertVocabTxt());
    const fromJson = loadTokenizerJson(join(dir, 'tokenizer.json'));
    const fromTxt = loadWordPiece(join(dir, 'vocab.txt'));
    const gdir = mkdtempSync(join(tmpdir(), 'tk-tok-'));
    saveTokenizer(gpt2(), gdir);
    const g2 = loadByteLevelBPE(join(gdir, 'vocab.json'), join(gdir, 'merges.txt'));
    const g0 = gpt2();
    for (const t of texts.slice(0, 50)) {
      expect(fromJson.encode(t).ids).toEqual(b.encode(t).ids);
      expect(fromTxt.encode(t).ids).toEqual(b.encode(t).ids);
      expect(g2.encode(t).ids).toEqual(g0.encode(t).ids);
    }
  });
});
