import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend, ShapeError, Trainer } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  maeConfig,
  numPatches,
  randomPatchMask,
  ViTForImageClassification,
  ViTMAEForPreTraining,
  ViTModel,
  vitConfig,
  vitDecay,
} from '../src/index.js';

// A CI-sized model: 8×8 grey images, 2×2 patches (16 of them).
const small = vitConfig('nano', { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 });
const smallMae = maeConfig(small, {
  decoderHiddenSize: 8,
  decoderNumLayers: 1,
  decoderNumHeads: 2,
  decoderIntermediateSize: 16,
});

/** Images with structure a model can learn: class 0 bright left half, class 1 bright top half, noise. */
function toyImages(n: number, seed: number): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  return tf.tidy(() => {
    const labels = tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % 2),
      'int32',
    );
    const left = tf.tensor4d(
      Array.from({ length: 64 }, (_, k) => (k % 8 < 4 ? 1 : 0)),
      [1, 8, 8, 1],
    );
    const top = tf.tensor4d(
      Array.from({ length: 64 }, (_, k) => (k < 32 ? 1 : 0)),
      [1, 8, 8, 1],
    );
    const isTop = labels.cast('float32').reshape([n, 1, 1, 1]);
    const clean = left.mul(tf.sub(1, isTop)).add(top.mul(isTop));
    const images = clean.add(tf.randomNormal([n, 8, 8, 1], 0, 0.3, 'float32', seed)) as tf.Tensor4D;
    return { images, labels };
  });
}

