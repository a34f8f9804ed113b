import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  DownloadError,
  type DownloadProgress,
  fetchBytes,
  HubAuthError,
  HubNotFoundError,
  HubOfflineError,
  HubRepo,
  hubCacheDir,
  hubRepo,
  initBackend,
  isHubId,
  loadCheckpoint,
  readCheckpointFile,
  resolveSource,
  saveCheckpoint,
  writeSafetensors,
} from '../src/index.js';
import { type FakeHub, gitSha1, sha256, startFakeHub } from './hub-server.js';

const config = { model_type: 'gpt2', n_embd: 4, n_layer: 1, architectures: ['GPT2LMHeadModel'] };
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const tmp = mkdtempSync(join(tmpdir(), 'tk-hub-'));
let tensors: Record<string, tf.Tensor>;
let hub: FakeHub;
let cacheN = 0;
const freshCache = () => join(tmp, `cache-${cacheN++}`);

function expectSame(got: Record<string, tf.Tensor>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(tensors).sort());
  for (const [k, t] of Object.entries(tensors))
    expect(Array.from(got[k]!.dataSync()), k).toEqual(Array.from(t.dataSync()));
}

beforeAll(async () => {
  await initBackend('cpu');
  tensors = {
    'wte.weight': tf.randomNormal([50, 4], 0, 1, 'float32', 1),
    'h.0.ln_1.bias': tf.tensor1d([0.5, -1, 2, 0]),
  };
  await saveCheckpoint(join(tmp, 'tiny'), { config, tensors, extraFiles: { 'sub.txt': 'x' } });
  mkdirSync(join(tmp, 'tiny', '1_Pooling'));
  writeFileSync(join(tmp, 'tiny', '1_Pooling', 'config.json'), '{"pooling_mode_mean_tokens": true}');
  // Sharded: two files and the index, as save_pretrained(max_shard_size=...) writes them.
  const sharded = join(tmp, 'sharded');
  mkdirSync(sharded);
  writeFileSync(join(sharded, 'config.json'), JSON.stringify(config));
  const names = Object.keys(tensors);
  const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  for (let i = 0; i < 2; i++)
    writeFileSync(
      join(sharded, shardNames[i]!),
      await writeSafetensors({ [names[i]!]: tensors[names[i]!]! }),
    );
  writeFileSync(
    join(sharded, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: { [names[0]!]: shardNames[0], [names[1]!]: shardNames[1] } }),
  );
  hub = await startFakeHub(
    {
      'org/tiny': { dir: join(tmp, 'tiny'), commit: COMMIT },
      gpt2: { dir: join(tmp, 'tiny'), commit: COMMIT.replace('0', 'f') },
      'org/sharded': { dir: sharded, commit: COMMIT },
      'org/gated': { dir: join(tmp, 'tiny'), commit: COMMIT, gatedToken: 'hf_good' },
    },
    { 'old/tiny': 'org/tiny' },
  );
});

afterEach(() => {
  hub.log.length = 0;
});

afterAll(async () => {
  await hub.close();
  tf.dispose(tensors);
  rmSync(tmp, { recursive: true, force: true });
});

describe('Hub ids', () => {
  it('recognises repo ids and keeps local folders and URLs as they are', async () => {
    for (const id of ['gpt2', 'bert-base-uncased', 'org/name', 'sentence-transformers/all-MiniLM-L6-v2'])
      expect(isHubId(id), id).toBe(true);
    for (const s of [
      './x',
      '/abs/path',
      'a/b/c',
      '../x',
      'org/na..me',
      'a--b',
      '',
      'x'.repeat(97),
      'http://x/y',
    ])
      expect(isHubId(s), s).toBe(false);
    expect(await resolveSource(join(tmp, 'tiny'))).toBe(join(tmp, 'tiny'));
    const repo = await resolveSource('org/tiny', { revision: 'v1', endpoint: hub.url });
    expect(repo).toBeInstanceOf(HubRepo);
    expect((repo as HubRepo).url('1_Pooling/config.json')).toBe(
      `${hub.url}/org/tiny/resolve/v1/1_Pooling/config.json`,
    );
    expect(() => hubRepo('../etc')).toThrow(/not a Hub repo id/);
    expect(() => hubRepo('org/x', { revision: '../main' })).toThrow(/not a branch, tag or commit/);
    await expect(hubRepo('org/tiny', { endpoint: hub.url }).read('../x')).rejects.toThrow(/plain file path/);
  });

  it('honours HF_ENDPOINT and HF_HOME / HF_HUB_CACHE', async () => {
    const saved = { ...process.env };
    try {
      process.env.HF_ENDPOINT = 'http://127.0.0.1:9/mirror/';
      expect(hubRepo('gpt2').url('config.json')).toBe(
        'http://127.0.0.1:9/mirror/gpt2/resolve/main/config.json',
      );
      delete process.env.HF_HUB_CACHE;
      process.env.HF_HOME = '/some/home';
      expect(await hubCacheDir()).toBe('/some/home/hub');
      process.env.HF_HUB_CACHE = '/other/cache';
      expect(await hubCacheDir()).toBe('/other/cache');
    } finally {
      process.env = saved;
    }
  });
});

