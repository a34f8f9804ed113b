import * as tf from '@tensorflow/tfjs';
import {
  accuracy,
  classificationLoss,
  crossEntropy,
  f1Score,
  IdOutOfRangeError,
  initBackend,
  predictions,
  Rng,
  ShapeError,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ClsClassifier,
  gatherPositions,
  LMHead,
  MaskedLMHead,
  MeanPoolClassifier,
  TokenClassifier,
} from '../src/index.js';

const close = (a: tf.Tensor, b: tf.Tensor, tol = 1e-5) => {
  expect(a.shape).toEqual(b.shape);
  expect(tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!)).toBeLessThan(tol);
};

describe.each(['cpu', 'wasm'] as const)('heads on %s', (backend) => {
  beforeAll(async () => {
    expect((await initBackend(backend)).backend).toBe(backend);
  });

  const hidden = () => tf.randomNormal([2, 4, 8], 0, 1, 'float32', 11);
  const mask = () =>
    tf.tensor2d(
      [
        [1, 1, 1, 1],
        [1, 1, 0, 0],
      ],
      [2, 4],
      'int32',
    );

  it('ClsClassifier: pooler(tanh(dense([CLS]))) → dropout → out, BERT-style; names as documented', () => {
    const head = new ClsClassifier(8, 3, { rng: new Rng(1) }).eval();
    expect(head.namedParameters().map(([n]) => n)).toEqual([
      'pooler.weight',
      'pooler.bias',
      'mlp.out.weight',
      'mlp.out.bias',
    ]);
    tf.tidy(() => {
      const h = hidden();
      const cls = h.slice([0, 0, 0], [2, 1, 8]).reshape([2, 8]);
      const pooled = tf.tanh(cls.matMul(head.pooler!.weight).add(head.pooler!.bias!));
      const want = pooled.matMul(head.mlp.out.weight).add(head.mlp.out.bias!);
      close(head.forward(h, mask()), want);
      // Only [CLS] matters: changing every other position leaves the logits alone.
      const changed = tf.concat([cls.expandDims(1), tf.randomNormal([2, 3, 8], 0, 1, 'float32', 5)], 1);
      close(head.forward(changed, mask()), want);
    });
    head.dispose();
  });

  it('ClsClassifier without pooler, with an MLP: hidden sizes and activation as configured', () => {
    const head = new ClsClassifier(8, 2, {
      pooler: false,
      hiddenSizes: [5, 4],
      activation: 'relu',
      rng: new Rng(2),
    }).eval();
    expect(head.namedParameters().map(([n, v]) => `${n}:${v.shape}`)).toEqual([
      'mlp.hidden.0.weight:8,5',
      'mlp.hidden.0.bias:5',
      'mlp.hidden.1.weight:5,4',
      'mlp.hidden.1.bias:4',
      'mlp.out.weight:4,2',
      'mlp.out.bias:2',
    ]);
    tf.tidy(() => {
      const h = hidden();
      let x = h.slice([0, 0, 0], [2, 1, 8]).reshape([2, 8]);
      for (const l of head.mlp.hidden) x = tf.relu(x.matMul(l.weight).add(l.bias!));
      close(head.forward(h), x.matMul(head.mlp.out.weight).add(head.mlp.out.bias!));
    });
    head.dispose();
  });

  it('MeanPoolClassifier averages real tokens only: padding values do not change the logits', () => {
    const head = new MeanPoolClassifier(8, 3, { rng: new Rng(3) }).eval();
    tf.tidy(() => {
      const h = hidden();
      const m = mask();
      const row1Mean = h.slice([1, 0, 0], [1, 2, 8]).mean(1);
      const means = tf.concat([h.slice([0, 0, 0], [1, 4, 8]).mean(1), row1Mean], 0);
      close(head.forward(h, m), means.matMul(head.mlp.out.weight).add(head.mlp.out.bias!));
      const noisyPad = tf.where(m.expandDims(2).cast('bool').tile([1, 1, 8]), h, tf.fill([2, 4, 8], 1000));
      close(head.forward(noisyPad, m), head.forward(h, m), 1e-4);
    });
    head.dispose();
  });

  it('TokenClassifier gives per-token logits (B, T, C)', () => {
    const head = new TokenClassifier(8, 5).eval();
    tf.tidy(() => {
      const h = hidden();
      close(
        head.forward(h, mask()),
        h.reshape([8, 8]).matMul(head.mlp.out.weight).add(head.mlp.out.bias!).reshape([2, 4, 5]),
      );
    });
    head.dispose();
  });

  it('heads reject a mask that does not fit the hidden states, and a wrong hidden size', () => {
    const head = new MeanPoolClassifier(8, 2);
    tf.tidy(() => {
      expect(() => head.forward(hidden(), tf.ones([2, 5]))).toThrow(ShapeError);
      expect(() => head.forward(hidden(), tf.ones([3, 4]))).toThrow(/attention mask shape \[3,4\]/);
      expect(() => head.forward(tf.ones([2, 4, 6]))).toThrow(/hidden size 6/);
      expect(() => head.forward(tf.ones([2, 8]))).toThrow(ShapeError);
    });
    head.dispose();
  });

  it('MaskedLMHead: logits at positions equal the full logits gathered; tied decoder; gradient reaches hidden and table', () => {
    const table = tf.variable(tf.randomNormal([13, 8], 0, 1, 'float32', 21));
    const head = new MaskedLMHead(8, table, { rng: new Rng(4) });
    expect(head.namedParameters().map(([n]) => n)).toEqual([
      'bias',
      'dense.weight',
      'dense.bias',
      'layerNorm.weight',
      'layerNorm.bias',
    ]);
    head.bias.assign(tf.randomNormal([13], 0, 1, 'float32', 3));
    tf.tidy(() => {
      const h = hidden();
      const positions = tf.tensor2d(
        [
          [3, 0],
          [1, 1],
        ],
        [2, 2],
        'int32',
      );
      const full = head.forward(h);
      expect(full.shape).toEqual([2, 4, 13]);
      // Reference: transform by hand, project with the table's transpose.
      const x = h.matMul(head.dense.weight).add(head.dense.bias!);
      const act = x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5);
      const { mean, variance } = tf.moments(act, -1, true);
      const ln = act.sub(mean).div(variance.add(1e-12).sqrt());
      const ref = ln.reshape([8, 8]).matMul(table, false, true).add(head.bias).reshape([2, 4, 13]);
      close(full, ref, 1e-4);
      const at = head.forward(h, positions);
      expect(at.shape).toEqual([2, 2, 13]);
      close(
        at,
        tf.stack([
          tf.gather(ref.slice([0, 0, 0], [1, 4, 13]).squeeze([0]), [3, 0]),
          tf.gather(ref.slice([1, 0, 0], [1, 4, 13]).squeeze([0]), [1, 1]),
        ]),
        1e-4,
      );
      // Gradients: the gather's backward (scatter-add; the duplicate position 1 is summed) and the tied table.
      const w = tf.randomNormal([2, 2, 13], 0, 1, 'float32', 9);
      const { grads } = tf.variableGrads(() => head.forward(h, positions).mul(w).sum() as tf.Scalar, [table]);
      expect(tf.tidy(() => grads[table.name]!.abs().sum().dataSync()[0]!)).toBeGreaterThan(0);
      const dh = tf.grad((hh: tf.Tensor) =>
        gatherPositions(hh, positions)
          .mul(tf.ones([2, 2, 8]))
          .sum(),
      )(h);
      expect(Array.from(dh.sum(2).dataSync())).toEqual([8, 0, 0, 8, 0, 16, 0, 0]);
    });
    head.dispose();
    table.dispose();
  });

  it('LMHead tied uses the table; untied owns weight (D, V); bias optional', () => {
    const table = tf.variable(tf.randomNormal([7, 8], 0, 1, 'float32', 31));
    const tied = new LMHead(8, { tiedEmbedding: table });
    const untied = new LMHead(8, { vocabSize: 7, bias: true });
    expect(tied.namedParameters()).toEqual([]);
    expect(untied.namedParameters().map(([n, v]) => `${n}:${v.shape}`)).toEqual(['weight:8,7', 'bias:7']);
    tf.tidy(() => {
      const h = hidden();
      close(tied.forward(h), h.reshape([8, 8]).matMul(table, false, true).reshape([2, 4, 7]), 1e-4);
      close(untied.forward(h), h.reshape([8, 8]).matMul(untied.weight!).reshape([2, 4, 7]), 1e-4);
    });
    expect(() => new LMHead(8)).toThrow(/vocabSize/);
    tied.dispose();
    untied.dispose();
    table.dispose();
  });

  it('LMHead.loss and MaskedLMHead.loss (fused, vocabulary-chunked) equal crossEntropy of forward; same gradients', async () => {
    const rng = new Rng(3);
    const table = tf.variable(tf.randomNormal([300, 8], 0, 0.5, 'float32', 11));
    const hidden = tf.variable(tf.randomNormal([2, 5, 8], 0, 1, 'float32', 12));
    const targets = tf.tensor2d(
      [
        [1, 299, -100, 7, 7],
        [0, 150, 151, 2, -100],
      ],
      [2, 5],
      'int32',
    );
    const heads = [
      new LMHead(8, { tiedEmbedding: table, bias: true }),
      new LMHead(8, { vocabSize: 300, rng }),
    ];
    for (const head of heads) {
      if (head.bias) head.bias.assign(tf.randomNormal([300], 0, 1, 'float32', 13));
      const vars = [hidden, ...head.parameters(), ...(head.tiedEmbedding ? [table] : [])];
      const fused = tf.variableGrads(() => head.loss(hidden, targets), vars);
      const plain = tf.variableGrads(() => crossEntropy(head.forward(hidden), targets), vars);
      close(fused.value, plain.value, 1e-5);
      for (const v of vars) close(fused.grads[v.name]!, plain.grads[v.name]!, 1e-5);
      tf.dispose([fused.value, plain.value, ...Object.values(fused.grads), ...Object.values(plain.grads)]);
    }
    expect(() => heads[0]!.loss(hidden, tf.zeros([2, 4], 'int32'))).toThrow(ShapeError);

    const mlm = new MaskedLMHead(8, table, { rng });
    mlm.bias.assign(tf.randomNormal([300], 0, 1, 'float32', 14));
    const positions = tf.tensor2d(
      [
        [0, 3],
        [4, 1],
      ],
      [2, 2],
      'int32',
    );
    const labels = tf.tensor2d(
      [
        [5, 299],
        [-100, 42],
      ],
      [2, 2],
      'int32',
    );
    const vars = [hidden, ...mlm.parameters(), table];
    const fused = tf.variableGrads(() => mlm.loss(hidden, labels, positions), vars);
    const plain = tf.variableGrads(() => crossEntropy(mlm.forward(hidden, positions), labels), vars);
    close(fused.value, plain.value, 1e-5);
    for (const v of vars) close(fused.grads[v.name]!, plain.grads[v.name]!, 1e-5);
    expect(() => mlm.loss(hidden, labels)).toThrow(/labels must have shape \[2,5\]/);
    tf.dispose([fused.value, plain.value, ...Object.values(fused.grads), ...Object.values(plain.grads)]);
    for (const h of heads) h.dispose();
    mlm.dispose();
    tf.dispose([table, hidden, targets, positions, labels]);
  });

  it('classificationLoss skips the ignore index and rejects labels out of range', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [2, 0, -1],
        [0.5, 0.5, 3],
        [1, 2, 3],
      ]);
      const labels = tf.tensor1d([0, -100, 2], 'int32');
      const lp = tf.logSoftmax(logits).arraySync() as number[][];
      const want = -(lp[0]![0]! + lp[2]![2]!) / 2;
      expect(classificationLoss(logits, labels).dataSync()[0]).toBeCloseTo(want, 5);
      expect(() => classificationLoss(logits, tf.tensor1d([0, 3, 1], 'int32'))).toThrow(IdOutOfRangeError);
      expect(() => classificationLoss(logits, tf.tensor1d([0, 3, 1], 'int32'))).toThrow(
        /label 3 at index 1 is outside \[0, 3\)/,
      );
      expect(() => classificationLoss(logits, tf.tensor1d([0, 1], 'int32'))).toThrow(ShapeError);
    });
  });
});

