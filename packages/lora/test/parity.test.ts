import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadBertForSequenceClassification } from '@transformer-kit/bert';
import { crossEntropy, initBackend, safetensorsToTensors, valueAndGrads } from '@transformer-kit/core';
import { loadGPT2 } from '@transformer-kit/gpt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoraState, loadLoraAdapter } from '../src/index.js';

// Fixtures from scripts/make_fixtures.py: PEFT's LoRA Linear in plain PyTorch on the bert and gpt packages'
// parity models, saved as PEFT adapter folders, with logits, loss and gradients of one training step.
const here = import.meta.dirname;
const fixtures = join(here, 'fixtures');
const BERT = join(here, '../../bert/test/fixtures/bert-cls');
const GPT2 = join(here, '../../gpt/test/fixtures/tiny-gpt2');
const TOL = 1e-5;

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
};

/** Every PEFT tensor of the state with its variable and layout, keyed by PEFT name. */
function peftVariables(state: LoraState): Array<[string, tf.Variable, boolean]> {
  return [
    ...state.adapted.flatMap(
      ({ hf, adapter }): Array<[string, tf.Variable, boolean]> => [
        [`base_model.model.${hf}.lora_A.weight`, adapter.A, true],
        [`base_model.model.${hf}.lora_B.weight`, adapter.B, true],
      ],
    ),
    ...state.saved.map((p): [string, tf.Variable, boolean] => [
      `base_model.model.${p.hf}`,
      p.param,
      p.transpose,
    ]),
  ];
}

/** Gradients of `loss` w.r.t. the adapter's tensors vs PyTorch's (in PEFT's layout) within TOL. */
function expectGrads(state: LoraState, loss: () => tf.Scalar, want: Record<string, tf.Tensor>, tag: string) {
  const vars = peftVariables(state);
  expect(vars.length).toBeGreaterThan(0);
  const { value, grads } = valueAndGrads(
    loss,
    vars.map(([, v]) => v),
  );
  expect(Math.abs(value.dataSync()[0]! - want[`${tag}.loss`]!.dataSync()[0]!)).toBeLessThan(TOL);
  vars.forEach(([name, , transpose], i) => {
    const g = grads[i]!;
    const expected = want[`${tag}.grad.${name}`];
    expect(expected, name).toBeDefined();
    const ours = transpose ? tf.transpose(g) : g;
    const scale = tf.tidy(() => expected!.abs().max().dataSync()[0]!);
    expect(scale, `${name} gradient is not trivially zero`).toBeGreaterThan(1e-4);
    expect(maxDiff(ours, expected!), name).toBeLessThan(TOL);
    if (transpose) ours.dispose();
  });
  tf.dispose([value, ...grads.filter((g): g is tf.Tensor => g !== null)]);
}

describe.each(['cpu', 'wasm'] as const)('PEFT LoRA parity with PyTorch on %s', (backend) => {
  let want: Record<string, tf.Tensor>;
  // The bert package's fixture batch: right-padded, with a sentence pair.
  let batch: Record<string, tf.Tensor>;
  beforeAll(async () => {
    await initBackend(backend);
    want = safetensorsToTensors(readFileSync(join(fixtures, 'expected.safetensors')));
    batch = safetensorsToTensors(readFileSync(join(here, '../../bert/test/fixtures/expected.safetensors')));
  });
  afterAll(() => tf.dispose([want, batch]));

  it('BERT + PEFT adapter (query/value, modules_to_save classifier): logits, loss and gradients', async () => {
    const model = (await loadBertForSequenceClassification(BERT)).eval();
    const state = await loadLoraAdapter(model, join(fixtures, 'bert-lora'), {
      baseModelNameOrPath: 'tiny-bert-cls',
    });
    expect(state.adapted.map((a) => a.hf)).toEqual([
      'bert.encoder.layer.0.attention.self.query',
      'bert.encoder.layer.0.attention.self.value',
      'bert.encoder.layer.1.attention.self.query',
      'bert.encoder.layer.1.attention.self.value',
    ]);
    expect(state.config).toMatchObject({ r: 4, alpha: 8, dropout: 0.1, modulesToSave: ['classifier'] });
    const inputs = {
      inputIds: batch.input_ids!,
      tokenTypeIds: batch.token_type_ids!,
      attentionMask: batch.attention_mask!,
    };
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect(maxDiff(model.forward(inputs), want['bert.logits']!)).toBeLessThan(TOL);
    });
    expectGrads(state, () => crossEntropy(model.forward(inputs), want['bert.labels']!), want, 'bert');
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('GPT-2 + PEFT adapter on the fused c_attn (fan_in_fan_out): logits, loss and gradients', async () => {
    const model = (await loadGPT2(GPT2)).eval();
    const state = await loadLoraAdapter(model, join(fixtures, 'gpt2-lora'));
    expect(state.adapted.map((a) => [a.hf, a.paths])).toEqual([
      ['transformer.h.0.attn.c_attn', ['layers.0.attn.query', 'layers.0.attn.key', 'layers.0.attn.value']],
      ['transformer.h.1.attn.c_attn', ['layers.1.attn.query', 'layers.1.attn.key', 'layers.1.attn.value']],
    ]);
    const ids = want['gpt.input_ids']!;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect(maxDiff(model.forward(ids), want['gpt.logits']!)).toBeLessThan(TOL);
    });
    const loss = () =>
      tf.tidy(() => {
        const [b, t] = ids.shape as [number, number];
        const logits = model.forward(ids).slice([0, 0, 0], [b, t - 1, -1]);
        return crossEntropy(logits, ids.slice([0, 1], [b, t - 1]));
      });
    expectGrads(state, loss, want, 'gpt');
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
