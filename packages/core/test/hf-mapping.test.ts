import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  CheckpointMismatchError,
  encodeMappedModel,
  type HFMapping,
  LINEAR_LAYOUT,
  Linear,
  loadMapped,
  loadMappedModel,
  Module,
  mapParameters,
  prefixRules,
  Rng,
  saveMapped,
} from '../src/index.js';

/*
 * A backbone with a fused projection (q|k|v of one Conv1D-style (in, out) tensor, GPT-2's c_attn) and an
 * nn.Linear-style dense layer ((out, in) in the file), inside a task model with a head: every kind of rule
 * core's HF mapping states, checked against hand-written HF tensors.
 */
class Body extends Module {
  readonly q = this.module('q', new Linear(2, 2, { rng: new Rng(1) }));
  readonly k = this.module('k', new Linear(2, 2, { rng: new Rng(2) }));
  readonly v = this.module('v', new Linear(2, 2, { rng: new Rng(3) }));
  readonly dense = this.module('dense', new Linear(2, 3, { rng: new Rng(4) }));
}
class Task extends Module {
  readonly net = this.module('net', new Body());
  readonly head = this.module('head', new Linear(3, 2, { rng: new Rng(5) }));
}

const BODY = [
  { ours: /^(q|k|v)\.(weight|bias)$/, hf: 'attn.c_attn.$2', fused: { part: '$1', parts: ['q', 'k', 'v'] } },
  { ours: /^dense\.(weight|bias)$/, hf: 'mlp.dense.$1', layout: LINEAR_LAYOUT },
];
const mapping = (model: Body | Task): HFMapping => ({
  architecture: model instanceof Task ? 'NetForThings' : 'NetModel',
  rules:
    model instanceof Task
      ? [
          ...prefixRules(BODY, 'net'),
          { ours: /^head\.(weight|bias)$/, hf: 'classifier.$1', layout: LINEAR_LAYOUT },
        ]
      : BODY,
  prefix: { name: 'net', roots: ['attn', 'mlp'] },
  renames: [[/\.gamma$/, '.weight']],
  ignored: [/\.masked_bias$/, /^classifier\./],
  tied: [/^lm_head\.weight$/],
  ...(model instanceof Task ? { head: { ours: /^head\./, fresh: 'newHead' as const } } : {}),
});

// Hand-written HF state dict of a Task: c_attn (in 2, out 6) = q|k|v columns; dense / classifier (out, in).
const cAttnW = [
  [1, 2, 3, 4, 5, 6],
  [7, 8, 9, 10, 11, 12],
];
const hfFile = () => ({
  'net.attn.c_attn.weight': tf.tensor2d(cAttnW),
  'net.attn.c_attn.bias': tf.tensor1d([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
  'net.mlp.dense.gamma': tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]),
  'net.mlp.dense.bias': tf.tensor1d([7, 8, 9]),
  'classifier.weight': tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3]),
  'classifier.bias': tf.tensor1d([0, 1]),
  'net.attn.masked_bias': tf.scalar(-1e4),
  'lm_head.weight': tf.zeros([2, 2]),
});
const config = { architectures: ['NetForThings'] };

