import * as tf from '@tensorflow/tfjs';
import { IdOutOfRangeError, IGNORE_INDEX, initBackend, Rng } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BertForMaskedLM,
  BertForTokenClassification,
  bertConfig,
  encodeWords,
  fineTuneTokenClassifier,
  pretrainMaskedLM,
} from '../src/index.js';
import { makeExamples, VOCAB } from './task.js';

// Masked-LM pretraining and token classification run on the same loop (core's TrainingLoop) as fineTune.

const config = bertConfig('tiny', {
  vocabSize: VOCAB.length,
  hiddenSize: 32,
  numLayers: 1,
  numHeads: 2,
  intermediateSize: 64,
  maxPositions: 32,
  hiddenDropout: 0,
  attentionDropout: 0,
});
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

beforeAll(async () => {
  await initBackend('cpu');
});

describe('BERT tasks on the training loop (cpu)', () => {
  it('encodeWords labels the first subword of each word, IGNORE_INDEX elsewhere', () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const enc = encodeWords(tokenizer, [
      { words: ['the', 'plot'], labels: [1, 2] },
      { words: ['not', 'bad', 'really'], labels: [3, 0, 1] },
    ]);
    expect(enc.labels).toEqual([
      [IGNORE_INDEX, 1, 2, IGNORE_INDEX, IGNORE_INDEX],
      [IGNORE_INDEX, 3, 0, 1, IGNORE_INDEX],
    ]);
    expect(enc.attentionMask[0]).toEqual([1, 1, 1, 1, 0]);
    expect(() => encodeWords(tokenizer, [{ words: ['the'], labels: [] }])).toThrow(/1 words but 0 labels/);
  });

  it('masked-LM pretraining: the loss falls and no tensor leaks', async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const texts = makeExamples(256, new Rng(1)).map((e) => e.text);
    const model = new BertForMaskedLM(config, { seed: 1 });
    const before = tf.memory().numTensors;
    const losses = await pretrainMaskedLM(model, tokenizer, texts, {
      epochs: 8,
      batchSize: 32,
      lr: 3e-3,
      seed: 2,
      unselectableIds: [0, 2, 3],
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(losses).toHaveLength(64);
    expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)) - 0.3);
    model.dispose();
  });

  it('token classification learns to tag "not" and adjectives', async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const tag = (w: string) => (w === 'not' ? 1 : ['good', 'bad', 'great', 'awful'].includes(w) ? 2 : 0);
    const examples = makeExamples(256, new Rng(3)).map((e) => {
      const words = e.text.split(' ');
      return { words, labels: words.map(tag) };
    });
    const model = new BertForTokenClassification(config, { numLabels: 3, seed: 1 });
    const before = tf.memory().numTensors;
    const losses = await fineTuneTokenClassifier(model, tokenizer, examples, {
      epochs: 3,
      batchSize: 32,
      lr: 3e-3,
      seed: 4,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.at(-1)!).toBeLessThan(0.3 * losses[0]!);
    await expect(
      fineTuneTokenClassifier(model, tokenizer, [{ words: ['the'], labels: [5] }]),
    ).rejects.toThrow(IdOutOfRangeError);
    model.dispose();
  });
});
