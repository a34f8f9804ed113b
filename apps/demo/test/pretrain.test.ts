import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { corpusSentences, type LabelledSentence } from '../src/data.js';
import { buildMaskedLM, fillMask, pretrain, trainVocabulary } from '../src/pretrain.js';
import { SentimentExperiment, sentimentSizes } from '../src/sentiment.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('corpusSentences', () => {
  it('cuts at sentence ends, drops stage directions and keeps 5 to 40 words', () => {
    const text =
      'Mr. Speaker, thank you. [Applause] The state of the Union is strong tonight. Yes! ' +
      `We will build roads and bridges for every town. Then ${'word '.repeat(45)}end.`;
    expect(corpusSentences(text)).toEqual([
      'The state of the Union is strong tonight.',
      'We will build roads and bridges for every town.',
    ]);
  });
});

describe('masked-LM pretraining glue', () => {
  // A corpus where the blank has one answer: what pretraining must learn to fill in.
  const subjects = ['state', 'union', 'nation', 'people', 'congress', 'army', 'economy', 'budget'];
  const corpus = Array.from({ length: 256 }, (_, i) => {
    const s = subjects[i % subjects.length]!;
    return `the state of the union is strong and the ${s} is ready`;
  });
  const model = sentimentSizes(true).model;

  it('the loss falls, then "the [MASK] of the union" is filled with "state"; nothing leaks', async () => {
    const tokenizer = trainVocabulary(corpus, 60);
    const mlm = buildMaskedLM(tokenizer, model, 0);
    const before = tf.memory().numTensors;
    const steps: number[] = [];
    const losses = await pretrain(mlm, tokenizer, corpus, {
      steps: 120,
      batchSize: 32,
      lr: 1e-2,
      maxLength: 24,
      seed: 0,
      onStep: (s) => {
        steps.push(s);
      },
    });
    expect(losses).toHaveLength(120);
    expect(steps).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)) / 3);
    const [guesses] = await fillMask(mlm, tokenizer, 'the [MASK] of the union is strong');
    expect(guesses).toHaveLength(5);
    expect(guesses![0]!.token).toBe('state');
    expect(guesses![0]!.p).toBeGreaterThan(0.5);
    for (let i = 1; i < 5; i++) expect(guesses![i]!.p).toBeLessThanOrEqual(guesses![i - 1]!.p);
    expect(tf.memory().numTensors).toBe(before);
    mlm.dispose();
  });

  it('fillMask gives one list per [MASK]; no [MASK] is a typed error', async () => {
    const tokenizer = trainVocabulary(corpus, 60);
    const mlm = buildMaskedLM(tokenizer, model, 0);
    expect(await fillMask(mlm, tokenizer, 'the [MASK] of the [MASK]', 3)).toHaveLength(2);
    await expect(fillMask(mlm, tokenizer, 'the state of the union')).rejects.toThrow(InvalidArgumentError);
    await expect(fillMask(mlm, tokenizer, 'the state of the union')).rejects.toThrow(/no \[MASK\]/);
    await expect(
      pretrain(mlm, tokenizer, corpus, { steps: 0, batchSize: 8, lr: 1e-3, maxLength: 24, seed: 0 }),
    ).rejects.toThrow(InvalidArgumentError);
    mlm.dispose();
  });

  it('fine-tuning starts from the pretrained encoder: its weights exactly, a fresh head; another vocabulary is an error', async () => {
    const tokenizer = trainVocabulary(corpus, 60);
    const mlm = buildMaskedLM(tokenizer, model, 3);
    const rows: LabelledSentence[] = corpus.slice(0, 40).map((text, i) => ({
      text,
      label: (i % 2) as 0 | 1,
      source: 'yelp',
    }));
    const sizes = { ...sentimentSizes(true), steps: 20 };
    const split = { train: rows.slice(0, 30), test: rows.slice(30) };
    const exp = await SentimentExperiment.create(rows, {
      ...sizes,
      seed: 0,
      head: 'cls',
      split,
      tokenizer,
      pretrained: mlm,
    });
    const scratch = await SentimentExperiment.create(rows, {
      ...sizes,
      seed: 0,
      head: 'cls',
      split,
      tokenizer,
    });
    const pre = mlm.bert.stateDict();
    for (const [name, p] of Object.entries(exp.model.bert.stateDict())) {
      expect(Array.from(await p.data())).toEqual(Array.from(await pre[name]!.data()));
    }
    const w = 'embeddings.word.weight';
    expect(Array.from(await scratch.model.bert.stateDict()[w]!.data())).not.toEqual(
      Array.from(await pre[w]!.data()),
    );
    const other = trainVocabulary([...corpus, 'completely different words appear here'], 70);
    await expect(
      SentimentExperiment.create(rows, {
        ...sizes,
        seed: 0,
        head: 'cls',
        split,
        tokenizer: other,
        pretrained: mlm,
      }),
    ).rejects.toThrow(/pretrained encoder has \d+ token embeddings but the vocabulary has \d+/);
    exp.dispose();
    scratch.dispose();
    mlm.dispose();
  });
});
