import type { CheckpointFiles, CheckpointSource } from './checkpoint.js';
import {
  type DownloadLimits,
  type DownloadProgress,
  isPlainFileName,
  readBody,
  timedFetch,
} from './download.js';
import { isNode } from './env.js';
import {
  DownloadError,
  HubAuthError,
  type HubFileRef,
  HubNotFoundError,
  HubOfflineError,
  InvalidArgumentError,
} from './errors.js';

/*
 * Hugging Face Hub ids as checkpoint sources. Files resolve as the Hub serves them,
 * {endpoint}/{id}/resolve/{revision}/{file}, and are cached where huggingface_hub caches them, in its layout,
 * so the two share one cache (Node):
 *
 *   $HF_HUB_CACHE (default $HF_HOME/hub, ~/.cache/huggingface/hub)/models--{org}--{name}/
 *     refs/{revision}            the commit a branch or tag pointed at (text)
 *     blobs/{etag}               file contents, named by the Hub's etag (sha256 for LFS files, git sha1 else)
 *     snapshots/{commit}/{file}  relative symlinks to ../../blobs/{etag}
 *     .no_exist/{commit}/{file}  empty: the file does not exist at that commit
 *
 * A blob is written to a temp name and renamed only once its size and hash match the Hub's headers, so a
 * failed download never leaves a corrupt entry. In the browser the Cache API holds the files.
 */

export interface HubOptions extends DownloadLimits {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** The Hub or a mirror (default $HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Node: the hub cache folder (default $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub); false: no cache. */
  cacheDir?: string | false;
  /** Access token for gated or private repositories (default $HF_TOKEN); false sends none. */
  token?: string | false;
  /** Read the cache only, never the network (default: $HF_HUB_OFFLINE is 1/true/yes/on). */
  offline?: boolean;
  /** Called as bytes arrive (and once per file found in the cache, with `cached: true`). */
  onProgress?: (p: DownloadProgress) => void;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const COMMIT = /^[0-9a-f]{40}$/;
const BROWSER_CACHE = 'transformer-kit-hub';
/** Marks a browser cache entry that records a 404 (the file is not in the repo at that revision). */
const NO_EXIST_HEADER = 'x-transformer-kit-no-exist';

/**
 * Whether `s` has the shape of a Hub repo id: `name` or `org/name`, letters, digits, `-`, `_`, `.`, no `--`
 * or `..`, at most 96 characters (huggingface_hub's validate_repo_id).
 */
export function isHubId(s: string): boolean {
  return (
    s.length <= 96 &&
    /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(s) &&
    !s.includes('--') &&
    !s.includes('..') &&
    !/[.-]$/.test(s)
  );
}

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = p?.env?.[name];
  return v === undefined || v === '' ? undefined : v;
}

function envFlag(name: string): boolean {
  return /^(1|true|yes|on)$/i.test(env(name) ?? '');
}

type NodeModules = {
  fs: typeof import('node:fs/promises');
  path: typeof import('node:path');
  crypto: typeof import('node:crypto');
  os: typeof import('node:os');
};

// Computed specifiers, so bundlers leave them alone: the browser build never pulls Node's modules.
async function node(): Promise<NodeModules> {
  const load = (name: string) => import(/* @vite-ignore */ /* webpackIgnore: true */ name);
  const [fs, path, crypto, os] = await Promise.all(
    ['node:fs/promises', 'node:path', 'node:crypto', 'node:os'].map(load),
  );
  return { fs, path, crypto, os } as NodeModules;
}

/** huggingface_hub's cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export async function hubCacheDir(): Promise<string> {
  const { path, os } = await node();
  const hubCache = env('HF_HUB_CACHE');
  if (hubCache) return hubCache;
  const home =
    env('HF_HOME') ?? path.join(env('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

/**
 * What a checkpoint source string means to `loadPretrained`: an existing local folder stays a folder (Node),
 * a URL stays a URL, and anything else shaped like a Hub id (`bert-base-uncased`, `org/name`) becomes a
 * HubRepo with `options`. Other sources are returned as they are.
 */
export async function resolveSource(
  source: CheckpointSource,
  options: HubOptions = {},
): Promise<CheckpointSource> {
  if (typeof source !== 'string' || !isHubId(source)) return source;
  if (isNode()) {
    const { fs } = await node();
    const local = await fs.stat(source).catch(() => undefined);
    if (local) return source;
  }
  return hubRepo(source, options);
}

/** A Hub repository as a checkpoint source: pass it to any loader (`loadBertModel(hubRepo('org/name'))`). */
export function hubRepo(repoId: string, options: HubOptions = {}): HubRepo {
  return new HubRepo(repoId, options);
}

interface FileMeta {
  commit?: string;
  etag?: string;
  size?: number;
  /** Where the bytes are (a CDN for LFS files), absolute. */
  location: string;
}

/** A 404 for the file (EntryNotFound), with the commit the Hub answered at. */
interface Absent {
  absent: true;
  commit?: string;
}

export class HubRepo implements CheckpointFiles {
  readonly repoId: string;
  readonly revision: string;
  readonly endpoint: string;
  readonly where: string;
  private readonly options: HubOptions;
  private readonly offline: boolean;
  private readonly token: string | undefined;
  // The loaders read config.json and the tokenizer files more than once; weights are read once.
  private readonly small = new Map<string, Promise<Uint8Array | undefined>>();
  // The commit the revision resolved to on this repo's first answer (transformers' _commit_hash): a file
  // whose .no_exist marker is at that commit is not asked for again.
  private commit: string | undefined;
  // Files the Hub or the cache's .no_exist markers say do not exist: `missing` says so instead of "offline".
  private readonly knownAbsent = new Map<string, string>();

