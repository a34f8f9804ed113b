import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointMismatchError,
  IdOutOfRangeError,
  InvalidArgumentError,
  initBackend,
  loadCheckpoint,
  Trainer,
  TrainingLoop,
} from '@transformer-kit/core';
import { BeamSearch } from '@transformer-kit/heads';
import { trainByteLevelBPE } from '@transformer-kit/tokenizer';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  configFromHF,
  LlamaForCausalLM,
  llamaFromHF,
  loadLlama,
  loadPretrained,
  savePretrained,
} from '../src/index.js';

const TINY = join(import.meta.dirname, 'fixtures', 'tiny-llama');
const tinyConfig = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;

beforeAll(async () => {
  await initBackend('wasm');
});

const logitsOf = (m: LlamaForCausalLM, ids: number[]) => tf.tidy(() => m.forward([ids]).dataSync());

describe('LlamaForCausalLM', () => {
  it('is built from the parts: RMSNorm, rotary, GQA, SwiGLU, HF-like names', () => {
    const m = new LlamaForCausalLM('tiny');
    const names = m.namedParameters().map(([k, v]) => `${k}:${v.shape}`);
    expect(names.slice(0, 9)).toEqual([
      'model.embeddings.weight:64,16',
      'model.layers.0.attn.query.weight:16,16',
      'model.layers.0.attn.key.weight:16,8',
      'model.layers.0.attn.value.weight:16,8',
      'model.layers.0.attn.output.weight:16,16',
      'model.layers.0.attnNorm.weight:16',
      'model.layers.0.mlp.gate.weight:16,32',
      'model.layers.0.mlp.up.weight:16,32',
      'model.layers.0.mlp.down.weight:32,16',
    ]);
    // tied: no lmHead weight
    expect(names.some((n) => n.startsWith('lmHead'))).toBe(false);
    // The forward convention: the backbone returns its states, the model with a head its logits.
    tf.tidy(() => {
      const out = m.model.forward([[1, 2, 3]]);
      expect(out.lastHiddenState.shape).toEqual([1, 3, 16]);
      const r = m.run([[1, 2, 3]], { returnAttention: true });
      expect(r.lastHiddenState.sub(out.lastHiddenState).abs().max().dataSync()[0]).toBe(0);
      expect(r.attentions).toHaveLength(2);
      expect(
        m
          .forward([[1, 2, 3]])
          .sub(r.logits)
          .abs()
          .max()
          .dataSync()[0],
      ).toBe(0);
    });
    m.dispose();
  });

  it('saves an HF folder and loads it back with the same logits (tied and untied)', async () => {
    for (const tie of [true, false]) {
      const m = new LlamaForCausalLM({ tieWeights: tie }, { seed: 3 });
      const dir = mkdtempSync(join(tmpdir(), 'tk-llama-'));
      try {
        await savePretrained(m, dir);
        const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
        expect(cfg).toMatchObject({
          model_type: 'llama',
          num_key_value_heads: 2,
          tie_word_embeddings: tie,
          rope_theta: 10000,
        });
        const { tensors } = await loadCheckpoint(dir);
        expect('lm_head.weight' in tensors).toBe(!tie);
        expect(tensors['model.layers.0.self_attn.k_proj.weight']!.shape).toEqual([8, 16]); // (out, in) as nn.Linear
        tf.dispose(Object.values(tensors));
        const back = await loadLlama(dir);
        expect(Array.from(logitsOf(back, [1, 5, 9]))).toEqual(Array.from(logitsOf(m, [1, 5, 9])));
        back.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        m.dispose();
      }
    }
  });

  it('names what does not fit: rope_scaling, another model type, wrong shapes', async () => {
    expect(() => configFromHF({ ...tinyConfig, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(
      CheckpointMismatchError,
    );
    expect(() => configFromHF({ ...tinyConfig, model_type: 'gpt2' })).toThrow(/llama/);
    const { tensors } = await loadCheckpoint(TINY);
    const before = tf.memory().numTensors;
    expect(() => llamaFromHF({ ...tinyConfig, num_key_value_heads: 4 }, tensors)).toThrow(
      /k_proj\.weight \[16,32\] vs expected \[32,32\]/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(tensors));
  });

  it('raises typed errors for bad ids and options', async () => {
    const m = new LlamaForCausalLM('tiny');
    expect(() => tf.tidy(() => m.forward([[1, 64]]))).toThrow(IdOutOfRangeError);
    await expect(m.generate([1], { maxNewTokens: 2, sampler: new BeamSearch(2) })).rejects.toThrow(
      /beam search/,
    );
    await expect(m.generate([1], { maxNewTokens: 100 })).rejects.toThrow(/maxPositions 64/);
    expect(() => new LlamaForCausalLM({ numHeads: 4, numKvHeads: 3 })).toThrow(InvalidArgumentError);
    m.dispose();
  });

  it('fine-tunes with the one training loop: loss goes down, no tensors leak', async () => {
    const m = new LlamaForCausalLM('tiny', { seed: 1 });
    const seq = Array.from({ length: 17 }, (_, i) => (i * 7) % 64);
    const ids = [seq.slice(0, -1), seq.slice(0, -1).reverse()];
    const targets = [seq.slice(1), [...seq.slice(0, -1).reverse().slice(1), 0]];
    const before = tf.memory().numTensors;
    const trainer = new Trainer(m, { lr: 1e-2, weightDecay: 0 });
    const loop = new TrainingLoop({
      trainer,
      batches: () => ({ ids, targets }),
      loss: (b) => m.loss(b.ids, b.targets),
      steps: 40,
    });
    const { history } = await loop.run();
    const first = history[0]!.loss;
    const last = history[history.length - 1]!.loss;
    expect(last).toBeLessThan(first * 0.5);
    trainer.optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('round-trips a byte-level BPE tokenizer.json with the folder and generates text', async () => {
    const corpus = ['the whale was white', 'call me ishmael', 'the sea, the sea!', 'Ahab hunts the whale'];
    const tokenizer = trainByteLevelBPE(corpus, { vocabSize: 280 });
    const m = new LlamaForCausalLM({ vocabSize: tokenizer.vocabSize }, { seed: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'tk-llama-tok-'));
    try {
      await savePretrained(m, dir, { tokenizer });
      const { model, tokenizer: back } = await loadPretrained(dir);
      const prompt = back!.encode('the whale').ids;
      expect(prompt).toEqual(tokenizer.encode('the whale').ids);
      const out = await model.generate(prompt, { maxNewTokens: 5, temperature: 0.8, topK: 20, seed: 4 });
      expect(out).toHaveLength(5);
      expect(typeof back!.decode([...prompt, ...out])).toBe('string');
      expect(back!.decode(prompt)).toBe('the whale');
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      m.dispose();
    }
  });
});
