import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, initBackend, Rng, safetensorsToTensors, Trainer } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BertForMaskedLM,
  BertForSequenceClassification,
  bertConfig,
  evaluateClassifier,
  fineTune,
  loadBertForMaskedLM,
  loadBertForSequenceClassification,
  loadBertModel,
  MaskedLMMaskGenerator,
} from '../src/index.js';
import { BagOfWords, makeExamples, VOCAB } from './task.js';

/*
 * The BERT checks every backend runs: PyTorch parity, the MLM mask statistics, fine-tuning that learns, and
 * 200 MLM steps without leaks. suite.test.ts calls this on cpu and wasm, bert.webgpu.test.ts on webgpu;
 * results are read back asynchronously only (TF.js's WebGPU backend has no sync read in Node).
 */

// Fixtures from scripts/make_fixtures.py (plain PyTorch BERT, HF names): see that file for the batch.
const fixtures = join(import.meta.dirname, 'fixtures');
const TOL = 1e-4;

const maxDiff = async (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  const d = tf.tidy(() => a.sub(b).abs().max());
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
};

/** The mask tests' vocabulary: special ids, then words from 5 up to V (masking.test.ts uses them too). */
export const PAD = 0;
export const CLS = 2;
export const SEP = 3;
export const MASK = 4;
export const V = 200;

