import { DownloadError } from './errors.js';
import { safetensorsFileSize } from './safetensors.js';

/*
 * One bounded HTTP GET, shared by checkpoint base URLs and the Hub: a timeout until the response headers
 * (connect) and one between body chunks (idle), a size limit from what the server announced (Content-Length,
 * the Hub's X-Linked-Size) or from a safetensors header once its first bytes are in, and every way a body
 * can go wrong (cut, short, too long, stalled) as a DownloadError naming the URL.
 */

export interface DownloadProgress {
  /** The file being fetched (its name in the checkpoint). */
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** Bytes expected, when known. */
  total?: number;
  /** True when the bytes came from a cache rather than the network. */
  cached?: boolean;
}

export interface DownloadLimits {
  /** Milliseconds until the response headers arrive (default 30 000). */
  connectTimeoutMs?: number;
  /** Milliseconds allowed between two body chunks (default 30 000). */
  idleTimeoutMs?: number;
  /**
   * Upper bound on a body whose size nothing announces (default: 64 MiB for .json/.txt files, else 4 GiB,
   * the wasm heap's size).
   */
  maxBytes?: number;
}

export interface FetchBytesOptions extends DownloadLimits {
  /** File name for messages and progress; also picks the default size bound and the safetensors check. */
  file: string;
  /** Exact size the body must have (e.g. the Hub's X-Linked-Size); a Content-Length that disagrees fails. */
  expectedSize?: number;
  headers?: Record<string, string>;
  onProgress?: (p: DownloadProgress) => void;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/**
 * A plain file name for a URL or a folder: not empty, '.' or '..', and no '/', '\\', '?', '#', '%' (an
 * escape such as %2e%2e) or control characters.
 */
export function isPlainFileName(name: unknown): name is string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..') return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || '/\\?#%'.includes(name[i]!)) return false;
  }
  return true;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const TEXT_FILE_LIMIT = 64 * 2 ** 20;
const BINARY_FILE_LIMIT = 4 * 2 ** 30;

/** The size bound for a file nothing announces a size for. */
export function defaultMaxBytes(file: string): number {
  return /\.(json|txt|model)$/i.test(file) ? TEXT_FILE_LIMIT : BINARY_FILE_LIMIT;
}

/**
 * Sends the request with the connect timeout; the caller owns the returned response (read its body with
 * `readBody`). Network failures and the timeout are DownloadErrors.
 */
