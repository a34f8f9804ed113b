import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  clipFactor,
  crossEntropy,
  decayMatricesOnly,
  Embedding,
  globalNorm,
  InvalidArgumentError,
  initBackend,
  LayerNorm,
  Linear,
  Module,
  NonFiniteLossError,
  Rng,
  readSafetensors,
  Trainer,
  warmupCosine,
  writeSafetensors,
} from '../src/index.js';

// torch.optim.AdamW / clip_grad_norm_ numbers from fixtures/gen_training.py.
const ref = JSON.parse(readFileSync(new URL('./fixtures/training.json', import.meta.url), 'utf8'));

/** A tiny next-token model: embedding → layer norm → linear, enough to train and to exercise the decay rule. */
class Tiny extends Module {
  readonly wte: Embedding;
  readonly ln: LayerNorm;
  readonly head: Linear;
  constructor(vocab = 11, dim = 8, seed = 1) {
    super();
    const rng = new Rng(seed);
    this.wte = this.module('wte', new Embedding(vocab, dim, { rng }));
    this.ln = this.module('ln', new LayerNorm(dim));
    this.head = this.module('head', new Linear(dim, vocab, { rng, std: 0.2 }));
  }
  loss(ids: tf.Tensor, targets: tf.Tensor): tf.Scalar {
    return crossEntropy(this.head.forward(this.ln.forward(this.wte.forward(ids))), targets);
  }
}

const ids = () =>
  tf.tensor2d(
    [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ],
    undefined,
    'int32',
  );
const next = () =>
  tf.tensor2d(
    [
      [2, 3, 4, 5],
      [6, 7, 8, 9],
    ],
    undefined,
    'int32',
  );

function close(actual: ArrayLike<number>, expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++)
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tol);
}

describe('warmupCosine', () => {
  it('warms up linearly, follows a half cosine to minLr, then stays there', () => {
    const lr = warmupCosine({ lr: 1, warmupSteps: 4, totalSteps: 14, minLr: 0.1 });
    expect([0, 1, 2, 3].map(lr)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lr(4)).toBeCloseTo(1, 12); // cosine starts at the peak
    expect(lr(9)).toBeCloseTo(0.55, 12); // halfway: (lr + minLr) / 2
    expect(lr(6)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos(Math.PI * 0.2)), 12);
    expect(lr(14)).toBe(0.1);
    expect(lr(1000)).toBe(0.1);
  });
  it('is constant after warmup without totalSteps, and rejects bad settings', () => {
    const lr = warmupCosine({ lr: 3e-4, warmupSteps: 2 });
    expect([lr(0), lr(1), lr(2), lr(500)]).toEqual([1.5e-4, 3e-4, 3e-4, 3e-4]);
    expect(() => warmupCosine({ lr: 1, warmupSteps: 10, totalSteps: 5 })).toThrow(/totalSteps/);
    expect(() => warmupCosine({ lr: 1, minLr: 2 })).toThrow(InvalidArgumentError);
    expect(() => warmupCosine({ lr: Number.NaN })).toThrow(/lr/);
  });
});

