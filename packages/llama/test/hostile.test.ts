import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointMismatchError,
  InvalidArgumentError,
  initBackend,
  OutOfMemoryError,
  TransformerKitError,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LlamaForCausalLM, llamaConfig, llamaParameterCount, loadLlamaForCausalLM } from '../src/index.js';

// Hostile config.json values: each failing load is a typed error, refused before the model is built, and
// leaves tf.memory().numTensors where it was.

const TINY = join(import.meta.dirname, 'fixtures', 'tiny-llama');
const CONFIG = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
const WEIGHTS = new Uint8Array(readFileSync(join(TINY, 'model.safetensors')));
const folder = (config: Record<string, unknown>) =>
  new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(config))],
    ['model.safetensors', WEIGHTS],
  ]);

async function refused(config: Record<string, unknown>, type: new (...a: never[]) => Error, pattern: RegExp) {
  const before = tf.memory().numTensors;
  const err = await loadLlamaForCausalLM(folder(config)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(TransformerKitError);
  expect((err as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

describe('Llama loading under hostile inputs', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts parameters without building the model (GQA, head_dim, biases, tied or not)', () => {
    for (const c of [
      llamaConfig('tiny'),
      llamaConfig('tiny', { tieWeights: false, attentionBias: true, mlpBias: true }),
      llamaConfig('tiny', { headDim: 8, numKvHeads: 1, intermediateSize: 24 }),
    ]) {
      const model = new LlamaForCausalLM(c);
      expect(llamaParameterCount(c)).toBe(model.numParameters());
      model.dispose();
    }
  });

  it('bounds sizes, refuses what the heap or the file cannot hold, before building', async () => {
    await refused({ ...CONFIG, num_hidden_layers: 1e9 }, InvalidArgumentError, /numLayers/);
    await refused(
      {
        ...CONFIG,
        hidden_size: 8192,
        num_attention_heads: 64,
        intermediate_size: 32768,
        num_hidden_layers: 64,
      },
      OutOfMemoryError,
      /Llama: .* parameters need .* GB/,
    );
    await refused({ ...CONFIG, vocab_size: 4_000_000 }, CheckpointMismatchError, /hold only \d+ values/);
    // A small excess is built and compared name by name, in HF's names.
    await refused(
      { ...CONFIG, num_hidden_layers: 3 },
      CheckpointMismatchError,
      /missing: model\.layers\.2\./,
    );
  });
});