  constructor(repoId: string, options: HubOptions = {}) {
    if (typeof repoId !== 'string' || !isHubId(repoId))
      throw new InvalidArgumentError(
        `${JSON.stringify(repoId)} is not a Hub repo id ('name' or 'org/name': letters, digits, '-', '_', '.')`,
      );
    const revision = options.revision ?? 'main';
    if (typeof revision !== 'string' || !revision || /^\.|\.\.|[\\\s?#%]|^\/|\/$/.test(revision))
      throw new InvalidArgumentError(`revision ${JSON.stringify(revision)} is not a branch, tag or commit`);
    this.repoId = repoId;
    this.revision = revision;
    this.endpoint = (options.endpoint ?? env('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
    this.options = options;
    this.offline = options.offline ?? envFlag('HF_HUB_OFFLINE');
    this.token = options.token === false ? undefined : (options.token ?? env('HF_TOKEN'));
    this.where = `${repoId} (revision ${revision}, ${this.endpoint})`;
  }

  /** The Hub's URL of a file at this revision. */
  url(file: string): string {
    return `${this.endpoint}/${this.repoId}/resolve/${encodeURIComponent(this.revision)}/${file
      .split('/')
      .map(encodeURIComponent)
      .join('/')}`;
  }

  read(file: string): Promise<Uint8Array | undefined> {
    try {
      checkFileName(file);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!/\.(json|txt)$/.test(file)) return this.load(file);
    let p = this.small.get(file);
    if (!p) {
      p = this.load(file);
      this.small.set(file, p);
      p.catch(() => this.small.delete(file));
    }
    return p;
  }

  async list(): Promise<string[] | undefined> {
    return undefined;
  }

  missing(file: string): Error {
    const ref = this.ref(file);
    const commit = this.knownAbsent.get(file);
    if (commit !== undefined)
      return new HubNotFoundError(
        `${this.repoId} has no ${file} at revision ${this.revision} (commit ${commit}; the cache's .no_exist marker records the Hub's 404)`,
        { ...ref, url: this.url(file), status: 404 },
      );
    return this.offline
      ? new HubOfflineError(
          `${this.repoId}: ${file} (revision ${this.revision}) is not in the cache and the Hub may not be used (offline: HF_HUB_OFFLINE or { offline: true })`,
          ref,
        )
      : new HubNotFoundError(
          `${this.repoId} has no ${file} at revision ${this.revision} (${this.url(file)}: 404)`,
          { ...ref, url: this.url(file), status: 404 },
        );
  }

  private ref(file: string): HubFileRef {
    return { repoId: this.repoId, revision: this.revision, file };
  }

  private async load(file: string): Promise<Uint8Array | undefined> {
    if (isNode()) {
      if (this.options.cacheDir === false) return this.direct(file);
      return this.nodeCached(file, this.options.cacheDir ?? (await hubCacheDir()));
    }
    return this.browserCached(file);
  }

  // ---- Node: huggingface_hub's cache -------------------------------------------------------------------

  private async nodeCached(file: string, cacheDir: string): Promise<Uint8Array | undefined> {
    const { fs, path } = await node();
    const repoDir = path.join(cacheDir, `models--${this.repoId.replace('/', '--')}`);
    // A commit already known (pinned, or learned from this repo's first answer) and a .no_exist marker at
    // it: the file does not exist there, and a commit never changes, so the Hub is not asked again.
    const known = COMMIT.test(this.revision) ? this.revision : this.commit;
    if (known && (await isNoExist(fs, path, repoDir, known, file))) {
      this.knownAbsent.set(file, known);
      return undefined;
    }
    if (this.offline) {
      const local = await this.fromNodeCache(repoDir, file);
      if (local === 'no-snapshot')
        throw new HubOfflineError(
          `${this.repoId} (revision ${this.revision}) is not in the cache ${repoDir} and the Hub may not be used (offline: HF_HUB_OFFLINE or { offline: true }); needed: ${file}`,
          this.ref(file),
        );
      return local === 'absent' ? undefined : local;
    }
    let meta: FileMeta | Absent;
    try {
      meta = await this.head(file);
    } catch (e) {
      // The Hub is unreachable: what the cache holds still serves, as huggingface_hub does.
      if (!(e instanceof DownloadError) || e instanceof HubNotFoundError || e instanceof HubAuthError)
        throw e;
      const local = await this.fromNodeCache(repoDir, file);
      if (local instanceof Uint8Array || local === 'absent') return local === 'absent' ? undefined : local;
      throw new HubOfflineError(
        `${this.repoId}: ${file} (revision ${this.revision}) is not in the cache and the Hub cannot be reached: ${e.message}`,
        { ...this.ref(file), cause: e },
      );
    }
    if ('absent' in meta) {
      // huggingface_hub's marker: .no_exist/{commit}/{file}, empty, from the 404's X-Repo-Commit.
      if (meta.commit && COMMIT.test(meta.commit)) {
        this.commit ??= meta.commit;
        this.knownAbsent.set(file, meta.commit);
        await markNoExist(fs, path, repoDir, meta.commit, file);
        if (meta.commit !== this.revision)
          await writeAtomic(fs, path.join(repoDir, 'refs', this.revision), meta.commit);
      }
      return undefined;
    }
    const { commit, etag } = meta;
    if (commit && COMMIT.test(commit)) this.commit ??= commit;
    // Without a commit and an etag (not the Hub, or an odd mirror) nothing can be cached safely.
    if (!commit || !etag || !/^[\w-]+$/.test(etag) || !COMMIT.test(commit)) return this.get(file, meta);
    if (commit !== this.revision) await writeAtomic(fs, path.join(repoDir, 'refs', this.revision), commit);
    const blob = path.join(repoDir, 'blobs', etag);
    const snapshot = path.join(repoDir, 'snapshots', commit, ...file.split('/'));
    const have = await fs.stat(blob).catch(() => undefined);
    let bytes: Uint8Array;
    if (have && (meta.size === undefined || have.size === meta.size)) {
      const buf = await fs.readFile(blob);
      bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      this.options.onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached: true });
    } else {
      const got = await this.get(file, meta);
      if (!got) throw this.missing(file); // HEAD found it, GET did not: a moving target, not a cache entry
      bytes = got;
      await writeAtomic(fs, blob, bytes);
    }
    await linkSnapshot(fs, path, blob, snapshot);
    return bytes;
  }

  /** The cached file; 'absent' when the cache knows the file does not exist (or the snapshot lacks it). */
  private async fromNodeCache(repoDir: string, file: string): Promise<Uint8Array | 'absent' | 'no-snapshot'> {
    const { fs, path } = await node();
    const commit = COMMIT.test(this.revision)
      ? this.revision
      : (await fs.readFile(path.join(repoDir, 'refs', this.revision), 'utf8').catch(() => '')).trim();
    if (!COMMIT.test(commit)) return 'no-snapshot';
    const snapDir = path.join(repoDir, 'snapshots', commit);
    if (await isNoExist(fs, path, repoDir, commit, file)) {
      this.knownAbsent.set(file, commit);
      return 'absent';
    }
    try {
      const buf = await fs.readFile(path.join(snapDir, ...file.split('/')));
      this.options.onProgress?.({ file, loaded: buf.byteLength, total: buf.byteLength, cached: true });
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch {
      return (await fs.stat(snapDir).catch(() => undefined)) ? 'absent' : 'no-snapshot';
    }
  }

  /**
   * HEAD of the resolve URL without following a redirect to another host: the Hub puts the commit, the LFS
   * etag (X-Linked-Etag) and size (X-Linked-Size) on its own 302, before the CDN. Same-host redirects
   * (renamed repositories) are followed.
   */
  private async head(file: string): Promise<FileMeta | Absent> {
    let url = this.url(file);
    for (let hops = 0; hops < 6; hops++) {
      const { res } = await timedFetch(url, {
        method: 'HEAD',
        headers: this.headers(url),
        redirect: 'manual',
        ...this.fetchOptions(),
      });
      await res.body?.cancel().catch(() => {});
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = URL.canParse(location, url) ? new URL(location, url).href : undefined;
        if (!next)
          throw new DownloadError(
            `fetching ${url} failed: HTTP ${res.status} to a bad Location ${JSON.stringify(location)}`,
            {
              url,
              status: res.status,
            },
          );
        if (new URL(next).origin === new URL(url).origin && !res.headers.get('x-linked-etag')) {
          url = next;
          continue;
        }
        return this.meta(res, next);
      }
      if (this.checkStatus(res, file, url)) {
        const commit = res.headers.get('x-repo-commit');
        return { absent: true, ...(commit ? { commit } : {}) };
      }
      return this.meta(res, url);
    }
    throw new DownloadError(`fetching ${this.url(file)} failed: too many redirects`, { url: this.url(file) });
  }

  private meta(res: Response, location: string): FileMeta {
    const h = res.headers;
    const etag = (h.get('x-linked-etag') ?? h.get('etag'))?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    const sizeText = h.get('x-linked-size') ?? h.get('content-length');
    const size = sizeText === null ? undefined : Number(sizeText);
    const commit = h.get('x-repo-commit') ?? undefined;
    return {
      location,
      ...(commit ? { commit } : {}),
      ...(etag ? { etag } : {}),
      ...(size !== undefined && Number.isSafeInteger(size) && size >= 0 ? { size } : {}),
    };
  }

  /** true for a missing file (404 EntryNotFound); throws the Hub's other refusals as typed errors. */
  private checkStatus(res: Response, file: string, url: string): boolean {
    if (res.ok) return false;
    const code = res.headers.get('x-error-code') ?? '';
    const ref = { ...this.ref(file), url, status: res.status };
    const at = `${this.repoId} (revision ${this.revision}, file ${file})`;
    if (
      code === 'RepoNotFound' ||
      code === 'RevisionNotFound' ||
      (res.status === 404 && code && code !== 'EntryNotFound')
    )
      throw new HubNotFoundError(
        code === 'RevisionNotFound'
          ? `${at}: the repository has no revision '${this.revision}'`
          : `${at}: repository not found on ${this.endpoint}; if it is private, pass a token ({ token } or $HF_TOKEN)`,
        ref,
      );
    if (res.status === 404) return true;
    if (res.status === 401 || res.status === 403 || code === 'GatedRepo')
      throw new HubAuthError(
        `${at}: HTTP ${res.status}${code ? ` ${code}` : ''}: the repository is gated or private${this.token ? " and this token has no access to it (accept its terms on the Hub with the token's account)" : ': pass a token with access ({ token: "hf_..." } or $HF_TOKEN)'}`,
        ref,
      );
    throw new DownloadError(`${at}: ${url}: HTTP ${res.status} ${res.statusText}`, ref);
  }

  /** GET the bytes (following redirects), checked against the size and hash the Hub announced; retried once. */
  private async get(file: string, meta: FileMeta | undefined): Promise<Uint8Array | undefined> {
    let last: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const url = meta?.location ?? this.url(file);
        const { res, abort } = await timedFetch(url, {
          headers: this.headers(url),
          redirect: 'follow',
          ...this.fetchOptions(),
        });
        if (this.checkStatus(res, file, url)) {
          await res.body?.cancel().catch(() => {});
          return undefined;
        }
        const bytes = await readBody(url, res, abort, {
          file,
          ...this.limits(),
          ...(meta?.size !== undefined ? { expectedSize: meta.size } : {}),
        });
        if (meta?.etag) await verifyHash(bytes, meta.etag, url);
        return bytes;
      } catch (e) {
        last = e;
        // Transient: network, timeout, cut body, 5xx, bad hash. The Hub's refusals are final.
        const final =
          !(e instanceof DownloadError) ||
          e instanceof HubNotFoundError ||
          e instanceof HubAuthError ||
          (e.status !== undefined && e.status < 500);
        if (final) throw e;
      }
    }
    throw last;
  }

