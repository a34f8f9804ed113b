import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  InvalidArgumentError,
  initBackend,
  OutOfMemoryError,
  TransformerKitError,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadPretrained,
  loadViTForImageClassification,
  loadViTMAEForPreTraining,
  loadViTModel,
  ViTForImageClassification,
  ViTModel,
  vitConfig,
  vitParameterCount,
} from '../src/index.js';

// Hostile config.json values: each failing load or construction is a typed error that leaves
// tf.memory().numTensors where it was.

const FIXTURES = join(import.meta.dirname, 'fixtures');
const read = (dir: string, name: string) => new Uint8Array(readFileSync(join(FIXTURES, dir, name)));
const configOf = (dir: string) =>
  JSON.parse(new TextDecoder().decode(read(dir, 'config.json'))) as Record<string, unknown>;

function folder(dir: string, edit: (c: Record<string, unknown>) => Record<string, unknown>) {
  return new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(edit(configOf(dir))))],
    ['model.safetensors', read(dir, 'model.safetensors')],
  ]);
}

async function noLeak(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp) {
  const before = tf.memory().numTensors;
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(TransformerKitError);
  expect((err as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

describe('ViT loading under hostile inputs', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts the backbone without building it', () => {
    for (const c of [vitConfig('nano'), vitConfig('nano', { imageSize: 12, patchSize: 3, numChannels: 3 })]) {
      const m = new ViTModel(c, { pooler: false });
      expect(vitParameterCount(c)).toBe(m.numParameters());
      m.dispose();
    }
  });

  it('a classifier with a bad label count leaks no backbone', async () => {
    for (const numLabels of [0, -1, 1.5])
      await noLeak(
        () => new ViTForImageClassification('tiny', { numLabels }),
        InvalidArgumentError,
        /numLabels/,
      );
    const noLabels = (n: unknown) => (c: Record<string, unknown>) => {
      const { id2label: _a, label2id: _b, ...rest } = c;
      return { ...rest, num_labels: n };
    };
    await noLeak(
      () => loadViTForImageClassification(folder('vit-cls', noLabels(-1))),
      CheckpointError,
      /num_labels/,
    );
    await noLeak(() => loadPretrained(folder('vit-cls', noLabels(0))), CheckpointError, /num_labels/);
  });

  it('bounds sizes and refuses what the heap or the file cannot hold, before building', async () => {
    const load = (edit: (c: Record<string, unknown>) => Record<string, unknown>) => () =>
      loadViTModel(folder('vit-model', edit));
    await noLeak(
      load((c) => ({ ...c, num_hidden_layers: 1e9 })),
      InvalidArgumentError,
      /numLayers/,
    );
    await noLeak(
      load((c) => ({ ...c, image_size: 1e6 })),
      InvalidArgumentError,
      /imageSize/,
    );
    await noLeak(
      load((c) => ({ ...c, layer_norm_eps: 0 })),
      InvalidArgumentError,
      /layerNormEps/,
    );
    await noLeak(
      load((c) => ({
        ...c,
        hidden_size: 16384,
        num_attention_heads: 16,
        intermediate_size: 65536,
        num_hidden_layers: 64,
      })),
      OutOfMemoryError,
      /ViT: .* parameters need/,
    );
    await noLeak(
      load((c) => ({ ...c, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 12 })),
      CheckpointMismatchError,
      /hold only/,
    );
  });

  it("MAE's decoder sizes are bounded and counted against the heap", async () => {
    const load = (edit: (c: Record<string, unknown>) => Record<string, unknown>) => () =>
      loadViTMAEForPreTraining(folder('vit-mae', edit));
    await noLeak(
      load((c) => ({ ...c, decoder_num_hidden_layers: 1e6 })),
      InvalidArgumentError,
      /decoderNumLayers/,
    );
    await noLeak(
      load((c) => ({
        ...c,
        decoder_hidden_size: 16384,
        decoder_num_attention_heads: 16,
        decoder_intermediate_size: 65536,
        decoder_num_hidden_layers: 64,
      })),
      OutOfMemoryError,
      /ViTMAE: .* parameters need/,
    );
  });
});
