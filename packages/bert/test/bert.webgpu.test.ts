import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, Rng, safetensorsToTensors, Trainer } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { beforeAll, describe, expect, it } from 'vitest';
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

// The WebGPU suite: the same checks as the cpu/wasm files, reading results back asynchronously only
// (a synchronous read is not available to TF.js's WebGPU backend in Node).
const fixtures = join(import.meta.dirname, 'fixtures');
const maxDiff = async (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  const d = tf.tidy(() => a.sub(b).abs().max());
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
};

beforeAll(async () => {
  expect((await initBackend('webgpu')).backend).toBe('webgpu');
});

describe('BERT on webgpu', () => {
  it('parity with PyTorch within 1e-4: hidden state, pooled, MLM and classification logits', async () => {
    const expected = safetensorsToTensors(readFileSync(join(fixtures, 'expected.safetensors')));
    const inputs = {
      inputIds: expected.input_ids!,
      tokenTypeIds: expected.token_type_ids!,
      attentionMask: expected.attention_mask!,
    };
    const base = (await loadBertModel(join(fixtures, 'bert-model'))).eval();
    const mlm = (await loadBertForMaskedLM(join(fixtures, 'bert-mlm'))).eval();
    const cls = (await loadBertForSequenceClassification(join(fixtures, 'bert-cls'))).eval();
    const out = tf.tidy(() => {
      const { lastHiddenState, pooledOutput } = base.forward(inputs);
      return [lastHiddenState, pooledOutput!, mlm.forward(inputs), cls.forward(inputs)];
    });
    const names = ['last_hidden_state', 'pooler_output', 'mlm_logits', 'cls_logits'];
    for (let i = 0; i < 4; i++)
      expect(await maxDiff(out[i]!, expected[names[i]!]!), names[i]).toBeLessThan(1e-4);
    tf.dispose([...out, ...Object.values(expected)]);
    for (const m of [base, mlm, cls]) m.dispose();
  });

  it('mask generator: rates within tolerance, never special or pad', async () => {
    const gen = new MaskedLMMaskGenerator({
      vocabSize: 200,
      maskTokenId: 4,
      unselectableIds: [0, 2, 3],
      seed: 1,
    });
    const rng = new Rng(3);
    let eligible = 0;
    let chosen = 0;
    let masked = 0;
    for (let step = 0; step < 20; step++) {
      const inputIds = Array.from({ length: 16 }, () => {
        const len = 3 + rng.int(30);
        return [2, ...Array.from({ length: len - 2 }, () => 5 + rng.int(195)), 3, ...Array(32 - len).fill(0)];
      });
      const out = gen.generate({ inputIds });
      const [ids, labels] = [await out.inputIds.array(), await out.labels.array()];
      tf.dispose(Object.values(out));
      for (const [b, row] of inputIds.entries()) {
        for (const [t, id] of row.entries()) {
          const special = id === 0 || id === 2 || id === 3;
          if (!special) eligible++;
          if (labels[b]![t] === -100) {
            expect(ids[b]![t]).toBe(id);
            continue;
          }
          expect(special).toBe(false);
          chosen++;
          if (ids[b]![t] === 4) masked++;
        }
      }
    }
    expect(chosen / eligible).toBeGreaterThan(0.13);
    expect(chosen / eligible).toBeLessThan(0.17);
    expect(masked / chosen).toBeGreaterThan(0.74);
    expect(masked / chosen).toBeLessThan(0.86);
  });

  it('[CLS] fine-tuning beats the mean-pool bag of words', async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const rng = new Rng(42);
    const train = makeExamples(1200, rng);
    const test = makeExamples(500, rng);
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
    const bert = new BertForSequenceClassification(config, { numLabels: 2, seed: 1 });
    const bow = new BagOfWords(VOCAB.length, 32, 2);
    const recipe = { epochs: 4, batchSize: 32, lr: 2e-3, seed: 5 };
    await fineTune(bert, tokenizer, train, recipe);
    await fineTune(bow, tokenizer, train, recipe);
    const [a, b] = [
      await evaluateClassifier(bert, tokenizer, test),
      await evaluateClassifier(bow, tokenizer, test),
    ];
    console.log(
      `[webgpu] held-out accuracy: BERT [CLS] ${a.accuracy.toFixed(3)} vs mean-pool bag of words ${b.accuracy.toFixed(3)}`,
    );
    expect(a.accuracy).toBeGreaterThan(0.9);
    expect(b.accuracy).toBeLessThan(0.75);
    bert.dispose();
    bow.dispose();
  });

  it('200 MLM steps: numTensors flat, loss falls', async () => {
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
    const rng = new Rng(9);
    const losses: number[] = [];
    let after1 = 0;
    for (let step = 0; step < 200; step++) {
      const inputIds = Array.from({ length: 8 }, () => {
        const start = 5 + rng.int(20);
        return [2, ...Array.from({ length: 12 }, (_, i) => start + i), 3];
      });
      const masked = gen.generate({ inputIds });
      losses.push((await trainer.step(() => model.loss(masked))).loss);
      tf.dispose(Object.values(masked));
      if (step === 0) after1 = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(after1);
    }
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    expect(mean(losses.slice(-20))).toBeLessThan(0.7 * mean(losses.slice(0, 10)));
    trainer.dispose();
    model.dispose();
  });
});
