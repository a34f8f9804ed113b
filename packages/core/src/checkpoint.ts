import * as tf from '@tensorflow/tfjs';
import type { Activation } from './activations.js';
import { SIZE_LIMITS } from './config.js';
import { type DownloadLimits, fetchBytes, isPlainFileName } from './download.js';
import { isNode } from './env.js';
import { CheckpointError, CheckpointMismatchError, listFirst } from './errors.js';
import type { Module } from './module.js';
import {
  parseSafetensorsHeader,
  type RawTensor,
  type ReadSafetensorsOptions,
  readSafetensors,
  type SafetensorsEntry,
  type TensorSource,
  writeSafetensors,
} from './safetensors.js';
import { PT_WEIGHTS_FILE, PT_WEIGHTS_INDEX_FILE, readPytorchBin } from './torch-bin.js';

/*
 * A checkpoint is a Hugging Face model folder: config.json + model.safetensors (or shards listed in
 * model.safetensors.index.json), plus whatever else rides along (tokenizer files). It can come from a
 * folder in Node, from files the browser's file picker handed over, or from a base URL. Name and layout
 * mapping (transposes, prefixes) belongs to each model; this file only moves bytes and validates them.
 */

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

type Bytes = ArrayBuffer | ArrayBufferView;
/** A file's content as the browser or Node has it (a fetch Response is read to the end). */
export type FileData = Bytes | Blob | Response;
/**
 * Where a checkpoint lives: a folder path (Node), a base URL (fetched), or files by name, e.g. a
 * `Map`/record of name → bytes/Blob/fetch Response, or the `FileList` / `File[]` from
 * `<input type="file" multiple>`.
 */
export type CheckpointSource =
  | string
  | URL
  | CheckpointFiles
  | Map<string, FileData>
  | Record<string, FileData>
  | Iterable<File>;

export type HFConfig = Record<string, unknown>;

