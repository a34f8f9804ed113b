import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointMismatchError, initBackend, LayerNorm, Linear, Module } from '../src/index.js';

class Block extends Module {
  readonly ln = this.module('ln', new LayerNorm(4));
  readonly fc = this.module('fc', new Linear(4, 3));
}

class Net extends Module {
  readonly scale = this.param('scale', tf.ones([1]));
  readonly blocks = this.moduleList('blocks', [new Block(), new Block()]);
}

beforeAll(async () => {
  await initBackend('cpu');
});

const maxAbs = (t: tf.Tensor) => tf.tidy(() => t.abs().max().dataSync()[0]!);

describe('Module', () => {
  it('names parameters by dotted path in registration order', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'scale',
      'blocks.0.ln.weight',
      'blocks.0.ln.bias',
      'blocks.0.fc.weight',
      'blocks.0.fc.bias',
      'blocks.1.ln.weight',
      'blocks.1.ln.bias',
      'blocks.1.fc.weight',
      'blocks.1.fc.bias',
    ]);
    expect(net.numParameters()).toBe(1 + 2 * (4 + 4 + 12 + 3));
    net.dispose();
  });

  it('round-trips a state dict between two instances', () => {
    const a = new Net();
    const b = new Net();
    b.loadStateDict(a.stateDict());
    for (const [name, v] of a.namedParameters()) {
      expect(Array.from(b.stateDict()[name]!.dataSync())).toEqual(Array.from(v.dataSync()));
    }
    a.dispose();
    b.dispose();
  });

  it('names missing, unexpected and mis-shaped entries and assigns nothing', () => {
    const net = new Net();
    const before = Array.from(net.blocks[0]!.fc.weight.dataSync());
    const state = { ...net.stateDict() };
    delete state['blocks.1.fc.bias'];
    state['blocks.0.fc.weight'] = tf.zeros([3, 4]);
    state['extra.weight'] = tf.zeros([1]);
    let err: unknown;
    try {
      net.loadStateDict(state);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain('missing: blocks.1.fc.bias');
    expect(msg).toContain('unexpected: extra.weight');
    expect(msg).toContain('blocks.0.fc.weight: checkpoint [3,4] vs model [4,3]');
    expect(Array.from(net.blocks[0]!.fc.weight.dataSync())).toEqual(before);
    net.dispose();
  });

  it('non-strict loading tolerates missing names but still checks shapes', () => {
    const net = new Net();
    expect(() => net.loadStateDict({ scale: tf.fill([1], 3) }, { strict: false })).not.toThrow();
    expect(net.scale.dataSync()[0]).toBe(3);
    expect(() => net.loadStateDict({ scale: tf.zeros([2]) }, { strict: false })).toThrow(/shape mismatch/);
    net.dispose();
  });

  it('train()/eval() reach every child', () => {
    const net = new Net().eval();
    expect(net.namedModules().every(([, m]) => !m.training)).toBe(true);
    net.train();
    expect(net.namedModules().every(([, m]) => m.training)).toBe(true);
    net.dispose();
  });

  it('addModule / removeModule attach and detach a child after construction (adapters)', () => {
    const net = new Net();
    const fc = net.blocks[0]!.fc;
    const extra = fc.addModule('extra', new Linear(4, 2));
    expect(net.namedParameters().map(([n]) => n)).toContain('blocks.0.fc.extra.weight');
    expect(() => fc.addModule('extra', new Linear(4, 2))).toThrow(/already registered/);
    expect(fc.removeModule('extra')).toBe(extra);
    expect(net.namedParameters().some(([n]) => n.includes('extra'))).toBe(false);
    expect(() => fc.removeModule('extra')).toThrow(/no child module 'extra'/);
    extra.dispose();
    net.dispose();
  });

  it("Linear.adapter sees the linear map's input and output", () => {
    const fc = new Linear(4, 3);
    const x = tf.ones([2, 4]);
    const plain = fc.forward(x);
    fc.adapter = (input, y) => y.add(input.sum(-1, true));
    expect(maxAbs(fc.forward(x).sub(plain).sub(4))).toBeLessThan(1e-5);
    fc.adapter = undefined;
    expect(maxAbs(fc.forward(x).sub(plain))).toBe(0);
    fc.dispose();
  });

  it('dispose() frees every parameter', () => {
    const before = tf.memory().numTensors;
    const net = new Net();
    expect(tf.memory().numTensors).toBe(before + 9);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects duplicate and dotted names', () => {
    class Bad extends Module {
      constructor(name: string) {
        super();
        this.param('w', tf.zeros([1]));
        this.param(name, tf.zeros([1]));
      }
    }
    expect(() => new Bad('w')).toThrow(/already registered/);
    expect(() => new Bad('a.b')).toThrow(/invalid/);
  });
});