  /** Without a cache: a GET; undefined for a missing file. */
  private direct(file: string): Promise<Uint8Array | undefined> {
    return this.get(file, undefined);
  }

  // ---- Browser: the Cache API -------------------------------------------------------------------------

  private async browserCached(file: string): Promise<Uint8Array | undefined> {
    const cacheApi = (globalThis as { caches?: CacheStorage }).caches;
    const key = this.url(file);
    const cache = cacheApi ? await cacheApi.open(BROWSER_CACHE).catch(() => undefined) : undefined;
    const hit = await cache?.match(key);
    // A file the repo does not have (huggingface_hub's .no_exist): optional files are not asked for again.
    if (hit?.headers.get(NO_EXIST_HEADER)) return undefined;
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      this.options.onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached: true });
      return bytes;
    }
    if (this.offline)
      throw new HubOfflineError(
        `${this.repoId}: ${file} (revision ${this.revision}) is not in the browser cache and the Hub may not be used (offline)`,
        this.ref(file),
      );
    const bytes = await this.direct(file);
    // Stored only once whole and checked: a failed download leaves nothing behind.
    const entry = bytes
      ? new Response(bytes as Uint8Array<ArrayBuffer>)
      : new Response(null, { headers: { [NO_EXIST_HEADER]: '1' } });
    if (cache) await cache.put(key, entry).catch(() => {});
    return bytes;
  }

  private headers(url: string): Record<string, string> {
    const h: Record<string, string> = { 'Accept-Encoding': 'identity' };
    // The token goes to the Hub only, never to the CDN it redirects to.
    if (this.token && new URL(url).origin === new URL(this.endpoint).origin)
      h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  private fetchOptions(): { connectTimeoutMs?: number; fetch?: typeof fetch } {
    const { connectTimeoutMs, fetch } = this.options;
    return {
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
      ...(fetch ? { fetch } : {}),
    };
  }

  private limits() {
    const { connectTimeoutMs, idleTimeoutMs, maxBytes, onProgress } = this.options;
    return {
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
      ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      ...(onProgress ? { onProgress } : {}),
    };
  }
}

