import * as tf from '@tensorflow/tfjs';
import { setRecompute } from '@transformer-kit/attention';
import { initBackend, Rng, resetWasmHeapPeak, Trainer, wasmHeapStats } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BertForSequenceClassification, bertConfig } from '../src/index.js';

/*
 * BERT-base fine-tuning must fit the 4 GB wasm heap at batch 8 × 128 with room for the rest of the process
 * (AdamW's moments, 0.9 GB, live in host memory). Full width, full vocabulary, batch and length; 1 and 2
 * layers, so the per-layer cost of a training step is measured and extrapolated to BERT-base's 12.
 */
const BATCH = 8;
const SEQ = 128;
const MB = 2 ** 20;

async function stepPeak(layers: number, recompute: boolean): Promise<{ peak: number; loss: number }> {
  const model = new BertForSequenceClassification(bertConfig('base', { numLayers: layers }), {
    numLabels: 2,
  });
  setRecompute(model, recompute);
  const rng = new Rng(3);
  const inputIds = Array.from({ length: BATCH }, () => Array.from({ length: SEQ }, () => 1 + rng.int(30000)));
  const attentionMask = inputIds.map((r) => r.map(() => 1));
  const labels = tf.tensor1d(
    inputIds.map((_, i) => i % 2),
    'int32',
  );
  const trainer = new Trainer(model, { lr: 2e-5 });
  const baseline = wasmHeapStats()!.liveBytes;
  resetWasmHeapPeak();
  const { loss } = await trainer.step(() => model.loss({ inputIds, attentionMask }, labels));
  const peak = wasmHeapStats()!.peakBytes - baseline;
  trainer.dispose();
  labels.dispose();
  model.dispose();
  return { peak, loss };
}

describe('BERT-base fine-tuning memory on wasm, batch 8 × 128', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('a training step costs under 70 MB per layer, and 12 layers fit with room to spare', async () => {
    const one = await stepPeak(1, false);
    const two = await stepPeak(2, false);
    expect(Number.isFinite(two.loss)).toBe(true);
    const perLayer = two.peak - one.peak;
    const weights = 110e6 * 4; // BERT-base parameters, float32
    const full = weights + one.peak + 11 * perLayer;
    console.log(
      `per layer ${Math.round(perLayer / MB)} MB; 1 layer ${Math.round(one.peak / MB)} MB; 12 layers ≈ ${Math.round(full / MB)} MB of tensors`,
    );
    expect(perLayer).toBeGreaterThan(10 * MB);
    expect(perLayer).toBeLessThan(70 * MB);
    expect(full).toBeLessThan(1.6 * 1024 * MB);
  }, 120_000);

  it('with recompute, activations no longer grow with depth: the parameters and their gradients do', async () => {
    const one = await stepPeak(1, true);
    const two = await stepPeak(2, true);
    const perLayer = two.peak - one.peak;
    console.log(`recompute: per layer ${Math.round(perLayer / MB)} MB`);
    // A layer's gradients alone are 7.1M floats (27 MB); its kept input is 3 MB.
    expect(perLayer).toBeLessThan(60 * MB);
  }, 120_000);
});
