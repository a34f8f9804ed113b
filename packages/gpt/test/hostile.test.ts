import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  InvalidArgumentError,
  initBackend,
  OutOfMemoryError,
  readSafetensors,
  TransformerKitError,
  writeSafetensors,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT, gptConfig, gptParameterCount, loadGPT2, loadPretrained } from '../src/index.js';
import { FIXTURE } from './helpers.js';

// Hostile config.json / weights: each failing load is a typed error, refused before the model is built, and
// leaves tf.memory().numTensors where it was.

const CONFIG = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
const WEIGHTS = new Uint8Array(readFileSync(join(FIXTURE, 'model.safetensors')));

const folder = (config: Record<string, unknown>, weights: Uint8Array = WEIGHTS) =>
  new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(config))],
    ['model.safetensors', weights],
  ]);

async function refused(source: unknown, type: new (...a: never[]) => Error, pattern: RegExp) {
  const before = tf.memory().numTensors;
  const err = await loadGPT2(source as Map<string, Uint8Array>).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(TransformerKitError);
  expect((err as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

describe('GPT-2 loading under hostile inputs', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts parameters without building the model', () => {
    for (const c of [
      gptConfig('tiny'),
      gptConfig('tiny', { tieWeights: false }),
      gptConfig('tiny', { bias: false, intermediateSize: 24 }),
    ]) {
      const model = new GPT(c);
      expect(gptParameterCount(c)).toBe(model.numParameters());
      model.dispose();
    }
  });

  it('bounds every size in config.json, naming the field', async () => {
    await refused(folder({ ...CONFIG, n_layer: 1e9 }), InvalidArgumentError, /numLayers 1000000000 is over/);
    await refused(folder({ ...CONFIG, vocab_size: 1e10 }), InvalidArgumentError, /vocabSize .* is over/);
    await refused(folder({ ...CONFIG, n_positions: 2 ** 30 }), InvalidArgumentError, /maxPositions/);
    await refused(folder({ ...CONFIG, n_head: 2.5 }), InvalidArgumentError, /numHeads must be a positive/);
    await refused(folder({ ...CONFIG, n_inner: -4 }), InvalidArgumentError, /intermediateSize/);
  });

  it('refuses a model larger than the wasm heap before allocating it', async () => {
    await refused(
      folder({ ...CONFIG, n_embd: 8192, n_head: 64, n_layer: 64 }),
      OutOfMemoryError,
      /parameters need .* GB .* wasm heap cannot exceed 4 GB/,
    );
  });

  it('refuses a config that asks for more than the weights file holds', async () => {
    // Within every bound and the heap, but 4M × 32 embeddings are not in a 100 KB file.
    await refused(
      folder({ ...CONFIG, vocab_size: 4_000_000 }),
      CheckpointMismatchError,
      /hold only \d+ values/,
    );
    // 4 × 12 × 2048² ≈ 200M parameters (800 MB: fits the heap, not the file).
    await refused(
      folder({ ...CONFIG, n_embd: 2048, n_layer: 4 }),
      CheckpointMismatchError,
      /different models/,
    );
    // A small excess is built and compared name by name (the more precise message).
    await refused(folder({ ...CONFIG, n_layer: 3 }), CheckpointMismatchError, /missing: transformer\.h\.2\./);
  });

  it('refuses layer_norm_epsilon <= 0 (every output would be NaN)', async () => {
    await refused(folder({ ...CONFIG, layer_norm_epsilon: -1 }), InvalidArgumentError, /layerNormEps/);
    await refused(folder({ ...CONFIG, layer_norm_epsilon: 0 }), InvalidArgumentError, /layerNormEps/);
  });

  it('a wrongly shaped c_attn is a mismatch in HF names and leaks nothing (refused before it is split)', async () => {
    const raw = readSafetensors(WEIGHTS).tensors;
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, t] of raw) tensors[name] = { shape: t.shape, data: t.data as Float32Array };
    // 97 columns instead of 3 × 32 = 96: more values than before, so the size check passes.
    tensors['transformer.h.1.attn.c_attn.weight'] = { shape: [32, 97], data: new Float32Array(32 * 97) };
    const bad = await writeSafetensors(tensors);
    await refused(
      folder(CONFIG, bad),
      CheckpointMismatchError,
      /shape mismatch: transformer\.h\.1\.attn\.c_attn\.weight \[32,97\] vs expected \[32,96\]/,
    );
  });

  it('a non-source is a typed error', async () => {
    const before = tf.memory().numTensors;
    for (const source of [null, 42, undefined]) {
      const err = await loadPretrained(source as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(/checkpoint source/);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a model loaded before is unchanged by the failed loads', async () => {
    const model = await loadGPT2(FIXTURE);
    const before = tf.tidy(() => model.forward([[1, 2, 3]]).dataSync());
    await refused(folder({ ...CONFIG, n_layer: 1e9 }), InvalidArgumentError, /numLayers/);
    await refused(folder({ ...CONFIG, vocab_size: 4_000_000 }), CheckpointMismatchError, /hold only/);
    const after = tf.tidy(() => model.forward([[1, 2, 3]]).dataSync());
    expect(Array.from(after)).toEqual(Array.from(before));
    model.dispose();
  });
});
