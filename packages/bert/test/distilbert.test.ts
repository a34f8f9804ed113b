import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointMismatchError,
  InvalidArgumentError,
  initBackend,
  safetensorsToTensors,
} from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  evaluateClassifier,
  fineTune,
  loadDistilBertForMaskedLM,
  loadDistilBertForSequenceClassification,
  loadDistilBertModel,
  loadDistilBertPretrained,
  saveDistilBertPretrained,
} from '../src/index.js';
import { VOCAB } from './task.js';

// Fixtures from scripts/make_distilbert_fixtures.py (plain PyTorch DistilBERT, HF names).
const fixtures = join(import.meta.dirname, 'fixtures');
const TOL = 1e-4;
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
};

describe.each(['cpu', 'wasm'] as const)('DistilBERT: PyTorch parity and HF folders on %s', (backend) => {
  let expected: Record<string, tf.Tensor>;
  let inputs: { inputIds: tf.Tensor; attentionMask: tf.Tensor };
  let tmp: string;
  beforeAll(async () => {
    await initBackend(backend);
    expected = safetensorsToTensors(readFileSync(join(fixtures, 'expected-distilbert.safetensors')));
    inputs = { inputIds: expected.input_ids!, attentionMask: expected.attention_mask! };
    tmp = await mkdtemp(join(tmpdir(), 'distilbert-'));
  });
  afterAll(async () => {
    tf.dispose(Object.values(expected));
    await rm(tmp, { recursive: true, force: true });
  });

  it('DistilBertModel: last hidden state within 1e-4 (padded rows), no token types', async () => {
    const model = (await loadDistilBertModel(join(fixtures, 'distilbert-model'))).eval();
    expect(model).toBeInstanceOf(DistilBertModel);
    expect(model.embeddings.tokenType).toBeUndefined();
    expect(model.pooler).toBeUndefined();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const masked = tf.tidy(() =>
        model.forward(inputs).lastHiddenState.mul(inputs.attentionMask.expandDims(2)),
      );
      const want = expected.last_hidden_state!.mul(inputs.attentionMask.expandDims(2));
      expect(maxDiff(masked, want)).toBeLessThan(TOL);
      // Padding changes nothing for the real tokens: row 0 alone equals row 0 in the batch.
      const alone = model.forward({ inputIds: inputs.inputIds.slice([0, 0], [1, 5]) }).lastHiddenState;
      expect(maxDiff(alone, expected.last_hidden_state!.slice([0, 0, 0], [1, 5, -1]))).toBeLessThan(TOL);
    });
    expect(tf.memory().numTensors).toBe(before);
    // Token types (what encodeTexts gives every model) are ignored, as DistilBERT has none.
    tf.tidy(() => {
      const types = tf.onesLike(inputs.inputIds);
      const withTypes = model.forward({ ...inputs, tokenTypeIds: types }).lastHiddenState;
      expect(maxDiff(withTypes, model.forward(inputs).lastHiddenState)).toBe(0);
    });
    // The backbone also loads from a task file (distilbert. prefix dropped).
    const fromCls = (await loadDistilBertModel(join(fixtures, 'distilbert-cls'))).eval();
    tf.tidy(() => {
      const a = fromCls.forward(inputs).lastHiddenState.mul(inputs.attentionMask.expandDims(2));
      expect(maxDiff(a, expected.last_hidden_state!.mul(inputs.attentionMask.expandDims(2)))).toBeLessThan(
        TOL,
      );
    });
    model.dispose();
    fromCls.dispose();
  });

  it('DistilBertForMaskedLM and ForSequenceClassification: logits within 1e-4', async () => {
    const mlm = (await loadDistilBertForMaskedLM(join(fixtures, 'distilbert-mlm'))).eval();
    const cls = (await loadDistilBertForSequenceClassification(join(fixtures, 'distilbert-cls'))).eval();
    expect(cls.id2label).toEqual({ 0: 'negative', 1: 'neutral', 2: 'positive' });
    tf.tidy(() => {
      const keep = inputs.attentionMask.expandDims(2);
      expect(maxDiff(mlm.forward(inputs).mul(keep), expected.mlm_logits!.mul(keep))).toBeLessThan(TOL);
      expect(maxDiff(cls.forward(inputs), expected.cls_logits!)).toBeLessThan(TOL);
    });
    mlm.dispose();
    cls.dispose();
  });

  it('a folder with only pytorch_model.bin (torch.save) loads the same model', async () => {
    const cls = (await loadDistilBertForSequenceClassification(join(fixtures, 'distilbert-cls-bin'))).eval();
    tf.tidy(() => {
      expect(maxDiff(cls.forward(inputs), expected.cls_logits!)).toBeLessThan(TOL);
    });
    cls.dispose();
  });

  it('saves an HF folder with the same names and reloads it identically', async () => {
    const cls = await loadDistilBertForSequenceClassification(join(fixtures, 'distilbert-cls'));
    const dir = join(tmp, 'saved');
    await saveDistilBertPretrained(cls, dir);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    const savedNames = Object.keys(safetensorsToTensors(readFileSync(join(dir, 'model.safetensors'))));
    const fixtureTensors = safetensorsToTensors(
      readFileSync(join(fixtures, 'distilbert-cls', 'model.safetensors')),
    );
    expect(savedNames.sort()).toEqual(Object.keys(fixtureTensors).sort());
    tf.dispose(Object.values(fixtureTensors));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'distilbert',
      architectures: ['DistilBertForSequenceClassification'],
      dim: 32,
      n_layers: 2,
      seq_classif_dropout: 0.2,
    });
    const { model } = await loadDistilBertPretrained(dir);
    expect(model).toBeInstanceOf(DistilBertForSequenceClassification);
    tf.tidy(() => {
      expect(
        maxDiff(
          (model as DistilBertForSequenceClassification).eval().forward(inputs),
          cls.eval().forward(inputs),
        ),
      ).toBe(0);
    });
    cls.dispose();
    model.dispose();
  });

  it('mismatches are typed and leak nothing; a missing head needs newHead', async () => {
    const before = tf.memory().numTensors;
    await expect(
      loadDistilBertForSequenceClassification(join(fixtures, 'distilbert-model'), { numLabels: 2 }),
    ).rejects.toThrow(/missing: pre_classifier\.weight.*newHead/);
    await expect(loadDistilBertModel(join(fixtures, 'bert-model'))).rejects.toThrow(CheckpointMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    const warnings: string[] = [];
    const fresh = await loadDistilBertForSequenceClassification(join(fixtures, 'distilbert-mlm'), {
      numLabels: 2,
      newHead: true,
      onWarning: (w) => warnings.push(w),
    });
    expect(warnings[0]).toMatch(/newly initialised: pre_classifier\.weight/);
    fresh.dispose();
    expect(() => new DistilBertForSequenceClassification({}, { numLabels: 0 })).toThrow(InvalidArgumentError);
    expect(tf.memory().numTensors).toBe(before);
  });
});

