import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, relative } from 'node:path';

/*
 * A stand-in for the Hub on 127.0.0.1 (never another address): serves fixture folders under the Hub's URL
 * shapes and headers, and fails on demand.
 *
 *   HEAD/GET /{repo}/resolve/{revision}/{file}
 *     LFS files (*.safetensors, *.bin): 302 → /cdn/{sha256} with X-Linked-Etag, X-Linked-Size, X-Repo-Commit
 *     others: 200 with ETag = git blob sha1, Content-Length, X-Repo-Commit
 *     unknown repo: 401 RepoNotFound; unknown revision: 404 RevisionNotFound; missing file: 404 EntryNotFound
 *     gated repo without the right token: 401 GatedRepo
 *   `renames`: /{old}/… → 307 to /{new}/… (a renamed repository, same host)
 */

export type Failure =
  | 'cut' // headers and half the body, then the socket is destroyed
  | 'hang' // never answers
  | 'stall' // headers and a few bytes, then silence
  | 'long' // Content-Length as announced, more bytes than that on a chunked response
  | 'short-length' // a Content-Length smaller than the Hub announced
  | 'bad-hash' // the right size, wrong bytes
  | 'endless'; // chunked, no length, never ends

export interface HubRepoFixture {
  dir: string;
  commit: string;
  gatedToken?: string;
}

export interface FakeHub {
  url: string;
  /** The CDN's origin (LFS files redirect there). */
  cdnUrl: string;
  /** Every request as "METHOD path" (the token header as "+auth"). */
  log: string[];
  /** Fail the next `times` GETs whose path contains `file`. */
  fail(file: string, failure: Failure, times?: number): void;
  close(): Promise<void>;
}

export const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const isLfs = (f: string) => /\.(safetensors|bin)$/.test(f);

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p).split('\\').join('/'), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

export async function startFakeHub(
  repos: Record<string, HubRepoFixture>,
  renames: Record<string, string> = {},
): Promise<FakeHub> {
  const content = new Map(Object.entries(repos).map(([id, r]) => [id, files(r.dir)]));
  const bySha = new Map<string, Buffer>();
  for (const fs of content.values()) for (const [f, b] of fs) if (isLfs(f)) bySha.set(sha256(b), b);
  const failures: { file: string; failure: Failure; times: number }[] = [];
  const log: string[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const takeFailure = (path: string): Failure | undefined => {
    const f = failures.find((x) => x.times > 0 && path.includes(x.file));
    if (!f) return undefined;
    f.times--;
    return f.failure;
  };

  const send = (req: IncomingMessage, res: ServerResponse, body: Buffer, headers: Record<string, string>) => {
    const failure = req.method === 'GET' ? takeFailure(req.url!) : undefined;
    if (failure === 'hang') return;
    if (failure === 'cut') {
      res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return;
    }
    if (failure === 'stall') {
      res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
      res.write(body.subarray(0, Math.min(4, body.length)));
      return;
    }
    if (failure === 'long') {
      res.writeHead(200, headers); // chunked: no Content-Length, so the client must bound it
      res.end(Buffer.concat([body, Buffer.alloc(64, 7)]));
      return;
    }
    if (failure === 'short-length') {
      res.writeHead(200, { ...headers, 'Content-Length': String(body.length - 1) });
      res.end(body.subarray(0, body.length - 1));
      return;
    }
    if (failure === 'bad-hash') {
      const wrong = Buffer.from(body);
      wrong[wrong.length - 1]! ^= 0xff;
      res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
      res.end(wrong);
      return;
    }
    if (failure === 'endless') {
      res.writeHead(200, headers);
      const chunk = Buffer.alloc(1 << 16, 32);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  let cdnUrl = '';
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURI(req.url!.split('?')[0]!);
    log.push(`${req.method} ${path}${req.headers.authorization ? ' +auth' : ''}`);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const body = bySha.get(cdn[1]!);
      if (!body) return void res.writeHead(404).end();
      return send(req, res, body, { 'Content-Type': 'application/octet-stream' });
    }
    for (const [from, to] of Object.entries(renames)) {
      if (path.startsWith(`/${from}/resolve/`)) {
        res.writeHead(307, { Location: path.replace(`/${from}/`, `/${to}/`) }).end();
        return;
      }
    }
    const id = [...content.keys()].find((k) => path.startsWith(`/${k}/resolve/`));
    if (!id) {
      res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }).end('Repository not found');
      return;
    }
    const repo = repos[id]!;
    const [revision, ...rest] = path.slice(`/${id}/resolve/`.length).split('/');
    const file = rest.join('/');
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`) {
      res.writeHead(401, { 'X-Error-Code': 'GatedRepo' }).end('Access to this repo is restricted');
      return;
    }
    if (revision !== 'main' && revision !== repo.commit) {
      res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end('Invalid rev id');
      return;
    }
    const body = content.get(id)!.get(file);
    const common = { 'X-Repo-Commit': repo.commit };
    if (!body) {
      res.writeHead(404, { ...common, 'X-Error-Code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    if (isLfs(file)) {
      const sha = sha256(body);
      res
        .writeHead(302, {
          ...common,
          Location: `${cdnUrl}/cdn/${sha}`,
          'X-Linked-Etag': `"${sha}"`,
          'X-Linked-Size': String(body.length),
          ETag: `"${gitSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}`))}"`,
        })
        .end();
      return;
    }
    send(req, res, body, { ...common, ETag: `"${gitSha1(body)}"` });
  };
  // The Hub and its CDN on two ports: two origins, as huggingface.co and its LFS CDN are.
  const servers: Server[] = [createServer(handler), createServer(handler)];
  const urls: string[] = [];
  for (const server of servers) {
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    urls.push(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  }
  cdnUrl = urls[1]!;
  return {
    url: urls[0]!,
    cdnUrl,
    log,
    fail(file, failure, times = 1) {
      failures.push({ file, failure, times });
    },
    close() {
      for (const s of sockets) s.destroy();
      return Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok())))).then(() => {});
    },
  };
}
