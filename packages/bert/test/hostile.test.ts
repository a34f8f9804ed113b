import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  InvalidArgumentError,
  initBackend,
  OutOfMemoryError,
  readSafetensors,
  TransformerKitError,
  writeSafetensors,
} from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  bertConfig,
  bertParameterCount,
  loadBertForSequenceClassification,
  loadBertModel,
  loadDistilBertForSequenceClassification,
  loadDistilBertModel,
  loadDistilBertPretrained,
  loadPretrained,
  loadRobertaForSequenceClassification,
  loadRobertaModel,
  loadRobertaPretrained,
} from '../src/index.js';

// Hostile config.json values: each failing load or construction is a typed error that leaves
// tf.memory().numTensors where it was.

const FIXTURES = join(import.meta.dirname, 'fixtures');
const read = (dir: string, name: string) => new Uint8Array(readFileSync(join(FIXTURES, dir, name)));
const configOf = (dir: string) =>
  JSON.parse(new TextDecoder().decode(read(dir, 'config.json'))) as Record<string, unknown>;

function folder(dir: string, edit: (c: Record<string, unknown>) => Record<string, unknown>) {
  return new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(edit(configOf(dir))))],
    ['model.safetensors', read(dir, 'model.safetensors')],
  ]);
}

async function noLeak(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp) {
  const before = tf.memory().numTensors;
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(TransformerKitError);
  expect((err as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

describe('BERT loading under hostile inputs', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts the backbone without building it', () => {
    for (const c of [bertConfig('tiny'), bertConfig('tiny', { intermediateSize: 40, typeVocabSize: 3 })]) {
      const m = new BertModel(c, { pooler: false });
      expect(bertParameterCount(c)).toBe(m.numParameters());
      m.dispose();
    }
  });

  it('bounds sizes before anything is built', async () => {
    const load = (edit: (c: Record<string, unknown>) => Record<string, unknown>) => () =>
      loadBertModel(folder('bert-model', edit), { onWarning: () => {} });
    await noLeak(
      load((c) => ({ ...c, num_hidden_layers: 1e9 })),
      InvalidArgumentError,
      /numLayers/,
    );
    await noLeak(
      load((c) => ({ ...c, vocab_size: 3e7 })),
      InvalidArgumentError,
      /vocabSize 30000000 is over/,
    );
    await noLeak(
      load((c) => ({ ...c, vocab_size: 1e10 })),
      InvalidArgumentError,
      /vocabSize/,
    );
    await noLeak(
      load((c) => ({ ...c, max_position_embeddings: 1e8 })),
      InvalidArgumentError,
      /maxPositions/,
    );
    await noLeak(
      load((c) => ({
        ...c,
        hidden_size: 16384,
        num_attention_heads: 16,
        intermediate_size: 65536,
        num_hidden_layers: 64,
      })),
      OutOfMemoryError,
      /BERT: .* parameters need/,
    );
    await noLeak(
      load((c) => ({ ...c, vocab_size: 4_000_000 })),
      CheckpointMismatchError,
      /hold only/,
    );
  });

  it('refuses layer_norm_eps <= 0 and a pad_token_id that is not an id', async () => {
    const load = (edit: (c: Record<string, unknown>) => Record<string, unknown>) => () =>
      loadBertModel(folder('bert-model', edit), { onWarning: () => {} });
    await noLeak(
      load((c) => ({ ...c, layer_norm_eps: -1 })),
      InvalidArgumentError,
      /layerNormEps/,
    );
    for (const pad of [99999, -5, 1.5, 64])
      await noLeak(
        load((c) => ({ ...c, pad_token_id: pad })),
        InvalidArgumentError,
        /padTokenId must be an integer in \[0, vocabSize 64\)/,
      );
  });

  it('a bad num_labels leaks no backbone', async () => {
    const noLabels = (n: unknown) => (c: Record<string, unknown>) => {
      const { id2label: _a, label2id: _b, ...rest } = c;
      return { ...rest, num_labels: n };
    };
    for (const n of [-1, 0, 2.5, 1e9])
      await noLeak(
        () => loadBertForSequenceClassification(folder('bert-cls', noLabels(n))),
        CheckpointError,
        /num_labels/,
      );
    await noLeak(() => loadPretrained(folder('bert-cls', noLabels(-1))), CheckpointError, /num_labels/);
    await noLeak(
      () => new BertForSequenceClassification('tiny', { numLabels: 0 }),
      InvalidArgumentError,
      /numLabels/,
    );
    await noLeak(
      () => new BertForTokenClassification('tiny', { numLabels: -1 }),
      InvalidArgumentError,
      /numLabels/,
    );
    await noLeak(
      () => new BertForSequenceClassification('tiny', { numLabels: 2 ** 21 }),
      InvalidArgumentError,
      /over the limit/,
    );
  });

  it('a non-source is a typed error', async () => {
    await noLeak(() => loadPretrained(null as never), CheckpointError, /checkpoint source/);
  });
});

