import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointMismatchError,
  initBackend,
  loadCheckpoint,
  safetensorsToTensors,
  saveCheckpoint,
} from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BertForSequenceClassification,
  bertConfig,
  loadBertForMaskedLM,
  loadBertForSequenceClassification,
  loadBertModel,
  savePretrained,
} from '../src/index.js';

// Fixtures from scripts/make_fixtures.py (plain PyTorch BERT, HF names): see that file for the batch.
const fixtures = join(import.meta.dirname, 'fixtures');
const TOL = 1e-4;

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
};

describe.each(['cpu', 'wasm'] as const)('PyTorch parity and HF checkpoints on %s', (backend) => {
  let expected: Record<string, tf.Tensor>;
  let inputs: { inputIds: tf.Tensor; tokenTypeIds: tf.Tensor; attentionMask: tf.Tensor };
  let tmp: string;

  beforeAll(async () => {
    await initBackend(backend);
    expected = safetensorsToTensors(readFileSync(join(fixtures, 'expected.safetensors')));
    inputs = {
      inputIds: expected.input_ids!,
      tokenTypeIds: expected.token_type_ids!,
      attentionMask: expected.attention_mask!,
    };
    tmp = await mkdtemp(join(tmpdir(), 'bert-ckpt-'));
  });
  afterAll(async () => {
    tf.dispose(Object.values(expected));
    await rm(tmp, { recursive: true, force: true });
  });

  it('the backbone loads from a task file (bert. prefix stripped, heads ignored)', async () => {
    const model = (await loadBertModel(join(fixtures, 'bert-cls'))).eval();
    tf.tidy(() => {
      expect(maxDiff(model.forward(inputs).lastHiddenState, expected.last_hidden_state!)).toBeLessThan(TOL);
    });
    model.dispose();
  });

  it('save → HF names, [out,in] layout, config; reload gives the same logits', async () => {
    const model = (await loadBertForSequenceClassification(join(fixtures, 'bert-cls'))).eval();
    const dir = join(tmp, 'cls');
    await savePretrained(model, dir);
    const ours = await loadCheckpoint(dir);
    const ref = await loadCheckpoint(join(fixtures, 'bert-cls'));
    expect(Object.keys(ours.tensors).sort()).toEqual(Object.keys(ref.tensors).sort());
    for (const [name, t] of Object.entries(ref.tensors))
      expect(maxDiff(ours.tensors[name]!, t), name).toBe(0);
    expect(ours.config.architectures).toEqual(['BertForSequenceClassification']);
    expect(ours.config.id2label).toEqual({ 0: 'negative', 1: 'neutral', 2: 'positive' });
    expect(ours.config.num_hidden_layers).toBe(2);
    tf.dispose([...Object.values(ours.tensors), ...Object.values(ref.tensors)]);
    const again = (await loadBertForSequenceClassification(dir)).eval();
    tf.tidy(() => {
      expect(maxDiff(again.forward(inputs), expected.cls_logits!)).toBeLessThan(TOL);
    });
    model.dispose();
    again.dispose();
  });

  it('MLM save omits the tied decoder, as HF does; the file reloads', async () => {
    const model = await loadBertForMaskedLM(join(fixtures, 'bert-mlm'));
    const dir = join(tmp, 'mlm');
    await savePretrained(model, dir);
    const ours = await loadCheckpoint(dir);
    expect(Object.keys(ours.tensors).some((k) => k.includes('decoder'))).toBe(false);
    expect(Object.keys(ours.tensors)).toContain('cls.predictions.bias');
    tf.dispose(Object.values(ours.tensors));
    (await loadBertForMaskedLM(dir)).dispose();
    model.dispose();
  });

  it('a missing task head is an error naming it, unless newHead starts it fresh', async () => {
    const err = await loadBertForSequenceClassification(join(fixtures, 'bert-mlm'), { numLabels: 2 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    expect(err.message).toMatch(
      /missing: bert\.pooler\.dense\.weight, bert\.pooler\.dense\.bias, classifier\.weight, classifier\.bias/,
    );
    expect(err.message).toMatch(/newHead: true/);
    const fresh = await loadBertForSequenceClassification(join(fixtures, 'bert-mlm'), {
      numLabels: 2,
      newHead: true,
    });
    expect(fresh.numLabels).toBe(2);
    fresh.dispose();
  });

  it('a checkpoint of another architecture is a typed error naming the first differences', async () => {
    // A GPT-2-shaped file: by config, and (without model_type) by its tensor names.
    const dir = join(tmp, 'gpt2');
    const names = { 'wte.weight': [64, 32], 'wpe.weight': [24, 32], 'h.0.attn.c_attn.weight': [32, 96] };
    const tensors = Object.fromEntries(Object.entries(names).map(([k, s]) => [k, tf.zeros(s)]));
    await saveCheckpoint(dir, {
      config: { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 32 },
      tensors,
    });
    await expect(loadBertModel(dir)).rejects.toThrow(/model_type 'gpt2'.*GPT2LMHeadModel.*not 'bert'/);
    const bertCfg = JSON.parse(readFileSync(join(fixtures, 'bert-model', 'config.json'), 'utf8'));
    delete bertCfg.model_type;
    await saveCheckpoint(dir, { config: bertCfg, tensors });
    const err = await loadBertModel(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    expect(err.message).toMatch(
      /missing: embeddings\.word_embeddings\.weight, embeddings\.position_embeddings\.weight/,
    );
    expect(err.message).toMatch(/unexpected: h\.0\.attn\.c_attn\.weight, wpe\.weight, wte\.weight/);
    tf.dispose(Object.values(tensors));
  });

  it('a shape mismatch names the tensor and both shapes; nothing leaks', async () => {
    const model = new BertForSequenceClassification(
      bertConfig('tiny', {
        vocabSize: 64,
        hiddenSize: 32,
        numLayers: 2,
        numHeads: 4,
        intermediateSize: 64,
        maxPositions: 24,
      }),
      { numLabels: 5 },
    );
    const dir = join(tmp, 'five');
    await savePretrained(model, dir);
    model.dispose();
    const before = tf.memory().numTensors;
    const err = await loadBertForSequenceClassification(dir, { numLabels: 3 }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    expect(err.message).toMatch(/classifier\.weight \[5,32\] vs expected \[3,32\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
