import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, readPytorchBin, readStoredZip } from '../src/index.js';

// Fixtures from test/fixtures/gen_torch_bin.py (torch.save itself).
const dir = join(import.meta.dirname, 'fixtures', 'torch');

describe('pytorch_model.bin (torch.save zip) reader', () => {
  it('reads every dtype, strided views, shared storages and Parameters as torch wrote them', () => {
    const want = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Record<
      string,
      { shape: number[]; values: unknown }
    >;
    const got = readPytorchBin(new Uint8Array(readFileSync(join(dir, 'state.bin'))));
    expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [name, w] of Object.entries(want)) {
      const t = got.get(name)!;
      expect(t.shape, name).toEqual(w.shape);
      const flat = [w.values].flat(4) as number[];
      expect(t.data.length, name).toBe(flat.length);
      for (let i = 0; i < flat.length; i++) expect(t.data[i], `${name}[${i}]`).toBeCloseTo(flat[i]!, 6);
    }
    expect(got.get('i64')!.data).toBeInstanceOf(Int32Array);
    expect(got.get('f16')!.data).toBeInstanceOf(Float32Array);
  });

  it('refuses a pickle that names any other global, without running it', () => {
    rmSync('/tmp/tk-pwned', { force: true });
    const evil = new Uint8Array(readFileSync(join(dir, 'evil.bin')));
    expect(() => readPytorchBin(evil, 'evil.bin')).toThrow(CheckpointError);
    expect(() => readPytorchBin(evil, 'evil.bin')).toThrow(/refuses the pickle global '(posix|os)\.system'/);
    expect(existsSync('/tmp/tk-pwned')).toBe(false);
  });

  it('truncated, compressed or non-zip files are typed errors', () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'state.bin')));
    expect(() => readPytorchBin(bytes.subarray(0, bytes.length - 30))).toThrow(CheckpointError);
    expect(() => readPytorchBin(new TextEncoder().encode('{"not": "a zip"}'))).toThrow(/not a zip file/);
    // Flip one entry's method to deflate in the central directory: refused by name.
    const copy = bytes.slice();
    const view = new DataView(copy.buffer);
    const entries = readStoredZip(copy);
    expect(entries.size).toBeGreaterThan(3);
    for (let i = copy.length - 22; i >= 0; i--)
      if (view.getUint32(i, true) === 0x02014b50) {
        view.setUint16(i + 10, 8, true);
        break;
      }
    expect(() => readPytorchBin(copy)).toThrow(/is compressed \(method 8\)/);
  });
});