/** Right-padded rows "[CLS] w… [SEP] [PAD]…" of random lengths, with ids ≥ 5 for words. */
export function makeBatch(rng: Rng, b: number, t: number) {
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

export function defineBertSuite(backend: BackendName): void {
  describe(`BERT parity with PyTorch on ${backend}`, () => {
    let expected: Record<string, tf.Tensor>;
    let inputs: { inputIds: tf.Tensor; tokenTypeIds: tf.Tensor; attentionMask: tf.Tensor };

    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
      expected = safetensorsToTensors(readFileSync(join(fixtures, 'expected.safetensors')));
      inputs = {
        inputIds: expected.input_ids!,
        tokenTypeIds: expected.token_type_ids!,
        attentionMask: expected.attention_mask!,
      };
    });
    afterAll(() => {
      tf.dispose(Object.values(expected));
    });

    it('the fixture batch is right-padded and includes a sentence pair', async () => {
      const mask = (await expected.attention_mask!.array()) as number[][];
      expect(mask.map((r) => r.reduce((a, b) => a + b, 0))).toEqual([5, 8, 10]);
      expect(((await expected.token_type_ids!.array()) as number[][])[1]).toEqual([
        0, 0, 0, 0, 1, 1, 1, 1, 0, 0,
      ]);
    });

    it('BertModel: last hidden state and pooled output match PyTorch within 1e-4', async () => {
      const model = (await loadBertModel(join(fixtures, 'bert-model'))).eval();
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => {
        const { lastHiddenState, pooledOutput } = model.forward(inputs);
        return [lastHiddenState, pooledOutput!];
      });
      expect(await maxDiff(out[0]!, expected.last_hidden_state!)).toBeLessThan(TOL);
      expect(await maxDiff(out[1]!, expected.pooler_output!)).toBeLessThan(TOL);
      tf.dispose(out);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });

    it('BertForMaskedLM: MLM logits match (all positions, and gathered positions)', async () => {
      const model = (await loadBertForMaskedLM(join(fixtures, 'bert-mlm'))).eval();
      const out = tf.tidy(() => {
        const logits = model.forward(inputs);
        const positions = tf.tensor2d(
          [
            [1, 2],
            [5, 0],
            [3, 9],
          ],
          [3, 2],
          'int32',
        );
        const gathered = model.forward(inputs, positions);
        const want = tf.stack(
          [0, 1, 2].map((b) => tf.gather(expected.mlm_logits!.gather(b), positions.gather(b))),
        );
        return [logits, gathered, want];
      });
      expect(await maxDiff(out[0]!, expected.mlm_logits!)).toBeLessThan(TOL);
      expect(await maxDiff(out[1]!, out[2]!)).toBeLessThan(TOL);
      tf.dispose(out);
      model.dispose();
    });

    it('BertForSequenceClassification: logits match; id2label read from config.json', async () => {
      const model = (await loadBertForSequenceClassification(join(fixtures, 'bert-cls'))).eval();
      expect(model.id2label).toEqual({ 0: 'negative', 1: 'neutral', 2: 'positive' });
      const logits = tf.tidy(() => model.forward(inputs));
      expect(await maxDiff(logits, expected.cls_logits!)).toBeLessThan(TOL);
      logits.dispose();
      model.dispose();
    });
  });

  describe(`BERT training on ${backend}`, () => {
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
    });

    it('mask statistics over many batches: 15% of eligible tokens, 80/10/10, never special or pad, labels only there', async () => {
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
        const ids = (await out.inputIds.array()) as number[][];
        const labels = (await out.labels.array()) as number[][];
        const positions = (await out.positions.array()) as number[][];
        const slotLabels = (await out.positionLabels.array()) as number[][];
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

    // The task (see task.ts): negation and word order decide the label; a bag of words tops out near 67%.
    it('[CLS] fine-tuning beats a mean-pool bag of words where negation and order matter', async () => {
      const tokenizer = Tokenizer.wordPiece(VOCAB);
      const rng = new Rng(42);
      const train = makeExamples(1200, rng);
      const test = makeExamples(500, rng);
      expect(tokenizer.encode('the plot was not bad').tokens).toEqual([
        '[CLS]',
        'the',
        'plot',
        'was',
        'not',
        'bad',
        '[SEP]',
      ]);

      const config = bertConfig('tiny', {
        vocabSize: VOCAB.length,
        hiddenSize: 32,
        numLayers: 2,
        numHeads: 4,
        intermediateSize: 64,
        maxPositions: 32,
        hiddenDropout: 0,
        attentionDropout: 0,
      });
      const bert = new BertForSequenceClassification(config, {
        numLabels: 2,
        id2label: { 0: 'negative', 1: 'positive' },
        seed: 1,
      });
      const bow = new BagOfWords(VOCAB.length, 32, 2);
      const recipe = { epochs: 4, batchSize: 32, lr: 2e-3, warmupRatio: 0.1, weightDecay: 0.01, seed: 5 };

      const before = tf.memory().numTensors;
      const bertLosses = await fineTune(bert, tokenizer, train, recipe);
      const bowLosses = await fineTune(bow, tokenizer, train, recipe);
      expect(tf.memory().numTensors).toBe(before);
      const bertEval = await evaluateClassifier(bert, tokenizer, test);
      const bowEval = await evaluateClassifier(bow, tokenizer, test);
      console.log(
        `[${backend}] held-out accuracy: BERT [CLS] ${bertEval.accuracy.toFixed(3)} vs mean-pool bag of words ${bowEval.accuracy.toFixed(3)}`,
      );

      // Measured (wasm and cpu, same numbers): BERT [CLS] 0.946, mean-pool bag of words 0.642 (its ceiling is ≈ 0.67).
      expect(bertLosses.at(-1)!).toBeLessThan(bertLosses[0]!);
      expect(bertEval.accuracy).toBeGreaterThan(0.9);
      expect(bowEval.accuracy).toBeLessThan(0.75);
      expect(bowEval.accuracy).toBeGreaterThan(0.55); // it does learn what it can: the sentences without "not"
      expect(bertEval.accuracy - bowEval.accuracy).toBeGreaterThan(0.15);
      expect(bowLosses.length).toBe(bertLosses.length);
      bert.dispose();
      bow.dispose();
    }, 600_000);

    it('200 MLM steps with fresh masks: loss falls and numTensors stays flat', async () => {
      const config = bertConfig('tiny', {
        vocabSize: 40,
        hiddenSize: 32,
        numLayers: 2,
        numHeads: 2,
        intermediateSize: 64,
        maxPositions: 16,
      });
      const model = new BertForMaskedLM(config, { seed: 1 });
      const gen = new MaskedLMMaskGenerator({
        vocabSize: 40,
        maskTokenId: 4,
        unselectableIds: [0, 2, 3],
        selectionRate: 0.25,
        seed: 2,
      });
      const trainer = new Trainer(model, { lr: 3e-3, warmupSteps: 10, totalSteps: 200, clipNorm: 1 });
      // A learnable corpus: rows count upward from a random start, so a masked token follows from its neighbours.
      const rng = new Rng(9);
      const batch = () => {
        const inputIds = Array.from({ length: 8 }, () => {
          const start = 5 + rng.int(20);
          return [2, ...Array.from({ length: 12 }, (_, i) => start + i), 3];
        });
        return { inputIds };
      };
      const losses: number[] = [];
      let after1 = 0;
      for (let step = 0; step < 200; step++) {
        const b = batch();
        const masked = gen.generate(b);
        const { loss } = await trainer.step(() => model.loss(masked));
        tf.dispose(Object.values(masked));
        losses.push(loss);
        if (step === 0) after1 = tf.memory().numTensors;
        else expect(tf.memory().numTensors).toBe(after1);
      }
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      // Measured: ≈ 3.7 (ln 40) over the first 10 steps, ≈ 2.2 over the last 20.
      expect(mean(losses.slice(0, 10))).toBeGreaterThan(3.3);
      expect(mean(losses.slice(-20))).toBeLessThan(0.7 * mean(losses.slice(0, 10)));
      trainer.dispose();
      model.dispose();
    }, 600_000);
  });
}
