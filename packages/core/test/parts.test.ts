import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  activate,
  checkActivation,
  Embedding,
  GatedMlp,
  IdOutOfRangeError,
  InvalidArgumentError,
  initBackend,
  LayerNorm,
  Linear,
  loadCheckpoint,
  Module,
  RMSNorm,
  registerActivation,
  ShapeError,
  saveCheckpoint,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const close = (a: tf.Tensor, b: number[] | number[][] | tf.Tensor, tol = 1e-6) => {
  const diff = tf.tidy(() => {
    const bt = b instanceof tf.Tensor ? b : tf.tensor(b, a.shape);
    return tf.max(tf.abs(a.sub(bt))).arraySync() as number;
  });
  expect(diff).toBeLessThanOrEqual(tol);
};

describe('activation table', () => {
  it('has silu/swish, gelu_pytorch_tanh and quick_gelu with their formulas', () => {
    const x = tf.tensor1d([-2, -0.5, 0, 0.7, 3]);
    const xs = [-2, -0.5, 0, 0.7, 3];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    close(
      activate(x, 'silu'),
      xs.map((v) => v * sig(v)),
    );
    close(
      activate(x, 'swish'),
      xs.map((v) => v * sig(v)),
    );
    close(
      activate(x, 'quick_gelu'),
      xs.map((v) => v * sig(1.702 * v)),
    );
    close(activate(x, 'gelu_pytorch_tanh'), activate(x, 'gelu_tanh'), 0);
  });

  it('takes new entries and refuses to redefine a built-in', () => {
    expect(() => checkActivation('square_relu')).toThrow(/registerActivation/);
    registerActivation('square_relu', (x) => tf.tidy(() => tf.relu(x).square()));
    close(activate(tf.tensor1d([-1, 2]), 'square_relu'), [0, 4]);
    expect(() => registerActivation('gelu', (x) => x)).toThrow(InvalidArgumentError);
  });
});

describe('RMSNorm and GatedMlp', () => {
  it('RMSNorm is x / sqrt(mean(x²) + eps) · weight', () => {
    const n = new RMSNorm(3, 1e-6);
    n.weight.assign(tf.tensor1d([1, 2, 0.5]));
    const rms = Math.sqrt((1 + 4 + 9) / 3 + 1e-6);
    close(n.forward(tf.tensor2d([[1, -2, 3]])), [[1 / rms, (-2 * 2) / rms, (3 * 0.5) / rms]]);
    expect(n.namedParameters().map(([k]) => k)).toEqual(['weight']);
  });

  it('GatedMlp is down(silu(gate x) ⊙ up x), names gate/up/down', () => {
    const m = new GatedMlp(2, 3);
    expect(m.namedParameters().map(([k]) => k)).toEqual(['gate.weight', 'up.weight', 'down.weight']);
    const x = tf.tensor2d([[0.5, -1]]);
    const g = tf.matMul(x, m.gate.weight);
    const want = tf.matMul(g.mul(tf.sigmoid(g)).mul(tf.matMul(x, m.up.weight)), m.down.weight);
    close(m.forward(x), want);
  });
});

describe('Embedding ids', () => {
  it('raises the typed id error, naming the table size', () => {
    const e = new Embedding(10, 4);
    expect(() => e.forward(tf.tensor1d([3, 12], 'int32'))).toThrow(IdOutOfRangeError);
    expect(() => e.forward(tf.tensor1d([3, 12], 'int32'))).toThrow(
      /token id 12 at index 1 is outside \[0, 10\)/,
    );
    expect(e.forward(tf.tensor1d([9], 'int32')).shape).toEqual([1, 4]);
  });
});