describe('core HF mapping: one table, loadMapped / saveMapped', () => {
  beforeAll(async () => {
    const { initBackend } = await import('../src/index.js');
    await initBackend('cpu');
  });

  it('splits a fused tensor, transposes Linear weights, renames old spellings, reads past buffers and tied copies', () => {
    const net = new Task();
    const file = hfFile();
    const before = tf.memory().numTensors;
    expect(loadMapped(net, file, mapping(net), { config })).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    expect(net.net.q.weight.arraySync()).toEqual([
      [1, 2],
      [7, 8],
    ]);
    expect(net.net.v.weight.arraySync()).toEqual([
      [5, 6],
      [11, 12],
    ]);
    expect(Array.from(net.net.k.bias!.dataSync())).toEqual([0.3, 0.4].map((x) => Math.fround(x)));
    expect(net.net.dense.weight.arraySync()).toEqual([
      [1, 3, 5],
      [2, 4, 6],
    ]);
    expect(net.head.weight.arraySync()).toEqual([
      [1, 0],
      [0, 1],
      [0, 0],
    ]);
    tf.dispose(Object.values(file));
    net.dispose();
  });

  it('saveMapped writes the file back exactly (fused concatenated, Linear transposed; bare drops the prefix)', () => {
    const net = new Task();
    const file = hfFile();
    loadMapped(net, file, mapping(net), { config });
    const out = saveMapped(net, mapping(net));
    expect(Object.keys(out).sort()).toEqual([
      'classifier.bias',
      'classifier.weight',
      'net.attn.c_attn.bias',
      'net.attn.c_attn.weight',
      'net.mlp.dense.bias',
      'net.mlp.dense.weight',
    ]);
    expect(out['net.attn.c_attn.weight']!.arraySync()).toEqual(cAttnW);
    expect(out['net.mlp.dense.weight']!.arraySync()).toEqual(file['net.mlp.dense.gamma'].arraySync());
    // Every returned tensor is the caller's: disposing them leaves the model intact.
    tf.dispose(Object.values(out));
    expect(net.net.q.weight.isDisposed).toBe(false);
    const bare = saveMapped(net.net, mapping(net.net));
    expect(Object.keys(bare).sort()).toEqual([
      'attn.c_attn.bias',
      'attn.c_attn.weight',
      'mlp.dense.bias',
      'mlp.dense.weight',
    ]);
    const bareTask = saveMapped(net, mapping(net), { bare: true });
    expect(Object.keys(bareTask)).toContain('attn.c_attn.weight');
    tf.dispose([...Object.values(file), ...Object.values(bare), ...Object.values(bareTask)]);
    net.dispose();
  });

  it('a file in the other prefix form loads: a bare backbone file into a task model, a task file into a backbone', () => {
    const file = hfFile();
    const bare = Object.fromEntries(
      Object.entries(file)
        .filter(([k]) => k.startsWith('net.'))
        .map(([k, t]) => [k.slice(4), t]),
    );
    const body = new Body();
    loadMapped(body, file, mapping(body), { config }); // `net.` dropped, the classifier ignored
    expect(body.dense.bias!.arraySync()).toEqual([7, 8, 9]);
    const warnings: string[] = [];
    const task = new Task();
    const fresh = loadMapped(task, bare, mapping(task), {
      config,
      newHead: true,
      onWarning: (m) => warnings.push(m),
    });
    expect(fresh).toEqual(['classifier.weight', 'classifier.bias']);
    expect(warnings[0]).toMatch(/NetForThings .* newly initialised: classifier\.weight, classifier\.bias/);
    expect(task.net.q.weight.arraySync()).toEqual(body.q.weight.arraySync());
    tf.dispose(Object.values(file));
    body.dispose();
    task.dispose();
  });

  it('mismatches are CheckpointMismatchErrors in HF names (a fused tensor named once), and nothing is assigned', () => {
    const net = new Task();
    const q = net.net.q.weight.arraySync();
    const file: Record<string, tf.Tensor> = hfFile();
    const wrong = tf.zeros([2, 7]);
    const extra = tf.zeros([1]);
    const broken = { ...file, 'net.attn.c_attn.weight': wrong, 'net.extra': extra };
    delete (broken as Record<string, tf.Tensor>)['net.attn.c_attn.bias'];
    expect(() => loadMapped(net, broken, mapping(net), { config })).toThrow(
      'checkpoint (["NetForThings"]) does not fit NetForThings: missing: net.attn.c_attn.bias; unexpected: net.extra; shape mismatch: net.attn.c_attn.weight [2,7] vs expected [2,6]',
    );
    // A missing head without newHead says how to start it fresh.
    const noHead = { ...file };
    delete (noHead as Record<string, tf.Tensor>)['classifier.weight'];
    delete (noHead as Record<string, tf.Tensor>)['classifier.bias'];
    expect(() => loadMapped(net, noHead, mapping(net), { config })).toThrow(
      /missing: classifier\.weight, classifier\.bias \(to start the task head fresh, pass \{ newHead: true \}\)/,
    );
    expect(net.net.q.weight.arraySync()).toEqual(q);
    // Two file names that become one (a prefixed and a bare copy of the same tensor) are refused.
    const both = { ...file, 'mlp.dense.bias': extra };
    const body = new Body();
    expect(() => loadMapped(body, both, mapping(body), { config })).toThrow(CheckpointMismatchError);
    tf.dispose([...Object.values(file), wrong, extra]);
    net.dispose();
    body.dispose();
  });

  it('a parameter no rule names, or a fused part not listed, is a CheckpointError', () => {
    const net = new Task();
    expect(() => mapParameters(net, { ...mapping(net), rules: BODY })).toThrow(
      /no HF name for NetForThings parameter 'net\.q\.weight'/,
    );
    const badPart = [{ ...BODY[0]!, fused: { part: '$1', parts: ['q', 'k'] } }, BODY[1]!];
    expect(() => mapParameters(net.net, { ...mapping(net.net), rules: badPart })).toThrow(CheckpointError);
    net.dispose();
  });

  it('loadMappedModel: encode → load round trip from bytes; a failed load leaks nothing', async () => {
    const net = new Task();
    const files = await encodeMappedModel(net, mapping(net), { config: { architectures: ['NetForThings'] } });
    const back = await loadMappedModel(files, { build: () => new Task(), mapping });
    for (const [[n, a], [, b]] of net
      .namedParameters()
      .map((e, i) => [e, back.namedParameters()[i]!] as const))
      expect([n, b.arraySync()]).toEqual([n, a.arraySync()]);
    back.dispose();
    const before = tf.memory().numTensors;
    const err = await loadMappedModel(files, {
      check: () => {
        throw new CheckpointMismatchError('refused before decoding');
      },
      build: () => new Task(),
      mapping,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    // Built, then refused name by name (a backbone that does not ignore the file's head): disposed.
    const err2 = await loadMappedModel(files, {
      build: () => new Body(),
      mapping: (m) => ({ ...mapping(m), ignored: [] }),
    }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(CheckpointMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});
