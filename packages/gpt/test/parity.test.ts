import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GPT, loadGPT2 } from '../src/index.js';
import { FIXTURE, maxAbsDiff } from './helpers.js';

// Expected values come from scripts/make_fixtures.py (plain PyTorch GPT-2, HF names, gelu_new).
interface Expected {
  prompts: Array<{ ids: number[]; logits: number[]; hidden_states: number[][] }>;
  padded: { ids: number[][]; attention_mask: number[][]; logits: number[] };
  greedy: { prompt: number[]; new_tokens: number[] };
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const TOL = 1e-4;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`GPT-2 parity with PyTorch on ${backend}`, () => {
    let model: GPT;
    beforeAll(async () => {
      await initBackend(backend);
      model = await loadGPT2(FIXTURE);
      model.eval();
    });
    afterAll(() => model.dispose());

    it('matches logits and every hidden state for prompts of length 1, 5 and 12', () => {
      for (const p of expected.prompts) {
        tf.tidy(() => {
          const out = model.run([p.ids], { returnHiddenStates: true });
          expect(maxAbsDiff(out.logits.dataSync(), p.logits)).toBeLessThan(TOL);
          expect(out.hiddenStates!.length).toBe(p.hidden_states.length);
          out.hiddenStates!.forEach((h, i) => {
            expect(maxAbsDiff(h.dataSync(), p.hidden_states[i]!)).toBeLessThan(TOL);
          });
        });
      }
    });

    it('matches a right-padded batch with an attention mask', () => {
      tf.tidy(() => {
        const logits = model.forward(expected.padded.ids, { attentionMask: expected.padded.attention_mask });
        expect(logits.shape).toEqual([2, 9, 96]);
        expect(maxAbsDiff(logits.dataSync(), expected.padded.logits)).toBeLessThan(TOL);
      });
    });

    it('generates greedily the same tokens as PyTorch, with and without the KV cache', async () => {
      const { prompt, new_tokens } = expected.greedy;
      const cached = await model.generate(prompt, { maxNewTokens: new_tokens.length });
      const uncached = await model.generate(prompt, { maxNewTokens: new_tokens.length, useCache: false });
      expect(cached).toEqual(new_tokens);
      expect(uncached).toEqual(cached);
    });
  });
}
