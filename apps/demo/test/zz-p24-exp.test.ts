import { initBackend } from '@transformer-kit/core';
import { it } from 'vitest';
import { corpusSentences } from '../src/data.js';
import { loadMobyDick, loadSentences, loadSpeeches } from '../src/data-node.js';
import {
  buildMaskedLM,
  fillMask,
  formatGuesses,
  pretrain,
  pretrainSizes,
  trainVocabulary,
} from '../src/pretrain.js';
import { SentimentExperiment, sentimentSizes } from '../src/sentiment.js';

it('exp', async () => {
  await initBackend('wasm', { quiet: true });
  const P = pretrainSizes(false);
  P.steps = Number(process.env.PSTEPS ?? 300);
  P.lr = Number(process.env.PLR ?? P.lr);
  P.batchSize = Number(process.env.PBATCH ?? P.batchSize);
  P.vocabSize = Number(process.env.PVOCAB ?? P.vocabSize);
  P.fromYear = Number(process.env.PYEAR ?? P.fromYear);
  P.maxLength = Number(process.env.PLEN ?? P.maxLength);
  const S = sentimentSizes(false);
  let t = performance.now();
  const sents = [
    ...loadSpeeches(P.fromYear).flatMap((s) => corpusSentences(s.text)),
    ...corpusSentences(loadMobyDick()),
  ];
  console.log(
    'sentences',
    sents.length,
    'words',
    sents.reduce((a, s) => a + s.split(' ').length, 0),
    'load s',
    (performance.now() - t) / 1000,
  );
  t = performance.now();
  const tok = trainVocabulary(sents, P.vocabSize);
  console.log('vocab', tok.vocabSize, 's', (performance.now() - t) / 1000);
  const mlm = buildMaskedLM(tok, S.model, 0);
  console.log('before', formatGuesses((await fillMask(mlm, tok, 'the [MASK] of the union'))[0]!));
  t = performance.now();
  const losses = await pretrain(mlm, tok, sents, {
    ...P,
    seed: 0,
    onStep: (s, l) => {
      if (s % 50 === 0) console.log(s, l.toFixed(3), ((performance.now() - t) / 1000).toFixed(1));
    },
  });
  console.log('pretrain s', (performance.now() - t) / 1000, losses.length, losses.slice(-5));
  for (const q of [
    'the [MASK] of the union',
    'the food was [MASK]',
    'this movie was [MASK]',
    'i love this [MASK]',
  ])
    console.log(q, formatGuesses((await fillMask(mlm, tok, q))[0]!));
  const sentences = loadSentences();
  for (const seed of [0]) {
    for (const pre of process.env.SCRATCH ? [true, false] : [true]) {
      const exp = await SentimentExperiment.create(sentences, {
        ...S,
        seed,
        head: 'cls',
        tokenizer: tok,
        ...(pre ? { pretrained: mlm } : {}),
      } as never);
      t = performance.now();
      await exp.loop.run();
      console.log(
        'seed',
        seed,
        pre ? 'pretrained' : 'scratch',
        'acc',
        await exp.accuracy(exp.test),
        's',
        (performance.now() - t) / 1000,
      );
      exp.dispose();
    }
  }
}, 3_000_000);