describe('ViT and MAE', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('presets: ViT-B/16 has the published size; nano runs on 8×8 digits', () => {
    const b16 = new ViTModel(vitConfig('base'));
    // google/vit-base-patch16-224 without its pooler: 85,798,656 parameters.
    expect(b16.numParameters()).toBe(85_798_656);
    b16.dispose();
    const nano = new ViTModel(vitConfig('nano'));
    tf.tidy(() => {
      const out = nano.eval().forward(tf.zeros([3, 8, 8, 1]), { returnAttention: true });
      expect(out.lastHiddenState.shape).toEqual([3, 17, 64]);
      expect(out.attentions).toHaveLength(4);
      expect(out.attentions![0]!.shape).toEqual([3, 4, 17, 17]);
    });
    nano.dispose();
    expect(() => vitConfig('huge' as 'base')).toThrow(InvalidArgumentError);
    expect(() => vitConfig('nano', { imageSize: 9 })).toThrow(/not a multiple of patchSize/);
  });

  it('run: hidden states and attention maps as GPT and BERT return them; configs follow the same rule', () => {
    const model = new ViTModel(small).eval();
    tf.tidy(() => {
      const images = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 3);
      const plain = model.forward(images);
      const r = model.run(images, { returnAttention: true, returnHiddenStates: true });
      // numLayers + 1 hidden states: each layer's input, then the final LayerNorm's output.
      expect(r.hiddenStates!.map((h) => h.shape)).toEqual([
        [2, 17, 16],
        [2, 17, 16],
      ]);
      expect(r.hiddenStates![1]).toBe(r.lastHiddenState);
      expect(r.attentions!.map((a) => a.shape)).toEqual([[2, 2, 17, 17]]);
      expect(r.lastHiddenState.sub(plain.lastHiddenState).abs().max().dataSync()[0]).toBe(0);
      expect(plain.hiddenStates).toBeUndefined();
      expect(plain.attentions).toBeUndefined();
    });
    model.dispose();
    // A model with a head: forward is run's logits; run adds the backbone's states and maps.
    const cls = new ViTForImageClassification(small, { numLabels: 3 }).eval();
    tf.tidy(() => {
      const images = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 4);
      const r = cls.run(images, { returnAttention: true });
      expect(r.logits.shape).toEqual([2, 3]);
      expect(r.lastHiddenState.shape).toEqual([2, 17, 16]);
      expect(r.attentions!.map((a) => a.shape)).toEqual([[2, 2, 17, 17]]);
      expect(cls.forward(images).sub(r.logits).abs().max().dataSync()[0]).toBe(0);
    });
    cls.dispose();
    // A partial config is filled from 'nano', like GPT's and BERT's; sizes and rates are checked the same way.
    expect(vitConfig({ hiddenSize: 32 })).toMatchObject({ ...vitConfig('nano'), hiddenSize: 32 });
    expect(() => vitConfig({ numHeads: 0 })).toThrow(/ViT config: numHeads must be a positive integer/);
    expect(() => vitConfig({ hiddenSize: 30 })).toThrow(/hiddenSize 30 is not divisible by numHeads 4/);
    expect(() => vitConfig({ attentionDropout: 1 })).toThrow(/attentionDropout must be in \[0, 1\)/);
    expect(() => vitConfig({ activation: 'mish' as 'gelu' })).toThrow(/unknown activation 'mish'/);
  });

  it('building and disposing models leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    new ViTMAEForPreTraining(smallMae).dispose();
    new ViTForImageClassification(small, { numLabels: 3 }).dispose();
    new ViTModel(small, { pooler: true }).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('vitDecay: matrices decay; tokens, positions, biases and norms do not', () => {
    const mae = new ViTMAEForPreTraining(smallMae);
    const decayed = mae
      .namedParameters()
      .filter(([n, p]) => vitDecay(n, p))
      .map(([n]) => n);
    expect(decayed).toContain('vit.embeddings.patch.weight');
    expect(decayed).toContain('decoder.layers.0.attn.query.weight');
    for (const n of [
      'vit.embeddings.clsToken',
      'vit.embeddings.position',
      'decoder.maskToken',
      'vit.norm.weight',
    ])
      expect(decayed).not.toContain(n);
    mae.dispose();
  });

  it('bad images are ShapeErrors that name the problem', () => {
    const m = new ViTModel(small);
    tf.tidy(() => {
      expect(() => m.forward(tf.zeros([8, 8, 1]))).toThrow(ShapeError);
      expect(() => m.forward(tf.zeros([8, 8, 1]))).toThrow(/add a batch axis/);
      expect(() => m.forward(tf.zeros([2, 8, 8, 3]))).toThrow(/3 channels, the model expects 1/);
      expect(() => m.forward(tf.zeros([2, 1, 8, 8]))).toThrow(/NCHW/);
      expect(() => m.forward(tf.zeros([2, 9, 9, 1]))).toThrow(/9×9.*not divisible by the patch size 2/);
      expect(() => m.forward(tf.zeros([2, 16, 16, 1]))).toThrow(/expects 8×8/);
    });
    m.dispose();
  });

  it('mask ratios outside (0, 1) and bad noise are typed errors', () => {
    for (const r of [0, 1, -0.1, 1.5, Number.NaN])
      expect(() => maeConfig(small, { maskRatio: r })).toThrow(InvalidArgumentError);
    expect(() => maeConfig(small, { maskRatio: 0.99 })).toThrow(/leaves no visible patch/);
    expect(() => randomPatchMask(tf.zeros([2, 16]), 1)).toThrow(/\(0, 1\)/);
    const mae = new ViTMAEForPreTraining(smallMae);
    tf.tidy(() => {
      expect(() => mae.forward(tf.zeros([2, 8, 8, 1]), { noise: tf.zeros([2, 15]) })).toThrow(ShapeError);
    });
    mae.dispose();
  });

  it('per-sample masks: exactly K visible per row, fresh every call, uniform over patches', () => {
    const n = numPatches(small);
    const k = Math.floor(n * 0.25);
    const counts = new Float64Array(n);
    let sameAsPrevious = 0;
    let prev: number[][] | undefined;
    const mae = new ViTMAEForPreTraining(smallMae, { seed: 3 });
    for (let it = 0; it < 50; it++) {
      const noise = mae.noise(16);
      const m = randomPatchMask(noise, 0.75);
      noise.dispose();
      const mask = m.mask.arraySync() as number[][];
      const keep = m.keep.arraySync() as number[][];
      for (const [b, row] of mask.entries()) {
        expect(row.filter((v) => v === 0)).toHaveLength(k);
        // The kept indices are exactly the visible patches.
        expect([...keep[b]!].sort((x, y) => x - y)).toEqual(row.flatMap((v, i) => (v === 0 ? [i] : [])));
        row.forEach((v, i) => {
          counts[i]! += v;
        });
      }
      if (prev && JSON.stringify(prev) === JSON.stringify(mask)) sameAsPrevious++;
      // Rows within a batch differ (per-sample, not one mask for the batch).
      expect(new Set(mask.map((r) => r.join())).size).toBeGreaterThan(1);
      prev = mask;
      tf.dispose(Object.values(m));
    }
    expect(sameAsPrevious).toBe(0);
    // Each patch is masked 75% of the time (800 samples: ± 0.1 is > 6 sigma).
    for (const c of counts) expect(Math.abs(c / 800 - 0.75)).toBeLessThan(0.1);
    mae.dispose();
  });

  it('the encoder sees only the visible patches; the loss counts only the masked ones', () => {
    const mae = new ViTMAEForPreTraining(smallMae, { seed: 1 }).eval();
    tf.tidy(() => {
      const images = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 1);
      const noise = tf.randomUniform([2, 16], 0, 1, 'float32', 2);
      const a = mae.run(images, { noise });
      // forward is run's logits, loss is run's loss: the same noise gives the same mask.
      expect(mae.forward(images, { noise }).sub(a.logits).abs().max().dataSync()[0]).toBe(0);
      expect(mae.loss(images, { noise }).dataSync()[0]).toBe(a.loss.dataSync()[0]);
      expect(a.lastHiddenState.shape).toEqual([2, 1 + 4, 16]);
      expect(a.logits.shape).toEqual([2, 16, 4]);
      // Scramble the pixels of the masked patches only: the encoder output must not move.
      const maskPix = a.mask.reshape([2, 4, 4, 1, 1, 1]).tile([1, 1, 1, 2, 2, 1]);
      const m = maskPix.transpose([0, 1, 3, 2, 4, 5]).reshape([2, 8, 8, 1]);
      const scrambled = images
        .mul(tf.sub(1, m))
        .add(m.mul(tf.randomNormal([2, 8, 8, 1], 5, 1, 'float32', 3)));
      const b = mae.encode(scrambled, { noise });
      expect(b.lastHiddenState.sub(a.lastHiddenState).abs().max().dataSync()[0]).toBe(0);
      // Change the predictions of visible patches only: the loss must not move.
      const vis = tf.sub(1, a.mask).expandDims(2);
      const moved = a.logits.add(vis.mul(100));
      expect(mae.reconstructionLoss(images, moved, a.mask).dataSync()[0]).toBeCloseTo(
        a.loss.dataSync()[0]!,
        5,
      );
      // ...and the loss is that mean squared error.
      const target = tf.tidy(() => mae.targets(images));
      const manual = a.logits.sub(target).square().mean(-1).mul(a.mask).sum().div(a.mask.sum());
      expect(a.loss.dataSync()[0]).toBeCloseTo(manual.dataSync()[0]!, 5);
    });
    mae.dispose();
  });

  it('gradients reach every trainable parameter; the sin-cos tables are not trained', () => {
    const mae = new ViTMAEForPreTraining(smallMae, { seed: 2 });
    tf.tidy(() => {
      const images = tf.randomNormal([4, 8, 8, 1], 0, 1, 'float32', 4);
      const vars = mae.trainableParameters();
      const names = mae
        .namedParameters()
        .filter(([, v]) => v.trainable)
        .map(([n]) => n);
      expect(names).not.toContain('vit.embeddings.position');
      expect(names).not.toContain('decoder.position');
      expect(names).toContain('decoder.maskToken');
      const { grads } = tf.variableGrads(() => mae.loss(images), vars);
      for (const [i, v] of vars.entries()) {
        const g = grads[v.name]!;
        expect(g, names[i]).toBeDefined();
        expect(g.abs().max().dataSync()[0], names[i]).toBeGreaterThan(0);
      }
    });
    mae.dispose();
  });

  it('reconstruct: masked patches filled, visible ones copied, predictions in the gaps', () => {
    const mae = new ViTMAEForPreTraining(smallMae, { seed: 6 }).eval();
    tf.tidy(() => {
      const images = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 7);
      const noise = tf.randomUniform([2, 16], 0, 1, 'float32', 8);
      const { masked, reconstructed, mask } = mae.reconstruct(images, { noise, fill: -9 });
      expect(masked.shape).toEqual([2, 8, 8, 1]);
      const m = mask.arraySync() as number[][];
      const img = images.arraySync() as number[][][][];
      const mk = masked.arraySync() as number[][][][];
      const rec = reconstructed.arraySync() as number[][][][];
      for (let b = 0; b < 2; b++)
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) {
            const dropped = m[b]![(y >> 1) * 4 + (x >> 1)] === 1;
            expect(mk[b]![y]![x]![0]).toBeCloseTo(dropped ? -9 : img[b]![y]![x]![0]!, 5);
            if (!dropped) expect(rec[b]![y]![x]![0]).toBeCloseTo(img[b]![y]![x]![0]!, 5);
          }
    });
    mae.dispose();
  });

  it('ViTForImageClassification learns a toy task ([CLS] and mean pooling) and takes an MAE encoder', async () => {
    for (const pooling of ['cls', 'mean'] as const) {
      const model = new ViTForImageClassification(small, { numLabels: 2, pooling, seed: 1 });
      const trainer = new Trainer(model, { lr: 3e-3 });
      const { images, labels } = toyImages(32, 11);
      for (let s = 0; s < 40; s++) await trainer.step(() => model.loss(images, labels));
      const test = toyImages(64, 12);
      const acc = tf.tidy(
        () =>
          model
            .eval()
            .forward(test.images)
            .argMax(-1)
            .equal(test.labels)
            .cast('float32')
            .mean()
            .dataSync()[0]!,
      );
      expect(acc).toBeGreaterThan(0.9);
      tf.dispose([images, labels, test.images, test.labels]);
      trainer.dispose();
      model.dispose();
    }
    const mae = new ViTMAEForPreTraining(smallMae, { seed: 4 });
    const cls = new ViTForImageClassification(small, { numLabels: 2 }).loadEncoder(mae.vit);
    const a = mae.vit.stateDict();
    const b = cls.vit.stateDict();
    for (const [k, v] of Object.entries(a))
      expect(
        tf.tidy(() => v.sub(b[k]!).abs().max().dataSync()[0]),
        k,
      ).toBe(0);
    expect(cls.vit.embeddings.position.trainable).toBe(true);
    mae.dispose();
    cls.dispose();
  });
});
