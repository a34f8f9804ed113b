import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackendName,
  crossEntropy,
  dropout,
  gelu,
  initBackend,
  Linear,
  Module,
  OutOfMemoryError,
  Rng,
  recompute,
  resetWasmHeapPeak,
  seedDropout,
  setWasmHeapBudget,
  Trainer,
  valueAndGrads,
  wasmHeapStats,
} from '../src/index.js';

/** Two linear layers with a GELU and dropout between them, then a cross-entropy. */
class Mlp2 extends Module {
  readonly fc: Linear;
  readonly proj: Linear;
  constructor(dim = 16, hidden = 32, seed = 3) {
    super();
    const rng = new Rng(seed);
    this.fc = this.module('fc', new Linear(dim, hidden, { rng, std: 0.3 }));
    this.proj = this.module('proj', new Linear(hidden, dim, { rng, std: 0.3 }));
  }
  block(x: tf.Tensor): tf.Tensor {
    return x.add(this.proj.forward(dropout(gelu(this.fc.forward(x)), 0.2, this.training)));
  }
  loss(x: tf.Tensor, y: tf.Tensor, useRecompute = false): tf.Scalar {
    let h = x;
    for (let i = 0; i < 3; i++)
      h = useRecompute ? recompute((z) => this.block(z), h, [], this.parameters()) : this.block(h);
    return crossEntropy(h, y);
  }
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.abs(a.sub(b)).max().dataSync()[0]!);

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`valueAndGrads on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it('gives the same loss and gradients as tf.grads', () => {
      const model = new Mlp2().eval();
      const x = tf.randomNormal([4, 5, 16], 0, 1, 'float32', 7);
      const y = tf.randomUniformInt([4, 5], 0, 16, 8);
      const vars = model.parameters();
      const mine = valueAndGrads(() => model.loss(x, y), vars);
      const theirs = tf.variableGrads(() => model.loss(x, y), vars);
      expect(Math.abs(mine.value.dataSync()[0]! - theirs.value.dataSync()[0]!)).toBeLessThan(1e-6);
      for (const [i, v] of vars.entries())
        expect(maxDiff(mine.grads[i]!, theirs.grads[v.name]!)).toBeLessThan(1e-6);
      tf.dispose([mine.value, theirs.value, x, y, ...(mine.grads as tf.Tensor[])]);
      tf.dispose(theirs.grads);
      model.dispose();
    });

    it('returns null for an x the value does not depend on, and frees everything else', () => {
      const model = new Mlp2();
      const unused = tf.variable(tf.ones([3]));
      const x = tf.randomNormal([2, 16], 0, 1, 'float32', 1);
      const y = tf.tensor1d([1, 2], 'int32');
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const { value, grads } = valueAndGrads(() => model.loss(x, y), [...model.parameters(), unused]);
        expect(grads.at(-1)).toBeNull();
        tf.dispose([value, ...grads.filter((g): g is tf.Tensor => g !== null)]);
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y, unused]);
      model.dispose();
    });

    it('releases the tape when the forward pass throws', () => {
      const model = new Mlp2();
      const x = tf.randomNormal([2, 16], 0, 1, 'float32', 1);
      const before = tf.memory().numTensors;
      expect(() =>
        valueAndGrads(() => {
          model.block(x);
          throw new Error('boom');
        }, model.parameters()),
      ).toThrow('boom');
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      model.dispose();
    });

    it('recompute gives the plain gradients (within 1e-5), dropout masks included', () => {
      const model = new Mlp2();
      model.train();
      const x = tf.randomNormal([4, 6, 16], 0, 1, 'float32', 11);
      const y = tf.randomUniformInt([4, 6], 0, 16, 12);
      const vars = model.parameters();
      seedDropout(5);
      const plain = valueAndGrads(() => model.loss(x, y), vars);
      seedDropout(5);
      const before = tf.memory().numTensors;
      const re = valueAndGrads(() => model.loss(x, y, true), vars);
      expect(tf.memory().numTensors).toBe(before + 1 + vars.length);
      expect(Math.abs(plain.value.dataSync()[0]! - re.value.dataSync()[0]!)).toBeLessThan(1e-6);
      for (const i of vars.keys()) expect(maxDiff(plain.grads[i]!, re.grads[i]!)).toBeLessThan(1e-5);
      // Dropout really was on: a different seed gives different gradients.
      seedDropout(6);
      const other = valueAndGrads(() => model.loss(x, y), vars);
      expect(maxDiff(plain.grads[0]!, other.grads[0]!)).toBeGreaterThan(1e-4);
      for (const r of [plain, re, other]) tf.dispose([r.value, ...(r.grads as tf.Tensor[])]);
      tf.dispose([x, y]);
      model.dispose();
    });
  });
}

describe('wasm heap guard', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterEach(() => {
    setWasmHeapBudget();
  });

  it('turns a step that does not fit into OutOfMemoryError, and the model trains on afterwards', async () => {
    const model = new Mlp2(64, 256);
    const trainer = new Trainer(model, { lr: 1e-2 });
    const x = tf.randomNormal([64, 64], 0, 1, 'float32', 2);
    const y = tf.randomUniformInt([64], 0, 64, 3);
    const step = () => trainer.step(() => model.loss(x, y));
    await step(); // moments exist now: only the step's own memory is left to measure
    const weights = model.parameters().map((p) => p.dataSync().slice());
    const tensors = tf.memory().numTensors;
    resetWasmHeapPeak();
    await step();
    const peak = wasmHeapStats()!.peakBytes;
    const stepBytes = peak - wasmHeapStats()!.liveBytes;
    expect(stepBytes).toBeGreaterThan(0);
    const after = model.parameters().map((p) => p.dataSync().slice());

    setWasmHeapBudget(wasmHeapStats()!.liveBytes + stepBytes / 2);
    const err = await step().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as OutOfMemoryError).code).toBe('OUT_OF_MEMORY');
    expect((err as Error).message).toMatch(/accumulationSteps/);
    expect((err as Error).message).toMatch(/4 GB/);
    expect(tf.memory().numTensors).toBe(tensors);
    // Nothing was applied: the weights are those after the last good step.
    for (const [i, p] of model.parameters().entries()) expect(p.dataSync()).toEqual(after[i]);
    expect(trainer.stepCount).toBe(2);

    setWasmHeapBudget();
    const { loss } = await step();
    expect(Number.isFinite(loss)).toBe(true);
    expect(model.parameters()[0]!.dataSync()).not.toEqual(weights[0]);
    expect(tf.memory().numTensors).toBe(tensors);
    trainer.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
