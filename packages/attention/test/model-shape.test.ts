import * as tf from '@tensorflow/tfjs';
import { initBackend, Rng, ShapeError } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionBias,
  blockConfig,
  causalMask,
  combineMasks,
  decoderBias,
  paddingMask,
  TransformerBlock,
  transformerBlocks,
} from '../src/index.js';

// What GPT, BERT, ViT and Llama share when they build themselves: the block config from a model config,
// the stack of blocks, and a decoder's mask.

beforeAll(async () => {
  await initBackend('cpu');
});

const model = {
  hiddenSize: 8,
  numLayers: 3,
  numHeads: 2,
  intermediateSize: 32,
  hiddenDropout: 0.1,
  attentionDropout: 0.2,
  layerNormEps: 1e-12,
  activation: 'gelu' as const,
  vocabSize: 99, // a model's own field: not part of the block
};

describe('blockConfig', () => {
  it("takes the model config's shared fields, the norm placement and the model's parts", () => {
    expect(blockConfig(model, 'post')).toEqual({
      hiddenSize: 8,
      numHeads: 2,
      intermediateSize: 32,
      norm: 'post',
      activation: 'gelu',
      layerNormEps: 1e-12,
      hiddenDropout: 0.1,
      attentionDropout: 0.2,
    });
    const rng = new Rng(1);
    const pre = blockConfig(model, 'pre', { bias: false, residualStd: 0.01, rng, mlp: 'gated' });
    expect(pre).toMatchObject({ norm: 'pre', bias: false, residualStd: 0.01, mlp: 'gated', hiddenSize: 8 });
    expect(pre.rng).toBe(rng);
    expect('vocabSize' in pre).toBe(false);
  });

  it('leaves dropouts a model config lacks unset, so the block defaults apply (Llama has no hidden dropout)', () => {
    const { hiddenDropout: _h, attentionDropout: _a, ...noDropout } = model;
    const c = blockConfig(noDropout, 'pre');
    expect('hiddenDropout' in c || 'attentionDropout' in c).toBe(false);
    const block = new TransformerBlock(c);
    expect(block.dropoutRate).toBe(0);
    block.dispose();
  });

  it('transformerBlocks builds the same weights as a loop over one rng, in order', () => {
    const stack = transformerBlocks(3, blockConfig(model, 'pre', { rng: new Rng(5) }));
    const rng = new Rng(5);
    const loop = [0, 1, 2].map(() => new TransformerBlock(blockConfig(model, 'pre', { rng })));
    expect(stack).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const a = stack[i]!.namedParameters();
      const b = loop[i]!.namedParameters();
      expect(a.map(([n]) => n)).toEqual(b.map(([n]) => n));
      for (let j = 0; j < a.length; j++) expect(a[j]![1].dataSync()).toEqual(b[j]![1].dataSync());
    }
    // Different blocks of one stack differ (each draws on from the shared rng).
    expect(stack[0]!.attn.query.weight.dataSync()).not.toEqual(stack[1]!.attn.query.weight.dataSync());
    for (const b of [...stack, ...loop]) b.dispose();
  });
});

describe('decoderBias', () => {
  const bias = (a: ReturnType<typeof decoderBias>) => a!.bias.arraySync();

  it('is causal after the cached keys, and combines a padding mask', () => {
    tf.tidy(() => {
      expect(bias(decoderBias(2, 3, 0))).toEqual(bias(attentionBias(causalMask(3))));
      expect(bias(decoderBias(1, 2, 3))).toEqual(bias(attentionBias(causalMask(2, 5))));
      // One new query sees every cached key: nothing to mask.
      expect(decoderBias(2, 1, 4)).toBeUndefined();
      const pad = tf.tensor2d(
        [
          [1, 1, 1],
          [0, 1, 1],
        ],
        [2, 3],
        'int32',
      );
      const got = decoderBias(2, 3, 0, pad as tf.Tensor2D)!;
      const want = attentionBias(combineMasks(causalMask(3), paddingMask(pad))!);
      expect(got.bias.arraySync()).toEqual(want.bias.arraySync());
      expect(got.rowHasKeys!.arraySync()).toEqual(want.rowHasKeys!.arraySync());
      // A single query with padding still masks the padded keys.
      const one = decoderBias(2, 1, 2, pad as tf.Tensor2D)!;
      expect(one.bias.shape).toEqual([2, 1, 1, 3]);
    });
  });

  it('names the shape it needs when the padding mask does not cover past + T', () => {
    const pad = tf.ones([2, 3], 'int32') as tf.Tensor2D;
    expect(() => decoderBias(2, 2, 2, pad)).toThrow(ShapeError);
    expect(() => decoderBias(2, 2, 2, pad)).toThrow(/batch=2, past\+T=4/);
    pad.dispose();
  });
});
