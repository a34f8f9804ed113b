import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CheckpointEntry,
  CheckpointMismatchError,
  initBackend,
  Linear,
  loadEntries,
  Module,
  Rng,
} from '../src/index.js';

/** A backbone Linear (2 → 3) and a head Linear (3 → 2), HF-style: weights [out, in] in the file. */
class Net extends Module {
  readonly body = this.module('body', new Linear(2, 3, { rng: new Rng(1) }));
  readonly head = this.module('head', new Linear(3, 2, { rng: new Rng(2) }));
}
const transpose = (t: tf.Tensor) => tf.transpose(t);
const entries = (net: Net): CheckpointEntry[] =>
  net.namedParameters().map(([ours, p]) => {
    const linear = ours.endsWith('.weight');
    return {
      ours,
      hf: `model.${ours.replace('body', 'dense').replace('head', 'classifier')}`,
      hfShape: linear ? [...p.shape].reverse() : p.shape,
      ...(linear ? { fromHF: transpose } : {}),
    };
  });
const file = () => ({
  'model.dense.weight': tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]),
  'model.dense.bias': tf.tensor1d([7, 8, 9]),
  'model.classifier.weight': tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3]),
  'model.classifier.bias': tf.tensor1d([0, 1]),
});
const config = { architectures: ['NetForThings'] };

describe('loadEntries: the one check of an HF file against a model', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('converts layouts, assigns every tensor, and leaves no converted copy behind', () => {
    const net = new Net();
    const tensors = file();
    const before = tf.memory().numTensors;
    expect(loadEntries(net, tensors, entries(net), { config, what: 'Net' })).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    expect(net.body.weight.arraySync()).toEqual([
      [1, 3, 5],
      [2, 4, 6],
    ]);
    expect(Array.from(net.head.bias!.dataSync())).toEqual([0, 1]);
    tf.dispose(Object.values(tensors));
    net.dispose();
  });

  it('names what is missing, unexpected and mis-shaped, in HF names, and assigns nothing', () => {
    const net = new Net();
    const before = net.body.weight.arraySync();
    const tensors: Record<string, tf.Tensor> = file();
    tensors['model.dense.bias'] = tf.tensor1d([1, 2]);
    tensors['model.extra'] = tf.scalar(0);
    delete tensors['model.classifier.bias'];
    const load = () =>
      loadEntries(net, tensors, entries(net), {
        config,
        what: 'Net',
        head: ['model.classifier.weight', 'model.classifier.bias'],
        headHint: ' (pass newHead)',
      });
    expect(load).toThrow(CheckpointMismatchError);
    expect(load).toThrow(
      'checkpoint (["NetForThings"]) does not fit Net: missing: model.classifier.bias (pass newHead); unexpected: model.extra; shape mismatch: model.dense.bias [2] vs expected [3]',
    );
    expect(net.body.weight.arraySync()).toEqual(before);
    tf.dispose(Object.values(tensors));
    net.dispose();
  });

  it('a head absent from the file starts fresh only when allowed and only when wholly absent', () => {
    const net = new Net();
    const head = ['model.classifier.weight', 'model.classifier.bias'];
    const tensors: Record<string, tf.Tensor> = file();
    const fresh = net.head.weight.arraySync();
    for (const h of head) tensors[h]!.dispose();
    for (const h of head) delete tensors[h];
    const options = { config, what: 'Net', head, ignored: [/^model\.pooler\./] };
    expect(() => loadEntries(net, tensors, entries(net), options)).toThrow(
      /missing: model\.classifier\.weight/,
    );
    tensors['model.pooler.weight'] = tf.zeros([3, 3]); // ignored: another task's part
    expect(loadEntries(net, tensors, entries(net), { ...options, freshHead: true })).toEqual(head);
    expect(net.head.weight.arraySync()).toEqual(fresh);
    // Half a head is a broken file, not a fresh head.
    tensors['model.classifier.bias'] = tf.tensor1d([0, 1]);
    expect(() => loadEntries(net, tensors, entries(net), { ...options, freshHead: true })).toThrow(
      /missing: model\.classifier\.weight$/,
    );
    tf.dispose(Object.values(tensors));
    net.dispose();
  });
});
