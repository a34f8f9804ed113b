import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { describe, expect, it } from 'vitest';
import { GPT, GPT_PRESETS } from '../src/index.js';
import { defineGptSuite } from './gpt.suite.js';
import { maxAbsDiff } from './helpers.js';

// The WebGPU suite (TK_WEBGPU_SUITE=1): the checks every backend runs, then what only a GPU device needs.
defineGptSuite('webgpu');

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