export async function timedFetch(
  url: string,
  init: RequestInit & { connectTimeoutMs?: number; fetch?: typeof fetch },
): Promise<{ res: Response; abort: AbortController }> {
  const abort = new AbortController();
  const ms = init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const timer = setTimeout(() => abort.abort(new Error(`no response within ${ms} ms`)), ms);
  const { connectTimeoutMs: _, fetch: doFetch = globalThis.fetch, ...rest } = init;
  try {
    const res = await doFetch(url, { ...rest, signal: abort.signal });
    return { res, abort };
  } catch (e) {
    const why = abort.signal.aborted ? String((abort.signal.reason as Error)?.message) : causeText(e);
    throw new DownloadError(`fetching ${url} failed: ${why}`, { url, cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/** GETs `url` and returns its body, or undefined on 404; any other failure is a DownloadError. */
export async function fetchBytes(url: string, options: FetchBytesOptions): Promise<Uint8Array | undefined> {
  const { res, abort } = await timedFetch(url, {
    headers: options.headers ?? {},
    redirect: 'follow',
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  if (res.status === 404) {
    await res.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new DownloadError(`fetching ${url} failed: HTTP ${res.status} ${res.statusText}`, {
      url,
      status: res.status,
    });
  }
  return readBody(url, res, abort, options);
}

/**
 * Reads a response body to the end within the limits: the announced size (Content-Length or
 * `expectedSize`) is checked before the first byte is stored, and the body must then have exactly that many
 * bytes; a safetensors file's own header bounds it too.
 */
export async function readBody(
  url: string,
  res: Response,
  abort: AbortController,
  options: FetchBytesOptions,
): Promise<Uint8Array> {
  const fail = (msg: string, cause?: unknown): never => {
    abort.abort();
    throw new DownloadError(`fetching ${url} failed: ${msg}`, { url, cause });
  };
  const header = res.headers.get('content-length');
  // A compressed body's Content-Length counts compressed bytes; fetch hands over decoded ones.
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const announced = header !== null && !encoded ? Number(header) : undefined;
  if (announced !== undefined && !(Number.isSafeInteger(announced) && announced >= 0))
    fail(`bad Content-Length ${JSON.stringify(header)}`);
  if (announced !== undefined && options.expectedSize !== undefined && announced !== options.expectedSize)
    fail(`Content-Length ${announced} differs from the expected size ${options.expectedSize}`);
  const limit = options.maxBytes ?? defaultMaxBytes(options.file);
  let expected = options.expectedSize ?? announced;
  // The Hub's own size (X-Linked-Size) may pass the text-file default (a large LFS JSON), never an explicit
  // maxBytes or the binary bound: the buffer is allocated at that size before the first byte.
  const bound =
    options.expectedSize !== undefined && options.maxBytes === undefined
      ? Math.max(limit, BINARY_FILE_LIMIT)
      : limit;
  if (expected !== undefined && expected > bound)
    fail(`${expected} bytes announced, more than the ${bound}-byte limit for ${options.file}`);
  const isSafetensors = options.file.endsWith('.safetensors');
  const body = res.body;
  if (!body) {
    if (expected) fail(`empty body, ${expected} bytes expected`);
    return new Uint8Array(0);
  }
  const reader = body.getReader();
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let buf = new Uint8Array(expected ?? Math.min(limit, 1 << 16));
  let loaded = 0;
  const progress = () =>
    options.onProgress?.({
      file: options.file,
      loaded,
      ...(expected !== undefined ? { total: expected } : {}),
    });
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no data for ${idleMs} ms after ${loaded} bytes`)), idleMs);
      });
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await Promise.race([reader.read(), idle]);
      } catch (e) {
        return fail(causeText(e), e);
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) break;
      const part = chunk.value;
      const end = loaded + part.byteLength;
      const cap = expected ?? limit;
      if (end > cap)
        fail(
          expected !== undefined
            ? `body is longer than the expected ${expected} bytes`
            : `body exceeds the ${limit}-byte limit for ${options.file}`,
        );
      if (end > buf.length) {
        const grown = new Uint8Array(Math.min(cap, Math.max(end, buf.length * 2)));
        grown.set(buf.subarray(0, loaded));
        buf = grown;
      }
      buf.set(part, loaded);
      loaded = end;
      if (isSafetensors && options.expectedSize === undefined && announced === undefined) {
        // No announced size: the header says how long the file is, so an endless body stops there.
        const size = expected ?? safetensorsFileSize(buf.subarray(0, loaded));
        if (size !== undefined && expected === undefined) {
          if (size > limit)
            fail(`safetensors header describes ${size} bytes, more than the ${limit}-byte limit`);
          expected = size;
        }
        if (expected !== undefined && loaded > expected)
          fail(`body is longer than the ${expected} bytes its safetensors header describes`);
      }
      progress();
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    try {
      reader.releaseLock();
    } catch {
      // A read still pending after a timeout; the stream is cancelled already.
    }
  }
  if (expected !== undefined && loaded !== expected) fail(`body was cut: got ${loaded} of ${expected} bytes`);
  return loaded === buf.length ? buf : buf.slice(0, loaded);
}

function causeText(e: unknown): string {
  const err = e as Error & { cause?: Error };
  // undici reports "fetch failed" / "terminated" with the socket error as the cause.
  return err?.cause?.message ? `${err.message} (${err.cause.message})` : String(err?.message ?? e);
}