describe('downloads into the huggingface_hub cache layout', () => {
  it('loads a repo, follows the CDN redirect, reports progress and writes blobs, snapshots and refs', async () => {
    const cacheDir = freshCache();
    const events: DownloadProgress[] = [];
    const before = tf.memory().numTensors;
    const loaded = await loadCheckpoint(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir, onProgress: (p) => events.push(p) }),
    );
    expect(loaded.config).toEqual(config);
    expectSame(loaded.tensors);
    tf.dispose(loaded.tensors);
    expect(tf.memory().numTensors).toBe(before);

    const repoDir = join(cacheDir, 'models--org--tiny');
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    const weights = readFileSync(join(tmp, 'tiny', 'model.safetensors'));
    const configBytes = readFileSync(join(tmp, 'tiny', 'config.json'));
    expect(readdirSync(join(repoDir, 'blobs')).sort()).toEqual(
      [gitSha1(configBytes), sha256(weights)].sort(),
    );
    const snap = join(repoDir, 'snapshots', COMMIT);
    expect(readlinkSync(join(snap, 'model.safetensors'))).toBe(`../../blobs/${sha256(weights)}`);
    expect(readlinkSync(join(snap, 'config.json'))).toBe(`../../blobs/${gitSha1(configBytes)}`);
    expect(readFileSync(join(snap, 'model.safetensors')).equals(weights)).toBe(true);

    // The weights came from the CDN after the Hub's 302; progress ends at the announced size.
    expect(hub.log).toContain(`GET /cdn/${sha256(weights)}`);
    const w = events.filter((e) => e.file === 'model.safetensors');
    expect(w.at(-1)).toEqual({ file: 'model.safetensors', loaded: weights.length, total: weights.length });
    expect(w.every((e, i) => i === 0 || e.loaded >= w[i - 1]!.loaded)).toBe(true);

    // A second load only asks the Hub for metadata (HEAD); the bytes come from the cache.
    hub.log.length = 0;
    const cachedEvents: DownloadProgress[] = [];
    const again = await loadCheckpoint(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir, onProgress: (p) => cachedEvents.push(p) }),
    );
    expectSame(again.tensors);
    tf.dispose(again.tensors);
    expect(hub.log.filter((l) => l.startsWith('GET'))).toEqual([]);
    expect(cachedEvents.find((e) => e.file === 'model.safetensors')?.cached).toBe(true);

    // Offline (option or HF_HUB_OFFLINE=1): the cache alone, no request at all; a file in a subfolder too.
    hub.log.length = 0;
    const saved = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const offline = await loadCheckpoint(hubRepo('org/tiny', { endpoint: hub.url, cacheDir }));
      expectSame(offline.tensors);
      tf.dispose(offline.tensors);
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = saved;
    }
    expect(hub.log).toEqual([]);
  });

  it('pins a revision by commit and uses a cache that huggingface_hub wrote (offline)', async () => {
    // What `huggingface-cli download org/tiny` leaves: blobs, relative links, refs/main.
    const cacheDir = freshCache();
    const repoDir = join(cacheDir, 'models--org--tiny');
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    mkdirSync(join(repoDir, 'snapshots', COMMIT), { recursive: true });
    mkdirSync(join(repoDir, 'refs'));
    writeFileSync(join(repoDir, 'refs', 'main'), COMMIT);
    for (const f of ['config.json', 'model.safetensors']) {
      const b = readFileSync(join(tmp, 'tiny', f));
      const etag = f.endsWith('.json') ? gitSha1(b) : sha256(b);
      writeFileSync(join(repoDir, 'blobs', etag), b);
      symlinkSync(`../../blobs/${etag}`, join(repoDir, 'snapshots', COMMIT, f));
    }
    for (const revision of ['main', COMMIT]) {
      const loaded = await loadCheckpoint(
        hubRepo('org/tiny', { endpoint: hub.url, cacheDir, revision, offline: true }),
      );
      expectSame(loaded.tensors);
      tf.dispose(loaded.tensors);
    }
    expect(hub.log).toEqual([]);
    // A file the snapshot lacks is missing, as a typed offline error naming it.
    const err = await readCheckpointFile(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir, offline: true }),
      'vocab.txt',
    ).catch((e) => e);
    expect(err).toBeInstanceOf(HubOfflineError);
    expect(err).toMatchObject({ repoId: 'org/tiny', revision: 'main', file: 'vocab.txt' });
  });

  it('offline without a cache is a typed error with id, revision and file', async () => {
    const err = await loadCheckpoint(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir: freshCache(), offline: true, revision: 'v2' }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(HubOfflineError);
    expect(err.message).toMatch(/org\/tiny \(revision v2\) is not in the cache .*config\.json/);
    expect(hub.log).toEqual([]);
  });

  it('falls back to the cache when the Hub cannot be reached, and says so when the cache is empty', async () => {
    const cacheDir = freshCache();
    const first = await loadCheckpoint(hubRepo('gpt2', { endpoint: hub.url, cacheDir }));
    tf.dispose(first.tensors);
    expect(existsSync(join(cacheDir, 'models--gpt2', 'refs', 'main'))).toBe(true);
    const down = 'http://127.0.0.1:9'; // the discard port: connection refused
    const cached = await loadCheckpoint(hubRepo('gpt2', { endpoint: down, cacheDir }));
    expectSame(cached.tensors);
    tf.dispose(cached.tensors);
    const err = await loadCheckpoint(hubRepo('gpt2', { endpoint: down, cacheDir: freshCache() })).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HubOfflineError);
    expect(err.message).toMatch(
      /gpt2: config\.json \(revision main\) is not in the cache and the Hub cannot be reached/,
    );
  });

  it('reads sharded safetensors through the index, and files in subfolders', async () => {
    const loaded = await loadCheckpoint(
      hubRepo('org/sharded', { endpoint: hub.url, cacheDir: freshCache() }),
    );
    expectSame(loaded.tensors);
    tf.dispose(loaded.tensors);
    expect(hub.log.filter((l) => l.startsWith('GET /cdn/'))).toHaveLength(2);
    const pooling = await readCheckpointFile(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir: false }),
      '1_Pooling/config.json',
    );
    expect(new TextDecoder().decode(pooling)).toContain('pooling_mode_mean_tokens');
  });

  it('follows a renamed repository (same-host redirect) and works without a cache', async () => {
    const loaded = await loadCheckpoint(hubRepo('old/tiny', { endpoint: hub.url, cacheDir: false }));
    expectSame(loaded.tensors);
    tf.dispose(loaded.tensors);
    const cacheDir = freshCache();
    const cached = await loadCheckpoint(hubRepo('old/tiny', { endpoint: hub.url, cacheDir }));
    tf.dispose(cached.tensors);
    expect(existsSync(join(cacheDir, 'models--old--tiny', 'snapshots', COMMIT, 'model.safetensors'))).toBe(
      true,
    );
  });
});

