import * as tf from '@tensorflow/tfjs';
import {
  IdOutOfRangeError,
  InvalidArgumentError,
  initBackend,
  NonFiniteLossError,
  SequenceTooLongError,
  ShapeError,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT, GPT_PRESETS, gptConfig, pretrain } from '../src/index.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`GPT on ${backend}`, () => {
    let model: GPT;
    beforeAll(async () => {
      await initBackend(backend);
      model = new GPT('tiny', { seed: 1 });
      model.eval();
    });

    it('maps ids (B,T) to logits (B,T,vocab) with the LM head tied to the word embeddings', () => {
      expect(
        tf.tidy(
          () =>
            model.forward([
              [1, 2, 3],
              [4, 5, 6],
            ]).shape,
        ),
      ).toEqual([2, 3, 64]);
      expect(model.namedParameters().some(([n]) => n.startsWith('lmHead'))).toBe(false);
      expect(model.lmHead.tiedEmbedding).toBe(model.embeddings.word.weight);
      // GPT-2 small's parameter count, from its preset (124M, as published).
      expect(gptConfig('gpt2')).toMatchObject({
        hiddenSize: 768,
        intermediateSize: 3072,
        numLayers: 12,
        numHeads: 12,
        maxPositions: 1024,
        vocabSize: 50257,
      });
      expect(GPT_PRESETS.reference).toMatchObject({
        vocabSize: 65,
        maxPositions: 64,
        numLayers: 4,
        numHeads: 4,
        hiddenSize: 128,
      });
    });

    it('skips targets equal to the ignore index in the loss', () => {
      tf.tidy(() => {
        const ids = [[1, 2, 3, 4]];
        const logits = model.forward(ids);
        const logp = tf.logSoftmax(logits).arraySync() as number[][][];
        // Only positions 0 and 2 count.
        const want = -(logp[0]![0]![7]! + logp[0]![2]![9]!) / 2;
        expect(model.loss(ids, [[7, -100, 9, -100]]).dataSync()[0]).toBeCloseTo(want, 5);
        expect(model.loss(ids, [[7, 0, 9, 0]], { ignoreIndex: 0 }).dataSync()[0]).toBeCloseTo(want, 5);
      });
    });

    it('samples reproducibly by seed; topK = 1 and tiny topP are greedy; stops at stop ids', async () => {
      const prompt = [1, 2, 3];
      const greedy = await model.generate(prompt, { maxNewTokens: 12 });
      const s1 = await model.generate(prompt, { maxNewTokens: 12, temperature: 1.5, seed: 42 });
      const s2 = await model.generate(prompt, {
        maxNewTokens: 12,
        temperature: 1.5,
        seed: 42,
        useCache: false,
      });
      const s3 = await model.generate(prompt, { maxNewTokens: 12, temperature: 1.5, seed: 43 });
      expect(s2).toEqual(s1);
      expect(s3).not.toEqual(s1);
      expect(await model.generate(prompt, { maxNewTokens: 12, topK: 1, temperature: 2, seed: 5 })).toEqual(
        greedy,
      );
      expect(await model.generate(prompt, { maxNewTokens: 12, topP: 1e-6, seed: 5 })).toEqual(greedy);
      const topK3 = await model.generate(prompt, { maxNewTokens: 12, topK: 3, seed: 9 });
      expect(topK3.length).toBe(12);
      const stopAt = s1[4]!;
      const stopped = await model.generate(prompt, {
        maxNewTokens: 12,
        temperature: 1.5,
        seed: 42,
        stopIds: [stopAt],
      });
      expect(stopped).toEqual(s1.slice(0, s1.indexOf(stopAt) + 1));
    });

    it('streams through an async iterator and a callback', async () => {
      const seen: Array<[number, number]> = [];
      const all = await model.generate([5], { maxNewTokens: 6, onToken: (id, i) => seen.push([id, i]) });
      expect(seen).toEqual(all.map((id, i) => [id, i]));
      const streamed: number[] = [];
      for await (const id of model.stream([5], { maxNewTokens: 6 })) streamed.push(id);
      expect(streamed).toEqual(all);
    });

    it('slides the window past the block size only when asked', async () => {
      const long = Array.from({ length: 30 }, (_, i) => i);
      await expect(model.generate(long, { maxNewTokens: 5 })).rejects.toThrow(SequenceTooLongError);
      const cached = await model.generate(long, { maxNewTokens: 5, cropToMaxPositions: true });
      const uncached = await model.generate(long, {
        maxNewTokens: 5,
        cropToMaxPositions: true,
        useCache: false,
      });
      expect(cached).toEqual(uncached);
    });

    it('rejects bad input with typed errors that name the problem', async () => {
      const run = (f: () => unknown) => () => tf.tidy(() => void f());
      expect(run(() => model.forward([[1, 64]]))).toThrow(IdOutOfRangeError);
      expect(run(() => model.forward([[1, 64]]))).toThrow(/token id 64 .*\[0, 64\)/);
      expect(run(() => model.forward([[1, -1]]))).toThrow(IdOutOfRangeError);
      expect(run(() => model.forward([[1, 2.5]]))).toThrow(/2\.5/);
      expect(run(() => model.forward(tf.tensor1d([1, 2], 'int32')))).toThrow(ShapeError);
      expect(run(() => model.forward([Array.from({ length: 33 }, () => 1)]))).toThrow(SequenceTooLongError);
      expect(run(() => model.forward([Array.from({ length: 33 }, () => 1)]))).toThrow(
        /33 tokens.*block size 32/,
      );
      expect(run(() => model.forward([[1, 2], [3]]))).toThrow(ShapeError);
      expect(run(() => model.forward([[1, 2, 3]], { attentionMask: [[1, 1]] }))).toThrow(
        /attentionMask must be \(batch=1, past\+T=3\)/,
      );
      expect(run(() => model.loss([[1, 2, 3]], [[1, 2]]))).toThrow(ShapeError);
      await expect(model.generate([1], { maxNewTokens: 2, topP: 0 })).rejects.toThrow(InvalidArgumentError);
      await expect(model.generate([1], { maxNewTokens: 2, topP: 1.5 })).rejects.toThrow(
        /topP must be in \(0, 1\]/,
      );
      await expect(model.generate([1], { maxNewTokens: 2, temperature: 0 })).rejects.toThrow(
        /temperature must be > 0/,
      );
      await expect(model.generate([1], { maxNewTokens: 2, temperature: -1 })).rejects.toThrow(
        InvalidArgumentError,
      );
      await expect(model.generate([1], { maxNewTokens: 2, topK: 0 })).rejects.toThrow(/topK/);
      await expect(model.generate([1], { maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens/);
      await expect(model.generate([], { maxNewTokens: 1 })).rejects.toThrow(ShapeError);
      await expect(model.generate([99], { maxNewTokens: 1 })).rejects.toThrow(IdOutOfRangeError);
      expect(() => new GPT({ hiddenSize: 10, numHeads: 3 })).toThrow(/not divisible/);
      expect(() => gptConfig('gpt5' as 'gpt2')).toThrow(/unknown GPT preset 'gpt5'/);
    });

    it('raises NonFiniteLossError naming the step and keeps the weights', async () => {
      const m = new GPT('tiny', { seed: 2 });
      const tokens = Array.from({ length: 200 }, (_, i) => (i * 7) % 64);
      await pretrain(m, { train: tokens }, { steps: 2, batchSize: 2, sequenceLength: 8, lr: 1e-3 });
      const before = m.embeddings.position.weight.dataSync().slice();
      m.norm.weight.assign(tf.fill([16], Number.NaN));
      const err = await pretrain(
        m,
        { train: tokens },
        { steps: 2, batchSize: 2, sequenceLength: 8, lr: 1e-3 },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteLossError);
      expect((err as Error).message).toMatch(/step 1\b/);
      expect(m.embeddings.position.weight.dataSync()).toEqual(before);
      m.dispose();
    });
  });
}
