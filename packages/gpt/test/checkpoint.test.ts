import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointError, CheckpointMismatchError, initBackend, loadCheckpoint } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT, gptFromHF, loadGPT2, savePretrained } from '../src/index.js';
import { FIXTURE, maxAbsDiff } from './helpers.js';

describe('GPT-2 checkpoints (HF layout)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpt2-ckpt-'));
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saves back to the same names and shapes, and reloads to the same logits', async () => {
    const model = await loadGPT2(FIXTURE);
    await savePretrained(model, dir);
    const original = await loadCheckpoint(FIXTURE);
    const saved = await loadCheckpoint(dir);
    const params = Object.keys(original.tensors)
      .filter((n) => !/\.attn\.(bias|masked_bias)$/.test(n))
      .sort();
    expect(Object.keys(saved.tensors).sort()).toEqual(params);
    for (const n of params) {
      expect(saved.tensors[n]!.shape).toEqual(original.tensors[n]!.shape);
      expect(maxAbsDiff(saved.tensors[n]!.dataSync(), original.tensors[n]!.dataSync())).toBe(0);
    }
    expect(saved.config).toMatchObject({
      model_type: 'gpt2',
      n_embd: 32,
      n_layer: 2,
      n_head: 4,
      vocab_size: 96,
      n_positions: 48,
    });
    const reloaded = await loadGPT2(dir);
    const ids = [[3, 14, 15, 92, 65]];
    const a = tf.tidy(() => model.forward(ids).dataSync());
    const b = tf.tidy(() => reloaded.forward(ids).dataSync());
    expect(maxAbsDiff(a, b)).toBe(0);
    for (const t of [original.tensors, saved.tensors]) tf.dispose(Object.values(t));
    model.dispose();
    reloaded.dispose();
  });

  it('loads without the transformer. prefix and ignores a tied lm_head.weight', async () => {
    const { config, tensors } = await loadCheckpoint(FIXTURE);
    const bare = Object.fromEntries(
      Object.entries(tensors).map(([n, t]) => [n.replace(/^transformer\./, ''), t]),
    );
    bare['lm_head.weight'] = tensors['transformer.wte.weight']!;
    const a = gptFromHF(config, tensors);
    const b = gptFromHF(config, bare);
    expect(
      tf.tidy(() => maxAbsDiff(a.forward([[1, 2, 3]]).dataSync(), b.forward([[1, 2, 3]]).dataSync())),
    ).toBe(0);
    tf.dispose(Object.values(tensors));
    a.dispose();
    b.dispose();
  });

  it('names the first differences of a checkpoint that does not fit', async () => {
    const { config, tensors } = await loadCheckpoint(FIXTURE);
    const broken = { ...tensors };
    delete broken['transformer.h.1.mlp.c_fc.weight'];
    broken['transformer.h.0.extra.weight'] = tensors['transformer.ln_f.bias']!;
    expect(() => gptFromHF(config, broken)).toThrow(CheckpointMismatchError);
    expect(() => gptFromHF(config, broken)).toThrow(
      /missing: transformer\.h\.1\.mlp\.c_fc\.weight.*unexpected: transformer\.h\.0\.extra\.weight/,
    );
    // A config that disagrees with the tensors: shapes are named.
    expect(() => gptFromHF({ ...config, n_positions: 64 }, tensors)).toThrow(
      /shape mismatch: transformer\.wpe\.weight \[48,32\] vs expected \[64,32\]/,
    );
    expect(() => gptFromHF({ ...config, model_type: 'bert' }, tensors)).toThrow(CheckpointError);
    expect(() => gptFromHF({ ...config, model_type: 'bert' }, tensors)).toThrow(/model_type 'bert'/);
    tf.dispose(Object.values(tensors));
  });

  it('round-trips an untied model through lm_head.weight (HF [vocab, hiddenSize])', async () => {
    const model = new GPT({ tieWeights: false }, { seed: 3 });
    const sub = join(dir, 'untied');
    await savePretrained(model, sub);
    const { tensors } = await loadCheckpoint(sub);
    expect(tensors['lm_head.weight']!.shape).toEqual([64, 16]);
    tf.dispose(Object.values(tensors));
    const back = await loadGPT2(sub);
    expect(back.config.tieWeights).toBe(false);
    const ids = [[5, 6, 7]];
    expect(tf.tidy(() => maxAbsDiff(model.forward(ids).dataSync(), back.forward(ids).dataSync()))).toBe(0);
    expect(JSON.parse(readFileSync(join(sub, 'config.json'), 'utf8')).tie_word_embeddings).toBe(false);
    model.dispose();
    back.dispose();
  });

  it('config.json ↔ config: n_inner, dropouts and the activation name map both ways', async () => {
    const wide = new GPT({ intermediateSize: 48, hiddenDropout: 0.1, attentionDropout: 0.2 }, { seed: 5 });
    expect(new GPT({ hiddenSize: 8 }).config.intermediateSize).toBe(32); // 4 × hiddenSize unless given
    const sub = join(dir, 'wide');
    await savePretrained(wide, sub);
    const hf = JSON.parse(readFileSync(join(sub, 'config.json'), 'utf8'));
    expect(hf).toMatchObject({
      n_inner: 48,
      resid_pdrop: 0.1,
      attn_pdrop: 0.2,
      activation_function: 'gelu_new',
    });
    const back = await loadGPT2(sub);
    expect(back.config.intermediateSize).toBe(48);
    expect(back.layers[0]!.mlp.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(
      wide.layers[0]!.mlp.namedParameters().map(([n, p]) => [n, p.shape]),
    );
    const { config, tensors } = await loadCheckpoint(FIXTURE);
    for (const [name, ours] of [
      ['gelu', 'gelu'],
      ['gelu_pytorch_tanh', 'gelu_tanh'],
    ] as const) {
      const m = gptFromHF({ ...config, activation_function: name }, tensors);
      expect(m.config.activation).toBe(ours);
      m.dispose();
    }
    expect(() => gptFromHF({ ...config, activation_function: 'swish' }, tensors)).toThrow(
      CheckpointMismatchError,
    );
    expect(() => gptFromHF({ ...config, activation_function: 'swish' }, tensors)).toThrow(
      /activation_function 'swish' is not supported/,
    );
    tf.dispose(Object.values(tensors));
    wide.dispose();
    back.dispose();
  });
});