describe(".no_exist markers (huggingface_hub's record of a 404)", () => {
  it('writes .no_exist/{commit}/{file} on a 404 and does not ask for that file again at that commit', async () => {
    const cacheDir = freshCache();
    const repoDir = join(cacheDir, 'models--org--sharded');
    const first = await loadCheckpoint(hubRepo('org/sharded', { endpoint: hub.url, cacheDir }));
    expectSame(first.tensors);
    tf.dispose(first.tensors);
    // model.safetensors does not exist (the repo is sharded): the 404 left an empty marker at the commit.
    const marker = join(repoDir, '.no_exist', COMMIT, 'model.safetensors');
    expect(readFileSync(marker, 'utf8')).toBe('');
    expect(readdirSync(join(repoDir, '.no_exist', COMMIT))).toEqual(['model.safetensors']);
    expect(hub.log).toContain('HEAD /org/sharded/resolve/main/model.safetensors');

    // Again (a new HubRepo): config.json's answer gives the commit, and the marker there means the
    // absent file is not asked for; the index and shards are.
    hub.log.length = 0;
    const again = await loadCheckpoint(hubRepo('org/sharded', { endpoint: hub.url, cacheDir }));
    expectSame(again.tensors);
    tf.dispose(again.tensors);
    expect(hub.log.filter((l) => l.endsWith('/model.safetensors'))).toEqual([]);
    expect(hub.log).toContain('HEAD /org/sharded/resolve/main/model.safetensors.index.json');

    // Pinned to the commit: not asked at all, even before any other file.
    hub.log.length = 0;
    const pinned = hubRepo('org/sharded', { endpoint: hub.url, cacheDir, revision: COMMIT });
    expect(await pinned.read('model.safetensors')).toBeUndefined();
    expect(hub.log).toEqual([]);

    // Offline the marker is honoured: the known-absent file is skipped for the index, and asked for as
    // required it is the Hub's 404 (HubNotFoundError), not "not in the cache".
    const offline = await loadCheckpoint(
      hubRepo('org/sharded', { endpoint: hub.url, cacheDir, offline: true }),
    );
    expectSame(offline.tensors);
    tf.dispose(offline.tensors);
    const known = await readCheckpointFile(
      hubRepo('org/sharded', { endpoint: hub.url, cacheDir, offline: true }),
      'model.safetensors',
    ).catch((e) => e);
    expect(known).toBeInstanceOf(HubNotFoundError);
    expect(known).toMatchObject({ repoId: 'org/sharded', revision: 'main', file: 'model.safetensors' });
    expect(known.message).toMatch(
      /has no model\.safetensors at revision main \(commit [0-9a-f]{40}; .*\.no_exist/,
    );
    const unknown = await readCheckpointFile(
      hubRepo('org/sharded', { endpoint: hub.url, cacheDir, offline: true }),
      'vocab.txt',
    ).catch((e) => e);
    expect(unknown).toBeInstanceOf(HubOfflineError);
    expect(hub.log).toEqual([]);
  });

  it('a first 404 writes the marker and refs/main; markers huggingface_hub wrote are honoured offline', async () => {
    // The ref is written from the 404's X-Repo-Commit alone (no file of the repo was found before).
    const cacheDir = freshCache();
    const repo = hubRepo('org/tiny', { endpoint: hub.url, cacheDir });
    expect(await repo.read('tokenizer.json')).toBeUndefined();
    const repoDir = join(cacheDir, 'models--org--tiny');
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    expect(existsSync(join(repoDir, '.no_exist', COMMIT, 'tokenizer.json'))).toBe(true);
    // A subfolder file's marker keeps its path, as huggingface_hub's relative_filename.
    expect(await repo.read('2_Dense/config.json')).toBeUndefined();
    expect(existsSync(join(repoDir, '.no_exist', COMMIT, '2_Dense', 'config.json'))).toBe(true);

    // What huggingface_hub leaves after transformers looked for an optional file: refs, a snapshot and a
    // marker; no request is made and the marked file reads as absent.
    const pyCache = freshCache();
    const pyRepo = join(pyCache, 'models--org--tiny');
    mkdirSync(join(pyRepo, 'snapshots', COMMIT), { recursive: true });
    mkdirSync(join(pyRepo, 'refs'));
    mkdirSync(join(pyRepo, '.no_exist', COMMIT), { recursive: true });
    writeFileSync(join(pyRepo, 'refs', 'main'), COMMIT);
    writeFileSync(join(pyRepo, '.no_exist', COMMIT, 'added_tokens.json'), '');
    hub.log.length = 0;
    const offline = hubRepo('org/tiny', { endpoint: hub.url, cacheDir: pyCache, offline: true });
    expect(await offline.read('added_tokens.json')).toBeUndefined();
    expect(offline.missing('added_tokens.json')).toBeInstanceOf(HubNotFoundError);
    expect(hub.log).toEqual([]);
  });
});

describe('the Hub refusing', () => {
  it('404 file, unknown repository, unknown revision: HubNotFoundError with id, revision and file', async () => {
    const repo = hubRepo('org/tiny', { endpoint: hub.url, cacheDir: freshCache() });
    const missingFile = await readCheckpointFile(repo, 'nope.json').catch((e) => e);
    expect(missingFile).toBeInstanceOf(HubNotFoundError);
    expect(missingFile).toMatchObject({
      repoId: 'org/tiny',
      revision: 'main',
      file: 'nope.json',
      code: 'HUB_NOT_FOUND',
    });
    expect(missingFile.message).toContain('org/tiny has no nope.json at revision main');

    const noRepo = await loadCheckpoint(
      hubRepo('org/absent', { endpoint: hub.url, cacheDir: freshCache() }),
    ).catch((e) => e);
    expect(noRepo).toBeInstanceOf(HubNotFoundError);
    expect(noRepo.message).toMatch(
      /org\/absent \(revision main, file config\.json\): repository not found.*pass a token/,
    );

    const noRev = await loadCheckpoint(
      hubRepo('org/tiny', { endpoint: hub.url, revision: 'v9', cacheDir: false }),
    ).catch((e) => e);
    expect(noRev).toBeInstanceOf(HubNotFoundError);
    expect(noRev.message).toMatch(/has no revision 'v9'/);
  });

  it('gated: HubAuthError that says how to pass a token; the token opens it and never reaches the CDN', async () => {
    const err = await loadCheckpoint(
      hubRepo('org/gated', { endpoint: hub.url, cacheDir: freshCache(), token: false }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(HubAuthError);
    expect(err).toMatchObject({ repoId: 'org/gated', file: 'config.json', status: 401 });
    expect(err.message).toMatch(/gated or private.*\{ token: "hf_\.\.\." \} or \$HF_TOKEN/);
    const bad = await loadCheckpoint(
      hubRepo('org/gated', { endpoint: hub.url, cacheDir: false, token: 'hf_bad' }),
    ).catch((e) => e);
    expect(bad.message).toMatch(/this token has no access/);
    hub.log.length = 0;
    const ok = await loadCheckpoint(
      hubRepo('org/gated', { endpoint: hub.url, cacheDir: freshCache(), token: 'hf_good' }),
    );
    expectSame(ok.tensors);
    tf.dispose(ok.tensors);
    expect(hub.log.filter((l) => l.startsWith('GET /cdn/'))).toEqual([expect.not.stringContaining('+auth')]);
    expect(hub.log.filter((l) => l.includes('/org/gated/')).every((l) => l.endsWith('+auth'))).toBe(true);
  });
});

describe('failing downloads leave no cache entry', () => {
  const blobsOf = (cacheDir: string) => {
    const d = join(cacheDir, 'models--org--tiny', 'blobs');
    return existsSync(d) ? readdirSync(d) : [];
  };
  const weightsSha = () => sha256(readFileSync(join(tmp, 'tiny', 'model.safetensors')));

  it('a body cut once is retried; cut twice is a DownloadError and nothing corrupt is cached', async () => {
    const cacheDir = freshCache();
    hub.fail('/cdn/', 'cut', 1);
    const loaded = await loadCheckpoint(hubRepo('org/tiny', { endpoint: hub.url, cacheDir }));
    expectSame(loaded.tensors);
    tf.dispose(loaded.tensors);
    expect(hub.log.filter((l) => l.startsWith('GET /cdn/'))).toHaveLength(2);

    const cache2 = freshCache();
    hub.fail('/cdn/', 'cut', 2);
    const before = tf.memory().numTensors;
    const err = await loadCheckpoint(hubRepo('org/tiny', { endpoint: hub.url, cacheDir: cache2 })).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/\/cdn\/[0-9a-f]{64} failed: /);
    expect(tf.memory().numTensors).toBe(before);
    expect(blobsOf(cache2).filter((b) => b === weightsSha() || b.endsWith('.incomplete'))).toEqual([]);
    expect(existsSync(join(cache2, 'models--org--tiny', 'snapshots', COMMIT, 'model.safetensors'))).toBe(
      false,
    );
    // The next load, with the server healthy, downloads and works.
    const after = await loadCheckpoint(hubRepo('org/tiny', { endpoint: hub.url, cacheDir: cache2 }));
    expectSame(after.tensors);
    tf.dispose(after.tensors);
  });

  it('a hash mismatch, a wrong Content-Length and an over-long body are DownloadErrors', async () => {
    for (const [failure, pattern] of [
      ['bad-hash', /SHA-256 of the \d+ bytes received is [0-9a-f]{64}, the Hub announced/],
      ['short-length', /Content-Length \d+ differs from the expected size \d+/],
      ['long', /body is longer than the expected \d+ bytes/],
    ] as const) {
      const cacheDir = freshCache();
      hub.fail('/cdn/', failure, 2);
      const err = await loadCheckpoint(hubRepo('org/tiny', { endpoint: hub.url, cacheDir })).catch((e) => e);
      expect(err, failure).toBeInstanceOf(DownloadError);
      expect(err.message, failure).toMatch(pattern);
      expect(
        blobsOf(cacheDir).filter((b) => b !== gitSha1(readFileSync(join(tmp, 'tiny', 'config.json')))),
      ).toEqual([]);
    }
  });

  it('times out a server that never answers (connect) and one that stops sending (idle)', async () => {
    hub.fail('config.json', 'hang', 2);
    const t0 = Date.now();
    const hang = await loadCheckpoint(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir: false, connectTimeoutMs: 200 }),
    ).catch((e) => e);
    expect(hang).toBeInstanceOf(DownloadError);
    expect(hang.message).toMatch(/no response within 200 ms/);
    hub.fail('/cdn/', 'stall', 2);
    const stall = await loadCheckpoint(
      hubRepo('org/tiny', { endpoint: hub.url, cacheDir: freshCache(), idleTimeoutMs: 200 }),
    ).catch((e) => e);
    expect(stall).toBeInstanceOf(DownloadError);
    expect(stall.message).toMatch(/no data for 200 ms after 4 bytes/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('plain URLs (checkpoint base URLs)', () => {
  it('bounds a body nothing announces: a size limit, and a safetensors header', async () => {
    hub.fail('config.json', 'endless', 1);
    const endless = await fetchBytes(`${hub.url}/org/tiny/resolve/main/config.json`, {
      file: 'config.json',
      maxBytes: 1 << 20,
    }).catch((e) => e);
    expect(endless).toBeInstanceOf(DownloadError);
    expect(endless.message).toMatch(/body exceeds the 1048576-byte limit for config\.json/);
    // A chunked safetensors body longer than its header says stops at the header's size.
    const sha = sha256(readFileSync(join(tmp, 'tiny', 'model.safetensors')));
    hub.fail('/cdn/', 'long', 1);
    const long = await fetchBytes(`${hub.cdnUrl}/cdn/${sha}`, { file: 'model.safetensors' }).catch((e) => e);
    expect(long).toBeInstanceOf(DownloadError);
    expect(long.message).toMatch(/longer than the \d+ bytes its safetensors header describes/);
    // The same URL healthy, and a 404 as "no such file".
    expect((await fetchBytes(`${hub.cdnUrl}/cdn/${sha}`, { file: 'model.safetensors' }))?.length).toBe(
      readFileSync(join(tmp, 'tiny', 'model.safetensors')).length,
    );
    expect(
      await fetchBytes(`${hub.cdnUrl}/cdn/${'0'.repeat(64)}`, { file: 'model.safetensors' }),
    ).toBeUndefined();
  });

  it('a cut body from a base URL is a typed error, not a TypeError', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('{"a":', () => res.destroy());
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as { port: number };
    try {
      const err = await loadCheckpoint(`http://127.0.0.1:${port}/m`).catch((e) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect(err.message).toMatch(/config\.json failed: /);
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });

  it('refuses shard names that are not plain file names, before any request', async () => {
    for (const shard of ['%2e%2e', '../x.safetensors', 'a/b.safetensors', 'x?y=1', 'x#y', '..', 'a\\b']) {
      const files = new Map([
        ['config.json', new TextEncoder().encode('{}')],
        [
          'model.safetensors.index.json',
          new TextEncoder().encode(JSON.stringify({ weight_map: { w: shard } })),
        ],
      ]);
      await expect(loadCheckpoint(files), shard).rejects.toThrow(/is not a plain file name/);
    }
  });
});
