import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { HubNotFoundError, initBackend } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakeHub, startFakeHub } from '../../core/test/hub-server.js';
import { BertForSequenceClassification, loadPretrained, savePretrained } from '../src/index.js';
import { VOCAB } from './task.js';

// loadPretrained with a Hub id: the same model as from the folder, through the cache; a 404 is typed.

let tmp: string;
let hub: FakeHub;
const COMMIT = 'c0ffee0000000000000000000000000000000001';

beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'tk-bert-hub-'));
  const model = new BertForSequenceClassification(
    {
      vocabSize: VOCAB.length,
      hiddenSize: 16,
      numLayers: 1,
      numHeads: 2,
      intermediateSize: 32,
      maxPositions: 16,
    },
    { numLabels: 2, id2label: { 0: 'neg', 1: 'pos' } },
  );
  await savePretrained(model, join(tmp, 'folder'), { tokenizer: Tokenizer.wordPiece(VOCAB) });
  model.dispose();
  hub = await startFakeHub({ 'org/tiny-bert': { dir: join(tmp, 'folder'), commit: COMMIT } });
});
afterAll(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});

it("loadPretrained('org/name', { endpoint, cacheDir, revision }) equals the folder's model, with its tokenizer", async () => {
  const before = tf.memory().numTensors;
  const local = await loadPretrained(join(tmp, 'folder'));
  const perModel = tf.memory().numTensors - before;
  const cacheDir = join(tmp, 'cache');
  const progress: string[] = [];
  const remote = await loadPretrained('org/tiny-bert', {
    endpoint: hub.url,
    cacheDir,
    revision: COMMIT,
    onProgress: (p) => progress.push(p.file),
  });
  expect(tf.memory().numTensors - before).toBe(2 * perModel); // the model's parameters, nothing else
  expect(remote.model).toBeInstanceOf(BertForSequenceClassification);
  expect(remote.tokenizer?.encode('the plot was not bad').ids).toEqual(
    local.tokenizer?.encode('the plot was not bad').ids,
  );
  const ids = tf.tensor2d([[2, 5, 6, 7, 3]], undefined, 'int32');
  const a = (local.model as BertForSequenceClassification).eval().forward({ inputIds: ids });
  const b = (remote.model as BertForSequenceClassification).eval().forward({ inputIds: ids });
  expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  tf.dispose([ids, a, b]);
  expect(progress).toContain('model.safetensors');
  expect(progress).toContain('config.json');
  local.model.dispose();
  remote.model.dispose();

  // Offline, from the cache alone.
  hub.log.length = 0;
  const offline = await loadPretrained('org/tiny-bert', {
    endpoint: hub.url,
    cacheDir,
    revision: COMMIT,
    offline: true,
  });
  expect(hub.log).toEqual([]);
  offline.model.dispose();

  const beforeFailure = tf.memory().numTensors;
  const missing = await loadPretrained('org/no-such-bert', { endpoint: hub.url, cacheDir }).catch((e) => e);
  expect(missing).toBeInstanceOf(HubNotFoundError);
  expect(missing.message).toMatch(/org\/no-such-bert \(revision main, file config\.json\)/);
  expect(tf.memory().numTensors).toBe(beforeFailure);
});
