import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointMismatchError, initBackend, loadCheckpoint } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadPretrained,
  loadViTForImageClassification,
  loadViTMAEForPreTraining,
  loadViTModel,
  maeConfig,
  savePretrained,
  sincosPositions,
  ViTForImageClassification,
  ViTMAEForPreTraining,
  ViTModel,
  vitConfig,
} from '../src/index.js';

// Fixtures from scripts/make_fixtures.py (plain PyTorch ViT / ViTMAE with HF names and layouts).
const fixtures = join(import.meta.dirname, 'fixtures');
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);
};

// Parity of the forward passes is in vit.suite.ts (every backend); here the checkpoint files.
describe.each(['cpu', 'wasm'] as const)('HF checkpoints on %s', (backend) => {
  let tmp: string;

  beforeAll(async () => {
    await initBackend(backend);
    tmp = await mkdtemp(join(tmpdir(), 'vit-ckpt-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("a fresh MAE's sin-cos tables equal HF's (encoder and decoder)", async () => {
    const { tensors } = await loadCheckpoint(join(fixtures, 'vit-mae'));
    const fresh = new ViTMAEForPreTraining(
      maeConfig(vitConfig('nano', { imageSize: 16, patchSize: 4, numChannels: 3, hiddenSize: 32 }), {
        decoderHiddenSize: 16,
        decoderNumHeads: 2,
      }),
    );
    expect(
      maxDiff(fresh.vit.embeddings.position, tensors['vit.embeddings.position_embeddings']!),
    ).toBeLessThan(1e-6);
    expect(maxDiff(fresh.decoder.position, tensors['decoder.decoder_pos_embed']!)).toBeLessThan(1e-6);
    expect(fresh.vit.embeddings.position.trainable).toBe(false);
    tf.dispose(Object.values(tensors));
    fresh.dispose();
    tf.tidy(() => {
      // Row 0 ([CLS]) is zero; row 1 is grid (0, 0): sin 0 = 0 and cos 0 = 1 in each half.
      expect(Array.from(sincosPositions(8, 2).dataSync().slice(0, 16))).toEqual([
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1,
      ]);
    });
  });

  it('save → reload round trips every model, with HF names and the Conv2d layout', async () => {
    for (const [name, load] of [
      ['vit-model', loadViTModel],
      ['vit-cls', loadViTForImageClassification],
      ['vit-mae', loadViTMAEForPreTraining],
    ] as const) {
      const a = await (load as (s: string) => Promise<ViTForImageClassification>)(join(fixtures, name));
      const dir = join(tmp, `${backend}-${name}`);
      await savePretrained(a, dir);
      const orig = await loadCheckpoint(join(fixtures, name));
      const saved = await loadCheckpoint(dir);
      expect(Object.keys(saved.tensors).sort()).toEqual(Object.keys(orig.tensors).sort());
      for (const [k, t] of Object.entries(orig.tensors)) expect(maxDiff(saved.tensors[k]!, t)).toBe(0);
      expect(saved.config.model_type).toBe(orig.config.model_type);
      expect(saved.config.architectures).toEqual(orig.config.architectures);
      tf.dispose([...Object.values(orig.tensors), ...Object.values(saved.tensors)]);
      a.dispose();
    }
  });

  it('loadPretrained picks the class from architectures, as GPT and BERT do', async () => {
    for (const [name, cls] of [
      ['vit-model', ViTModel],
      ['vit-cls', ViTForImageClassification],
      ['vit-mae', ViTMAEForPreTraining],
    ] as const) {
      const { model } = await loadPretrained(join(fixtures, name));
      expect(model).toBeInstanceOf(cls);
      model.dispose();
    }
    const bert = join(tmp, `${backend}-not-vit`);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(bert, { recursive: true });
    await writeFile(join(bert, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    await expect(loadPretrained(bert)).rejects.toThrow(/model_type 'bert'.*not 'vit' or 'vit_mae'/);
  });

  it('checkpoints of another architecture or shape are CheckpointMismatchErrors naming the problem', async () => {
    await expect(loadViTModel(join(fixtures, 'vit-mae'))).rejects.toThrow(CheckpointMismatchError);
    await expect(loadViTMAEForPreTraining(join(fixtures, 'vit-cls'))).rejects.toThrow(/model_type 'vit'/);
    const bertLike = join(tmp, `${backend}-bert`);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(bertLike, { recursive: true });
    await writeFile(
      join(bertLike, 'config.json'),
      JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] }),
    );
    await writeFile(
      join(bertLike, 'model.safetensors'),
      await readFile(join(fixtures, 'vit-model', 'model.safetensors')),
    );
    await expect(loadViTForImageClassification(bertLike, { numLabels: 2 })).rejects.toThrow(/'bert'/);
    // A ViTModel file has no classifier: refused unless newHead.
    await expect(
      loadViTForImageClassification(join(fixtures, 'vit-model'), { numLabels: 2 }),
    ).rejects.toThrow(/newHead/);
    // An MAE file gives a classifier its encoder (the fine-tuning start), only with a fresh head.
    await expect(loadViTForImageClassification(join(fixtures, 'vit-mae'), { numLabels: 2 })).rejects.toThrow(
      /needs \{ newHead: true \}/,
    );
    const fromMae = await loadViTForImageClassification(join(fixtures, 'vit-mae'), {
      numLabels: 2,
      newHead: true,
    });
    const mae = await loadViTMAEForPreTraining(join(fixtures, 'vit-mae'));
    const theirs = fromMae.vit.stateDict();
    for (const [k, v] of Object.entries(mae.vit.stateDict())) expect(maxDiff(v, theirs[k]!), k).toBe(0);
    fromMae.dispose();
    mae.dispose();
    const fresh = await loadViTForImageClassification(join(fixtures, 'vit-model'), {
      numLabels: 2,
      newHead: true,
    });
    expect(fresh.numLabels).toBe(2);
    fresh.dispose();
    // Wrong shape: a config that disagrees with the weights.
    const wrong = join(tmp, `${backend}-wrong`);
    await mkdir(wrong, { recursive: true });
    const cfg = JSON.parse(await readFile(join(fixtures, 'vit-model', 'config.json'), 'utf8'));
    await writeFile(join(wrong, 'config.json'), JSON.stringify({ ...cfg, patch_size: 2 }));
    await writeFile(
      join(wrong, 'model.safetensors'),
      await readFile(join(fixtures, 'vit-model', 'model.safetensors')),
    );
    await expect(loadViTModel(wrong)).rejects.toThrow(/shape mismatch.*patch_embeddings/);
  });

  it('a mean-pooling classifier refuses to save as HF (which would read [CLS])', async () => {
    const m = new ViTForImageClassification(vitConfig('nano', { numLayers: 1 }), {
      numLabels: 2,
      pooling: 'mean',
    });
    await expect(savePretrained(m, join(tmp, 'mean'))).rejects.toThrow(/mean-pooling/);
    m.dispose();
  });
});
