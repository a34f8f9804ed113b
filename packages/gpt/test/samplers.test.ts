import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend, Rng } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BeamSearch,
  GPT,
  GreedySampler,
  MinP,
  RandomSampler,
  RepetitionPenalty,
  samplerFrom,
  Temperature,
  TopK,
  TopP,
} from '../src/index.js';

// Distributions worked by hand from logits [2, 1, 0, -1] (softmax: e^2, e^1, e^0, e^-1 over their sum).
const logits = [2, 1, 0, -1];
const e = Math.exp;
const norm = (xs: number[]) => {
  const z = xs.reduce((a, b) => a + b, 0);
  return xs.map((x) => x / z);
};
const close = (a: ArrayLike<number>, b: number[]) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 12);
};

describe('samplers (hand-computed distributions)', () => {
  it('plain softmax, temperature, top-k, top-p, min-p, repetition penalty', () => {
    close(new RandomSampler().distribution(logits), norm([e(2), e(1), e(0), e(-1)]));
    // T = 2: logits halved.
    close(new RandomSampler([new Temperature(2)]).distribution(logits), norm([e(1), e(0.5), e(0), e(-0.5)]));
    // k = 2: the two largest, renormalised.
    close(new RandomSampler([new TopK(2)]).distribution(logits), norm([e(2), e(1), 0, 0]));
    // p = 0.7: probabilities 0.644, 0.237, 0.087, 0.032 → 0.644 < 0.7, 0.881 >= 0.7: keep two.
    close(new RandomSampler([new TopP(0.7)]).distribution(logits), norm([e(2), e(1), 0, 0]));
    // p = 0.6: the first alone reaches it.
    close(new RandomSampler([new TopP(0.6)]).distribution(logits), [1, 0, 0, 0]);
    // min-p 0.2: threshold 0.2 × 0.644 = 0.129: keep 0.644, 0.237.
    close(new RandomSampler([new MinP(0.2)]).distribution(logits), norm([e(2), e(1), 0, 0]));
    // min-p 0.1: threshold 0.064: keeps the third (0.087) too.
    close(new RandomSampler([new MinP(0.1)]).distribution(logits), norm([e(2), e(1), e(0), 0]));
    // Penalty 2 on tokens 0 and 3 (seen): 2 → 1, -1 → -2; token 1 untouched.
    close(
      new RandomSampler([new RepetitionPenalty(2)]).distribution(logits, [0, 3, 3]),
      norm([e(1), e(1), e(0), e(-2)]),
    );
    // Composed in order: temperature 0.5 (logits doubled) then top-k 3.
    close(
      new RandomSampler([new Temperature(0.5), new TopK(3)]).distribution(logits),
      norm([e(4), e(2), e(0), 0]),
    );
  });

  it('draws by the distribution, reproducibly by seed', () => {
    const s = new RandomSampler([new Temperature(2)]);
    const want = s.distribution(logits);
    const rng = new Rng(7);
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[s.pick(logits, [], rng)]!++;
    for (let i = 0; i < 4; i++) expect(Math.abs(counts[i]! / n - want[i]!)).toBeLessThan(0.015);
    const a = Array.from(
      { length: 20 },
      (
        (r) => () =>
          s.pick(logits, [], r)
      )(new Rng(3)),
    );
    const b = Array.from(
      { length: 20 },
      (
        (r) => () =>
          s.pick(logits, [], r)
      )(new Rng(3)),
    );
    expect(a).toEqual(b);
  });

  it('greedy is the argmax after its processors; shorthand options compose the same objects', () => {
    expect(new GreedySampler().pick(logits, [])).toBe(0);
    // Penalty 3 on token 0: 2 → 0.667 < 1, so token 1 wins.
    expect(new GreedySampler([new RepetitionPenalty(3)]).pick(logits, [0])).toBe(1);
    expect(samplerFrom({})).toBeInstanceOf(GreedySampler);
    const s = samplerFrom({ temperature: 2, topK: 3, topP: 0.9, minP: 0.05, repetitionPenalty: 1.2 });
    expect(s).toBeInstanceOf(RandomSampler);
    expect((s as RandomSampler).processors.map((p) => p.constructor.name)).toEqual([
      'RepetitionPenalty',
      'Temperature',
      'TopK',
      'TopP',
      'MinP',
    ]);
    expect(() => samplerFrom({ minP: 2 })).toThrow(InvalidArgumentError);
    expect(() => samplerFrom({ repetitionPenalty: 0 })).toThrow(/repetitionPenalty must be > 0/);
    expect(() => new BeamSearch(0)).toThrow(/numBeams/);
  });
});

describe('generate with sampler objects and beam search', () => {
  let model: GPT;
  beforeAll(async () => {
    await initBackend('cpu');
    model = new GPT('tiny', { seed: 11 });
  });

  it('a sampler object equals its shorthand options', async () => {
    const prompt = [1, 2, 3];
    const a = await model.generate(prompt, { maxNewTokens: 8, temperature: 1.5, topK: 5, seed: 4 });
    const b = await model.generate(prompt, {
      maxNewTokens: 8,
      seed: 4,
      sampler: new RandomSampler([new Temperature(1.5), new TopK(5)]),
    });
    expect(b).toEqual(a);
    const penalised = await model.generate(prompt, { maxNewTokens: 12, repetitionPenalty: 1e6 });
    expect(new Set([...prompt, ...penalised]).size).toBe(prompt.length + penalised.length);
  });

  it('beam search: one beam is greedy; a full-width beam finds the most likely pair of tokens', async () => {
    const prompt = [5, 9];
    const greedy = await model.generate(prompt, { maxNewTokens: 4 });
    expect(await model.generate(prompt, { maxNewTokens: 4, sampler: new BeamSearch(1) })).toEqual(greedy);
    // Exhaustive: log p(a | prompt) + log p(b | prompt, a) over all 64 × 64 pairs.
    const v = model.config.vocabSize;
    const [first, second] = tf.tidy(() => {
      const l1 = tf.logSoftmax(model.forward([prompt], { lastOnly: true }).reshape([v]));
      const seqs = Array.from({ length: v }, (_, a) => [...prompt, a]);
      const l2 = tf.logSoftmax(model.forward(seqs, { lastOnly: true }).reshape([v, v]));
      return [l1.arraySync() as number[], l2.arraySync() as number[][]];
    });
    let best = [-1, -1];
    let bestScore = -Infinity;
    for (let a = 0; a < v; a++)
      for (let b = 0; b < v; b++) {
        const s = first![a]! + second![a]![b]!;
        if (s > bestScore) [bestScore, best] = [s, [a, b]];
      }
    expect(await model.generate(prompt, { maxNewTokens: 2, sampler: new BeamSearch(v) })).toEqual(best);
    const before = tf.memory().numTensors;
    await model.generate(prompt, { maxNewTokens: 3, sampler: new BeamSearch(4), stopIds: [best[0]!] });
    expect(tf.memory().numTensors).toBe(before);
  });
});
