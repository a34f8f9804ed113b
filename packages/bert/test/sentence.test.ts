import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointMismatchError, initBackend, safetensorsToTensors } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosineSimilarity, loadSentenceEncoder, poolingFromConfig, semanticSearch } from '../src/index.js';

// Fixtures from scripts/make_sentence_fixtures.py: a sentence-transformers folder over the BERT fixture.
const fixtures = join(import.meta.dirname, 'fixtures');
const folder = join(fixtures, 'st-bert');
const TOL = 1e-4;

describe.each(['cpu', 'wasm'] as const)('sentence embeddings on %s', (backend) => {
  let expected: Record<string, tf.Tensor>;
  let texts: string[];
  beforeAll(async () => {
    await initBackend(backend);
    const bytes = readFileSync(join(fixtures, 'expected-sentence.safetensors'));
    expected = safetensorsToTensors(bytes);
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    texts = JSON.parse(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))).__metadata__.texts);
  });
  afterAll(() => tf.dispose(Object.values(expected)));

  it('embed(texts) equals sentence-transformers (mean, L2) within 1e-4, in any batch size', async () => {
    const encoder = await loadSentenceEncoder(folder);
    expect(encoder.options).toEqual({ pooling: 'mean', normalize: true, maxSeqLength: 8 });
    const want = expected.mean!.arraySync() as number[][];
    const before = tf.memory().numTensors;
    for (const batchSize of [1, 2, 32]) {
      const got = await encoder.embed(texts, { batchSize });
      expect(got).toHaveLength(3);
      for (let i = 0; i < 3; i++) {
        const diff = Math.max(...Array.from(got[i]!, (x, j) => Math.abs(x - want[i]![j]!)));
        expect(diff, `text ${i} batch ${batchSize}`).toBeLessThan(TOL);
        expect(Math.hypot(...got[i]!)).toBeCloseTo(1, 5);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    encoder.model.dispose();
  });

  it('CLS and max pooling, and unnormalised mean, as configured', async () => {
    for (const pooling of ['cls', 'max'] as const) {
      const encoder = await loadSentenceEncoder(folder, { pooling });
      const got = await encoder.embed(texts);
      const want = expected[pooling]!.arraySync() as number[][];
      for (let i = 0; i < 3; i++)
        expect(Math.max(...Array.from(got[i]!, (x, j) => Math.abs(x - want[i]![j]!))), pooling).toBeLessThan(
          TOL,
        );
      encoder.model.dispose();
    }
    const raw = await loadSentenceEncoder(folder, { normalize: false });
    const got = await raw.embed(texts);
    const want = expected.mean_raw!.arraySync() as number[][];
    expect(Math.max(...Array.from(got[1]!, (x, j) => Math.abs(x - want[1]![j]!)))).toBeLessThan(TOL);
    raw.model.dispose();
  });
});

it('cosine similarity and semantic search; pooling configs we cannot run are named', () => {
  expect(cosineSimilarity([1, 0], [2, 0])).toBeCloseTo(1);
  expect(cosineSimilarity([1, 0], [0, 3])).toBeCloseTo(0);
  expect(cosineSimilarity([1, 1], [-1, -1])).toBeCloseTo(-1);
  expect(
    semanticSearch(
      [1, 0],
      [
        [0, 1],
        [1, 0.1],
        [-1, 0],
      ],
      2,
    ).map((h) => h.index),
  ).toEqual([1, 0]);
  expect(() => cosineSimilarity([1], [1, 2])).toThrow(/length 1 and 2/);
  expect(() => poolingFromConfig({ pooling_mode_mean_sqrt_len_tokens: true })).toThrow(
    CheckpointMismatchError,
  );
  expect(() => poolingFromConfig({ pooling_mode_mean_tokens: true, pooling_mode_max_tokens: true })).toThrow(
    /exactly one .* found mean \+ max/,
  );
  expect(poolingFromConfig({ pooling_mode_cls_token: true })).toBe('cls');
});
