import { expect, test } from 'vitest';
import { Tokenizer } from '../src/index.js';
import { parseMerges, parseVocabJson, parseVocabTxt } from '../src/loaders.js';
import { bertTokenizerJson, bertVocabTxt, gpt2EncoderJson, gpt2TokenizerJson, gpt2VocabBpe, hfFromJson } from './fixtures.js';

test('quick', async () => {
  const vt = bertVocabTxt();
  const bert = Tokenizer.wordPiece(parseVocabTxt(vt), { });
  const ob = hfFromJson(bertTokenizerJson(vt));
  const gpt = Tokenizer.byteLevelBPE(parseVocabJson(gpt2EncoderJson()), parseMerges(gpt2VocabBpe()));
  const og = hfFromJson(gpt2TokenizerJson(gpt2EncoderJson(), gpt2VocabBpe()));
  for (const [s, p] of [['Hello, World! unaffable', null], ['Héllo 😀x 🥰 中文 İs ΣΑΣ', 'b [MASK] c[SEP]'], ['a\u0000b\u200bc\u00adD\u1fefx ǅ', null], ['$5.00 + 3^2 = 12', ''], ['é 😀x  y ', null], ['👨‍👩‍👧 z <|endoftext|>  ', 'x']] as const) {
    const e = bert.encode(s, p, { offsetUnit: 'codepoint' });
    const o = await ob.encode(s, p);
    expect([e.ids, e.typeIds, e.offsets, e.specialTokensMask]).toEqual([o.ids, o.typeIds, o.offsets, o.specialTokensMask]);
    const g = gpt.encode(s, p, { offsetUnit: 'codepoint' });
    const og2 = await og.encode(s, p);
    expect([g.ids, g.typeIds, g.offsets, g.specialTokensMask]).toEqual([og2.ids, og2.typeIds, og2.offsets, og2.specialTokensMask]);
    expect(gpt.decode(g.ids)).toBe(await og.decode(og2.ids, false));
    expect(bert.decode(e.ids, { skipSpecialTokens: true })).toBe(await ob.decode(o.ids, true));
  }
});