describe('metrics', () => {
  it('predictions, accuracy and F1 (macro, micro, binary) on a hand-worked example', async () => {
    const preds = [0, 1, 1, 2, 2, 0];
    const labels = [0, 1, 2, 2, -100, 1];
    // Counted: 5 labelled; right at 0,1,3 → 3/5.
    expect(accuracy(preds, labels)).toBeCloseTo(0.6);
    // class 0: tp1 fp1 fn0 → 2/3; class 1: tp1 fp1 fn1 → 1/2; class 2: tp1 fp0 fn1 → 2/3.
    expect(f1Score(preds, labels, { numClasses: 3 })).toBeCloseTo((2 / 3 + 1 / 2 + 2 / 3) / 3);
    expect(f1Score(preds, labels, { numClasses: 3, average: 'micro' })).toBeCloseTo(0.6);
    expect(f1Score(preds, labels, { numClasses: 3, average: 'binary', positive: 1 })).toBeCloseTo(0.5);
    expect(() => f1Score([0, 5], [0, 1], { numClasses: 3 })).toThrow(IdOutOfRangeError);
    const logits = tf.tensor2d([
      [0, 2, 1],
      [5, 1, 1],
    ]);
    expect(Array.from(await predictions(logits))).toEqual([1, 0]);
    logits.dispose();
  });
});