describe('Embedding.rows', () => {
  it('equals forward() of the ids start..start+length-1, value and gradient, and refuses rows past the table', () => {
    const e = new Embedding(10, 4);
    const ids = tf.tensor1d([3, 4, 5], 'int32');
    expect(Array.from(e.rows(3, 3).dataSync())).toEqual(Array.from(e.forward(ids).dataSync()));
    const w = tf.randomNormal([3, 4], 0, 1, 'float32', 7);
    const viaRows = tf.variableGrads(() => e.rows(3, 3).mul(w).sum() as tf.Scalar, [e.weight]).grads;
    const viaIds = tf.variableGrads(() => e.forward(ids).mul(w).sum() as tf.Scalar, [e.weight]).grads;
    const [a, b] = [viaRows[e.weight.name]!, viaIds[e.weight.name]!];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(() => e.rows(8, 3)).toThrow(/rows 8 \.\. 10 are outside the table's 10 rows/);
    expect(() => e.rows(-1, 2)).toThrow(ShapeError);
    tf.dispose([ids, w, a, b]);
  });
});

/** The trap of the issue: a subclass swaps a registered child by assigning its field. */
class Base extends Module {
  readonly norm: Module & { forward(x: tf.Tensor): tf.Tensor };
  readonly fc = this.module('fc', new Linear(4, 4));
  constructor() {
    super();
    this.norm = this.module('norm', new LayerNorm(4));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.fc.forward(this.norm.forward(x));
  }
}
class Assigned extends Base {
  constructor() {
    super();
    (this as { norm: Module }).norm = new RMSNorm(4);
  }
}
class Replaced extends Base {
  constructor() {
    super();
    this.replace('norm', new RMSNorm(4));
  }
}
class Unregistered extends Module {
  readonly extra = new Linear(2, 2);
}

describe('Module: children cannot go missing', () => {
  it('a module assigned over a registered child throws with the fix', () => {
    const m = new Assigned();
    expect(() => m.parameters()).toThrow(InvalidArgumentError);
    expect(() => m.parameters()).toThrow(
      /Assigned\.norm holds a RMSNorm that is not registered.*this\.replace\('norm', m\)/,
    );
  });

  it('a module in an unregistered field throws, naming this.module', () => {
    expect(() => new Unregistered().namedParameters()).toThrow(/this\.module\('extra', m\)/);
  });

  it('replace registers the new child in place: it trains and saves, the old weights are freed', async () => {
    const before = tf.memory().numTensors;
    const m = new Replaced();
    expect(m.norm).toBeInstanceOf(RMSNorm);
    expect(m.namedParameters().map(([k]) => k)).toEqual(['fc.weight', 'fc.bias', 'norm.weight']);
    // Base registered fc first, then norm; the replacement keeps norm's place.
    const opt = new AdamW(m, { lr: 0.1, weightDecay: 0 });
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const w0 = (m.norm as RMSNorm).weight.arraySync() as number[];
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => m.forward(x).square().mean() as tf.Scalar);
      opt.step(grads);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const w1 = (m.norm as RMSNorm).weight.arraySync() as number[];
    expect(w1.some((v, i) => Math.abs(v - w0[i]!) > 1e-3)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tk-replace-'));
    try {
      await saveCheckpoint(dir, { config: {}, tensors: m.stateDict() });
      const { tensors } = await loadCheckpoint(dir);
      expect(Object.keys(tensors).sort()).toEqual(['fc.bias', 'fc.weight', 'norm.weight']);
      close(tensors['norm.weight']!, (m.norm as RMSNorm).weight);
      tf.dispose(Object.values(tensors));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    opt.dispose?.();
    x.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('replace reaches into the tree by path and keeps a ModuleList array in step', () => {
    class Stack extends Module {
      readonly blocks = this.moduleList('blocks', [new Base(), new Base()]);
    }
    const s = new Stack();
    const fresh = new Linear(4, 4, { bias: false });
    s.replace('blocks.1.fc', fresh);
    expect(s.blocks[1]!.fc).toBe(fresh);
    const nb = new Base();
    s.replace('blocks.0', nb);
    expect(s.blocks[0]).toBe(nb);
    expect(s.namedParameters().map(([k]) => k)).toContain('blocks.1.fc.weight');
    expect(s.namedParameters().map(([k]) => k)).not.toContain('blocks.1.fc.bias');
    expect(() => s.replace('blocks.0.nope', new Linear(1, 1))).toThrow(/'nope' is not a registered child/);
    s.dispose();
  });
});