it('DistilBertForSequenceClassification fine-tunes with fineTune: loss falls, the XOR-like set is learned', async () => {
  await initBackend('cpu');
  const tokenizer = Tokenizer.wordPiece(VOCAB);
  const small = {
    vocabSize: VOCAB.length,
    hiddenSize: 32,
    numHeads: 2,
    intermediateSize: 64,
    maxPositions: 16,
  };
  const model = new DistilBertForSequenceClassification(small, { numLabels: 2 });
  // "not" flips the label: no bag of words separates these four.
  const data = [
    { text: 'the plot was good', label: 1 },
    { text: 'the plot was bad', label: 0 },
    { text: 'the film was not good', label: 0 },
    { text: 'the film was not bad', label: 1 },
  ];
  // Four examples and dropout: some seeds' masks stall it at 3 of 4 (seeds 0-5: four learn it, 0 and 2 stall),
  // so the test names one that learns; the last 20 steps' mean loss, as one step's is noisy.
  const losses = await fineTune(model, tokenizer, data, { epochs: 150, batchSize: 4, lr: 3e-3, seed: 3 });
  expect(losses[0]!).toBeGreaterThan(0.6);
  const tail = losses.slice(-20);
  expect(tail.reduce((a, b) => a + b, 0) / tail.length).toBeLessThan(0.05);
  expect((await evaluateClassifier(model, tokenizer, data)).accuracy).toBe(1);
  model.dispose();
  const mlm = new DistilBertForMaskedLM(small);
  expect(mlm.distilbert.embeddings.word.weight).toBe(mlm.mlm.tiedEmbedding);
  mlm.dispose();
});
