import * as tf from '@tensorflow/tfjs';
import {
  InvalidArgumentError,
  initBackend,
  OutOfMemoryError,
  setWasmHeapBudget,
  Trainer,
  wasmHeapStats,
} from '@transformer-kit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkTrainingFits, estimateTrainingBytes, GPT } from '../src/index.js';

// A model wide enough that activations, not bookkeeping, decide the step's memory.
const config = { vocabSize: 128, maxPositions: 64, numLayers: 2, numHeads: 4, hiddenSize: 64 };
const [B, T] = [8, 64];
const batch = () => {
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7 + t * 3) % 128));
  return [
    tf.tensor2d(ids, undefined, 'int32'),
    tf.tensor2d(
      ids.map((r) => r.slice(1).concat(0)),
      undefined,
      'int32',
    ),
  ];
};

describe('GPT training memory: refused before a step that cannot fit (wasm)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterEach(() => {
    setWasmHeapBudget();
  });

  it('counts weights, gradients of the trainable parameters and activations; frozen weights and recompute shrink it', () => {
    const model = new GPT(config);
    const full = estimateTrainingBytes(model, { batchSize: B, seqLength: T });
    const p = model.parameters().reduce((n, v) => n + v.size, 0);
    expect(full.parameters).toBe(p);
    expect(full.trainable).toBe(p);
    expect(full.heapBytes).toBe(8 * p + full.activationBytes);
    expect(full.momentBytes).toBe(8 * p);
    // Per token and layer: 9d + 2i + 0.25 heads·T floats when the weights train; the logits and their gradient.
    const d = 64;
    expect(full.activationBytes).toBe(
      4 * B * 3 * T * (9 * d + 2 * 4 * d + 0.25 * 4 * T) + 4 * 2 * B * T * 128,
    );
    const rc = estimateTrainingBytes(model, { batchSize: B, seqLength: T, recompute: true });
    expect(rc.activationBytes).toBeLessThan(full.activationBytes / 2);
    for (const v of model.parameters()) if (!v.name.includes('lnF')) v.trainable = false;
    const frozen = estimateTrainingBytes(model, { batchSize: B, seqLength: T });
    expect(frozen.trainable).toBeLessThan(p / 100);
    expect(frozen.activationBytes).toBeLessThan(full.activationBytes);
    expect(() => estimateTrainingBytes(model, { batchSize: 0, seqLength: T })).toThrow(InvalidArgumentError);
    model.dispose();
  });

  it('a heap too small for the full step: OutOfMemoryError up front (nothing allocated), and the step itself would not fit', async () => {
    const model = new GPT(config);
    model.train();
    const live = wasmHeapStats()!.liveBytes;
    const est = estimateTrainingBytes(model, { batchSize: B, seqLength: T });
    // Room for half of what the step needs beyond the weights.
    setWasmHeapBudget(live + (est.heapBytes - 4 * est.parameters) / 2);
    const before = tf.memory().numTensors;
    const err = (() => {
      try {
        checkTrainingFits(model, { batchSize: B, seqLength: T });
      } catch (e) {
        return e as OutOfMemoryError;
      }
    })();
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err!.message).toMatch(
      /GPT training at 8 × 64: .* do not fit the .* wasm heap .*addLora.*setRecompute/,
    );
    expect(tf.memory().numTensors).toBe(before);
    // The estimate is not pessimistic here: the step itself runs out of that heap.
    const [x, y] = batch();
    const trainer = new Trainer(model, { lr: 1e-3 });
    await expect(trainer.step(() => model.loss(x!, y!))).rejects.toBeInstanceOf(OutOfMemoryError);
    trainer.dispose();
    // With the full heap the check passes and the step runs.
    setWasmHeapBudget();
    checkTrainingFits(model, { batchSize: B, seqLength: T });
    const ok = new Trainer(model, { lr: 1e-3 });
    expect(Number.isFinite((await ok.step(() => model.loss(x!, y!))).loss)).toBe(true);
    ok.dispose();
    tf.dispose([x!, y!]);
    model.dispose();
  });
});
