import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  epochBatches,
  InvalidArgumentError,
  initBackend,
  permutation,
  Rng,
  sampleBatch,
  splitTokens,
  Trainer,
  TrainingLoop,
  warmupLinear,
  windowLoss,
} from '../src/index.js';
import { batch, TinyNet } from './tiny-net.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function setup(steps = 6) {
  const model = new TinyNet();
  const trainer = new Trainer(model, { lr: 1e-2, totalSteps: steps });
  return { model, trainer };
}

describe('TrainingLoop', () => {
  it('takes the same steps as calling Trainer.step by hand', async () => {
    const a = setup();
    const b = setup();
    const manual: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await b.trainer.step(() => {
        const { ids, targets } = batch();
        return b.model.loss(ids, targets);
      });
      manual.push(r.loss);
    }
    const loop = new TrainingLoop({
      trainer: a.trainer,
      batches: batch,
      loss: ({ ids, targets }) => a.model.loss(ids, targets),
      steps: 6,
    });
    const before = tf.memory().numTensors;
    const r = await loop.run();
    expect(r.reason).toBe('steps');
    expect(r.history.map((s) => s.loss)).toEqual(manual);
    expect(r.history.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(tf.memory().numTensors).toBe(before);
    for (const x of [a, b]) {
      x.trainer.dispose();
      x.model.dispose();
    }
  });

  it('evaluates every N steps and at the end, in eval mode, saves every N steps and emits events', async () => {
    const { model, trainer } = setup(5);
    const events: string[] = [];
    const modes: boolean[] = [];
    const loop = new TrainingLoop({
      trainer,
      batches: batch,
      loss: ({ ids, targets }) => model.loss(ids, targets),
      steps: 5,
      evalEvery: 2,
      evaluate: async () => {
        modes.push(model.training);
        return { valLoss: 1, accuracy: 0.5 };
      },
      checkpointEvery: 3,
      save: async (step) => void events.push(`save ${step}`),
      callbacks: [
        {
          onStep: (s) => void events.push(`step ${s.step}`),
          onEval: (m, step) => void events.push(`eval ${step} ${m.accuracy}`),
          onCheckpoint: (step) => void events.push(`saved ${step}`),
          onEnd: (r) => void events.push(`end ${r.reason}`),
        },
      ],
    });
    await loop.run();
    expect(events).toEqual([
      'step 1',
      'step 2',
      'eval 2 0.5',
      'step 3',
      'save 3',
      'saved 3',
      'step 4',
      'eval 4 0.5',
      'step 5',
      'eval 5 0.5',
      'save 5',
      'saved 5',
      'end steps',
    ]);
    expect(modes).toEqual([false, false, false]);
    expect(model.training).toBe(true);
    trainer.dispose();
    model.dispose();
  });

  it('stops early when the monitored metric stops improving', async () => {
    const { model, trainer } = setup(100);
    const values = [3, 2, 2.5, 2.1, 2.2, 1];
    let i = 0;
    const loop = new TrainingLoop({
      trainer,
      batches: batch,
      loss: ({ ids, targets }) => model.loss(ids, targets),
      steps: 100,
      evalEvery: 1,
      evaluate: async () => values[i++]!,
      earlyStopping: { patience: 3 },
    });
    const r = await loop.run();
    expect(r.reason).toBe('earlyStopping');
    expect(r.best).toBe(2);
    expect(loop.step).toBe(5);
    trainer.dispose();
    model.dispose();
  });

  it('stop() ends run() after the current step; run() again resumes', async () => {
    const { model, trainer } = setup(6);
    const loop = new TrainingLoop({
      trainer,
      batches: batch,
      loss: ({ ids, targets }) => model.loss(ids, targets),
      steps: 6,
    });
    const off = loop.on({ onStep: (s) => (s.step === 2 ? loop.stop() : undefined) });
    expect((await loop.run()).reason).toBe('stopped');
    expect(loop.step).toBe(2);
    off();
    expect((await loop.run()).reason).toBe('steps');
    expect(loop.history.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    loop.extend(2);
    await loop.run();
    expect(loop.step).toBe(8);
    trainer.dispose();
    model.dispose();
  });

  it('runs epochs of a source with stepsPerEpoch and checks its options', () => {
    const { model, trainer } = setup();
    const src = epochBatches([1, 2, 3, 4, 5], 2, new Rng(0));
    const loop = new TrainingLoop({ trainer, batches: src, loss: () => tf.scalar(0), epochs: 3 });
    expect(loop.totalSteps).toBe(9);
    // Two batches per optimizer step: 3 epochs of 3 batches are 5 steps (the last one spans an epoch end).
    const acc = new Trainer(model, { lr: 1e-2, accumulationSteps: 2 });
    expect(
      new TrainingLoop({ trainer: acc, batches: src, loss: () => tf.scalar(0), epochs: 3 }).totalSteps,
    ).toBe(5);
    acc.dispose();
    const mk = (o: object) => () =>
      new TrainingLoop({ trainer, batches: batch, loss: () => tf.scalar(0), ...o });
    expect(mk({})).toThrow(/give steps or epochs/);
    expect(mk({ epochs: 2 })).toThrow(/stepsPerEpoch/);
    expect(mk({ steps: 0 })).toThrow(InvalidArgumentError);
    expect(mk({ steps: 2, checkpointEvery: 1 })).toThrow(/save/);
    expect(mk({ steps: 2, earlyStopping: {} })).toThrow(/evaluate/);
    trainer.dispose();
    model.dispose();
  });
});

describe('batch sources', () => {
  it('epochBatches covers every item once per epoch, reshuffled (the last batch smaller)', () => {
    const src = epochBatches(['a', 'b', 'c', 'd', 'e'], 2, new Rng(3));
    expect(src.stepsPerEpoch).toBe(3);
    const epoch = () => [src.next(), src.next(), src.next()];
    const e1 = epoch();
    const e2 = epoch();
    for (const e of [e1, e2]) {
      expect(e.map((b) => b.length)).toEqual([2, 2, 1]);
      expect(e.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    }
    const rng = new Rng(3);
    const p = permutation(5, rng);
    expect(e1.flat()).toEqual(p.map((i) => 'abcde'[i]));
  });

  it('splitTokens, sampleBatch and windowLoss', async () => {
    const { train, val } = splitTokens([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.2);
    expect(Array.from(train)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(val)).toEqual([8, 9]);
    const { x, y } = sampleBatch(train, 3, 4, new Rng(1));
    const xs = x.arraySync();
    const ys = y.arraySync();
    for (let b = 0; b < 3; b++) expect(ys[b]).toEqual(xs[b]!.map((v) => v + 1));
    tf.dispose([x, y]);
    expect(() => sampleBatch(val, 1, 4, new Rng(1))).toThrow(/too short/);
    const before = tf.memory().numTensors;
    const l = await windowLoss(train, (a) => a.sum().cast('float32').div(100) as tf.Scalar, {
      batchSize: 1,
      sequenceLength: 2,
      batches: 4,
    });
    expect(l).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('schedules', () => {
  it('warmupLinear is HF linear-with-warmup; Trainer takes any schedule', async () => {
    const f = warmupLinear({ lr: 1, warmupSteps: 2, totalSteps: 6, minLr: 0.2 });
    // warmup 0.5, 1; then 1 → 0.2 over steps 2..6 in equal parts of 0.2.
    for (const [step, want] of [0.5, 1, 1, 0.8, 0.6, 0.4, 0.2, 0.2].entries())
      expect(f(step)).toBeCloseTo(want, 12);
    expect(() => warmupLinear({ lr: 1, warmupSteps: 3, totalSteps: 2 })).toThrow(/totalSteps/);
    const model = new TinyNet();
    const trainer = new Trainer(model, { lr: 1, schedule: (s) => 0.01 / (s + 1) });
    const loop = new TrainingLoop({
      trainer,
      batches: batch,
      loss: ({ ids, targets }) => model.loss(ids, targets),
      steps: 3,
    });
    const { history } = await loop.run();
    expect(history.map((h) => h.lr)).toEqual([0.01, 0.005, 0.01 / 3]);
    trainer.dispose();
    model.dispose();
  });
});
