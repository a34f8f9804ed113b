import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DownloadError } from '../src/errors.js';
import { HubRepo } from '../src/hub.js';
import { type FakeHub, startFakeHub } from './hub-server.js';

// HubRepo's browser branch (the Cache API) run in Node: env's isNode answers false and globalThis.caches is
// an in-memory CacheStorage. The demo's browser test runs the same path in Chromium against a real Cache API.
vi.mock('../src/env.js', async (load) => ({
  ...(await load<typeof import('../src/env.js')>()),
  isNode: () => false,
}));

class MemoryCache {
  readonly entries = new Map<string, Response>();
  async match(key: string): Promise<Response | undefined> {
    return this.entries.get(key)?.clone();
  }
  async put(key: string, res: Response): Promise<void> {
    this.entries.set(key, res);
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'tk-hub-browser-'));
const cache = new MemoryCache();
let hub: FakeHub;

beforeAll(async () => {
  const dir = join(tmp, 'repo');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), '{"model_type": "bert"}');
  writeFileSync(join(dir, 'model.safetensors'), Buffer.alloc(4096, 7));
  hub = await startFakeHub({ 'org/tiny': { dir, commit: 'c'.repeat(40) } });
  (globalThis as { caches?: unknown }).caches = { open: async () => cache };
});
afterAll(async () => {
  delete (globalThis as { caches?: unknown }).caches;
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('HubRepo in a browser: the Cache API', () => {
  it('a second load (a new HubRepo, as on the next visit) asks the Hub nothing: files and the files the repo lacks come from the cache', async () => {
    const read = async () => {
      const cached: string[] = [];
      const repo = new HubRepo('org/tiny', {
        endpoint: hub.url,
        onProgress: (p) => {
          if (p.cached) cached.push(p.file);
        },
      });
      const files = {
        config: await repo.read('config.json'),
        weights: await repo.read('model.safetensors'),
        absent: await repo.read('tokenizer.json'),
      };
      return { files, cached };
    };
    const first = await read();
    const requests = hub.log.length;
    expect(requests).toBeGreaterThanOrEqual(3);
    expect(new TextDecoder().decode(first.files.config)).toBe('{"model_type": "bert"}');
    expect(first.files.weights).toEqual(new Uint8Array(4096).fill(7));
    expect(first.files.absent).toBeUndefined();
    expect(first.cached).toEqual([]);

    const second = await read();
    expect(hub.log.length).toBe(requests);
    expect(second.files).toEqual(first.files);
    expect(second.cached).toEqual(['config.json', 'model.safetensors']);
  });

  it('a download cut midway leaves no cache entry, and offline that file is a typed error', async () => {
    const dir = join(tmp, 'repo2');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2"}');
    writeFileSync(join(dir, 'model.safetensors'), Buffer.alloc(8192, 3));
    const other = await startFakeHub({ 'org/cut': { dir, commit: 'd'.repeat(40) } });
    try {
      // The bytes come from the CDN the Hub redirects to; cut there, on the first try and the retry.
      other.fail('/cdn/', 'cut', 2);
      const repo = new HubRepo('org/cut', { endpoint: other.url });
      await expect(repo.read('model.safetensors')).rejects.toBeInstanceOf(DownloadError);
      expect([...cache.entries.keys()].some((k) => k.includes('org/cut'))).toBe(false);
      const offline = new HubRepo('org/cut', { endpoint: other.url, offline: true });
      await expect(offline.read('model.safetensors')).rejects.toThrow(/not in the browser cache/);
    } finally {
      await other.close();
    }
  });
});
