import * as tf from '@tensorflow/tfjs';
import {
  IdOutOfRangeError,
  InvalidArgumentError,
  initBackend,
  SequenceTooLongError,
  ShapeError,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  bertConfig,
} from '../src/index.js';

const small = bertConfig('tiny', {
  vocabSize: 50,
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 64,
  maxPositions: 16,
});
const ids = [
  [2, 10, 11, 12, 3, 0, 0],
  [2, 20, 21, 3, 30, 31, 3],
];
const mask = ids.map((r) => r.map((x) => Number(x !== 0)));

describe.each(['cpu', 'wasm'] as const)('BERT on %s', (backend) => {
  beforeAll(async () => {
    expect((await initBackend(backend)).backend).toBe(backend);
  });

  it('presets have the released sizes (BERT-mini: 11,170,560 parameters with the pooler)', () => {
    expect(bertConfig('base')).toMatchObject({
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      intermediateSize: 3072,
      vocabSize: 30522,
    });
    const mini = new BertModel(bertConfig('mini'));
    expect(mini.numParameters()).toBe(11_170_560);
    mini.dispose();
    expect(() => bertConfig('tiny', { hiddenSize: 30, numHeads: 4 })).toThrow(InvalidArgumentError);
    expect(() => bertConfig('huge' as 'tiny')).toThrow(/unknown BERT preset 'huge'/);
  });

  it('forward: sequence (B,T,D) and pooled (B,D); padding does not affect real positions', () => {
    const model = new BertModel(small).eval();
    tf.tidy(() => {
      const { lastHiddenState, pooledOutput } = model.forward({ inputIds: ids, attentionMask: mask });
      expect(lastHiddenState.shape).toEqual([2, 7, 32]);
      expect(pooledOutput!.shape).toEqual([2, 32]);
      // Other ids under the padding of row 0: its 5 real positions are unchanged.
      const other = [[2, 10, 11, 12, 3, 44, 45], ids[1]!];
      const again = model.forward({ inputIds: other, attentionMask: mask }).lastHiddenState;
      const diff = lastHiddenState
        .slice([0, 0, 0], [1, 5, 32])
        .sub(again.slice([0, 0, 0], [1, 5, 32]))
        .abs()
        .max();
      expect(diff.dataSync()[0]).toBeLessThan(1e-5);
      // Without the mask the padding is attended to, and the outputs change.
      const unmasked = model.forward({ inputIds: other }).lastHiddenState;
      expect(
        lastHiddenState
          .slice([0, 0, 0], [1, 5, 32])
          .sub(unmasked.slice([0, 0, 0], [1, 5, 32]))
          .abs()
          .max()
          .dataSync()[0],
      ).toBeGreaterThan(1e-3);
      // Segment ids matter.
      const typed = model.forward({
        inputIds: ids,
        attentionMask: mask,
        tokenTypeIds: [
          [0, 0, 0, 0, 0, 0, 0],
          [0, 0, 0, 0, 1, 1, 1],
        ],
      });
      expect(typed.lastHiddenState.sub(lastHiddenState).abs().max().dataSync()[0]).toBeGreaterThan(1e-3);
    });
    model.dispose();
  });

  it('bad input → typed errors naming the problem, no tensors leaked', () => {
    const model = new BertForSequenceClassification(small, { numLabels: 3 });
    const before = tf.memory().numTensors;
    const run = (f: () => unknown) => () => tf.tidy(() => void f());
    expect(run(() => model.forward({ inputIds: ids, tokenTypeIds: ids.map((r) => r.map(() => 2)) }))).toThrow(
      IdOutOfRangeError,
    );
    expect(run(() => model.forward({ inputIds: ids, tokenTypeIds: ids.map((r) => r.map(() => 2)) }))).toThrow(
      /token type id 2 .*typeVocabSize is 2/,
    );
    expect(run(() => model.forward({ inputIds: ids, attentionMask: [[1, 1, 1]] }))).toThrow(ShapeError);
    expect(run(() => model.forward({ inputIds: ids, attentionMask: [[1, 1, 1]] }))).toThrow(
      /attentionMask shape \[1,3\] does not match inputIds \[2,7\]/,
    );
    expect(run(() => model.forward({ inputIds: [Array(17).fill(5)] }))).toThrow(SequenceTooLongError);
    expect(run(() => model.forward({ inputIds: [Array(17).fill(5)] }))).toThrow(
      /length 17 exceeds .*maxPositions 16/,
    );
    expect(run(() => model.forward({ inputIds: [[2, 50, 3]] }))).toThrow(/token id 50 .*outside \[0, 50\)/);
    expect(run(() => model.forward({ inputIds: [2, 5, 3] as unknown as number[][] }))).toThrow(ShapeError);
    expect(run(() => model.loss({ inputIds: ids }, tf.tensor1d([0, 3], 'int32')))).toThrow(
      /label 3 at index 1 is outside \[0, 3\)/,
    );
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('token classification: (B,T,C) logits and a loss that skips -100', () => {
    const model = new BertForTokenClassification(small, { numLabels: 4 }).eval();
    tf.tidy(() => {
      const logits = model.forward({ inputIds: ids, attentionMask: mask });
      expect(logits.shape).toEqual([2, 7, 4]);
      const labels = tf.tensor2d(
        ids.map((r) => r.map((x, t) => (x === 0 ? -100 : t % 4))),
        undefined,
        'int32',
      );
      const loss = model.loss({ inputIds: ids, attentionMask: mask }, labels).dataSync()[0]!;
      expect(loss).toBeGreaterThan(0.5);
      expect(loss).toBeLessThan(3);
    });
    model.dispose();
  });
});
