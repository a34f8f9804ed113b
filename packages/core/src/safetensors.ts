import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from './errors.js';

/*
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes
 * of JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the data
 * section, which the tensors' byte ranges must tile exactly. Everything here works on bytes in memory, so
 * it runs unchanged in the browser; checkpoint.ts does the file and URL handling.
 */

/** Bytes per element of every dtype the format defines. */
const DTYPE_SIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

/**
 * A decoded tensor: floating dtypes (F32, F16, BF16, F64) as float32, integer dtypes (and BOOL) as int32.
 * `dtype` is the dtype stored in the file.
 */
export interface RawTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface ReadSafetensorsOptions {
  /** Names the file in error messages (e.g. 'model.safetensors'). */
  source?: string;
  /** Return false to skip a tensor (it is validated but not decoded), e.g. int64 `position_ids` buffers. */
  filter?: (name: string, dtype: string) => boolean;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** In file (offset) order. */
  tensors: Map<string, RawTensor>;
}

type Bytes = ArrayBuffer | ArrayBufferView;

function asUint8(bytes: Bytes): Uint8Array {
  // A plain Uint8Array even for Node Buffers, whose slice() does not copy.
  return ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
}

/** Parses and validates the header; the returned entries are sorted by offset and tile the data section. */
export function parseSafetensorsHeader(
  bytes: Bytes,
  source = 'safetensors',
): { metadata: Record<string, string>; entries: SafetensorsEntry[]; dataStart: number } {
  const u8 = asUint8(bytes);
  const fail = (msg: string, cause?: unknown): never => {
    throw new CheckpointError(`${source}: ${msg}`, { cause });
  };
  if (u8.length < 8) fail(`file is ${u8.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen + 8 > u8.length) {
    fail(
      `header length ${headerLen} exceeds the file size (${u8.length} bytes): truncated file or not safetensors`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`, e);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = u8.length - dataStart;

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      const ok =
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.values(value).every((v) => typeof v === 'string');
      if (!ok) fail('__metadata__ must be an object of string values');
      metadata = value as Record<string, string>;
      continue;
    }
    const at = `tensor '${name}'`;
    if (typeof value !== 'object' || value === null) fail(`${at}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`${at}: missing dtype`);
    // Own properties only: a dtype named 'constructor' or '__proto__' is unknown, not Object's.
    const size = Object.hasOwn(DTYPE_SIZE, dtype as string) ? DTYPE_SIZE[dtype as string] : undefined;
    if (size === undefined)
      fail(`${at}: unknown dtype '${dtype}' (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${at}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const isOffset = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isOffset) ||
      offsets[0] > offsets[1]
    ) {
      fail(
        `${at}: data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair with 0 <= begin <= end`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const dims = shape as number[];
    const expected = dims.reduce((a, d) => a * d, 1) * size!;
    if (expected !== end - begin) {
      fail(
        `${at}: shape [${dims}] of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    if (end > dataLen) {
      fail(`${at}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLen} bytes)`);
    }
    entries.push({ name, dtype: dtype as string, shape: dims, begin, end });
  }

  // The ranges must tile [0, dataLen): no overlap, no gap, no trailing bytes (as the reference reader).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of entries) {
    if (e.begin < pos) {
      fail(
        `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap tensor '${prev!.name}' [${prev!.begin}, ${prev!.end}]`,
      );
    }
    if (e.begin > pos)
      fail(`tensor '${e.name}': gap of ${e.begin - pos} unused bytes before its data (offset ${pos})`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) fail(`data section has ${dataLen - pos} trailing bytes not covered by any tensor`);
  return { metadata, entries, dataStart };
}

/**
 * The whole file's size as its header describes it (8 + header + the largest data offset), from the file's
 * first bytes; undefined until the header is complete. Bounds a download whose size nothing announced.
 */
export function safetensorsFileSize(prefix: Uint8Array, source = 'safetensors'): number | undefined {
  if (prefix.length < 8) return undefined;
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const headerLen = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (headerLen > 100 * 2 ** 20)
    throw new CheckpointError(`${source}: header length ${headerLen} is implausibly large (over 100 MiB)`);
  if (prefix.length < 8 + headerLen) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(prefix.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new CheckpointError(`${source}: header is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  let end = 0;
  for (const [name, v] of Object.entries((header ?? {}) as Record<string, { data_offsets?: unknown }>)) {
    if (name === '__metadata__') continue;
    const o = v?.data_offsets;
    const last = Array.isArray(o) ? o[1] : undefined;
    if (!Number.isSafeInteger(last) || (last as number) < 0)
      throw new CheckpointError(`${source}: tensor '${name}' has no valid data_offsets`);
    end = Math.max(end, last as number);
  }
  return 8 + headerLen + end;
}

/** Decodes a safetensors file held in memory into name → {dtype, shape, data}. */
export function readSafetensors(bytes: Bytes, options: ReadSafetensorsOptions = {}): SafetensorsFile {
  const source = options.source ?? 'safetensors';
  const u8 = asUint8(bytes);
  const { metadata, entries, dataStart } = parseSafetensorsHeader(u8, source);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    if (options.filter && !options.filter(e.name, e.dtype)) continue;
    const data = decode(u8.subarray(dataStart + e.begin, dataStart + e.end), e, source);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { metadata, tensors };
}

/** Decodes a safetensors file straight into tf tensors (float32 / int32). The caller disposes them. */
export function safetensorsToTensors(
  bytes: Bytes,
  options: ReadSafetensorsOptions = {},
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, t] of readSafetensors(bytes, options).tensors) {
    out[name] = tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32');
  }
  return out;
}

