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

  describe('ZIP64 (torch writes it past 4 GiB)', () => {
    // state-zip64.bin: state.bin's entries rewritten by Python's zipfile with every size and offset in
    // ZIP64 form and the classic end record's overflow markers set (see gen_torch_bin.py; torch.load reads
    // it back as state.bin).
    const zip64 = () => new Uint8Array(readFileSync(join(dir, 'state-zip64.bin')));
    const plain = () => new Uint8Array(readFileSync(join(dir, 'state.bin')));
    const find = (bytes: Uint8Array, sig: number, from = bytes.length - 4) => {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = from; i >= 0; i--) if (view.getUint32(i, true) === sig) return i;
      throw new Error(`no signature ${sig.toString(16)}`);
    };
    const EOCD = 0x06054b50;
    const LOCATOR = 0x07064b50;
    const CENTRAL = 0x02014b50;

    it('reads the 64-bit sizes, offsets and end record: the same tensors as the classic file', () => {
      const bytes = zip64();
      const view = new DataView(bytes.buffer);
      const eocd = find(bytes, EOCD);
      // The fixture really is ZIP64 throughout: overflow markers in the classic record and the entries.
      expect(view.getUint32(eocd + 16, true)).toBe(0xffffffff);
      expect(view.getUint16(eocd + 10, true)).toBe(0xffff);
      expect(view.getUint32(find(bytes, CENTRAL) + 24, true)).toBe(0xffffffff);
      const want = readPytorchBin(plain());
      const got = readPytorchBin(bytes, 'state-zip64.bin');
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, t] of want) {
        expect(got.get(name)!.shape, name).toEqual(t.shape);
        expect(Array.from(got.get(name)!.data), name).toEqual(Array.from(t.data));
      }
      // torch's own small files carry a ZIP64 end record and locator too; they agree with the classic one.
      const p = plain();
      expect(find(p, LOCATOR)).toBe(find(p, EOCD) - 20);
    });

    it('truncated or hostile ZIP64 records are CheckpointErrors naming the problem', () => {
      // Each case changes the bytes in place, or returns new ones.
      const cases: Array<[string, (b: Uint8Array, v: DataView) => unknown, RegExp]> = [
        [
          'end record offset past the file',
          (b, v) => v.setBigUint64(find(b, LOCATOR) + 8, 1n << 60n, true),
          /ZIP64 end-of-central-directory offset \d+ is past the end/,
        ],
        [
          'end record overwritten',
          (b, v) => v.setUint32(Number(v.getBigUint64(find(b, LOCATOR) + 8, true)), 0, true),
          /ZIP64 end-of-central-directory record is missing or corrupt/,
        ],
        [
          'locator gone (a classic record that defers to it)',
          (b, v) => v.setUint32(find(b, LOCATOR), 0, true),
          /defers to a ZIP64 record that is not there/,
        ],
        [
          'entry count of 2^40',
          (b, v) => {
            const rec = Number(v.getBigUint64(find(b, LOCATOR) + 8, true));
            v.setBigUint64(rec + 32, 1n << 40n, true);
          },
          /entry count \d+ is past the end|entries cannot fit/,
        ],
        [
          'central directory offset beyond the end record',
          (b, v) => {
            const rec = Number(v.getBigUint64(find(b, LOCATOR) + 8, true));
            v.setBigUint64(rec + 48, BigInt(rec - 10), true);
          },
          /central directory \(\d+ bytes at \d+\) runs past its end record/,
        ],
        [
          'an entry whose ZIP64 extra field is gone',
          (b, v) => {
            const c = find(b, CENTRAL);
            v.setUint16(c + 46 + v.getUint16(c + 28, true), 0x9999, true);
          },
          /ZIP64 sizes have no ZIP64 extra field/,
        ],
        [
          'an entry whose ZIP64 size is 2^62',
          (b, v) => {
            const c = find(b, CENTRAL);
            const extra = c + 46 + v.getUint16(c + 28, true);
            v.setBigUint64(extra + 4, 1n << 62n, true);
          },
          /ZIP64 size of state\/version \d+ is past the end/,
        ],
        [
          'an entry whose ZIP64 extra field is too short',
          (b, v) => {
            const c = find(b, CENTRAL);
            v.setUint16(c + 46 + v.getUint16(c + 28, true) + 2, 8, true);
          },
          /too short for its stored size/,
        ],
        [
          'data cut from the middle (the directory intact)',
          (b) => {
            const cut = new Uint8Array(b.length - 64);
            cut.set(b.subarray(0, 900));
            cut.set(b.subarray(964), 900);
            return cut;
          },
          /ZIP64 end-of-central-directory record is missing or corrupt/,
        ],
      ];
      for (const [what, mutate, pattern] of cases) {
        const b = zip64();
        const out = mutate(b, new DataView(b.buffer));
        const hostile = out instanceof Uint8Array ? out : b;
        const err = (() => {
          try {
            readPytorchBin(hostile, 'hostile.bin');
          } catch (e) {
            return e;
          }
        })();
        expect(err, what).toBeInstanceOf(CheckpointError);
        expect((err as Error).message, what).toMatch(pattern);
      }
    });
  });
});