/** A file path inside a repository: '/'-separated plain names (1_Pooling/config.json). */
function checkFileName(file: string): void {
  const ok = typeof file === 'string' && file.split('/').every(isPlainFileName);
  if (!ok) throw new InvalidArgumentError(`${JSON.stringify(file)} is not a plain file path in a repository`);
}

/** sha256 for LFS etags (64 hex), git's blob sha1 for the others (40 hex); other etags are not hashes. */
async function verifyHash(bytes: Uint8Array, etag: string, url: string): Promise<void> {
  let algo: string;
  let data: Uint8Array[];
  if (/^[0-9a-f]{64}$/.test(etag)) {
    algo = 'SHA-256';
    data = [bytes];
  } else if (/^[0-9a-f]{40}$/.test(etag)) {
    algo = 'SHA-1';
    data = [new TextEncoder().encode(`blob ${bytes.length}\0`), bytes];
  } else return;
  const joined = data.length === 1 ? data[0]! : concat(data);
  const digest = new Uint8Array(
    await globalThis.crypto.subtle.digest(algo, joined as Uint8Array<ArrayBuffer>),
  );
  const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== etag)
    throw new DownloadError(
      `fetching ${url} failed: ${algo} of the ${bytes.length} bytes received is ${hex}, the Hub announced ${etag}`,
      { url },
    );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Temp file in the same folder, then rename: readers see the old file or the whole new one. */
