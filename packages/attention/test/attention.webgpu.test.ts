import * as tf from '@tensorflow/tfjs';
import { initBackend, Rng } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalMask, combineMasks, KVCache, paddingMask, TransformerBlock } from '../src/index.js';

describe('attention on webgpu', () => {
  beforeAll(async () => {
    await initBackend('webgpu');
  });

  it('zeroes rows with nothing to attend to, and decodes with a cache like a full causal pass', async () => {
    const block = new TransformerBlock({
      hiddenSize: 8,
      numHeads: 2,
      intermediateSize: 16,
      norm: 'pre',
      activation: 'gelu_tanh',
      rng: new Rng(5),
    });
    block.eval();
    const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 6);
    // Left padding on row 1: its first query sees nothing.
    const mask = combineMasks(
      causalMask(5),
      paddingMask([
        [1, 1, 1, 1, 1],
        [0, 1, 1, 1, 1],
      ]),
    )!;
    const { attention } = block.forward(x, { mask, returnAttention: true });
    const probs = (await attention!.array()) as number[][][][];
    expect(probs[1]![0]![0]).toEqual([0, 0, 0, 0, 0]);
    expect(probs[0]![1]![4]!.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
    const full = block.forward(x, { mask: causalMask(5) }).output;
    const cache = new KVCache(1);
    const steps: tf.Tensor[] = [];
    for (let t = 0; t < 5; t++)
      steps.push(block.forward(x.slice([0, t], [2, 1]), { cache: cache.layers[0] }).output);
    const diff = tf.max(tf.abs(full.sub(tf.concat(steps, 1))));
    expect((await diff.data())[0]).toBeLessThan(1e-5);
    cache.dispose();
  });
});
