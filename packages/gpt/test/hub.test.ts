import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { HubAuthError, initBackend } from '@transformer-kit/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakeHub, startFakeHub } from '../../core/test/hub-server.js';
import { loadPretrained } from '../src/index.js';

// loadPretrained('gpt2'-style id, overrides, hub options): the folder's model through the cache; gated is typed.

const fixture = join(import.meta.dirname, 'fixtures', 'tiny-gpt2');
let tmp: string;
let hub: FakeHub;

beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'tk-gpt-hub-'));
  hub = await startFakeHub({
    'tiny-gpt2': { dir: fixture, commit: 'a'.repeat(40) },
    'org/gated-gpt2': { dir: fixture, commit: 'b'.repeat(40), gatedToken: 'hf_ok' },
  });
});
afterAll(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});

it('loads a bare id from the Hub (cached) and equals the local folder', async () => {
  const local = await loadPretrained(fixture);
  const remote = await loadPretrained('tiny-gpt2', {}, { endpoint: hub.url, cacheDir: join(tmp, 'cache') });
  const ids = [[1, 2, 3, 4]];
  tf.tidy(() => {
    expect(
      remote.model.eval().forward(ids).sub(local.model.eval().forward(ids)).abs().max().dataSync()[0],
    ).toBe(0);
  });
  local.model.dispose();
  remote.model.dispose();
  const before = tf.memory().numTensors;
  const gated = await loadPretrained(
    'org/gated-gpt2',
    {},
    { endpoint: hub.url, cacheDir: false, token: false },
  ).catch((e) => e);
  expect(gated).toBeInstanceOf(HubAuthError);
  expect(gated.message).toMatch(/org\/gated-gpt2 .*gated or private/);
  expect(tf.memory().numTensors).toBe(before);
  const opened = await loadPretrained(
    'org/gated-gpt2',
    {},
    { endpoint: hub.url, cacheDir: false, token: 'hf_ok' },
  );
  opened.model.dispose();
});
