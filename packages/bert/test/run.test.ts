import * as tf from '@tensorflow/tfjs';
import { IdOutOfRangeError, initBackend } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BertForMaskedLM,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  bertConfig,
} from '../src/index.js';

// run(inputs, { returnAttention, returnHiddenStates }): the same options and names as GPT's run.

const small = {
  vocabSize: 50,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 32,
  maxPositions: 16,
};
const ids = [
  [2, 10, 11, 3, 0],
  [2, 12, 13, 14, 3],
];
const mask = [
  [1, 1, 1, 1, 0],
  [1, 1, 1, 1, 1],
];

beforeAll(async () => {
  await initBackend('cpu');
});

describe('BERT run', () => {
  it('returns every layer attention (B,H,T,T) and numLayers + 1 hidden states, the last = lastHiddenState', () => {
    const model = new BertModel(small).eval();
    tf.tidy(() => {
      const plain = model.forward({ inputIds: ids, attentionMask: mask });
      const r = model.run(
        { inputIds: ids, attentionMask: mask },
        { returnAttention: true, returnHiddenStates: true },
      );
      expect(r.attentions!.map((a) => a.shape)).toEqual([
        [2, 2, 5, 5],
        [2, 2, 5, 5],
      ]);
      expect(r.hiddenStates!.map((h) => h.shape)).toEqual([
        [2, 5, 16],
        [2, 5, 16],
        [2, 5, 16],
      ]);
      expect(r.hiddenStates![2]).toBe(r.lastHiddenState);
      expect(r.lastHiddenState.sub(plain.lastHiddenState).abs().max().dataSync()[0]).toBe(0);
      // Rows are distributions; padding (position 4 of row 0) gets no attention.
      const sums = r.attentions![0]!.sum(-1).dataSync();
      for (const s of sums) expect(s).toBeCloseTo(1, 5);
      expect(r.attentions![1]!.slice([0, 0, 0, 4], [1, 2, 5, 1]).max().dataSync()[0]).toBeLessThan(1e-6);
      expect(plain.attentions).toBeUndefined();
      expect(plain.hiddenStates).toBeUndefined();
    });
    model.dispose();
  });

  it('task models give logits with the backbone maps; forward = run().logits', () => {
    const models = [
      new BertForSequenceClassification(small, { numLabels: 3 }),
      new BertForSequenceClassification(small, { numLabels: 3, pooling: 'mean' }),
      new BertForTokenClassification(small, { numLabels: 4 }),
      new BertForMaskedLM(small),
    ];
    for (const m of models) {
      m.eval();
      tf.tidy(() => {
        const r = m.run({ inputIds: ids, attentionMask: mask }, { returnAttention: true });
        expect(r.attentions).toHaveLength(2);
        expect(r.lastHiddenState.shape).toEqual([2, 5, 16]);
        const f = m.forward({ inputIds: ids, attentionMask: mask });
        expect(f.shape).toEqual(r.logits.shape);
        expect(f.sub(r.logits).abs().max().dataSync()[0]).toBe(0);
      });
      m.dispose();
    }
  });

  it('mean pooling ignores padding and has no pooler', () => {
    const m = new BertForSequenceClassification(small, { numLabels: 2, pooling: 'mean' }).eval();
    expect(m.namedParameters().some(([n]) => n.includes('pooler'))).toBe(false);
    tf.tidy(() => {
      const a = m.forward({ inputIds: [ids[0]!], attentionMask: [mask[0]!] });
      const b = m.forward({ inputIds: [[2, 10, 11, 3, 44]], attentionMask: [mask[0]!] });
      expect(a.sub(b).abs().max().dataSync()[0]).toBeLessThan(1e-5);
    });
    m.dispose();
  });

  it('one rule for configs (partial filled from tiny, as GPT) and ids (integers in range, as GPT)', () => {
    const m = new BertModel({ hiddenSize: 16, numHeads: 2, numLayers: 1, intermediateSize: 32 });
    expect(m.config).toEqual({
      ...bertConfig('tiny'),
      hiddenSize: 16,
      numHeads: 2,
      numLayers: 1,
      intermediateSize: 32,
    });
    expect(() => tf.tidy(() => m.forward({ inputIds: [[1.5, 2]] }).lastHiddenState)).toThrow(
      IdOutOfRangeError,
    );
    expect(() => tf.tidy(() => m.forward({ inputIds: [[1, 40000]] }).lastHiddenState)).toThrow(
      /token id 40000 at index 1 is outside \[0, 30522\)/,
    );
    m.dispose();
  });
});
