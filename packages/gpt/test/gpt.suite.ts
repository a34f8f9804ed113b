import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, initBackend } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT, GPT_PRESETS, loadGPT2, pretrain } from '../src/index.js';
import { FIXTURE, maxAbsDiff } from './helpers.js';

/*
 * The GPT checks every backend runs: PyTorch parity, greedy decoding with and without the cache, and no
 * leaks over training and generation. suite.test.ts calls this on cpu and wasm, gpt.webgpu.test.ts on
 * webgpu; results are read back asynchronously only (TF.js's WebGPU backend has no sync read in Node).
 * Sizes shrink where a backend is slow at them (cpu's softmax over long windows, a software WebGPU adapter).
 */

// Expected values come from scripts/make_fixtures.py (plain PyTorch GPT-2, HF names, gelu_new).
interface Expected {
  prompts: Array<{ ids: number[]; logits: number[]; hidden_states: number[][] }>;
  padded: { ids: number[][]; attention_mask: number[][]; logits: number[] };
  greedy: { prompt: number[]; new_tokens: number[] };
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const TOL = 1e-4;

/** Reads every tensor back (asynchronously) and disposes them. */
const read = async (ts: tf.Tensor[]) => {
  const out = await Promise.all(ts.map((t) => t.data()));
  tf.dispose(ts);
  return out;
};

export function defineGptSuite(backend: BackendName): void {
  describe(`GPT-2 parity with PyTorch on ${backend}`, () => {
    let model: GPT;
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
      model = await loadGPT2(FIXTURE);
      model.eval();
    });
    afterAll(() => model.dispose());

    it('matches logits and every hidden state for prompts of length 1, 5 and 12', async () => {
      for (const p of expected.prompts) {
        const outs = tf.tidy(() => {
          const out = model.run([p.ids], { returnHiddenStates: true });
          return [out.logits, ...out.hiddenStates!];
        });
        expect(outs.length - 1).toBe(p.hidden_states.length);
        const [logits, ...hidden] = await read(outs);
        expect(maxAbsDiff(logits!, p.logits)).toBeLessThan(TOL);
        hidden.forEach((h, i) => {
          expect(maxAbsDiff(h, p.hidden_states[i]!)).toBeLessThan(TOL);
        });
      }
    });

    it('matches a right-padded batch with an attention mask', async () => {
      const logits = tf.tidy(() =>
        model.forward(expected.padded.ids, { attentionMask: expected.padded.attention_mask }),
      );
      expect(logits.shape).toEqual([2, 9, 96]);
      const [values] = await read([logits]);
      expect(maxAbsDiff(values!, expected.padded.logits)).toBeLessThan(TOL);
    });

    it('generates greedily the same tokens as PyTorch, with and without the KV cache', async () => {
      const { prompt, new_tokens } = expected.greedy;
      const cached = await model.generate(prompt, { maxNewTokens: new_tokens.length });
      const uncached = await model.generate(prompt, { maxNewTokens: new_tokens.length, useCache: false });
      expect(cached).toEqual(new_tokens);
      expect(uncached).toEqual(cached);
    });
  });

  describe(`GPT training and generation on ${backend}`, () => {
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
    });
    const gpu = backend === 'webgpu';

    it('keeps numTensors flat over 200 training steps (with accumulation and evaluation)', async () => {
      const m = new GPT({ ...GPT_PRESETS.tiny, hiddenDropout: 0.1, attentionDropout: 0.1 }, { seed: 3 });
      const tokens = Array.from({ length: 500 }, (_, i) => (i * i + 3 * i) % 64);
      const counts: number[] = [];
      const start = tf.memory().numTensors;
      const r = await pretrain(
        m,
        { train: tokens.slice(0, 400), val: tokens.slice(400) },
        {
          steps: 200,
          // A software adapter (lavapipe) runs a quarter of the tokens per step.
          batchSize: gpu ? 2 : 4,
          sequenceLength: gpu ? 8 : 16,
          lr: 3e-3,
          accumulationSteps: 2,
          evalEvery: 50,
          evalBatches: 2,
          clipNorm: 1,
          onStep: () => void counts.push(tf.memory().numTensors),
        },
      );
      expect(counts.length).toBe(200);
      // Optimizer state appears at step 1; from then on the count never moves.
      expect(new Set(counts.slice(1)).size).toBe(1);
      expect(tf.memory().numTensors).toBe(start);
      expect(r.steps.filter((s) => s.valLoss !== undefined).length).toBe(4);
      expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
      m.dispose();
    }, 600_000);

    it('keeps numTensors flat over 500 generated tokens, with and without the cache', async () => {
      // wasm: one 501-token sequence. cpu (whose softmax alone takes ~80 ms at 300 positions) slides a
      // 64-token window instead, a software WebGPU adapter a 32-token one; both also exercise the cache
      // rebuild after every crop.
      const long = backend === 'wasm';
      const m = new GPT({ ...GPT_PRESETS.tiny, maxPositions: long ? 512 : gpu ? 32 : 64 }, { seed: 4 });
      for (const useCache of [true, false]) {
        const start = tf.memory().numTensors;
        const counts: number[] = [];
        const out = await m.generate([1], {
          maxNewTokens: 500,
          temperature: 1,
          seed: 1,
          useCache,
          cropToMaxPositions: !long,
          onToken: () => void counts.push(tf.memory().numTensors),
        });
        expect(out.length).toBe(500);
        expect(new Set(counts.slice(1)).size).toBe(1);
        expect(tf.memory().numTensors).toBe(start);
      }
      m.dispose();
    }, 600_000);
  });
}
