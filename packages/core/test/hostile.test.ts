import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  checkBackboneConfig,
  checkParameterBudget,
  ERROR_BRAND,
  hfLabels,
  InvalidArgumentError,
  initBackend,
  OutOfMemoryError,
  parseSafetensorsHeader,
  ShapeError,
  TransformerKitError,
  UnknownBackendError,
} from '../src/index.js';

const base = {
  hiddenSize: 8,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 16,
  hiddenDropout: 0,
  attentionDropout: 0,
  layerNormEps: 1e-5,
  activation: 'gelu' as const,
};

function header(entries: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(entries));
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}

describe('hostile values', () => {
  it('config sizes have upper bounds that name the field', () => {
    expect(() => checkBackboneConfig('X', { ...base, numLayers: 1e9 })).toThrow(
      /numLayers 1000000000 is over the limit of 1024/,
    );
    expect(() => checkBackboneConfig('X', { ...base, hiddenSize: 2 ** 20, numHeads: 1 })).toThrow(
      /hiddenSize/,
    );
    expect(() => checkBackboneConfig('X', { ...base, intermediateSize: 1e7 })).toThrow(/intermediateSize/);
    expect(() => checkBackboneConfig('X', { ...base, numHeads: 2048, hiddenSize: 4096 })).toThrow(/numHeads/);
    expect(() => checkBackboneConfig('X', { ...base, vocabSize: 1e10 }, ['vocabSize'])).toThrow(
      InvalidArgumentError,
    );
  });

  it('layerNormEps must be in (0, 1)', () => {
    for (const eps of [-1, 0, 1, Number.NaN, '1e-5'])
      expect(() => checkBackboneConfig('X', { ...base, layerNormEps: eps as number })).toThrow(
        /layerNormEps must be in \(0, 1\)/,
      );
    expect(checkBackboneConfig('X', { ...base, layerNormEps: 1e-12 }).layerNormEps).toBe(1e-12);
  });

  it('hfLabels checks the count and the id2label shape', () => {
    expect(() => hfLabels({ num_labels: -1 })).toThrow(CheckpointError);
    expect(() => hfLabels({ num_labels: 1.5 })).toThrow(/integer in \[1, /);
    expect(() => hfLabels({ num_labels: 1e9 })).toThrow(/integer in \[1, /);
    expect(() => hfLabels({ id2label: [] })).toThrow(/id2label must be an object/);
    expect(() => hfLabels({}, 0)).toThrow(/numLabels must be/);
    expect(hfLabels({ id2label: { 0: 'a', 1: 'b' } })).toEqual({
      numLabels: 2,
      id2label: { 0: 'a', 1: 'b' },
    });
  });

  it("a dtype named like an Object property is an unknown dtype, not 'NaN bytes'", () => {
    for (const dtype of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
      expect(() =>
        parseSafetensorsHeader(header({ w: { dtype, shape: [1], data_offsets: [0, 4] } })),
      ).toThrow(new RegExp(`unknown dtype '${dtype}'`));
  });

  it('the F8 message names the options a caller has', () => {
    const bytes = header({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } });
    const file = new Uint8Array(bytes.length + 1);
    file.set(bytes);
    return import('../src/index.js').then(({ readSafetensors }) => {
      expect(() => readSafetensors(file)).toThrow(/convert the file to F16\/F32.*loadCheckpoint's filter/);
    });
  });

  it('initBackend: a non-string is a typed error; concurrent calls run in call order', async () => {
    for (const choice of [123, null, {}, true])
      await expect(initBackend(choice as never)).rejects.toBeInstanceOf(UnknownBackendError);
    const order: string[] = [];
    const a = initBackend('wasm').then((i) => order.push(i.backend));
    const b = initBackend('cpu').then((i) => order.push(i.backend));
    const c = initBackend('wasm').then((i) => order.push(i.backend));
    await Promise.all([a, b, c]);
    expect(order).toEqual(['wasm', 'cpu', 'wasm']);
    expect(tf.getBackend()).toBe('wasm');
    // A failing call in the middle does not break the ones after it.
    const bad = initBackend('nope').catch((e: unknown) => e);
    const after = await initBackend('cpu');
    expect(await bad).toBeInstanceOf(UnknownBackendError);
    expect(after.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('parameter budget: past the wasm heap is an OutOfMemoryError before anything is allocated', async () => {
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    expect(() => checkParameterBudget('GPT', 2e9)).toThrow(OutOfMemoryError);
    expect(() => checkParameterBudget('GPT', 2e9)).toThrow(/wasm heap cannot exceed 4 GB/);
    expect(() => checkParameterBudget('GPT', 1e6)).not.toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('branded errors from packages that stand alone are TransformerKitErrors; subclasses stay exact', () => {
    class Foreign extends Error {}
    (Foreign.prototype as unknown as Record<symbol, unknown>)[Symbol.for('transformer-kit.error')] = true;
    expect(ERROR_BRAND).toBe(Symbol.for('transformer-kit.error'));
    expect(new Foreign('x')).toBeInstanceOf(TransformerKitError);
    expect(new Foreign('x')).not.toBeInstanceOf(ShapeError);
    expect(new Error('x')).not.toBeInstanceOf(TransformerKitError);
    expect(new ShapeError('x')).toBeInstanceOf(TransformerKitError);
    expect(new ShapeError('x')).not.toBeInstanceOf(InvalidArgumentError);
    expect({ [ERROR_BRAND]: true }).not.toBeInstanceOf(TransformerKitError);
  });
});