/** The folder with one Linear weight stored transposed (same bytes, wrong shape). */
async function withTransposed(dir: string, name: string) {
  const { metadata, tensors } = readSafetensors(read(dir, 'model.safetensors'));
  const t = tensors.get(name);
  if (!t || t.shape.length !== 2 || t.shape[0] === t.shape[1]) throw new Error(`fixture has no ${name}`);
  const raw = Object.fromEntries(
    [...tensors].map(([k, v]) => [k, k === name ? { ...v, shape: [...v.shape].reverse() } : v]),
  );
  return new Map<string, Uint8Array>([
    ['config.json', read(dir, 'config.json')],
    ['model.safetensors', await writeSafetensors(raw, metadata)],
  ]);
}

// The same pre-build check as BERT's for the families that share its blocks: each hostile value is
// refused from config.json and the weights header before a tensor is made.
const FAMILIES = [
  {
    name: 'DistilBERT',
    model: 'distilbert-model',
    cls: 'distilbert-cls',
    layers: 'n_layers',
    loadModel: loadDistilBertModel,
    loadCls: loadDistilBertForSequenceClassification,
    loadAuto: loadDistilBertPretrained,
    linear: 'transformer.layer.1.ffn.lin1.weight',
  },
  {
    name: 'RoBERTa',
    model: 'roberta-model',
    cls: 'roberta-cls',
    layers: 'num_hidden_layers',
    loadModel: (s: Map<string, Uint8Array>) => loadRobertaModel(s),
    loadCls: loadRobertaForSequenceClassification,
    loadAuto: loadRobertaPretrained,
    linear: 'encoder.layer.1.intermediate.dense.weight',
  },
] as const;

describe.each(FAMILIES)('$name loading under hostile inputs', (f) => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('bounds sizes before anything is built', async () => {
    const load = (edit: (c: Record<string, unknown>) => Record<string, unknown>) => () =>
      f.loadModel(folder(f.model, edit));
    await noLeak(
      load((c) => ({ ...c, [f.layers]: 1e9 })),
      InvalidArgumentError,
      /numLayers/,
    );
    await noLeak(
      load((c) => ({ ...c, vocab_size: 1e10 })),
      InvalidArgumentError,
      /vocabSize/,
    );
    await noLeak(
      load((c) => ({ ...c, vocab_size: 3e7 })),
      InvalidArgumentError,
      /vocabSize 30000000 is over/,
    );
    // Within every per-field bound, but 4M rows of a 32-wide table cannot come from a 60 kB file.
    await noLeak(
      load((c) => ({ ...c, vocab_size: 4_000_000 })),
      CheckpointMismatchError,
      new RegExp(`config.json describes a ${f.name} of \\d+ parameters but the weights hold only`),
    );
    const big =
      f.name === 'DistilBERT'
        ? { dim: 16384, n_heads: 16, hidden_dim: 65536, n_layers: 64 }
        : { hidden_size: 16384, num_attention_heads: 16, intermediate_size: 65536, num_hidden_layers: 64 };
    await noLeak(
      load((c) => ({ ...c, ...big })),
      OutOfMemoryError,
      new RegExp(`${f.name}: .* parameters need`),
    );
  });

  it('a bad num_labels leaks no backbone', async () => {
    const noLabels = (n: unknown) => (c: Record<string, unknown>) => {
      const { id2label: _a, label2id: _b, ...rest } = c;
      return { ...rest, num_labels: n };
    };
    for (const n of [-1, 0, 2.5, 1e9])
      await noLeak(() => f.loadCls(folder(f.cls, noLabels(n))), CheckpointError, /num_labels/);
    await noLeak(() => f.loadAuto(folder(f.cls, noLabels(-1))), CheckpointError, /num_labels/);
  });

  it('a wrong tensor shape is a mismatch that assigns and leaks nothing', async () => {
    const bad = await withTransposed(f.model, f.linear);
    await noLeak(
      () => f.loadModel(bad),
      CheckpointMismatchError,
      new RegExp(f.linear.replaceAll('.', '\\.')),
    );
    // The config itself is fine: the intact folder still loads.
    const m = await f.loadModel(folder(f.model, (c) => c));
    m.dispose();
  });
});
