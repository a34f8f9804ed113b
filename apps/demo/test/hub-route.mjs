// A stand-in for the Hub inside the page's test server (same origin, so the cross-origin-isolated page may
// fetch it): GET/HEAD {prefix}/{repo}/resolve/{revision}/{file} serves fixture folders with the Hub's
// headers (X-Repo-Commit; ETag = git's blob sha1; LFS files 302 to {prefix}-cdn/{sha256} with X-Linked-Etag
// and X-Linked-Size), 404 EntryNotFound for a missing file, 401 RepoNotFound for an unknown repo. Every
// request is counted, so a test can prove a second load came from the browser's cache.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const COMMIT = 'a'.repeat(40);
const isLfs = (f) => /\.(safetensors|bin)$/.test(f);
const gitSha1 = (b) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function filesOf(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p).split('\\').join('/'), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** repos: { 'org/name': folder }. Returns { handle(req, res) → handled?, requests: ['GET /path', …] }. */
export function hubRoute(repos, prefix = '/hub') {
  const content = new Map(Object.entries(repos).map(([id, dir]) => [id, filesOf(dir)]));
  const bySha = new Map();
  for (const files of content.values()) for (const [f, b] of files) if (isLfs(f)) bySha.set(sha256(b), b);
  const requests = [];
  const handle = (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (!path.startsWith(`${prefix}/`) && !path.startsWith(`${prefix}-cdn/`)) return false;
    requests.push(`${req.method} ${path}`);
    const body = (b, headers) => {
      res.writeHead(200, { ...headers, 'Content-Length': String(b.length), 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : b);
    };
    const cdn = path.startsWith(`${prefix}-cdn/`) ? bySha.get(path.slice(prefix.length + 5)) : undefined;
    if (path.startsWith(`${prefix}-cdn/`)) {
      if (!cdn) res.writeHead(404).end();
      else body(cdn, { 'Content-Type': 'application/octet-stream' });
      return true;
    }
    const rest = path.slice(prefix.length + 1);
    const id = [...content.keys()].find((k) => rest.startsWith(`${k}/resolve/`));
    if (!id) {
      res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }).end('Repository not found');
      return true;
    }
    const file = rest.slice(`${id}/resolve/`.length).split('/').slice(1).join('/');
    const bytes = content.get(id).get(file);
    if (!bytes) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end('Entry not found');
      return true;
    }
    if (isLfs(file)) {
      const sha = sha256(bytes);
      res
        .writeHead(302, {
          Location: `${prefix}-cdn/${sha}`,
          'X-Repo-Commit': COMMIT,
          'X-Linked-Etag': `"${sha}"`,
          'X-Linked-Size': String(bytes.length),
        })
        .end();
      return true;
    }
    body(bytes, { 'X-Repo-Commit': COMMIT, ETag: `"${gitSha1(bytes)}"`, 'Content-Type': 'text/plain' });
    return true;
  };
  return { handle, requests };
}
