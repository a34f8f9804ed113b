import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend, Rng, ShapeError } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { MaskedLMMaskGenerator } from '../src/index.js';
import { CLS, MASK, makeBatch, PAD, SEP, V } from './bert.suite.js';

describe.each(['cpu', 'wasm'] as const)('MaskedLMMaskGenerator on %s', (backend) => {
  beforeAll(async () => {
    expect((await initBackend(backend)).backend).toBe(backend);
  });

  it('honours the attention mask and the special-tokens mask, and configurable rates', () => {
    const gen = new MaskedLMMaskGenerator({
      vocabSize: V,
      maskTokenId: MASK,
      selectionRate: 0.5,
      maskRate: 1,
      randomRate: 0,
      seed: 3,
    });
    const inputIds = [Array.from({ length: 20 }, (_, i) => 10 + i)];
    // Positions 0-3 special by mask, 16-19 padding by attention mask: 12 eligible → exactly 6 chosen.
    const specialTokensMask = [Array.from({ length: 20 }, (_, i) => (i < 4 ? 1 : 0))];
    const attentionMask = [Array.from({ length: 20 }, (_, i) => (i < 16 ? 1 : 0))];
    for (let i = 0; i < 20; i++) {
      const out = gen.generate({ inputIds, specialTokensMask, attentionMask });
      const labels = out.labels.arraySync()[0]!;
      const ids = out.inputIds.arraySync()[0]!;
      tf.dispose(Object.values(out));
      const chosen = labels.flatMap((l, t) => (l === -100 ? [] : [t]));
      expect(chosen.length).toBe(6);
      for (const t of chosen) {
        expect(t >= 4 && t < 16).toBe(true);
        expect(ids[t]).toBe(MASK);
      }
    }
  });

  it('is reproducible from its seed and fresh for every batch', () => {
    const batch = makeBatch(new Rng(1), 8, 24);
    const run = (seed: number) => {
      const gen = new MaskedLMMaskGenerator({
        vocabSize: V,
        maskTokenId: MASK,
        unselectableIds: [PAD, CLS, SEP],
        seed,
      });
      return [0, 1].map(() => {
        const out = gen.generate(batch);
        const r = [out.inputIds.arraySync(), out.labels.arraySync()];
        tf.dispose(Object.values(out));
        return r;
      });
    };
    const [a1, a2] = run(5);
    const [b1] = run(5);
    const [c1] = run(6);
    expect(b1).toEqual(a1);
    expect(a2).not.toEqual(a1);
    expect(c1).not.toEqual(a1);
  });

  it('bad input: typed errors naming the problem', () => {
    expect(() => new MaskedLMMaskGenerator({ vocabSize: V, maskTokenId: V })).toThrow(InvalidArgumentError);
    expect(
      () => new MaskedLMMaskGenerator({ vocabSize: V, maskTokenId: MASK, maskRate: 0.8, randomRate: 0.3 }),
    ).toThrow(/sum to at most 1/);
    expect(() => new MaskedLMMaskGenerator({ vocabSize: V, maskTokenId: MASK, selectionRate: 0 })).toThrow(
      /selectionRate/,
    );
    const gen = new MaskedLMMaskGenerator({ vocabSize: V, maskTokenId: MASK });
    const before = tf.memory().numTensors;
    expect(() => gen.generate({ inputIds: [[5, 6, 7]], attentionMask: [[1, 1]] })).toThrow(ShapeError);
    expect(() => gen.generate({ inputIds: [[5, 6, 7]], attentionMask: [[1, 1]] })).toThrow(
      /attentionMask shape \[1,2\] does not match inputIds \[1,3\]/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
