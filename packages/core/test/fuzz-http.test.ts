import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DownloadError,
  hubRepo,
  initBackend,
  loadCheckpoint,
  TransformerKitError,
  writeSafetensors,
} from '../src/index.js';
import { gitSha1, sha256 } from './hub-server.js';

/*
 * A seeded, bounded fuzz over HTTP responses, served by node:http on 127.0.0.1 only: random status codes
 * (redirect loops, redirects to other local paths, 401/403/404/5xx), bodies cut, too long or too short
 * against Content-Length / X-Linked-Size, wrong or absent headers, stalled and slow bodies, and garbage or
 * hostile safetensors / config.json / index bodies, for a base-URL load and a Hub-id load with a temp cache.
 * Every case ends in success or a TransformerKitError within a time limit enforced by a race, with
 * numTensors unchanged, no partial or corrupt file in the cache and resident memory bounded. A failing case
 * replays from SEED and its index.
 */

const SEED = 1919;
const CASES = 70; // per mode
const PER_CASE_MS = 1_500;
// Small limits: a stalled body fails in 150 ms, an endless one at 1 MiB (the fixture files are tiny).
const TIMEOUTS = { connectTimeoutMs: 250, idleTimeoutMs: 150, maxBytes: 2 ** 20 };
const RSS_GROWTH_LIMIT = 512 * 2 ** 20;
const COMMIT = 'c0ffee0123456789abcdef0123456789abcdef01';

/** mulberry32, as in apps/demo/test/fuzz-inputs.test.ts. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

/** How the server answers one path. */
type Behaviour =
  | { kind: 'ok' } // the real file, with honest headers
  | { kind: 'status'; code: number; errorCode?: string }
  | { kind: 'redirect'; code: number; to: string } // `to`: a local path (itself for a loop)
  | { kind: 'cut' } // honest Content-Length, half the body, socket destroyed
  | { kind: 'short-body' } // Content-Length larger than the body, then the socket closes
  | { kind: 'long-chunked' } // no Content-Length, more bytes than the file
  | { kind: 'long-length' } // Content-Length smaller than the file, file sent as announced
  | { kind: 'huge-length' } // a Content-Length far beyond any limit
  | { kind: 'stall' } // headers and a few bytes, then silence
  | { kind: 'hang' } // never answers
  | { kind: 'slow' } // the real file in small chunks, each well within the idle timeout
  | { kind: 'endless' } // chunked, never ends
  | { kind: 'raw'; text: string } // a hand-written (possibly malformed) HTTP response
  | { kind: 'body'; bytes: Buffer; length?: 'none' | 'honest' | 'wrong' }; // other bytes as the file

interface Plan {
  /** Path → behaviour; paths not listed get 'ok' when the file exists, else 404. */
  byPath: Map<string, Behaviour>;
  /** Hub mode: header tampering on the resolve answer. */
  hubHeaders?: Record<string, string | null>;
}

interface Fixture {
  files: Map<string, Buffer>;
  sharded: Map<string, Buffer>;
}

/* ---- hostile bodies ---------------------------------------------------------------------------------- */

const SHARD_NAMES = [
  '../model.safetensors',
  '%2e%2e/model.safetensors',
  '%2e%2e',
  'model.safetensors?x=1',
  'model.safetensors#frag',
  'http://127.0.0.1:1/model.safetensors',
  '//127.0.0.1:1/x.safetensors',
  '/etc/passwd',
  'sub\\..\\x',
  '',
  '.',
  '..',
  'a\u0000b',
  'nope.safetensors', // plain but absent: 404
  'model-00001-of-00002.safetensors', // the real one
];

function safetensorsHeader(header: unknown, data = 0): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(data)]);
}