/** Raw little-endian bytes of one dtype (safetensors' names: F32, F16, BF16, I64, …) → float32 / int32 data. */
export function decodeTensorBytes(
  bytes: Uint8Array,
  dtype: string,
  source: string,
): Float32Array | Int32Array {
  const size = DTYPE_SIZE[dtype];
  if (size === undefined || bytes.length % size !== 0)
    throw new CheckpointError(`${source}: ${bytes.length} bytes are not a whole number of ${dtype} values`);
  return decode(
    bytes,
    { name: source, dtype, shape: [bytes.length / size], begin: 0, end: bytes.length },
    source,
  );
}

function decode(bytes: Uint8Array, e: SafetensorsEntry, source: string): Float32Array | Int32Array {
  // Copy into a fresh, aligned buffer; typed-array views then read it as little-endian (every JS platform).
  const buf = bytes.slice().buffer;
  const n = bytes.length / DTYPE_SIZE[e.dtype]!;
  switch (e.dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'F16': {
      const table = f16Table();
      const h = new Uint16Array(buf);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[h[i]!]!;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const h = new Uint16Array(buf);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = h[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'BOOL':
    case 'U8':
      return Int32Array.from(new Uint8Array(buf));
    case 'I8':
      return Int32Array.from(new Int8Array(buf));
    case 'I16':
      return Int32Array.from(new Int16Array(buf));
    case 'U16':
      return Int32Array.from(new Uint16Array(buf));
    case 'I32':
      return new Int32Array(buf);
    case 'U32':
    case 'I64':
    case 'U64': {
      const wide =
        e.dtype === 'U32'
          ? new Uint32Array(buf)
          : e.dtype === 'I64'
            ? new BigInt64Array(buf)
            : new BigUint64Array(buf);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = Number(wide[i]!);
        if (v < -(2 ** 31) || v >= 2 ** 31) {
          throw new CheckpointError(
            `${source}: tensor '${e.name}': ${e.dtype} value ${v} does not fit int32`,
          );
        }
        out[i] = v;
      }
      return out;
    }
    default:
      throw new CheckpointError(
        `${source}: tensor '${e.name}': dtype ${e.dtype} cannot be decoded (supported: F32, F16, BF16, F64, integers, BOOL); convert the file to F16/F32, or skip the tensor with readSafetensors' / loadCheckpoint's filter option`,
      );
  }
}

let f16: Float32Array | undefined;
/** All 65536 half-precision values as float32, built once. */
function f16Table(): Float32Array {
  if (f16) return f16;
  f16 = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    f16[h] =
      exp === 0
        ? sign * 2 ** -14 * (frac / 1024)
        : exp === 31
          ? frac
            ? Number.NaN
            : sign * Number.POSITIVE_INFINITY
          : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return f16;
}

/** What `writeSafetensors` accepts per name: a tf tensor (float32 → F32, int32 → I32) or raw data. */
export type TensorSource = tf.Tensor | { shape: number[]; data: Float32Array | Int32Array };

/**
 * Encodes tensors as a safetensors file: names sorted, float32 as F32 and int32 as I32, header padded
 * with spaces to a multiple of 8 bytes as the reference writer does. Async because it reads tensor data.
 */
export async function writeSafetensors(
  tensors: Record<string, TensorSource>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const names = Object.keys(tensors).sort();
  const parts: Array<{ name: string; dtype: string; shape: number[]; data: Float32Array | Int32Array }> = [];
  for (const name of names) {
    if (name === '__metadata__')
      throw new CheckpointError(`writeSafetensors: '__metadata__' is not a tensor name`);
    const t = tensors[name]!;
    let data: Float32Array | Int32Array;
    if (t instanceof tf.Tensor) {
      if (t.dtype !== 'float32' && t.dtype !== 'int32') {
        throw new CheckpointError(
          `writeSafetensors: tensor '${name}' is ${t.dtype}; only float32 and int32 are written`,
        );
      }
      data = (await t.data()) as Float32Array | Int32Array;
    } else {
      data = t.data;
      const n = t.shape.reduce((a, d) => a * d, 1);
      if (n !== data.length) {
        throw new CheckpointError(
          `writeSafetensors: tensor '${name}' has shape [${t.shape}] but ${data.length} values`,
        );
      }
    }
    parts.push({ name, dtype: data instanceof Float32Array ? 'F32' : 'I32', shape: [...t.shape], data });
  }
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const p of parts) {
    header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [offset, offset + p.data.byteLength] };
    offset += p.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setUint32(0, padded, true);
  out.fill(0x20, 8, 8 + padded);
  out.set(json, 8);
  let pos = 8 + padded;
  for (const p of parts) {
    out.set(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength), pos);
    pos += p.data.byteLength;
  }
  return out;
}
