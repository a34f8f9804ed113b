import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend, Rng, ShapeError } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { MaskedLMMaskGenerator } from '../src/index.js';

const PAD = 0;
const CLS = 2;
const SEP = 3;
const MASK = 4;
const V = 200;

/** Right-padded rows "[CLS] w… [SEP] [PAD]…" of random lengths, with ids ≥ 5 for words. */
function makeBatch(rng: Rng, b: number, t: number) {
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  for (let i = 0; i < b; i++) {
    const len = 3 + rng.int(t - 2); // 3..t tokens incl. specials
    const row = [CLS, ...Array.from({ length: len - 2 }, () => 5 + rng.int(V - 5)), SEP];
    inputIds.push([...row, ...Array(t - len).fill(PAD)]);
    attentionMask.push([...Array(len).fill(1), ...Array(t - len).fill(0)]);
  }
  return { inputIds, attentionMask };
}

describe.each(['cpu', 'wasm'] as const)('MaskedLMMaskGenerator on %s', (backend) => {
  beforeAll(async () => {
    expect((await initBackend(backend)).backend).toBe(backend);
  });

  it('statistics over many batches: 15% of eligible tokens, 80/10/10, never special or pad, labels only there', () => {
    const gen = new MaskedLMMaskGenerator({
      vocabSize: V,
      maskTokenId: MASK,
      unselectableIds: [PAD, CLS, SEP],
      seed: 1,
    });
    const rng = new Rng(7);
    let eligible = 0;
    let chosen = 0;
    let masked = 0;
    let randomised = 0;
    let kept = 0;
    const before = tf.memory().numTensors;
    for (let step = 0; step < 60; step++) {
      const batch = makeBatch(rng, 16, 32);
      const out = gen.generate(batch);
      const ids = out.inputIds.arraySync();
      const labels = out.labels.arraySync();
      const positions = out.positions.arraySync();
      const slotLabels = out.positionLabels.arraySync();
      expect(out.positions.shape).toEqual([16, Math.ceil(0.15 * 32)]);
      tf.dispose(Object.values(out));
      for (let b = 0; b < 16; b++) {
        const orig = batch.inputIds[b]!;
        for (let t = 0; t < 32; t++) {
          const special = [PAD, CLS, SEP].includes(orig[t]!);
          if (!special) eligible++;
          if (labels[b]![t] === -100) {
            expect(ids[b]![t]).toBe(orig[t]); // untouched outside the chosen positions
            continue;
          }
          expect(special).toBe(false);
          expect(labels[b]![t]).toBe(orig[t]);
          chosen++;
          if (ids[b]![t] === MASK) masked++;
          else if (ids[b]![t] === orig[t]) kept++;
          else randomised++;
        }
        // Slot view: exactly the chosen positions, each with its original id.
        const used = slotLabels[b]!.map((l, j) => [l, positions[b]![j]!] as const).filter(
          ([l]) => l !== -100,
        );
        expect(used.length).toBe(labels[b]!.filter((l) => l !== -100).length);
        for (const [l, p] of used) expect(l).toBe(labels[b]![p]);
        expect(new Set(used.map(([, p]) => p)).size).toBe(used.length);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    // ~6.7k eligible tokens: binomial std of the rate ≈ 0.004; of the 80/10/10 split ≈ 0.013 / 0.010.
    expect(chosen / eligible).toBeGreaterThan(0.135);
    expect(chosen / eligible).toBeLessThan(0.165);
    expect(masked / chosen).toBeGreaterThan(0.76);
    expect(masked / chosen).toBeLessThan(0.84);
    // A random token equals the original (or [MASK]) 1% of the time: counted as kept/masked.
    expect(randomised / chosen).toBeGreaterThan(0.07);
    expect(randomised / chosen).toBeLessThan(0.13);
    expect(kept / chosen).toBeGreaterThan(0.07);
    expect(kept / chosen).toBeLessThan(0.13);
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