function hostileSafetensors(r: Rng, real: Buffer): Buffer {
  switch (r.int(9)) {
    case 0:
      return Buffer.alloc(r.int(8)); // shorter than the length prefix
    case 1: {
      const b = Buffer.from(real);
      b.writeBigUInt64LE(2n ** 60n); // header length beyond the file
      return b;
    }
    case 2:
      return safetensorsHeader({ w: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 16] } }, 16);
    case 3:
      return safetensorsHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 2 ** 40] } }, 8);
    case 4:
      return safetensorsHeader({ w: { dtype: 'constructor', shape: [2], data_offsets: [0, 8] } }, 8);
    case 5:
      return safetensorsHeader({ __proto__: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4);
    case 6:
      return real.subarray(0, r.int(real.length)); // a prefix of the real file
    case 7: {
      const b = Buffer.from(real);
      for (let i = 0; i < 4; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    }
    default:
      return Buffer.from(Array.from({ length: 1 + r.int(300) }, () => r.int(256)));
  }
}

function hostileConfig(r: Rng): Buffer {
  return Buffer.from(
    r.pick([
      '',
      '{',
      'null',
      '[]',
      '"config"',
      '{"model_type": "gpt2"',
      '\u0000\u0001',
      JSON.stringify({ model_type: 'gpt2', n_embd: 1e300 }),
      `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    ]),
  );
}

function hostileIndex(r: Rng): Buffer {
  const pickShard = () => r.pick(SHARD_NAMES);
  return Buffer.from(
    r.pick([
      () => JSON.stringify({ weight_map: { 'wte.weight': pickShard(), 'h.0.ln_1.bias': pickShard() } }),
      () => JSON.stringify({ weight_map: null }),
      () => JSON.stringify({ weight_map: ['model.safetensors'] }),
      () => JSON.stringify({ weight_map: { a: 1, b: null, c: {} } }),
      () => JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors' } }),
      () => '{"weight_map":',
      () => 'not json',
    ])(),
  );
}

/* ---- the server -------------------------------------------------------------------------------------- */

interface LocalServer {
  url: string;
  plan: Plan;
  mode: 'plain' | 'hub';
  close(): Promise<void>;
}

async function startServer(fixture: Fixture): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const state: LocalServer = {
    url: '',
    plan: { byPath: new Map() },
    mode: 'plain',
    close: async () => {},
  };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const serve = (
    req: IncomingMessage,
    res: ServerResponse,
    b: Behaviour,
    body: Buffer | undefined,
    headers: Record<string, string>,
  ) => {
    const head = req.method === 'HEAD';
    const real = body ?? Buffer.alloc(0);
    switch (b.kind) {
      case 'ok':
        if (!body) return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
        res.writeHead(200, { ...headers, 'Content-Length': String(real.length) });
        return void res.end(head ? undefined : real);
      case 'status':
        res.writeHead(b.code, b.errorCode ? { 'X-Error-Code': b.errorCode } : {});
        return void res.end(head ? undefined : 'refused');
      case 'redirect':
        return void res.writeHead(b.code, { ...headers, Location: b.to }).end();
      case 'hang':
        return;
      case 'raw':
        req.socket.end(b.text);
        return;
      case 'huge-length':
        res.writeHead(200, { ...headers, 'Content-Length': String(2 ** 52) });
        res.write(real.subarray(0, 16));
        return void later(() => res.destroy(), 50);
      default:
        break;
    }
    if (head) {
      res.writeHead(200, { ...headers, 'Content-Length': String(real.length) });
      return void res.end();
    }
    switch (b.kind) {
      case 'cut':
        res.writeHead(200, { ...headers, 'Content-Length': String(real.length) });
        return void res.write(real.subarray(0, real.length >> 1), () => res.destroy());
      case 'short-body':
        res.writeHead(200, { ...headers, 'Content-Length': String(real.length + 100) });
        return void res.write(real, () => res.destroy());
      case 'long-chunked':
        res.writeHead(200, headers);
        return void res.end(Buffer.concat([real, Buffer.alloc(1000, 7)]));
      case 'long-length':
        // Announces fewer bytes than the file: the client reads exactly that many (a short file).
        res.writeHead(200, { ...headers, 'Content-Length': String(Math.max(0, real.length - 3)) });
        return void res.end(real.subarray(0, Math.max(0, real.length - 3)));
      case 'stall':
        res.writeHead(200, { ...headers, 'Content-Length': String(real.length + 4) });
        return void res.write(real.subarray(0, 4));
      case 'slow': {
        res.writeHead(200, { ...headers, 'Content-Length': String(real.length) });
        const step = Math.max(1, Math.ceil(real.length / 6));
        let at = 0;
        const drip = () => {
          if (res.destroyed) return;
          if (at >= real.length) return void res.end();
          res.write(real.subarray(at, at + step));
          at += step;
          later(drip, 20);
        };
        return drip();
      }
      case 'endless': {
        res.writeHead(200, headers);
        const chunk = Buffer.alloc(1 << 16, 32);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        return pump();
      }
      case 'body': {
        const h = { ...headers };
        if (b.length === 'honest') h['Content-Length'] = String(b.bytes.length);
        if (b.length === 'wrong') h['Content-Length'] = String(b.bytes.length + 1 + (b.bytes.length >> 1));
        res.writeHead(200, h);
        if (b.length === 'wrong') return void res.write(b.bytes, () => res.destroy());
        return void res.end(b.bytes);
      }
    }
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url!.split('?')[0]!;
    const plan = state.plan;
    if (state.mode === 'plain') {
      const file = path.replace(/^\/m\//, '');
      const body = fixture.files.get(file) ?? fixture.sharded.get(file);
      return serve(req, res, plan.byPath.get(path) ?? { kind: 'ok' }, body, {});
    }
    // Hub mode: /org/repo/resolve/main/{file}; LFS files go on to /cdn/{sha256}.
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const body = [...fixture.files.values(), ...fixture.sharded.values()].find((b) => sha256(b) === cdn[1]);
      return serve(req, res, plan.byPath.get(path) ?? { kind: 'ok' }, body, {});
    }
    const m = /^\/org\/repo\/resolve\/main\/(.+)$/.exec(path);
    if (!m) return void res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }).end();
    const file = decodeURIComponent(m[1]!);
    const body = fixture.files.get(file) ?? fixture.sharded.get(file);
    const behaviour = plan.byPath.get(path);
    const headers: Record<string, string> = { 'X-Repo-Commit': COMMIT };
    if (body && /\.safetensors$/.test(file) && (!behaviour || behaviour.kind === 'ok')) {
      const sha = sha256(body);
      const h: Record<string, string | null> = {
        ...headers,
        Location: `/cdn/${sha}`,
        'X-Linked-Etag': `"${sha}"`,
        'X-Linked-Size': String(body.length),
        ...plan.hubHeaders,
      };
      for (const [k, v] of Object.entries(h)) if (v === null) delete h[k];
      return void res.writeHead(302, h as Record<string, string>).end();
    }
    if (body) headers.ETag = `"${gitSha1(body)}"`;
    for (const [k, v] of Object.entries(plan.hubHeaders ?? {}))
      if (v === null) delete headers[k];
      else if (k !== 'X-Linked-Size' && k !== 'Location') headers[k] = v;
    return serve(req, res, behaviour ?? { kind: 'ok' }, body, headers);
  };

  const server: Server = createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.close = () => {
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.destroy();
    return new Promise<void>((ok) => server.close(() => ok()));
  };
  return state;
}

/* ---- case generation --------------------------------------------------------------------------------- */

const STATUS = [301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 410, 429, 500, 502, 503, 504];
const HUB_ERROR_CODES = ['RepoNotFound', 'RevisionNotFound', 'EntryNotFound', 'GatedRepo', 'Weird', ''];

function behaviourFor(r: Rng, file: string, fixture: Fixture, localPaths: readonly string[]): Behaviour {
  const real = fixture.files.get(file) ?? fixture.sharded.get(file) ?? Buffer.alloc(0);
  const garbage = (): Buffer =>
    file.endsWith('.safetensors')
      ? hostileSafetensors(r, real.length ? real : fixture.files.get('model.safetensors')!)
      : file.endsWith('index.json')
        ? hostileIndex(r)
        : hostileConfig(r);
  switch (r.int(16)) {
    case 0:
    case 1:
      return {
        kind: 'status',
        code: r.pick(STATUS.filter((s) => s >= 400)),
        errorCode: r.pick(HUB_ERROR_CODES),
      };
    case 2:
      return { kind: 'redirect', code: r.pick(STATUS.filter((s) => s < 400)), to: r.pick(localPaths) };
    case 3:
      return { kind: 'cut' };
    case 4:
      return { kind: 'short-body' };
    case 5:
      return { kind: 'long-chunked' };
    case 6:
      return { kind: 'long-length' };
    case 7:
      return { kind: 'huge-length' };
    case 8:
      return { kind: 'stall' };
    case 9:
      return { kind: 'hang' };
    case 10:
      return { kind: 'slow' };
    case 11:
      return { kind: 'endless' };
    case 12:
      return {
        kind: 'raw',
        text: r.pick([
          'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nxyz',
          'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n',
          'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 9\r\n\r\nabc',
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc',
          'HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd',
          'HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n',
          'HTTP/1.1 302 Found\r\nLocation: \r\nContent-Length: 0\r\n\r\n',
          'HTTP/1.1 999 Nope\r\nContent-Length: 0\r\n\r\n',
          'garbage\r\n\r\n',
          '',
        ]),
      };
    default:
      return { kind: 'body', bytes: garbage(), length: r.pick(['none', 'honest', 'wrong'] as const) };
  }
}

function hubHeaderTamper(r: Rng): Record<string, string | null> | undefined {
  if (r.next() < 0.5) return undefined;
  const out: Record<string, string | null> = {};
  const edits = 1 + r.int(2);
  for (let i = 0; i < edits; i++) {
    const key = r.pick(['X-Linked-Size', 'X-Linked-Etag', 'X-Repo-Commit', 'ETag']);
    out[key] = r.pick([
      null,
      '',
      '-1',
      '1e3',
      '0x10',
      '12',
      String(2 ** 53),
      '1e300',
      String(5 * 2 ** 30),
      '"../../../etc"',
      '"0000000000000000000000000000000000000000000000000000000000000000"',
      '"da39a3ee5e6b4b0d3255bfef95601890afd80709"',
      'not-a-commit',
      COMMIT.replace('c', 'd'),
    ]);
  }
  return out;
}

/* ---- per-case checks --------------------------------------------------------------------------------- */

/** Every file under the cache: no temp file is left, and every blob named by a hash has those bytes. */
function checkCache(dir: string, label: string): void {
  if (!existsSync(dir)) return;
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p, { throwIfNoEntry: false })?.isDirectory() ? walk(p) : [p];
    });
  for (const p of walk(dir)) {
    expect(p, `${label}: partial file left in the cache`).not.toMatch(/\.incomplete$|\.tmp/);
    const blob = /[\\/]blobs[\\/]([^\\/]+)$/.exec(p);
    if (!blob) continue;
    const bytes = readFileSync(p);
    const name = blob[1]!;
    if (/^[0-9a-f]{64}$/.test(name)) expect(sha256(bytes), `${label}: corrupt blob ${p}`).toBe(name);
    else if (/^[0-9a-f]{40}$/.test(name)) expect(gitSha1(bytes), `${label}: corrupt blob ${p}`).toBe(name);
    // Other etags (a mirror's "1e300", say) name no content, so there is nothing to verify them against.
  }
}

interface Tally {
  ok: number;
  typed: number;
}

/** One case: success or a typed error, decided within PER_CASE_MS (a race, so a hang fails at once). */
async function oneCase(
  label: string,
  load: () => Promise<{ tensors: Record<string, tf.Tensor> }>,
  tally: Tally,
) {
  const before = tf.memory().numTensors;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<'timeout'>((ok) => {
    timer = setTimeout(() => ok('timeout'), PER_CASE_MS);
  });
  const run = load().then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const outcome = await Promise.race([run, limit]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    // Let it settle (bounded by the download timeouts) so a late result is disposed, then fail.
    const late = await run;
    if (late.ok) tf.dispose(Object.values(late.v.tensors));
    throw new Error(`${label}: not finished within ${PER_CASE_MS} ms`);
  }
  if (outcome.ok) {
    tally.ok++;
    tf.dispose(Object.values(outcome.v.tensors));
  } else {
    const e = outcome.e as Error;
    if (!(e instanceof TransformerKitError)) throw new Error(`${label}: untyped ${e?.name}: ${e?.message}`);
    tally.typed++;
  }
  expect(tf.memory().numTensors, `${label} leaked tensors`).toBe(before);
}

/* ---- the suite --------------------------------------------------------------------------------------- */

describe('fuzz: HTTP responses', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tk-fuzz-http-'));
  let fixture: Fixture;
  let server: LocalServer;
  let rss0 = 0;
  const realFetch = globalThis.fetch;
  const foreign: string[] = [];

  beforeAll(async () => {
    await initBackend('cpu');
    const config = Buffer.from(JSON.stringify({ model_type: 'gpt2', n_embd: 4, n_layer: 1 }));
    const w = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    const b = tf.tensor1d([0.5, -1, 2, 0]);
    const single = Buffer.from(await writeSafetensors({ 'wte.weight': w, 'h.0.ln_1.bias': b }));
    const s1 = Buffer.from(await writeSafetensors({ 'wte.weight': w }));
    const s2 = Buffer.from(await writeSafetensors({ 'h.0.ln_1.bias': b }));
    tf.dispose([w, b]);
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const index = Buffer.from(
      JSON.stringify({ metadata: {}, weight_map: { 'wte.weight': shards[0], 'h.0.ln_1.bias': shards[1] } }),
    );
    fixture = {
      files: new Map([
        ['config.json', config],
        ['model.safetensors', single],
      ]),
      sharded: new Map([
        ['model.safetensors.index.json', index],
        [shards[0]!, s1],
        [shards[1]!, s2],
      ]),
    };
    server = await startServer(fixture);
    // Nothing may leave 127.0.0.1: every request the loaders make passes here first.
    globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      if (url.hostname !== '127.0.0.1') {
        foreign.push(url.href);
        return Promise.reject(new TypeError(`refused: ${url.href} is not on 127.0.0.1`));
      }
      return realFetch(input, init);
    }) as typeof fetch;
    rss0 = process.memoryUsage().rss;
  });

  afterAll(async () => {
    globalThis.fetch = realFetch;
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A plan for one case: a few of the files the load asks for get a random behaviour. */
  function plan(r: Rng, paths: (file: string) => string[], sharded: boolean): Plan {
    const names = sharded
      ? ['config.json', 'model.safetensors', ...fixture.sharded.keys()]
      : ['config.json', 'model.safetensors'];
    const localPaths = [...names.flatMap(paths), '/elsewhere', '/m/', '/'];
    const byPath = new Map<string, Behaviour>();
    const edits = 1 + r.int(3);
    for (let i = 0; i < edits; i++) {
      const file = r.pick(names);
      const path = r.pick(paths(file));
      const b = behaviourFor(r, file, fixture, localPaths);
      byPath.set(path, b.kind === 'redirect' && r.next() < 0.3 ? { ...b, to: path } : b); // a loop
    }
    // Sharded: the single file is absent, so the index is read.
    if (sharded)
      for (const p of paths('model.safetensors'))
        if (!byPath.has(p)) byPath.set(p, { kind: 'status', code: 404, errorCode: 'EntryNotFound' });
    return { byPath };
  }

  it(`a base-URL load ends typed or well, in time, without leaks (${CASES} seeded cases)`, async () => {
    const r = rng(SEED);
    const tally = { ok: 0, typed: 0 };
    server.mode = 'plain';
    for (let i = 0; i < CASES; i++) {
      const sharded = r.next() < 0.4;
      server.plan = plan(r, (f) => [`/m/${f}`], sharded);
      const label = `plain case ${i} (seed ${SEED}): ${JSON.stringify([...server.plan.byPath].map(([p, b]) => [p, b.kind]))}`;
      await oneCase(label, () => loadCheckpoint(`${server.url}/m`, TIMEOUTS), tally);
      expect(process.memoryUsage().rss - rss0, label).toBeLessThan(RSS_GROWTH_LIMIT);
    }
    expect(foreign).toEqual([]);
    // Both outcomes occur: the fuzz is not all-failure (a broken server) nor all-success (no faults).
    expect(tally.ok).toBeGreaterThan(3);
    expect(tally.typed).toBeGreaterThan(CASES / 3);
  }, 60_000);

  it(`a Hub-id load with a temp cache ends typed or well, caches nothing partial (${CASES} seeded cases)`, async () => {
    const r = rng(SEED + 1);
    const tally = { ok: 0, typed: 0 };
    server.mode = 'hub';
    const cdnOf = (f: string) => {
      const b = fixture.files.get(f) ?? fixture.sharded.get(f);
      return b && f.endsWith('.safetensors') ? [`/cdn/${sha256(b)}`] : [];
    };
    for (let i = 0; i < CASES; i++) {
      const sharded = r.next() < 0.4;
      server.plan = plan(r, (f) => [`/org/repo/resolve/main/${f}`, ...cdnOf(f)], sharded);
      server.plan.hubHeaders = hubHeaderTamper(r);
      // A cache shared by a few cases, so a later case reads what an earlier one left.
      const cacheDir = join(tmp, `hub-${i >> 2}`);
      const label = `hub case ${i} (seed ${SEED + 1}): ${JSON.stringify([...server.plan.byPath].map(([p, b]) => [p, b.kind]))} ${JSON.stringify(server.plan.hubHeaders ?? {})}`;
      const repo = hubRepo('org/repo', {
        endpoint: server.url,
        cacheDir,
        token: false,
        offline: false,
        ...TIMEOUTS,
      });
      await oneCase(label, () => loadCheckpoint(repo), tally);
      checkCache(cacheDir, label);
      expect(process.memoryUsage().rss - rss0, label).toBeLessThan(RSS_GROWTH_LIMIT);
    }
    expect(foreign).toEqual([]);
    expect(tally.ok).toBeGreaterThan(3);
    expect(tally.typed).toBeGreaterThan(CASES / 3);
  }, 60_000);
});

/* ---- what the fuzz found, one case each -------------------------------------------------------------- */

describe('regressions from the HTTP fuzz', () => {
  let url = '';
  let server: Server;
  const sockets = new Set<Socket>();
  const tmp = mkdtempSync(join(tmpdir(), 'tk-fuzz-http-reg-'));

  beforeAll(async () => {
    await initBackend('cpu');
    server = createServer((req, res) => {
      if (req.url!.includes('bad-location'))
        return void req.socket.end(
          'HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n',
        );
      if (req.url!.includes('huge-linked'))
        return void res
          .writeHead(302, {
            Location: '/cdn/x',
            'X-Repo-Commit': COMMIT,
            'X-Linked-Etag': `"${'0'.repeat(64)}"`,
            'X-Linked-Size': String(5 * 2 ** 30),
          })
          .end();
      if (req.url!.startsWith('/cdn/')) return void res.writeHead(200).end('tiny');
      if (req.url!.includes('stall')) {
        res.writeHead(200, { 'Content-Length': '100' });
        return void res.write('{');
      }
      res.writeHead(404).end();
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((ok) => server.close(() => ok()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a Hub redirect to a malformed Location is a DownloadError (was TypeError: Invalid URL)', async () => {
    const repo = hubRepo('org/bad-location', {
      endpoint: url,
      cacheDir: join(tmp, 'a'),
      token: false,
      offline: false,
    });
    const err = await loadCheckpoint(repo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/bad Location "http:\/\/\[::1"/);
  });

  it('an X-Linked-Size past what a buffer holds is refused before allocating (was RangeError)', async () => {
    const repo = hubRepo('org/huge-linked', {
      endpoint: url,
      cacheDir: join(tmp, 'b'),
      token: false,
      offline: false,
    });
    const err = await repo.read('model.safetensors').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/5368709120 bytes announced, more than the 4294967296-byte limit/);
    expect(existsSync(join(tmp, 'b', 'models--org--huge-linked', 'blobs'))).toBe(false);
  });

  it('a base-URL load takes the download limits: a stalled config.json fails after idleTimeoutMs', async () => {
    const start = performance.now();
    const err = await loadCheckpoint(`${url}/stall`, { idleTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/no data for 100 ms after 1 bytes/);
    expect(performance.now() - start).toBeLessThan(5_000); // the default would be 30 s
  });
});