async function writeAtomic(fs: NodeModules['fs'], file: string, data: string | Uint8Array): Promise<void> {
  const dir = file.slice(0, Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')));
  await fs.mkdir(dir, { recursive: true });
  const tmp = `${file}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.incomplete`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new DownloadError(`writing the hub cache file ${file} failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

const noExistPath = (path: NodeModules['path'], repoDir: string, commit: string, file: string) =>
  path.join(repoDir, '.no_exist', commit, ...file.split('/'));

async function isNoExist(
  fs: NodeModules['fs'],
  path: NodeModules['path'],
  repoDir: string,
  commit: string,
  file: string,
): Promise<boolean> {
  return (await fs.stat(noExistPath(path, repoDir, commit, file)).catch(() => undefined))?.isFile() === true;
}

/** An empty .no_exist/{commit}/{file}; like huggingface_hub, a cache that cannot take it is not an error. */
async function markNoExist(
  fs: NodeModules['fs'],
  path: NodeModules['path'],
  repoDir: string,
  commit: string,
  file: string,
): Promise<void> {
  const marker = noExistPath(path, repoDir, commit, file);
  await fs
    .mkdir(path.dirname(marker), { recursive: true })
    .then(() => fs.writeFile(marker, ''))
    .catch(() => {});
}

/** snapshots/{commit}/{file} → a relative symlink to the blob, as huggingface_hub makes it (a copy where links fail). */
async function linkSnapshot(
  fs: NodeModules['fs'],
  path: NodeModules['path'],
  blob: string,
  snapshot: string,
): Promise<void> {
  if (await fs.stat(snapshot).catch(() => undefined)) return;
  await fs.mkdir(path.dirname(snapshot), { recursive: true });
  await fs.rm(snapshot, { force: true }).catch(() => {}); // a dangling link
  try {
    await fs.symlink(path.relative(path.dirname(snapshot), blob), snapshot);
  } catch {
    await fs.copyFile(blob, snapshot).catch(() => {});
  }
}
