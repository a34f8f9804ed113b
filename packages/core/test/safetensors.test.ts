import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  initBackend,
  parseSafetensorsHeader,
  readSafetensors,
  safetensorsToTensors,
  writeSafetensors,
} from '../src/index.js';

// Written by fixtures/gen_safetensors.py with PyTorch; mixed.json holds torch's float32 view of each tensor.
const fixture = readFileSync(new URL('./fixtures/mixed.safetensors', import.meta.url));
const expected: Record<string, { shape: number[]; values: Array<number | string> }> = JSON.parse(
  readFileSync(new URL('./fixtures/mixed.json', import.meta.url), 'utf8'),
);

/** A safetensors file from a header object and a data section of `dataLen` bytes (or given bytes). */
function craft(header: unknown, data: number | Uint8Array = 0, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const f32 = (shape: number[], begin: number) => ({
  dtype: 'F32',
  shape,
  data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)],
});

describe('safetensors reading', () => {
  it('decodes F32, F16 (incl. subnormals, inf), BF16 and I64 exactly as PyTorch does', () => {
    const file = readSafetensors(fixture, { source: 'mixed.safetensors' });
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()]).toEqual(Object.keys(expected));
    for (const [name, want] of Object.entries(expected)) {
      const t = file.tensors.get(name)!;
      expect(t.shape, name).toEqual(want.shape);
      const values = want.values.map((v) =>
        typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v,
      );
      expect(Array.from(t.data), name).toEqual(values);
    }
    expect(file.tensors.get('b.half')!.dtype).toBe('F16');
    expect(file.tensors.get('c.bf16')!.data).toBeInstanceOf(Float32Array);
    expect(file.tensors.get('embeddings.position_ids')!.data).toBeInstanceOf(Int32Array);
  });

  it('skips tensors the filter rejects, e.g. int64 position_ids buffers', () => {
    const file = readSafetensors(fixture, { filter: (_name, dtype) => dtype !== 'I64' });
    expect(file.tensors.has('embeddings.position_ids')).toBe(false);
    expect(file.tensors.has('a.weight')).toBe(true);
  });

  it('reads from an ArrayBuffer and from a Uint8Array view into a larger buffer', () => {
    const padded = new Uint8Array(fixture.length + 16);
    padded.set(fixture, 5);
    const view = padded.subarray(5, 5 + fixture.length);
    const ab = fixture.buffer.slice(fixture.byteOffset, fixture.byteOffset + fixture.length);
    expect(readSafetensors(view).tensors.get('a.weight')!.data).toEqual(
      readSafetensors(ab).tensors.get('a.weight')!.data,
    );
  });
});

describe.each(['cpu', 'wasm'] as const)('safetensors tensors on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('round-trips float32 and int32 tensors exactly, names sorted, header 8-byte aligned', async () => {
    const values = new Float32Array([
      1.5,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      3.4e38,
      1e-45,
      Math.PI,
      -7,
    ]);
    const tensors = {
      'z.weight': tf.tensor(values, [2, 4]),
      'a.bias': tf.tensor1d([0.1, 0.2, 0.3]),
      'm.ids': tf.tensor2d([[1, -2, 2147483647]], undefined, 'int32'),
      scalar: tf.scalar(42),
    };
    const bytes = await writeSafetensors(tensors, { format: 'pt' });
    const headerLen = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLen % 8).toBe(0);
    const { entries, metadata } = parseSafetensorsHeader(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(entries.map((e) => e.name)).toEqual(['a.bias', 'm.ids', 'scalar', 'z.weight']);
    expect(entries.map((e) => e.dtype)).toEqual(['F32', 'I32', 'F32', 'F32']);
    const back = safetensorsToTensors(bytes);
    for (const [name, t] of Object.entries(tensors)) {
      expect(back[name]!.shape, name).toEqual(t.shape);
      expect(back[name]!.dtype, name).toBe(t.dtype);
      expect(Array.from(back[name]!.dataSync()), name).toEqual(Array.from(t.dataSync()));
    }
    // Bit-exact, including -0 and NaN.
    expect(new Uint8Array(back['z.weight']!.dataSync().buffer)).toEqual(new Uint8Array(values.buffer));
    tf.dispose([tensors, back]);
  });

  it('writes raw arrays and rejects what it cannot write', async () => {
    const bytes = await writeSafetensors({ w: { shape: [2], data: new Float32Array([1, 2]) } });
    expect(Array.from(readSafetensors(bytes).tensors.get('w')!.data)).toEqual([1, 2]);
    await expect(writeSafetensors({ w: { shape: [3], data: new Float32Array(2) } })).rejects.toThrow(
      /'w' has shape \[3\] but 2 values/,
    );
    const b = tf.tensor1d([true, false], 'bool');
    await expect(writeSafetensors({ flag: b })).rejects.toThrow(/'flag' is bool/);
    b.dispose();
  });
});

