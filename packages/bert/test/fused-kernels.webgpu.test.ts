import * as tf from '@tensorflow/tfjs';
import {
  fusedKernels,
  initBackend,
  Rng,
  registerFusedKernels,
  Trainer,
  unregisterFusedKernels,
  webgpuDevice,
} from '@transformer-kit/core';
import { describe, expect, it } from 'vitest';
import { BertForSequenceClassification, bertConfig } from '../src/index.js';

/*
 * A small BERT's fine-tuning steps on WebGPU with backend-webgpu's fused kernels: the losses of wasm for the
 * same seed (dropout 0, since WebGPU draws its dropout masks differently), fewer dispatches per step than
 * with TF.js's kernels, and no tensor left behind (also with dropout on).
 */

const SEQ = 32;
const rng = new Rng(7);
const inputIds = Array.from({ length: 2 }, () => Array.from({ length: SEQ }, () => 1 + rng.int(999)));
// Row 1 is padded: the attention bias and the rows-with-keys path are exercised.
const attentionMask = inputIds.map((r, i) => r.map((_, t) => (i === 1 && t >= SEQ - 5 ? 0 : 1)));

async function train(
  backend: 'wasm' | 'webgpu',
  fused: boolean,
  dropout = 0,
): Promise<{ losses: number[]; dispatches: number[]; tensors: number[] }> {
  await initBackend(backend);
  const kernels = fusedKernels();
  if (!fused) unregisterFusedKernels(backend);
  const config = bertConfig(
    { vocabSize: 1000, hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 256, maxPositions: 64 },
    { hiddenDropout: dropout, attentionDropout: dropout },
  );
  const model = new BertForSequenceClassification(config, { numLabels: 2 });
  model.train();
  const labels = tf.tensor1d([0, 1], 'int32');
  const trainer = new Trainer(model, { lr: 1e-3, weightDecay: 0.01, clipNorm: 1 });
  const out = { losses: [] as number[], dispatches: [] as number[], tensors: [] as number[] };
  try {
    for (let s = 0; s < 3; s++) {
      const d0 = webgpuDevice()?.dispatches ?? 0;
      out.losses.push((await trainer.step(() => model.loss({ inputIds, attentionMask }, labels))).loss);
      out.dispatches.push((webgpuDevice()?.dispatches ?? 0) - d0);
      out.tensors.push(tf.memory().numTensors);
    }
  } finally {
    trainer.dispose();
    model.dispose();
    labels.dispose();
    registerFusedKernels(backend, kernels);
  }
  return out;
}

describe('BERT fine-tuning on webgpu with the fused kernels', () => {
  it("gives wasm's losses for 3 steps (dropout 0) in fewer dispatches than TF.js's kernels", async () => {
    const wasm = await train('wasm', true);
    const fused = await train('webgpu', true);
    const plain = await train('webgpu', false);
    for (let s = 0; s < 3; s++) {
      expect(Math.abs(fused.losses[s]! - wasm.losses[s]!) / wasm.losses[s]!).toBeLessThan(1e-3);
      expect(Math.abs(plain.losses[s]! - wasm.losses[s]!) / wasm.losses[s]!).toBeLessThan(1e-3);
    }
    // training moved: the loss of step 3 is below step 1's
    expect(fused.losses[2]!).toBeLessThan(fused.losses[0]!);
    console.log(
      `BERT (2 × 64, 2 layers) dispatches/step, TF.js kernels → fused: ${plain.dispatches.join(' ')} → ${fused.dispatches.join(' ')}`,
    );
    // every op the kernels cover, in every layer, forward and backward, is fewer dispatches
    expect(fused.dispatches[2]!).toBeLessThan(0.9 * plain.dispatches[2]!);
    expect(fused.tensors[2]).toBe(fused.tensors[1]);
  });

  it('trains with dropout on (masks made on the device) without leaking tensors', async () => {
    const run = await train('webgpu', true, 0.1);
    expect(run.losses.every(Number.isFinite)).toBe(true);
    expect(run.tensors[2]).toBe(run.tensors[1]);
  });
});
