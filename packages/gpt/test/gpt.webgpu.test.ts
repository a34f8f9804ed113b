import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT, GPT_PRESETS, loadGPT2, pretrain } from '../src/index.js';
import { FIXTURE, maxAbsDiff } from './helpers.js';

// The WebGPU suite: parity, cache equivalence, training and leaks, reading results back asynchronously only.
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  prompts: Array<{ ids: number[]; logits: number[] }>;
  padded: { ids: number[][]; attention_mask: number[][]; logits: number[] };
  greedy: { prompt: number[]; new_tokens: number[] };
};

describe('GPT on webgpu', () => {
  beforeAll(async () => {
    await initBackend('webgpu');
  });

  it('matches PyTorch logits (prompts and a padded batch) and greedy decoding with and without cache', async () => {
    const model = await loadGPT2(FIXTURE);
    model.eval();
    for (const p of expected.prompts) {
      const logits = tf.tidy(() => model.forward([p.ids]));
      expect(maxAbsDiff(await logits.data(), p.logits)).toBeLessThan(1e-4);
      logits.dispose();
    }
    const padded = tf.tidy(() =>
      model.forward(expected.padded.ids, { attentionMask: expected.padded.attention_mask }),
    );
    expect(maxAbsDiff(await padded.data(), expected.padded.logits)).toBeLessThan(1e-4);
    padded.dispose();
    const n = expected.greedy.new_tokens.length;
    expect(await model.generate(expected.greedy.prompt, { maxNewTokens: n })).toEqual(
      expected.greedy.new_tokens,
    );
    expect(await model.generate(expected.greedy.prompt, { maxNewTokens: n, useCache: false })).toEqual(
      expected.greedy.new_tokens,
    );
    model.dispose();
  });

  it('keeps numTensors flat over 200 training steps', async () => {
    const m = new GPT(GPT_PRESETS.tiny, { seed: 3 });
    const tokens = Array.from({ length: 500 }, (_, i) => (i * i + 3 * i) % 64);
    const counts: number[] = [];
    const r = await pretrain(
      m,
      { train: tokens },
      {
        steps: 200,
        batchSize: 2,
        sequenceLength: 8,
        lr: 3e-3,
        onStep: () => void counts.push(tf.memory().numTensors),
      },
    );
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
    m.dispose();
  }, 600_000);

  it('keeps numTensors flat over 500 generated tokens, with and without the cache', async () => {
    // A sliding 32-token window keeps the software (lavapipe) adapter's run short; it also rebuilds the cache.
    const m = new GPT(GPT_PRESETS.tiny, { seed: 4 });
    for (const useCache of [true, false]) {
      const start = tf.memory().numTensors;
      const out = await m.generate([1], {
        maxNewTokens: 500,
        temperature: 1,
        useCache,
        cropToMaxPositions: true,
      });
      expect(out.length).toBe(500);
      expect(tf.memory().numTensors).toBe(start);
    }
    m.dispose();
  }, 600_000);
});

describe('GPT-2-sized vocabulary on a device with the spec-default limits', () => {
  it('last-position logits and greedy tokens equal wasm (the 154 MB table was all zeros before)', async () => {
    // One layer keeps it cheap on a software adapter; the 50257 x 768 table is what crosses 128 MiB.
    const config = { ...GPT_PRESETS.gpt2, numLayers: 1 };
    const prompt = [464, 2068, 7586, 21831];
    const results: { logits: Float32Array; tokens: number[] }[] = [];
    for (const [backend, limits] of [
      ['wasm', undefined],
      ['webgpu', 'default'],
    ] as const) {
      await initBackend(backend, limits ? { limits } : {});
      const model = new GPT(config, { seed: 3 });
      model.eval();
      const logits = tf.tidy(() => model.run([prompt], { lastOnly: true }).logits);
      results.push({
        logits: (await logits.data()) as Float32Array,
        tokens: await model.generate(prompt.slice(0, 3), { maxNewTokens: 2 }),
      });
      logits.dispose();
      model.dispose();
    }
    const [ref, gpu] = results as [(typeof results)[0], (typeof results)[0]];
    expect(maxAbsDiff(gpu.logits, Array.from(ref.logits))).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(gpu.logits, Math.abs))).toBeGreaterThan(0.1);
    expect(gpu.tokens).toEqual(ref.tokens);
    await initBackend('webgpu');
  }, 600_000);
});
