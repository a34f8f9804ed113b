import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SequenceTooLongError, safetensorsToTensors } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadRobertaForMaskedLM,
  loadRobertaForSequenceClassification,
  loadRobertaModel,
  loadRobertaPretrained,
  paddingPositions,
  RobertaForSequenceClassification,
  RobertaModel,
  saveRobertaPretrained,
} from '../src/index.js';

// Fixtures from scripts/make_roberta_fixtures.py (plain PyTorch RoBERTa, HF names, pad id 1).
const fixtures = join(import.meta.dirname, 'fixtures');
const TOL = 1e-4;
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
};

describe.each(['cpu', 'wasm'] as const)('RoBERTa: PyTorch parity and HF folders on %s', (backend) => {
  let expected: Record<string, tf.Tensor>;
  let inputs: { inputIds: tf.Tensor; attentionMask: tf.Tensor };
  let tmp: string;
  beforeAll(async () => {
    await initBackend(backend);
    expected = safetensorsToTensors(readFileSync(join(fixtures, 'expected-roberta.safetensors')));
    inputs = { inputIds: expected.input_ids!, attentionMask: expected.attention_mask! };
    tmp = await mkdtemp(join(tmpdir(), 'roberta-'));
  });
  afterAll(async () => {
    tf.dispose(Object.values(expected));
    await rm(tmp, { recursive: true, force: true });
  });

  it('position ids count the real tokens from padding_idx + 1, as HF', () => {
    tf.tidy(() => {
      const got = paddingPositions(inputs.inputIds as tf.Tensor2D, 1);
      expect(got.arraySync()).toEqual(expected.position_ids!.arraySync());
      expect((got.arraySync() as number[][])[0]).toEqual([2, 3, 4, 5, 6, 1, 1, 1, 1, 1]);
    });
  });

  it('RobertaModel, ForMaskedLM, ForSequenceClassification match PyTorch within 1e-4', async () => {
    const model = (await loadRobertaModel(join(fixtures, 'roberta-model'))).eval();
    const mlm = (await loadRobertaForMaskedLM(join(fixtures, 'roberta-mlm'))).eval();
    const cls = (await loadRobertaForSequenceClassification(join(fixtures, 'roberta-cls'))).eval();
    expect(model).toBeInstanceOf(RobertaModel);
    expect(model.config.layerNormEps).toBe(1e-5);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const keep = inputs.attentionMask.expandDims(2);
      const out = model.forward(inputs);
      expect(maxDiff(out.lastHiddenState.mul(keep), expected.last_hidden_state!.mul(keep))).toBeLessThan(TOL);
      expect(maxDiff(out.pooledOutput!, expected.pooler_output!)).toBeLessThan(TOL);
      expect(maxDiff(mlm.forward(inputs).mul(keep), expected.mlm_logits!.mul(keep))).toBeLessThan(TOL);
      expect(maxDiff(cls.forward(inputs), expected.cls_logits!)).toBeLessThan(TOL);
    });
    expect(tf.memory().numTensors).toBe(before);
    // 24 usable positions of the 26-row table (pad id 1): 25 tokens are too many.
    expect(() => model.forward({ inputIds: [Array(25).fill(5)] })).toThrow(SequenceTooLongError);
    model.dispose();
    mlm.dispose();
    cls.dispose();
  });

  it('saves an HF folder with HF names and reloads identically; loadRobertaPretrained picks the class', async () => {
    const cls = await loadRobertaForSequenceClassification(join(fixtures, 'roberta-cls'));
    const dir = join(tmp, 'saved');
    await saveRobertaPretrained(cls, dir);
    const saved = safetensorsToTensors(readFileSync(join(dir, 'model.safetensors')));
    const fixture = safetensorsToTensors(readFileSync(join(fixtures, 'roberta-cls', 'model.safetensors')));
    expect(Object.keys(saved).sort()).toEqual(Object.keys(fixture).sort());
    tf.dispose([...Object.values(saved), ...Object.values(fixture)]);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({
      model_type: 'roberta',
      architectures: ['RobertaForSequenceClassification'],
      pad_token_id: 1,
      max_position_embeddings: 26,
      id2label: { 0: 'negative', 1: 'positive' },
    });
    const { model } = await loadRobertaPretrained(dir);
    expect(model).toBeInstanceOf(RobertaForSequenceClassification);
    tf.tidy(() => {
      expect(
        maxDiff(
          (model as RobertaForSequenceClassification).eval().forward(inputs),
          cls.eval().forward(inputs),
        ),
      ).toBe(0);
    });
    model.dispose();
    cls.dispose();
  });
});