describe.each(['cpu', 'wasm'] as const)('training utilities on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('AdamW matches torch.optim.AdamW over three steps with changing lr', () => {
    const w = tf.variable(tf.tensor2d(ref.w0, [3, 4]));
    const b = tf.variable(tf.tensor1d(ref.b0));
    const opt = new AdamW(
      [
        ['fc.weight', w],
        ['fc.bias', b],
      ],
      { beta1: ref.betas[0], beta2: ref.betas[1], eps: ref.eps, weightDecay: ref.weightDecay },
    );
    expect(opt.decayedNames).toEqual(['fc.weight']);
    ref.grads.forEach((g: { w: number[]; b: number[] }, i: number) => {
      const grads = { [w.name]: tf.tensor2d(g.w, [3, 4]), [b.name]: tf.tensor1d(g.b) };
      opt.step(grads, { lr: ref.lrs[i] });
      tf.dispose(grads);
      close(w.dataSync(), ref.after[i].w, 2e-6);
      close(b.dataSync(), ref.after[i].b, 2e-6);
    });
    expect(opt.stepCount).toBe(3);
    opt.dispose();
    tf.dispose([w, b]);
  });

  it('AdamW leaves parameters without a gradient alone and rejects unknown ones', () => {
    const w = tf.variable(tf.ones([2, 2]));
    const b = tf.variable(tf.ones([2]));
    const opt = new AdamW(
      [
        ['w', w],
        ['b', b],
      ],
      { weightDecay: 0.5 },
    );
    const g = tf.ones([2, 2]);
    opt.step({ [w.name]: g });
    expect(Array.from(b.dataSync())).toEqual([1, 1]);
    expect(w.dataSync()[0]).not.toBe(1);
    expect(() => opt.step({ nope: g })).toThrow(/unknown variable 'nope'/);
    expect(() => new AdamW([['w', w]], { beta2: 1 })).toThrow(InvalidArgumentError);
    opt.dispose();
    tf.dispose([w, b, g]);
  });

  it('decays matrices only by default: not biases, norm gains; a rule can exempt embeddings', () => {
    const model = new Tiny();
    const opt = new AdamW(model);
    expect(opt.decayedNames).toEqual(['wte.weight', 'head.weight']);
    const noEmb = new AdamW(model, { decay: (n, p) => decayMatricesOnly(n, p) && !n.startsWith('wte.') });
    expect(noEmb.decayedNames).toEqual(['head.weight']);
    opt.dispose();
    noEmb.dispose();
    model.dispose();
  });

  it('clipFactor (what Trainer applies) matches torch.nn.utils.clip_grad_norm_ and keeps small gradients', () => {
    const grads = { w: tf.tensor2d(ref.grads[0].w, [3, 4]), b: tf.tensor1d(ref.grads[0].b) };
    const norm = globalNorm(Object.values(grads));
    expect(norm.dataSync()[0]).toBeCloseTo(ref.clip.norm, 5);
    const factor = clipFactor(norm.dataSync()[0]!, ref.clip.maxNorm);
    const big = clipFactor(norm.dataSync()[0]!, 1e3);
    tf.tidy(() => {
      close(grads.w.mul(factor).dataSync(), ref.clip.w, 1e-6);
      close(grads.b.mul(factor).dataSync(), ref.clip.b, 1e-6);
      close(grads.w.mul(big).dataSync(), ref.grads[0].w, 1e-6);
    });
    expect(() => clipFactor(1, 0)).toThrow(/maxNorm/);
    tf.dispose([grads, norm]);
  });

  it('Trainer lowers the loss and keeps numTensors flat across 50 steps', async () => {
    const model = new Tiny();
    const trainer = new Trainer(model, {
      lr: 3e-2,
      weightDecay: 0.01,
      warmupSteps: 5,
      totalSteps: 50,
      clipNorm: 1,
    });
    const x = ids();
    const y = next();
    const first = await trainer.step(() => model.loss(x, y));
    expect(first).toMatchObject({ step: 1, lr: 3e-2 / 5 });
    expect(first.gradNorm).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 49; i++) {
      last = await trainer.step(() => model.loss(x, y));
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(last.step).toBe(50);
    expect(last.lr).toBeCloseTo(warmupCosine({ lr: 3e-2, warmupSteps: 5, totalSteps: 50 })(49), 12);
    expect(last.loss).toBeLessThan(first.loss * 0.5);
    trainer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('Trainer raises NonFiniteLossError naming the step and leaves the parameters untouched', async () => {
    const model = new Tiny();
    const trainer = new Trainer(model, { lr: 1e-2 });
    const x = ids();
    const y = next();
    await trainer.step(() => model.loss(x, y));
    await trainer.step(() => model.loss(x, y));
    const snapshot = model.head.weight.dataSync().slice();
    const before = tf.memory().numTensors;
    const err = await trainer
      .step(() => model.loss(x, y).mul(Number.NaN) as tf.Scalar)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(3);
    expect((err as Error).message).toMatch(/loss is NaN at step 3/);
    expect(Array.from(model.head.weight.dataSync())).toEqual(Array.from(snapshot));
    expect(trainer.stepCount).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('a NaN gradient with a finite loss is refused too, naming the step', async () => {
    const model = new Tiny();
    const trainer = new Trainer(model, { lr: 1e-2 });
    const w = model.head.weight;
    // sqrt(w - w) is 0, but its gradient is inf · 0 = NaN.
    const err = await trainer.step(() => w.sub(w).sqrt().sum() as tf.Scalar).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as Error).message).toMatch(/gradient norm is NaN at step 1 \(loss 0\)/);
    expect(trainer.stepCount).toBe(0);
    trainer.dispose();
    model.dispose();
  });

  it('gradient accumulation over two halves equals one step on the whole batch', async () => {
    const x = ids();
    const y = next();
    const halves = [0, 1].map((r) => [x.slice([r, 0], [1, 4]), y.slice([r, 0], [1, 4])] as const);
    const a = new Tiny();
    const b = new Tiny();
    const ta = new Trainer(a, { lr: 1e-2, clipNorm: 0.5 });
    const tb = new Trainer(b, { lr: 1e-2, clipNorm: 0.5, accumulationSteps: 2 });
    for (let s = 0; s < 3; s++) {
      const ra = await ta.step(() => a.loss(x, y));
      const rb = await tb.step((i) => b.loss(halves[i]![0], halves[i]![1]));
      expect(rb.loss).toBeCloseTo(ra.loss, 5);
      expect(rb.gradNorm).toBeCloseTo(ra.gradNorm, 5);
    }
    for (const [name, p] of a.namedParameters()) {
      const q = b.stateDict()[name]!;
      close(q.dataSync(), Array.from(p.dataSync()), 1e-5);
    }
    ta.dispose();
    tb.dispose();
    a.dispose();
    b.dispose();
    tf.dispose([x, y, ...halves.flat()]);
  });

  it('AdamW state exported after 3 steps, saved as safetensors and imported, resumes exactly', async () => {
    const x = ids();
    const y = next();
    const lossOf = (m: Tiny) => () => m.loss(x, y);
    const straight = new Tiny();
    const ts = new Trainer(straight, { lr: 1e-2, warmupSteps: 2, totalSteps: 6 });
    for (let i = 0; i < 5; i++) await ts.step(lossOf(straight));

    const first = new Tiny();
    const t1 = new Trainer(first, { lr: 1e-2, warmupSteps: 2, totalSteps: 6 });
    for (let i = 0; i < 3; i++) await t1.step(lossOf(first));
    const state = t1.optimizer.exportState();
    expect(Object.keys(state.tensors).slice(0, 2)).toEqual(['wte.weight.exp_avg', 'wte.weight.exp_avg_sq']);
    const bytes = await writeSafetensors(state.tensors, { step: String(state.step) });
    const file = readSafetensors(bytes);

    const resumed = new Tiny();
    resumed.loadStateDict(first.stateDict());
    const t2 = new Trainer(resumed, { lr: 1e-2, warmupSteps: 2, totalSteps: 6 });
    t2.optimizer.importState({ step: Number(file.metadata.step), tensors: Object.fromEntries(file.tensors) });
    const r4 = await t2.step(lossOf(resumed));
    expect(r4.step).toBe(4);
    await t2.step(lossOf(resumed));
    for (const [name, p] of straight.namedParameters()) {
      expect(Array.from(resumed.stateDict()[name]!.dataSync()), name).toEqual(Array.from(p.dataSync()));
    }
    const wrong = { ...state.tensors, extra: state.tensors['ln.bias.exp_avg']! };
    delete (wrong as Record<string, unknown>)['head.bias.exp_avg'];
    expect(() => t2.optimizer.importState({ step: 1, tensors: wrong })).toThrow(
      /optimizer state does not fit: missing head.bias.exp_avg, unexpected extra/,
    );
    expect(() => t2.optimizer.importState({ step: -1, tensors: state.tensors })).toThrow(
      InvalidArgumentError,
    );
    for (const t of [ts, t1, t2]) t.dispose();
    for (const m of [straight, first, resumed]) m.dispose();
    tf.dispose([x, y]);
  });

  it('Trainer.dispose frees the optimizer state', async () => {
    const model = new Tiny();
    const x = ids();
    const y = next();
    const before = tf.memory().numTensors;
    const trainer = new Trainer(model, { lr: 1e-3 });
    await trainer.step(() => model.loss(x, y));
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new Trainer(model, { lr: 1e-3, clipNorm: -1 })).toThrow(/clipNorm/);
    expect(() => new Trainer(model, { lr: 1e-3, accumulationSteps: 0 })).toThrow(/accumulationSteps/);
    model.dispose();
    tf.dispose([x, y]);
  });
});

