import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  argsortRows,
  extractPatches,
  frames,
  framesToSequence,
  InvalidArgumentError,
  initBackend,
  patchesToImages,
  patchGrid,
  ShapeError,
} from '../src/index.js';

/** The obvious loop: patch (r, q), element (i, j, c) = image[r·sh + i, q·sw + j, c] (zero outside). */
function naivePatches(
  img: number[][][][],
  ph: number,
  pw: number,
  sh: number,
  sw: number,
  rows: number,
  cols: number,
): number[][][] {
  return img.map((im) => {
    const out: number[][] = [];
    for (let r = 0; r < rows; r++)
      for (let q = 0; q < cols; q++) {
        const v: number[] = [];
        for (let i = 0; i < ph; i++)
          for (let j = 0; j < pw; j++)
            for (const x of im[r * sh + i]?.[q * sw + j] ?? im[0]![0]!.map(() => 0)) v.push(x);
        out.push(v);
      }
    return out;
  });
}

const rand = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

describe.each(['cpu', 'wasm'] as const)('patches on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([
    // [H, W, C, size, stride, pad]
    [8, 8, 1, 2, 2, false],
    [12, 8, 3, 4, 4, false],
    [9, 9, 2, 3, 2, false], // overlapping
    [10, 7, 3, [4, 3], [2, 2], false], // rectangular patches and strides
    [7, 7, 1, 3, 3, true], // padded, non-overlapping
    [8, 8, 2, 3, 2, true], // padded, overlapping
    [8, 8, 1, 2, 3, false], // gaps between patches
    [12, 12, 3, 4, 2, false], // size = 2 × stride: shifted tiles, no gather
    [10, 9, 2, [4, 3], [2, 1], false], // shifted tiles, rectangular
    [14, 12, 2, 4, 2, true], // shifted tiles, padded
    [14, 18, 1, 6, 4, false], // gather of 2-pixel runs (gcd(4, 6) = 2)
  ] as const)('H=%i W=%i C=%i size=%j stride=%j pad=%s: exactly the naive loop', (h, w, c, size, stride, pad) => {
    const x = rand([2, h, w, c], h * w + c);
    const g = patchGrid(h, w, { size, stride, pad });
    const [ph, pw] = typeof size === 'number' ? [size, size] : size;
    const [sh, sw] = typeof stride === 'number' ? [stride, stride] : stride;
    const got = extractPatches(x, { size, stride, pad });
    expect(got.shape).toEqual([2, g.numPatches, ph * pw * c]);
    expect(got.arraySync()).toEqual(
      naivePatches(x.arraySync() as number[][][][], ph, pw, sh, sw, g.rows, g.cols),
    );
    tf.dispose([x, got]);
  });

  it('non-overlapping patches round-trip exactly; overlapping ones overlap-add and average back', () => {
    tf.tidy(() => {
      const x = rand([2, 12, 8, 3], 1);
      const back = patchesToImages(extractPatches(x, { size: 4 }), { height: 12, width: 8, size: 4 });
      expect(back.arraySync()).toEqual(x.arraySync());
      const padded = rand([1, 7, 7, 2], 2);
      const opts = { size: 3, pad: true, height: 7, width: 7 };
      expect(patchesToImages(extractPatches(padded, opts), opts).arraySync()).toEqual(padded.arraySync());

      const y = rand([2, 9, 9, 2], 3);
      const o = { size: 3, stride: 2, height: 9, width: 9 };
      const p = extractPatches(y, o);
      // Sum: each pixel times the number of patches covering it (1, 2 or 4 here).
      const ones = extractPatches(tf.onesLike(y), o);
      const count = patchesToImages(ones, o);
      expect(count.max().dataSync()[0]).toBe(4);
      expect(count.min().dataSync()[0]).toBe(1);
      expect(patchesToImages(p, o).sub(y.mul(count)).abs().max().dataSync()[0]).toBeLessThan(1e-6);
      expect(
        patchesToImages(p, { ...o, average: true })
          .sub(y)
          .abs()
          .max()
          .dataSync()[0],
      ).toBeLessThan(1e-6);
    });
  });

  it('gradients flow: d sum(w · patches) / d image is the overlap-add of w (the adjoint), every path', () => {
    tf.tidy(() => {
      for (const o of [{ size: 2 }, { size: 3, stride: 2 }, { size: 3, stride: 2, pad: true }]) {
        const h = o.size === 2 || o.pad ? 8 : 9;
        const x = rand([2, h, h, 3], 4);
        const w = rand(extractPatches(x, o).shape, 5);
        const grad = tf.grad((img: tf.Tensor) => extractPatches(img, o).mul(w).sum())(x);
        const adj = patchesToImages(w, { ...o, height: h, width: h });
        expect(grad.sub(adj).abs().max().dataSync()[0]).toBeLessThan(1e-5);
        // ...and the other way: the gradient of patchesToImages is extractPatches.
        const v = rand(x.shape, 6);
        const g2 = tf.grad((p: tf.Tensor) =>
          patchesToImages(p, { ...o, height: h, width: h })
            .mul(v)
            .sum(),
        )(w);
        expect(g2.sub(extractPatches(v, o)).abs().max().dataSync()[0]).toBeLessThan(1e-5);
      }
    });
  });

  it('frames: (B, T, C) → (B, N, size·C), overlapping, and back', () => {
    tf.tidy(() => {
      const x = tf.tensor3d([[[0], [1], [2], [3], [4], [5], [6]]]);
      expect(frames(x, { size: 3, stride: 2 }).arraySync()).toEqual([
        [
          [0, 1, 2],
          [2, 3, 4],
          [4, 5, 6],
        ],
      ]);
      expect(frames(x, { size: 4, pad: true }).arraySync()).toEqual([
        [
          [0, 1, 2, 3],
          [4, 5, 6, 0],
        ],
      ]);
      const s = rand([2, 20, 3], 7);
      const f = frames(s, { size: 5, stride: 3, pad: true });
      expect(f.shape).toEqual([2, 6, 15]);
      const back = framesToSequence(f, { size: 5, stride: 3, pad: true, length: 20, average: true });
      expect(back.sub(s).abs().max().dataSync()[0]).toBeLessThan(1e-6);
    });
  });

  it('bad shapes and arguments are typed errors naming the problem', () => {
    const x = tf.zeros([1, 10, 10, 3]);
    expect(() => extractPatches(tf.zeros([10, 10, 3]), { size: 2 })).toThrow(ShapeError);
    expect(() => extractPatches(tf.zeros([10, 10, 3]), { size: 2 })).toThrow(/NHWC/);
    expect(() => extractPatches(x, { size: 3 })).toThrow(/not covered.*pad: true/);
    expect(() => extractPatches(x, { size: 4, stride: 4 })).toThrow(ShapeError);
    expect(extractPatches(x, { size: 4, stride: 3 }).shape).toEqual([1, 9, 48]);
    expect(extractPatches(x, { size: 3, pad: true }).shape).toEqual([1, 16, 27]);
    expect(() => extractPatches(x, { size: 0 })).toThrow(InvalidArgumentError);
    expect(() => extractPatches(x, { size: 2, stride: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => extractPatches(x, { size: 11 })).toThrow(/smaller than the patch/);
    expect(() => patchesToImages(tf.zeros([1, 24, 12]), { size: 2, height: 10, width: 10 })).toThrow(
      /do not fit a 5x5 grid/,
    );
    expect(() => frames(x, { size: 2 })).toThrow(/\(batch, time, channels\)/);
    x.dispose();
  });

  it('leaks no tensors', () => {
    const x = rand([2, 9, 9, 2], 8);
    const before = tf.memory().numTensors;
    for (const o of [{ size: 3 }, { size: 3, stride: 2 }]) {
      extractPatches(x, o).dispose();
      patchesToImages(extractPatches(x, o), { ...o, height: 9, width: 9, average: true }).dispose();
    }
    // one patches tensor per loop iteration stays referenced by nobody but was disposed by tidy inside
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
    x.dispose();
  });

  it('argsortRows: ascending / descending order and top-k, as argsort and topk', () => {
    tf.tidy(() => {
      const key = tf.tensor2d([
        [0.3, 0.1, 0.9, 0.5],
        [0.2, 0.8, 0.4, 0.6],
      ]);
      expect(argsortRows(key).arraySync()).toEqual([
        [1, 0, 3, 2],
        [0, 2, 3, 1],
      ]);
      expect(argsortRows(key, { k: 2, descending: true }).arraySync()).toEqual([
        [2, 3],
        [1, 3],
      ]);
      // The argsort of a permutation is its inverse.
      const perm = argsortRows(key);
      const inv = argsortRows(perm);
      expect(inv.arraySync()).toEqual([
        [1, 0, 3, 2],
        [0, 3, 1, 2],
      ]);
      expect(() => argsortRows(key, { k: 5 })).toThrow(InvalidArgumentError);
      expect(() => argsortRows(tf.zeros([4]))).toThrow(ShapeError);
    });
  });
});
