import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@transformer-kit/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakeHub, startFakeHub } from '../../core/test/hub-server.js';
import { loadPretrained, ViTForImageClassification } from '../src/index.js';

const fixture = join(import.meta.dirname, 'fixtures', 'vit-cls');
let tmp: string;
let hub: FakeHub;

beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'tk-vit-hub-'));
  hub = await startFakeHub({ 'google/tiny-vit': { dir: fixture, commit: 'd'.repeat(40) } });
});
afterAll(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});

it("loadPretrained('org/name', { endpoint, cacheDir }) gives the folder's classifier", async () => {
  const local = await loadPretrained(fixture);
  const remote = await loadPretrained('google/tiny-vit', { endpoint: hub.url, cacheDir: join(tmp, 'cache') });
  expect(remote.model).toBeInstanceOf(ViTForImageClassification);
  const a = local.model.namedParameters();
  const b = remote.model.namedParameters();
  expect(b.map(([n]) => n)).toEqual(a.map(([n]) => n));
  for (let i = 0; i < a.length; i++)
    expect(Array.from(b[i]![1].dataSync())).toEqual(Array.from(a[i]![1].dataSync()));
  local.model.dispose();
  remote.model.dispose();
});
