import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, loadCheckpoint } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LlamaForCausalLM, llamaFromHF, loadLlama } from '../src/index.js';
import { hashWeights } from './weights.js';

// Expected values come from scripts/make_fixtures.py (plain PyTorch Llama with HF names and semantics).
const FIXTURES = join(import.meta.dirname, 'fixtures');
const TINY = join(FIXTURES, 'tiny-llama');
interface Expected {
  prompts: Array<{ ids: number[]; logits: number[]; hidden_states: number[][] }>;
  padded: { ids: number[][]; attention_mask: number[][]; logits: number[] };
  greedy: { prompt: number[]; new_tokens: number[] };
}
const expected = JSON.parse(readFileSync(join(TINY, 'expected.json'), 'utf8')) as Expected;
const TOL = 1e-4;

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`Llama parity with PyTorch on ${backend} (tiny: GQA 4/2 heads, untied)`, () => {
    let model: LlamaForCausalLM;
    beforeAll(async () => {
      await initBackend(backend);
      model = await loadLlama(TINY);
      model.eval();
    });
    afterAll(() => model.dispose());

    it('matches logits and every hidden state for prompts of length 1, 6 and 13', () => {
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
        const { ids, attention_mask, logits } = expected.padded;
        const got = model.forward(ids, { attentionMask: attention_mask });
        // padded positions' logits are garbage in HF too (their rows see only real tokens): compare real ones
        const g = got.arraySync();
        const v = got.shape[2];
        attention_mask.forEach((row, b) => {
          row.forEach((keep, t) => {
            if (!keep) return;
            const want = logits.slice((b * row.length + t) * v, (b * row.length + t + 1) * v);
            expect(maxAbsDiff(g[b]![t]!, want)).toBeLessThan(TOL);
          });
        });
      });
    });

    it('generates greedily the same tokens as PyTorch, with and without the KV cache', async () => {
      const { prompt, new_tokens } = expected.greedy;
      const before = tf.memory().numTensors;
      const cached = await model.generate(prompt, { maxNewTokens: new_tokens.length });
      const uncached = await model.generate(prompt, { maxNewTokens: new_tokens.length, useCache: false });
      expect(cached).toEqual(new_tokens);
      expect(uncached).toEqual(cached);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('the hash weights of the script', () => {
  it('are bit for bit the ones in the tiny fixture', async () => {
    await initBackend('cpu');
    const { config, tensors } = await loadCheckpoint(TINY);
    const mine = hashWeights(config);
    expect(Object.keys(mine).sort()).toEqual(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors))
      expect(maxAbsDiff(mine[k]!.dataSync(), t.dataSync())).toBe(0);
    tf.dispose([...Object.values(mine), ...Object.values(tensors)]);
  });
});

/*
 * SmolLM2-135M's shapes (30 layers, 9 q / 3 kv heads, hidden 576, vocab 49152, tied, theta 100000) with the
 * script's hash weights: 540 MB of weights are rebuilt here instead of committed; PyTorch's logits slices,
 * log-sum-exps, argmaxes, a middle layer's hidden state and greedy tokens are the fixture.
 */
describe('Llama parity at SmolLM2-135M shapes (wasm)', () => {
  const smol = JSON.parse(readFileSync(join(FIXTURES, 'smollm2-shapes.json'), 'utf8')) as {
    config: Record<string, unknown>;
    ids: number[];
    logits_head: number[][];
    logits_strided: number[][];
    logsumexp: number[];
    argmax: number[];
    hidden15_head: number[];
    greedy: { prompt: number[]; new_tokens: number[] };
  };
  let model: LlamaForCausalLM;
  beforeAll(async () => {
    await initBackend('wasm');
    const tensors = hashWeights(smol.config);
    try {
      model = llamaFromHF(smol.config, tensors);
    } finally {
      tf.dispose(Object.values(tensors));
    }
    model.eval();
  }, 300_000);
  afterAll(() => model?.dispose());

  it('has 135M parameters and matches PyTorch within 1e-4', () => {
    expect(model.numParameters()).toBe(134_515_008);
    tf.tidy(() => {
      const out = model.run([smol.ids], { returnHiddenStates: true });
      const logits = out.logits.squeeze([0]) as tf.Tensor2D;
      const v = logits.shape[1];
      const rows = logits.arraySync();
      rows.forEach((row, i) => {
        expect(maxAbsDiff(row.slice(0, 64), smol.logits_head[i]!)).toBeLessThan(TOL);
        expect(
          maxAbsDiff(
            row.filter((_, j) => j % 997 === 0),
            smol.logits_strided[i]!,
          ),
        ).toBeLessThan(TOL);
      });
      expect(maxAbsDiff(tf.logSumExp(logits, -1).dataSync(), smol.logsumexp)).toBeLessThan(TOL);
      expect(Array.from(logits.argMax(-1).dataSync())).toEqual(smol.argmax);
      const h15 = out.hiddenStates![15]!.slice([0, 0, 0], [1, -1, 32]);
      expect(maxAbsDiff(h15.dataSync(), smol.hidden15_head)).toBeLessThan(TOL);
      expect(v).toBe(49152);
    });
  }, 120_000);

  it('generates the same greedy tokens with the KV cache', async () => {
    const got = await model.generate(smol.greedy.prompt, { maxNewTokens: smol.greedy.new_tokens.length });
    expect(got).toEqual(smol.greedy.new_tokens);
  }, 120_000);
});
