import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  crossEntropy,
  InvalidArgumentError,
  initBackend,
  linearCrossEntropy,
  matMul,
  matMulTransposed,
  Rng,
  ShapeError,
} from '../src/index.js';

// The fused, vocabulary-chunked projection + cross-entropy against the two ops it replaces: same loss and
// same gradients into hidden, weight and bias, on every chunking (one chunk, uneven last chunk, 1-wide).

const N = 6;
const D = 8;
const V = 37;

function rand(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => (rng.next() - 0.5) * 2 * scale),
    shape,
  );
}

function closeTo(
  a: Float32Array | Int32Array | Uint8Array,
  b: Float32Array | Int32Array | Uint8Array,
  tol: number,
) {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  expect(worst).toBeLessThanOrEqual(tol);
}

async function both(transposed: boolean, withBias: boolean, chunkSize: number | undefined) {
  const x = tf.variable(rand([2, 3, D], 1));
  const w = tf.variable(rand(transposed ? [V, D] : [D, V], 2, 2));
  const b = tf.variable(rand([V], 3));
  const targets = tf.tensor2d(
    [
      [0, 36, -100],
      [5, 5, 17],
    ],
    [2, 3],
    'int32',
  );
  const vars = withBias ? [x, w, b] : [x, w];
  const fusedRun = tf.variableGrads(
    () => linearCrossEntropy(x, w, targets, { transposed, bias: withBias ? b : undefined, chunkSize }),
    vars,
  );
  const plainRun = tf.variableGrads(() => {
    const h = x.reshape([N, D]) as tf.Tensor2D;
    let logits = transposed ? matMulTransposed(h, w as tf.Tensor2D) : matMul(h, w as tf.Tensor2D);
    if (withBias) logits = logits.add(b);
    return crossEntropy(logits, targets);
  }, vars);
  closeTo(await fusedRun.value.data(), await plainRun.value.data(), 1e-6);
  for (const v of vars)
    closeTo(await fusedRun.grads[v.name]!.data(), await plainRun.grads[v.name]!.data(), 1e-5);
  // The gradient is not trivially zero.
  expect(Math.max(...Array.from(await fusedRun.grads[w.name]!.abs().data()))).toBeGreaterThan(1e-3);
  tf.dispose([
    fusedRun.value,
    plainRun.value,
    ...Object.values(fusedRun.grads),
    ...Object.values(plainRun.grads),
  ]);
  tf.dispose([x, w, b, targets]);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`linearCrossEntropy on ${backend}`, () => {
    for (const transposed of [true, false]) {
      for (const chunkSize of [undefined, 8, 1]) {
        it(`equals crossEntropy(x @ w${transposed ? 'ᵀ' : ''} + b): chunk ${chunkSize ?? 'default'}`, async () => {
          await initBackend(backend);
          await both(transposed, true, chunkSize);
          await both(transposed, false, chunkSize);
        });
      }
    }

    it('frees every tensor it makes, forward and backward', async () => {
      await initBackend(backend);
      const x = tf.variable(rand([N, D], 4));
      const w = tf.variable(rand([V, D], 5));
      const t = tf.tensor1d([1, 2, 3, -100, 4, 36], 'int32');
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) {
        const { value, grads } = tf.variableGrads(
          () => linearCrossEntropy(x, w, t, { chunkSize: 10 }),
          [x, w],
        );
        tf.dispose([value, ...Object.values(grads)]);
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, w, t]);
    });
  });
}

describe('linearCrossEntropy errors', () => {
  it('names bad shapes and chunk sizes', async () => {
    await initBackend('cpu');
    const x = tf.zeros([4, D]);
    const w = tf.zeros([V, D]);
    const t = tf.zeros([4], 'int32');
    expect(() => linearCrossEntropy(x, tf.zeros([V, D + 1]), t)).toThrow(ShapeError);
    expect(() => linearCrossEntropy(x, w, tf.zeros([5], 'int32'))).toThrow(/4 hidden rows but 5 targets/);
    expect(() => linearCrossEntropy(x, w, t, { bias: tf.zeros([V + 1]) })).toThrow(/bias must be \(37\)/);
    expect(() => linearCrossEntropy(x, w, t, { chunkSize: 0 })).toThrow(InvalidArgumentError);
  });

  it('all targets ignored gives 0 and zero gradients', async () => {
    await initBackend('cpu');
    const x = tf.variable(rand([3, D], 6));
    const w = tf.variable(rand([V, D], 7));
    const t = tf.tensor1d([-100, -100, -100], 'int32');
    const { value, grads } = tf.variableGrads(() => linearCrossEntropy(x, w, t, { chunkSize: 9 }), [x, w]);
    expect((await value.data())[0]).toBe(0);
    expect(Math.max(...Array.from(await grads[w.name]!.abs().data()))).toBe(0);
    tf.dispose([value, ...Object.values(grads), x, w, t]);
  });
});