// GPU backends take AdamW's tensor-op path. To test it here, register the cpu kernels under a backend
// name AdamW does not treat as host memory.
describe('AdamW tensor-op path (as on GPU backends)', () => {
  beforeAll(async () => {
    await initBackend('cpu');
    const cpu = tf.findBackend('cpu')!;
    const Ctor = cpu.constructor as new () => tf.KernelBackend;
    tf.registerBackend('tk-device', () => new Ctor());
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tk-device' });
  });

  it('matches torch, also when the backend changes between steps (moments move along)', async () => {
    await tf.setBackend('cpu');
    const w = tf.variable(tf.tensor2d(ref.w0, [3, 4]));
    const b = tf.variable(tf.tensor1d(ref.b0));
    const opt = new AdamW(
      [
        ['fc.weight', w],
        ['fc.bias', b],
      ],
      { beta1: ref.betas[0], beta2: ref.betas[1], eps: ref.eps, weightDecay: ref.weightDecay },
    );
    for (const [i, backend] of ['tk-device', 'cpu', 'tk-device'].entries()) {
      await tf.setBackend(backend);
      const g = ref.grads[i];
      const grads = { [w.name]: tf.tensor2d(g.w, [3, 4]), [b.name]: tf.tensor1d(g.b) };
      opt.step(grads, { lr: ref.lrs[i] });
      tf.dispose(grads);
      close(w.dataSync(), ref.after[i].w, 2e-6);
      close(b.dataSync(), ref.after[i].b, 2e-6);
    }
    opt.dispose();
    tf.dispose([w, b]);
    await tf.setBackend('cpu');
  });

  it('Trainer keeps numTensors flat and frees the moment variables on dispose', async () => {
    await tf.setBackend('tk-device');
    const model = new Tiny();
    const x = ids();
    const y = next();
    const start = tf.memory().numTensors;
    const trainer = new Trainer(model, { lr: 1e-2, clipNorm: 1, accumulationSteps: 2 });
    const first = await trainer.step(() => model.loss(x, y));
    const after1 = tf.memory().numTensors;
    expect(after1).toBe(start + 2 * model.parameters().length); // m and v per parameter
    let last = first;
    for (let i = 0; i < 20; i++) {
      last = await trainer.step(() => model.loss(x, y));
      expect(tf.memory().numTensors).toBe(after1);
    }
    expect(last.loss).toBeLessThan(first.loss);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
    tf.dispose([x, y]);
    await tf.setBackend('cpu');
  });
});