describe('broken safetensors files: each rejected with its own message', () => {
  const good = () => craft({ a: f32([2], 0), b: f32([3], 8) }, 20);
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    [
      'shorter than the length field',
      () => new Uint8Array(5),
      /5 bytes, too short for the 8-byte header length/,
    ],
    [
      'truncated inside the header',
      () => good().subarray(0, 20),
      /header length \d+ exceeds the file size \(20 bytes\)/,
    ],
    [
      'truncated inside the data',
      () => good().subarray(0, good().length - 4),
      /'b': data_offsets \[8, 20\] run past the end of the data section \(16 bytes\)/,
    ],
    [
      'header length larger than the file',
      () => {
        const f = good();
        new DataView(f.buffer).setUint32(4, 1, true); // 2^32 + n
        return f;
      },
      /header length 4294967\d+ exceeds the file size/,
    ],
    ['header not JSON', () => craft(null, 0, '{"a": {"dtype": "F32",'), /header is not valid JSON/],
    ['header not an object', () => craft([1, 2]), /header is not a JSON object/],
    [
      'bad __metadata__',
      () => craft({ __metadata__: { epoch: 3 } }),
      /__metadata__ must be an object of string values/,
    ],
    [
      'unknown dtype',
      () => craft({ a: { ...f32([2], 0), dtype: 'F33' } }, 8),
      /tensor 'a': unknown dtype 'F33'/,
    ],
    [
      'missing dtype',
      () => craft({ a: { shape: [2], data_offsets: [0, 8] } }, 8),
      /tensor 'a': missing dtype/,
    ],
    [
      'negative dim',
      () => craft({ a: { ...f32([2], 0), shape: [-2] } }, 8),
      /tensor 'a': shape \[-2\] is not a list/,
    ],
    [
      'bad data_offsets',
      () => craft({ a: { ...f32([2], 0), data_offsets: [8, 0] } }, 8),
      /tensor 'a': data_offsets \[8,0\] is not a \[begin, end\] pair/,
    ],
    [
      'shape × dtype size ≠ byte range',
      () => craft({ a: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] } }, 8),
      /tensor 'a': shape \[2,3\] of F16 needs 12 bytes but data_offsets \[0, 8\] hold 8/,
    ],
    [
      'range outside the file',
      () => craft({ a: f32([2], 0), b: f32([2], 40) }, 16),
      /tensor 'b': data_offsets \[40, 48\] run past the end/,
    ],
    [
      'overlapping ranges',
      () => craft({ a: f32([3], 0), b: f32([2], 8) }, 16),
      /tensor 'b': data_offsets \[8, 16\] overlap tensor 'a' \[0, 12\]/,
    ],
    [
      'gap between ranges',
      () => craft({ a: f32([1], 0), b: f32([1], 8) }, 12),
      /tensor 'b': gap of 4 unused bytes/,
    ],
    ['trailing bytes', () => craft({ a: f32([1], 0) }, 12), /8 trailing bytes not covered by any tensor/],
    [
      'dtype that cannot be decoded',
      () => craft({ q: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, 4),
      /tensor 'q': dtype F8_E4M3 cannot be decoded/,
    ],
    [
      'int64 beyond int32',
      () => {
        const data = new Uint8Array(8);
        new DataView(data.buffer).setBigInt64(0, 2n ** 40n, true);
        return craft({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data);
      },
      /tensor 'ids': I64 value 1099511627776 does not fit int32/,
    ],
  ];

  it('the unbroken base file reads', () => {
    expect([...readSafetensors(good()).tensors.keys()]).toEqual(['a', 'b']);
  });

  it.each(cases)('%s', (_label, make, message) => {
    const bytes = make();
    let err: unknown;
    try {
      readSafetensors(bytes, { source: 'broken.safetensors' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).code).toBe('CHECKPOINT');
    expect((err as Error).message).toMatch(/^broken\.safetensors: /);
    expect((err as Error).message).toMatch(message);
  });

  it('an undecodable dtype can be skipped with the filter', () => {
    const bytes = craft({ q: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] }, w: f32([1], 4) }, 8);
    expect([...readSafetensors(bytes, { filter: (_n, d) => d !== 'F8_E4M3' }).tensors.keys()]).toEqual(['w']);
  });
});
