import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  extractPatches,
  initBackend,
  patchesToImages,
  safetensorsToTensors,
  Trainer,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadViTForImageClassification,
  loadViTMAEForPreTraining,
  loadViTModel,
  maeConfig,
  ViTMAEForPreTraining,
  vitConfig,
} from '../src/index.js';

// The WebGPU suite: the same checks as the cpu/wasm files, reading results back asynchronously only
// (a synchronous read is not available to TF.js's WebGPU backend in Node).
const fixtures = join(import.meta.dirname, 'fixtures');
const read = async (t: tf.Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};
const maxDiff = async (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return (await read(tf.tidy(() => a.sub(b).abs().max())))[0]!;
};

beforeAll(async () => {
  expect((await initBackend('webgpu')).backend).toBe('webgpu');
});

describe('ViT / MAE on webgpu', () => {
  it('patches: every path equals the cpu result; patchesToImages inverts', async () => {
    for (const o of [{ size: 4 }, { size: 4, stride: 2 }, { size: 3, stride: 2, pad: true }]) {
      const x = tf.randomUniform([2, 12, 12, 3], 0, 1, 'float32', 1);
      const p = extractPatches(x, o);
      const back = patchesToImages(p, { ...o, height: 12, width: 12, average: true });
      expect(await maxDiff(back, x), JSON.stringify(o)).toBeLessThan(1e-6);
      // Patch 0 is the top-left corner, row-major (row, column, channel).
      const corner = tf.tidy(() => x.slice([0, 0, 0, 0], [1, o.size, o.size, 3]).reshape([-1]));
      const first = tf.tidy(() => p.slice([0, 0, 0], [1, 1, -1]).reshape([-1]));
      expect(await maxDiff(first, corner)).toBe(0);
      tf.dispose([x, p, back, corner, first]);
    }
  });

  it('parity with PyTorch within 1e-4: hidden states, pooled, logits, MAE with fixed noise', async () => {
    const e = safetensorsToTensors(readFileSync(join(fixtures, 'expected.safetensors')));
    const base = (await loadViTModel(join(fixtures, 'vit-model'))).eval();
    const cls = (await loadViTForImageClassification(join(fixtures, 'vit-cls'))).eval();
    const mae = (await loadViTMAEForPreTraining(join(fixtures, 'vit-mae'))).eval();
    const out = tf.tidy(() => {
      const o = base.forward(e.pixel_values!);
      const m = mae.run(e.pixel_values!, { noise: e.noise! });
      return [
        o.lastHiddenState,
        o.pooledOutput!,
        cls.forward(e.pixel_values!),
        m.lastHiddenState,
        m.logits,
        m.mask,
        m.loss,
      ];
    });
    const names = [
      'last_hidden_state',
      'pooler_output',
      'logits',
      'mae_last_hidden_state',
      'mae_logits',
      'mae_mask',
      'mae_loss',
    ];
    for (let i = 0; i < names.length; i++)
      expect(await maxDiff(out[i]!, e[names[i]!]!), names[i]).toBeLessThan(1e-4);
    tf.dispose([...out, ...Object.values(e)]);
    for (const m of [base, cls, mae]) m.dispose();
  });

  it('MAE trains: loss falls over 30 steps, numTensors flat', async () => {
    const c = maeConfig(
      vitConfig('nano', { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 }),
      {
        decoderHiddenSize: 8,
        decoderNumLayers: 1,
        decoderNumHeads: 2,
        decoderIntermediateSize: 16,
      },
    );
    const mae = new ViTMAEForPreTraining(c, { seed: 3 });
    const trainer = new Trainer(mae, { lr: 3e-3 });
    const images = tf.tidy(() =>
      tf.range(0, 64).reshape([1, 8, 8, 1]).mod(2).tile([8, 1, 1, 1]).cast('float32'),
    );
    const losses: number[] = [];
    let after = 0;
    for (let s = 0; s < 30; s++) {
      losses.push((await trainer.step(() => mae.loss(images))).loss);
      if (s === 1) after = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(after);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    images.dispose();
    trainer.dispose();
    mae.dispose();
  });
});