/** Parses a config.json; anything but a JSON object is a CheckpointError. */
export function parseConfig(text: string | Bytes, source = CONFIG_FILE): HFConfig {
  const str = typeof text === 'string' ? text : new TextDecoder().decode(text);
  let value: unknown;
  try {
    value = JSON.parse(str);
  } catch (e) {
    throw new CheckpointError(`${source}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CheckpointError(
      `${source}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : value}`,
    );
  }
  return value as HFConfig;
}

/** HF's names for classes without an id2label: LABEL_0, LABEL_1, ... */
export function defaultLabels(numLabels: number): Record<number, string> {
  return Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
}

/**
 * A classifier's labels from an HF config.json: `numLabels` wins when given, else the size of `id2label` or
 * `num_labels`; `id2label` (keys as numbers) when it has exactly that many entries.
 */
export function hfLabels(
  hf: HFConfig,
  numLabels?: number,
): { numLabels: number; id2label?: Record<number, string> } {
  const raw = hf.id2label;
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw)))
    throw new CheckpointError('config.json: id2label must be an object of id → name');
  const id2label = raw as Record<string, string> | undefined;
  const fromFile = id2label
    ? Object.keys(id2label).length
    : typeof hf.num_labels === 'number'
      ? hf.num_labels
      : undefined;
  const n = numLabels ?? fromFile;
  if (n === undefined) throw new CheckpointError('config.json has no id2label / num_labels: pass numLabels');
  const max = SIZE_LIMITS.numLabels!;
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new CheckpointError(
      `${numLabels === undefined ? 'config.json: num_labels / id2label size' : 'numLabels'} must be an integer in [1, ${max}], got ${n}`,
    );
  const labels =
    id2label && Object.keys(id2label).length === n
      ? Object.fromEntries(Object.entries(id2label).map(([k, v]) => [Number(k), v]))
      : undefined;
  return { numLabels: n, id2label: labels };
}

/** HF's activation names (hidden_act / activation_function) for the ones we run; the first is what we write. */
const HF_ACTIVATIONS: Record<string, readonly string[]> = {
  gelu: ['gelu'],
  gelu_tanh: ['gelu_new', 'gelu_pytorch_tanh'],
  relu: ['relu'],
  tanh: ['tanh'],
  silu: ['silu'],
  quick_gelu: ['quick_gelu'],
  sigmoid: ['sigmoid'],
};

/** Our activation for config.json's `key` (default `fallback`); one we cannot run is a CheckpointMismatchError. */
export function activationFromHF(hf: HFConfig, key: string, fallback: string): Activation {
  const name = hf[key] ?? fallback;
  for (const [ours, names] of Object.entries(HF_ACTIVATIONS))
    if (names.includes(name as string)) return ours as Activation;
  throw new CheckpointMismatchError(
    `config.json: ${key} '${String(name)}' is not supported; supported: ${Object.values(HF_ACTIVATIONS).flat().join(', ')}`,
  );
}

/** HF's name for our activation. */
export const activationToHF = (activation: Activation): string =>
  (HF_ACTIVATIONS[
    activation === 'gelu_pytorch_tanh' ? 'gelu_tanh' : activation === 'swish' ? 'silu' : activation
  ] ?? [activation])[0]!;

/** One of a model's parameters as an HF file holds it. */
export interface CheckpointEntry {
  /** Our parameter name. */
  ours: string;
  /** Its name in the file. */
  hf: string;
  /** Its shape in the file. */
  hfShape: readonly number[];
  /** The file's layout → ours, as a new tensor (e.g. a transposed Linear weight); absent: used as is. */
  fromHF?: (t: tf.Tensor) => tf.Tensor;
}

export interface LoadEntriesOptions {
  /** The file's config.json (its architectures name the file in messages). */
  config: HFConfig;
  /** What is being loaded, for messages ("BertModel", "vit model"). */
  what: string;
  /** HF names of a head the file may lack entirely (then it starts fresh, as HF does), when `freshHead`. */
  head?: readonly string[];
  freshHead?: boolean;
  /** Appended to the "missing" list when head tensors are missing and `freshHead` is off. */
  headHint?: string;
  /** Names a file may carry that this model does not need (another task's head, say). */
  ignored?: readonly RegExp[];
}

/**
 * Copies a file's tensors into `model` by `entries`, the one check every HF loader makes: anything missing,
 * unexpected or mis-shaped is a CheckpointMismatchError listing the first differences in HF names, and then
 * nothing is assigned. Returns the HF names of a head that started fresh. The caller keeps `tensors`.
 */
export function loadEntries(
  model: Module,
  tensors: Record<string, tf.Tensor>,
  entries: readonly CheckpointEntry[],
  { config, what, head = [], freshHead = false, headHint = '', ignored = [] }: LoadEntriesOptions,
): string[] {
  const expected = new Set(entries.map((e) => e.hf));
  const headMissing = head.filter((h) => !(h in tensors));
  const fresh = freshHead && head.length > 0 && headMissing.length === head.length ? headMissing : [];
  // Several entries may share one HF tensor (slices of a fused one): each name is listed once.
  const missing = [...expected].filter((h) => !(h in tensors) && !fresh.includes(h));
  const unexpected = Object.keys(tensors).filter(
    (k) => !expected.has(k) && !ignored.some((re) => re.test(k)),
  );
  const shapes = [
    ...new Set(
      entries
        .filter((e) => e.hf in tensors && !tf.util.arraysEqual(tensors[e.hf]!.shape, [...e.hfShape]))
        .map((e) => `${e.hf} [${tensors[e.hf]!.shape}] vs expected [${e.hfShape}]`),
    ),
  ];
  const problems: string[] = [];
  if (missing.length)
    problems.push(`missing: ${listFirst(missing)}${headMissing.length && !freshHead ? headHint : ''}`);
  if (unexpected.length) problems.push(`unexpected: ${listFirst(unexpected)}`);
  if (shapes.length) problems.push(`shape mismatch: ${listFirst(shapes)}`);
  if (problems.length) {
    const arch = JSON.stringify(config.architectures ?? config.model_type ?? 'unknown');
    throw new CheckpointMismatchError(`checkpoint (${arch}) does not fit ${what}: ${problems.join('; ')}`);
  }
  const converted: tf.Tensor[] = [];
  const state: Record<string, tf.Tensor> = {};
  try {
    for (const e of entries) {
      const t = tensors[e.hf];
      if (!t) continue;
      state[e.ours] = e.fromHF ? e.fromHF(t) : t;
      if (e.fromHF) converted.push(state[e.ours]!);
    }
    model.loadStateDict(state, { strict: false });
  } finally {
    tf.dispose(converted);
  }
  return fresh;
}

/** config.json text as transformers writes it: 2-space indent, trailing newline. */
export function stringifyConfig(config: HFConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Throws CheckpointMismatchError when config.json names a model_type other than `expected` (one or several);
 * `hint` (how to load such a file anyway, say) ends the message.
 */
export function checkModelType(config: HFConfig, expected: string | readonly string[], hint?: string): void {
  const ok = typeof expected === 'string' ? [expected] : expected;
  if (config.model_type !== undefined && !ok.includes(config.model_type as string)) {
    throw new CheckpointMismatchError(
      `config.json says model_type '${String(config.model_type)}' (architectures ${JSON.stringify(config.architectures ?? [])}), not ${ok.map((t) => `'${t}'`).join(' or ')}${hint ? `: ${hint}` : ''}`,
    );
  }
}

export interface LoadedCheckpoint {
  config: HFConfig;
  /** float32 (or int32 for integer buffers) tensors by checkpoint name; the caller disposes them. */
  tensors: Record<string, tf.Tensor>;
  /** The safetensors `__metadata__` (merged over shards). */
  metadata: Record<string, string>;
}

/** What a load's `check` sees of each stored tensor, before anything is decoded. */
export type CheckedEntry = Pick<SafetensorsEntry, 'name' | 'dtype' | 'shape'>;

/** `DownloadLimits` apply to a base-URL source (a HubRepo carries its own). */
export interface LoadCheckpointOptions extends Pick<ReadSafetensorsOptions, 'filter'>, DownloadLimits {
  /**
   * Called with config.json and every shard's header entries (names, dtypes, shapes) before any tensor is
   * decoded: a family's loader throws here when the config is out of bounds, would not fit the backend, or
   * asks for more than the file holds, so nothing has been allocated.
   */
  check?: (config: HFConfig, entries: readonly CheckedEntry[]) => void;
}

/** Reads config.json and the weights (single file or shards). Missing files are a CheckpointError. */
export async function loadCheckpoint(
  source: CheckpointSource,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const { connectTimeoutMs, idleTimeoutMs, maxBytes } = options;
  const files = openSource(source, { connectTimeoutMs, idleTimeoutMs, maxBytes });
  const config = parseConfig(await need(files, CONFIG_FILE), `${files.where}/${CONFIG_FILE}`);
  const bytesOf = await weightFiles(files);
  // A pytorch_model.bin shard is unpickled once: its tensors serve the check and the decode.
  const bins = new Map<string, Map<string, RawTensor>>();
  for (const [shard, bytes] of bytesOf)
    if (shard.endsWith('.bin')) bins.set(shard, readPytorchBin(bytes, `${files.where}/${shard}`));
  if (options.check) {
    const entries: CheckedEntry[] = [];
    for (const [shard, bytes] of bytesOf) {
      const bin = bins.get(shard);
      if (bin) for (const [name, t] of bin) entries.push({ name, dtype: t.dtype, shape: t.shape });
      else for (const e of parseSafetensorsHeader(bytes, `${files.where}/${shard}`).entries) entries.push(e);
    }
    options.check(config, entries);
  }
  const tensors: Record<string, tf.Tensor> = {};
  const metadata: Record<string, string> = {};
  try {
    for (const [shard, bytes] of bytesOf) {
      const bin = bins.get(shard);
      const { tensors: part, metadata: meta } = bin
        ? binShard(bin, options)
        : decodeShard(bytes, `${files.where}/${shard}`, options);
      Object.assign(metadata, meta);
      for (const [name, t] of Object.entries(part)) {
        if (name in tensors) {
          disposeAll(part);
          throw new CheckpointError(
            `${files.where}/${shard}: tensor '${name}' also appears in an earlier shard`,
          );
        }
        tensors[name] = t;
      }
    }
  } catch (e) {
    disposeAll(tensors);
    throw e;
  }
  return { config, tensors, metadata };
}

function decodeShard(bytes: Uint8Array, source: string, options: Pick<ReadSafetensorsOptions, 'filter'>) {
  const file = readSafetensors(bytes, { ...options, source });
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, t] of file.tensors) {
    tensors[name] = tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32');
  }
  return { tensors, metadata: file.metadata };
}

/** The weight files by name: model.safetensors, else its index's shards, else the same for pytorch_model.bin. */
async function weightFiles(files: Files): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const [file, index] of [
    [WEIGHTS_FILE, WEIGHTS_INDEX_FILE],
    [PT_WEIGHTS_FILE, PT_WEIGHTS_INDEX_FILE],
  ] as const) {
    const bytes = await files.read(file);
    if (bytes) return out.set(file, bytes);
    const map = await files.read(index);
    if (map) {
      for (const shard of shardNames(map, `${files.where}/${index}`))
        out.set(shard, await need(files, shard));
      return out;
    }
  }
  throw await missing(
    files,
    `${WEIGHTS_FILE} (or ${WEIGHTS_INDEX_FILE}, ${PT_WEIGHTS_FILE}, ${PT_WEIGHTS_INDEX_FILE})`,
  );
}

/** The shard files an index's weight_map names: plain file names only (no paths, `..` or URL syntax). */
function shardNames(index: Uint8Array, where: string): string[] {
  const weightMap = parseConfig(index, where).weight_map;
  if (typeof weightMap !== 'object' || weightMap === null)
    throw new CheckpointError(`${where}: no weight_map object`);
  return [...new Set(Object.values(weightMap as Record<string, unknown>))].map((f) => {
    if (!isPlainFileName(f))
      throw new CheckpointError(`${where}: shard ${JSON.stringify(f)} is not a plain file name`);
    return f;
  });
}

function binShard(bin: Map<string, RawTensor>, { filter }: Pick<ReadSafetensorsOptions, 'filter'>) {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, t] of bin) {
    if (filter && !filter(name, t.dtype)) continue;
    tensors[name] = tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32');
  }
  return { tensors, metadata: {} as Record<string, string> };
}

function disposeAll(ts: Record<string, tf.Tensor>): void {
  for (const t of Object.values(ts)) t.dispose();
}

/** One file of a checkpoint (e.g. vocab.json, merges.txt next to the weights). Missing is a CheckpointError. */
export async function readCheckpointFile(source: CheckpointSource, name: string): Promise<Uint8Array> {
  return need(openSource(source), name);
}

/**
 * The text of the files among `names` that the checkpoint has (tokenizer files ride along with the weights);
 * missing ones are left out.
 */
export async function readOptionalFiles(
  source: CheckpointSource,
  names: readonly string[],
): Promise<Record<string, string>> {
  const files = openSource(source);
  const out: Record<string, string> = {};
  for (const name of names) {
    const bytes = await files.read(name);
    if (bytes) out[name] = new TextDecoder().decode(bytes);
  }
  return out;
}

export interface SaveCheckpointOptions {
  config: HFConfig;
  /** Tensors by checkpoint name, e.g. a model's stateDict() after its HF name mapping. */
  tensors: Record<string, TensorSource>;
  /** safetensors `__metadata__`; transformers writes {format: 'pt'}. */
  metadata?: Record<string, string>;
  /** More files for the folder, by plain file name (tokenizer files, training state). */
  extraFiles?: Record<string, string | Uint8Array>;
}

/**
 * The files of a checkpoint folder as bytes (model.safetensors, config.json, extra files). In the browser,
 * offer them as downloads; in Node, `saveCheckpoint` writes them.
 */
export async function encodeCheckpoint(checkpoint: SaveCheckpointOptions): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>([
    [WEIGHTS_FILE, await writeSafetensors(checkpoint.tensors, checkpoint.metadata ?? { format: 'pt' })],
    [CONFIG_FILE, new TextEncoder().encode(stringifyConfig(checkpoint.config))],
  ]);
  for (const [name, data] of Object.entries(checkpoint.extraFiles ?? {})) {
    if (!name || /[\\/]/.test(name) || name === '.' || name === '..' || files.has(name)) {
      throw new CheckpointError(
        `extra file name '${name}' must be a plain file name other than ${WEIGHTS_FILE} and ${CONFIG_FILE}`,
      );
    }
    files.set(name, typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }
  return files;
}

/**
 * Writes a checkpoint folder in Node: every file goes to a temp file in the same folder, is fsynced, and
 * only then renamed over the old one, so a save that dies midway leaves the previous checkpoint intact.
 */
export async function saveCheckpoint(dir: string, checkpoint: SaveCheckpointOptions): Promise<void> {
  if (!isNode()) {
    throw new CheckpointError(
      'saveCheckpoint writes to the file system (Node); in the browser use encodeCheckpoint() and download the bytes',
    );
  }
  await saveFiles(dir, await encodeCheckpoint(checkpoint));
}

/**
 * Writes files (name → bytes, in order) into a folder as saveCheckpoint does: temp file, fsync, rename, so
 * a failure leaves the previous files intact. For other folder formats (e.g. a PEFT adapter).
 */
export async function saveFiles(dir: string, fileMap: Map<string, Uint8Array>): Promise<void> {
  if (!isNode()) throw new CheckpointError('saveFiles writes to the file system (Node)');
  const fs = await nodeFs();
  const files = [...fileMap];
  const base = dir.replace(/[\\/]+$/, '') || '/';
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const temps = files.map(([name]) => `${base}/.${name}.tmp-${tag}`);
  let renamed = 0;
  try {
    await fs.mkdir(base, { recursive: true });
    for (let i = 0; i < files.length; i++) {
      const handle = await fs.open(temps[i]!, 'w');
      try {
        await handle.writeFile(files[i]![1]);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    // Weights first: a crash between renames leaves new weights with the old config, never half a file.
    for (let i = 0; i < files.length; i++, renamed++) await fs.rename(temps[i]!, `${base}/${files[i]![0]}`);
    await syncDir(fs, base);
  } catch (e) {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true }).catch(() => {})));
    const state =
      renamed === 0
        ? 'the previous checkpoint is untouched'
        : `${renamed} of ${files.length} files were replaced`;
    throw new CheckpointError(`saving checkpoint to ${base} failed: ${(e as Error).message}; ${state}`, {
      cause: e,
    });
  }
}

type NodeFs = typeof import('node:fs/promises');

// A computed specifier, so bundlers (Vite, webpack, esbuild) leave it alone: the browser build never pulls fs.
function nodeFs(): Promise<NodeFs> {
  const name = 'node:fs/promises';
  return import(/* @vite-ignore */ /* webpackIgnore: true */ name) as Promise<NodeFs>;
}

async function syncDir(fs: NodeFs, dir: string): Promise<void> {
  // Makes the renames durable; some platforms (Windows) cannot open a directory, which is fine to skip.
  const handle = await fs.open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close();
}

/** A source of checkpoint files by name (a Hub repository: `hubRepo`). */
export interface CheckpointFiles {
  /** For messages: the folder, URL or 'selected files'. */
  readonly where: string;
  /** The file's bytes, or undefined when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** Names that do exist, when the source can list them (for messages). */
  list(): Promise<string[] | undefined>;
  /** The error for a required file that does not exist, when the source has a better one than the default. */
  missing?(name: string): Error;
}
type Files = CheckpointFiles;

async function need(files: Files, name: string): Promise<Uint8Array> {
  const bytes = await files.read(name);
  if (!bytes) throw await missing(files, name);
  return bytes;
}

async function missing(files: Files, name: string): Promise<Error> {
  if (files.missing) return files.missing(name);
  const found = await files.list();
  const listing =
    found === undefined
      ? ''
      : found.length
        ? ` (found: ${found.sort().join(', ')})`
        : ' (it is empty or does not exist)';
  return new CheckpointError(`checkpoint ${files.where} has no ${name}${listing}`);
}

function openSource(source: CheckpointSource, limits: DownloadLimits = {}): Files {
  if (typeof source !== 'string' && (typeof source !== 'object' || source === null))
    throw new CheckpointError(
      `a checkpoint source is a folder path, URL, Map/record of files or File list, got ${source === null ? 'null' : typeof source}`,
    );
  if (typeof source === 'string' || source instanceof URL) {
    const url = typeof source === 'string' ? parseUrl(source) : source;
    if (url?.protocol === 'file:') return folder(decodeURIComponent(url.pathname));
    if (url) return remote(url.href, limits);
    if (isNode()) return folder(source as string);
    return remote(new URL(source as string, globalThis.location?.href).href, limits);
  }
  if (isFiles(source)) return source;
  return inMemory(source);
}

function isFiles(source: object): source is CheckpointFiles {
  const s = source as Partial<CheckpointFiles>;
  return typeof s.read === 'function' && typeof s.list === 'function' && typeof s.where === 'string';
}

function parseUrl(s: string): URL | undefined {
  // Only strings with a scheme are URLs; 'C:\\models' is a Windows path, not scheme 'c:'.
  if (!/^[a-z][a-z0-9+.-]+:/i.test(s)) return undefined;
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

function folder(dir: string): Files {
  const base = dir.replace(/[\\/]+$/, '') || '/';
  return {
    where: base,
    async read(name) {
      const fs = await nodeFs();
      try {
        const buf = await fs.readFile(`${base}/${name}`);
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new CheckpointError(`cannot read ${base}/${name}: ${(e as Error).message}`, { cause: e });
      }
    },
    async list() {
      const fs = await nodeFs();
      return fs.readdir(base).catch(() => []);
    },
  };
}

function remote(baseUrl: string, limits: DownloadLimits): Files {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    where: base.slice(0, -1),
    read(name) {
      // Timeouts, a size bound and a cut body as a DownloadError: download.ts.
      return fetchBytes(base + name, { ...limits, file: name });
    },
    async list() {
      return undefined;
    },
  };
}

function inMemory(source: Exclude<CheckpointSource, string | URL>): Files {
  const byName = new Map<string, FileData>();
  // File pickers give paths like 'gpt2/config.json' (webkitRelativePath); match on the last segment.
  const add = (key: string, data: FileData) => byName.set(key.split(/[\\/]/).pop()!, data);
  if (source instanceof Map) for (const [k, v] of source) add(k, v);
  else if (Symbol.iterator in source) for (const f of source as Iterable<File>) add(f.name, f);
  else for (const [k, v] of Object.entries(source)) add(k, v);
  return {
    where: 'from the given files',
    async read(name) {
      const data = byName.get(name);
      if (data === undefined) return undefined;
      if (data instanceof Uint8Array) return data;
      if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (data instanceof ArrayBuffer) return new Uint8Array(data);
      if (typeof Blob !== 'undefined' && data instanceof Blob)
        return new Uint8Array(await data.arrayBuffer());
      if (typeof Response !== 'undefined' && data instanceof Response) {
        if (!data.ok) throw new CheckpointError(`file '${name}': HTTP ${data.status} ${data.statusText}`);
        return new Uint8Array(await data.arrayBuffer());
      }
      throw new CheckpointError(`file '${name}' is not an ArrayBuffer, typed array, Blob, File or Response`);
    },
    async list() {
      return [...byName.keys()];
    },
  };
}
