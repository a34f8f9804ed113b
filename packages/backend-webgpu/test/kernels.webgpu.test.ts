import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { webgpuKernels as k } from '../src/index.js';
import { dispatchesOf, expectClose, startWebGPU, values } from './webgpu.js';

/*
 * Every kernel against a float64 reference of its formula (TF.js's own ops on cpu compute the same
 * formulas in float32, so this is the stricter check), on shapes whose rows are not a multiple of 4 or of
 * the workgroup size, single rows, and GPT-2's 50,257-way rows; each counts its dispatches and leaks nothing.
 */

beforeAll(startWebGPU);

const erf = (x: number): number => {
  // Abramowitz–Stegun 7.1.26 is too coarse for a reference; this series/continued fraction is float64-exact.
  const z = Math.abs(x);
  let r: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc by Lentz's continued fraction
    let f = z;
    let c = z;
    let d = 0;
    for (let n = 1; n < 300; n++) {
      const a = n / 2;
      d = 1 / (z + a * d);
      c = z + a / c;
      const delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
  }
  return x < 0 ? -r : r;
};
const cdf = (x: number) => (x < 0 ? 0.5 * (1 - erf(-x / Math.SQRT2)) : 0.5 * (1 + erf(x / Math.SQRT2)));
// Φ(x) for x < 0 through erfc = 1 − erf loses relative accuracy; the continued fraction gives erfc directly.
const cdfTail = (x: number): number => {
  if (x >= -3 * Math.SQRT2) return cdf(x);
  const z = -x / Math.SQRT2;
  let f = z;
  let c = z;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const a = n / 2;
    d = 1 / (z + a * d);
    c = z + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (0.5 * Math.exp(-z * z)) / (f * Math.sqrt(Math.PI));
};
const C = Math.sqrt(2 / Math.PI);
const A = 0.044715;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

async function read(t: tf.Tensor | undefined): Promise<Float32Array> {
  if (!t) throw new Error('the kernel declined');
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

function noLeaks(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    const before = tf.memory().numTensors;
    await fn();
    expect(tf.memory().numTensors).toBe(before);
  };
}

describe('GELU', () => {
  const x = values(5 * 203, 1, -9, 9);
  const dy = values(x.length, 2, -2, 2);
  for (const form of ['erf', 'tanh'] as const) {
    it(
      `${form}: forward and gradient, one dispatch each`,
      noLeaks(async () => {
        const xt = tf.tensor2d(x, [5, 203]);
        const dyt = tf.tensor2d(dy, [5, 203]);
        const [y, n1] = dispatchesOf(() => k.gelu(form, xt));
        const [g, n2] = dispatchesOf(() => k.geluGrad(form, xt, dyt));
        expect([n1, n2]).toEqual([1, 1]);
        const yRef = Array.from(x, (v) =>
          form === 'erf' ? v * cdfTail(v) : v * sigmoid(2 * C * (v + A * v ** 3)),
        );
        const gRef = Array.from(x, (v, i) => {
          if (form === 'erf')
            return dy[i]! * (cdfTail(v) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI));
          const s = sigmoid(2 * C * (v + A * v ** 3));
          return dy[i]! * (s + v * s * (1 - s) * 2 * C * (1 + 3 * A * v * v));
        });
        // floor: GELU's slope is ≤ 1.13, so a float32 input's rounding (6e-8 relative) moves y by ~1e-6 at |x| = 9
        expectClose(await read(y), yRef, 1e-5, 1e-6);
        expectClose(await read(g), gRef, 1e-5, 1e-6);
        tf.dispose([xt, dyt]);
      }),
    );
  }
});

describe('LayerNorm', () => {
  for (const [rows, cols] of [
    [1, 5],
    [7, 771],
    [3, 4099],
  ] as const) {
    it(
      `(${rows}, ${cols}): [y, x̂, rstd] and the input gradient`,
      noLeaks(async () => {
        const x = values(rows * cols, rows + cols, -3, 5);
        const gamma = values(cols, 3, 0.5, 1.5);
        const beta = values(cols, 4, -1, 1);
        const dy = values(rows * cols, 5, -1, 1);
        const eps = 1e-5;
        const xt = tf.tensor3d(x, [1, rows, cols]);
        const gt = tf.tensor1d(gamma);
        const bt = tf.tensor1d(beta);
        const dyt = tf.tensor3d(dy, [1, rows, cols]);
        const [out, n1] = dispatchesOf(() => k.layerNorm(xt, gt, bt, eps));
        expect(n1).toBe(3);
        const [y, xhat, rstd] = out!;
        expect(rstd.shape).toEqual([1, rows, 1]);
        const yRef: number[] = [];
        const xhatRef: number[] = [];
        const rstdRef: number[] = [];
        const dxRef: number[] = [];
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
          const mean = row.reduce((a, b) => a + b, 0) / cols;
          const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
          const rs = 1 / Math.sqrt(variance + eps);
          rstdRef.push(rs);
          const xh = row.map((v) => (v - mean) * rs);
          xhatRef.push(...xh);
          yRef.push(...xh.map((v, c) => v * gamma[c]! + beta[c]!));
          const g = xh.map((_, c) => dy[r * cols + c]! * gamma[c]!);
          const mg = g.reduce((a, b) => a + b, 0) / cols;
          const mgx = g.reduce((a, b, c) => a + b * xh[c]!, 0) / cols;
          dxRef.push(...g.map((v, c) => rs * (v - mg - xh[c]! * mgx)));
        }
        const [dx, n2] = dispatchesOf(() => k.layerNormGrad(dyt, xhat, gt, rstd));
        expect(n2).toBe(1);
        // floor 0.01: x̂ and y are O(1), and a float32 input's rounding alone moves them by ~1e-7
        expectClose(await read(y), yRef, 1e-5, 1e-2);
        expectClose(await read(xhat), xhatRef, 1e-5, 1e-2);
        expectClose(await read(rstd), rstdRef, 1e-5, 0);
        expectClose(await read(dx), dxRef, 1e-5, 1e-2);
        tf.dispose([xt, gt, bt, dyt]);
      }),
    );
  }
});

describe('dropout', () => {
  it(
    'the device mask keeps 1 − rate, is fixed by the seed, and neighbours are independent',
    noLeaks(async () => {
      const shape = [997, 1003];
      for (const rate of [0.1, 0.5]) {
        const [m1, n] = dispatchesOf(() => k.dropoutMask(shape, rate, 1234));
        expect(n).toBe(1);
        expect(m1!.dtype).toBe('bool');
        const a = await read(m1);
        const b = await read(k.dropoutMask(shape, rate, 1234));
        const c = await read(k.dropoutMask(shape, rate, 2 ** 40 + 1234));
        expect(Array.from(a)).toEqual(Array.from(b));
        const size = a.length;
        const p = 1 - rate;
        const sd = Math.sqrt((p * (1 - p)) / size);
        let kept = 0;
        let both = 0;
        let differ = 0;
        for (let i = 0; i < size; i++) {
          kept += a[i]!;
          if (i > 0) both += a[i]! * a[i - 1]!;
          differ += a[i] === c[i] ? 0 : 1;
        }
        expect(Math.abs(kept / size - p)).toBeLessThan(5 * sd);
        expect(Math.abs(both / (size - 1) - p * p)).toBeLessThan(0.01);
        // another seed: a fresh draw, not a shift of the same stream
        expect(Math.abs(differ / size - 2 * p * (1 - p))).toBeLessThan(0.01);
      }
    }),
  );

  it(
    'applies keep ? x · scale : 0 exactly',
    noLeaks(async () => {
      const x = values(3 * 101, 7);
      const xt = tf.tensor2d(x, [3, 101]);
      const keep = k.dropoutMask([3, 101], 0.3, 9)!;
      const mask = await keep.data();
      const [y, n] = dispatchesOf(() => k.dropout(xt, keep, 1 / 0.7));
      expect(n).toBe(1);
      const ref = Array.from(x, (v, i) => (mask[i] ? Math.fround(v * Math.fround(1 / 0.7)) : 0));
      expect(Array.from(await read(y))).toEqual(ref);
      tf.dispose([xt, keep]);
    }),
  );
});

describe('cross-entropy pieces', () => {
  for (const [n, v] of [
    [1, 7],
    [5, 301],
    [3, 50257],
  ] as const) {
    it(
      `logSumExp and expShift over (${n}, ${v})`,
      noLeaks(async () => {
        const x = values(n * v, n + v, -20, 12);
        const xt = tf.tensor2d(x, [n, v]);
        const [lse, n1] = dispatchesOf(() => k.logSumExp(xt));
        expect(n1).toBe(1);
        expect(lse!.shape).toEqual([n, 1]);
        const ref: number[] = [];
        for (let r = 0; r < n; r++) {
          const row = Array.from(x.subarray(r * v, (r + 1) * v));
          const m = Math.max(...row);
          ref.push(m + Math.log(row.reduce((a, b) => a + Math.exp(b - m), 0)));
        }
        const lseValues = await lse!.data();
        expectClose(lseValues, ref, 1e-5, 0);
        const shift = tf.tensor2d(
          ref.map((l) => l - 0.5),
          [n, 1],
        );
        const [e, n2] = dispatchesOf(() => k.expShift(xt, shift));
        expect(n2).toBe(1);
        const eRef = Array.from(x, (val, i) => Math.exp(val - Math.fround(ref[Math.floor(i / v)]! - 0.5)));
        // purely relative: e^x for a float32 x of size 20 is known to ~2e-6 relative
        expectClose(await read(e), eRef, 1e-5, 1e-30);
        tf.dispose([xt, lse!, shift]);
      }),
    );
  }
});

describe('reductions', () => {
  for (const size of [1, 1000, 65536, 65537, 3_000_001]) {
    it(
      `sumSquares of ${size} values`,
      noLeaks(async () => {
        const x = values(size, size, -2, 2);
        const xt = tf.tensor1d(x);
        const [s, n] = dispatchesOf(() => k.sumSquares(xt));
        expect(n).toBe(size <= 65536 ? 1 : 2);
        expect(s!.shape).toEqual([]);
        const ref = x.reduce((a, b) => a + b * b, 0);
        expectClose(await read(s), [ref], 1e-5, 0);
        xt.dispose();
      }),
    );
  }

  for (const shape of [
    [1, 5],
    [1023, 771],
    [2, 3, 70],
    [4097, 3],
  ]) {
    it(
      `sumLeading of [${shape}]`,
      noLeaks(async () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const d = shape[shape.length - 1]!;
        const x = values(size, d, -1, 1);
        const xt = tf.tensor(x, shape);
        const [s, n] = dispatchesOf(() => k.sumLeading(xt));
        expect(n).toBe(1);
        const ref = new Array<number>(d).fill(0);
        const abs = new Array<number>(d).fill(0);
        x.forEach((v, i) => {
          ref[i % d]! += v;
          abs[i % d]! += Math.abs(v);
        });
        // relative to Σ|x| of the column: a sum of mixed signs is only known to float32's rounding of its terms
        const got = await read(s);
        for (let c = 0; c < d; c++) expect(Math.abs(got[c]! - ref[c]!)).toBeLessThanOrEqual(1e-6 * abs[c]!);
        xt.dispose();
      }),
    );
  }
});

describe('attention softmax', () => {
  const [B, H, T, S] = [2, 3, 5, 67];
  const scale = 0.125;
  // Probabilities are compared relative to max(p, 1e-4): WGSL lets exp be off by 3 + 2·|x| ULP, so a p of
  // 1e-6 (x ≈ −14) is only known to ~2e-6 relative on a conforming device, whatever the kernel does.
  const FLOOR = 1e-4;

  function reference(
    scores: Float32Array,
    biasAt: (b: number, h: number, t: number, s: number) => number,
    rowHasKeys: (b: number, t: number) => number,
  ): number[] {
    const out: number[] = [];
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < T; t++) {
          const base = ((b * H + h) * T + t) * S;
          const z = Array.from({ length: S }, (_, s) => scores[base + s]! * scale + biasAt(b, h, t, s));
          const m = Math.max(...z);
          const e = z.map((v) => Math.exp(v - m));
          const sum = e.reduce((a, c) => a + c, 0);
          out.push(...e.map((v) => (v / sum) * rowHasKeys(b, t)));
        }
    return out;
  }

  it(
    'softmax(scores · scale + bias) · rowHasKeys with a padding bias (B, 1, 1, S), dropout and its gradient',
    noLeaks(async () => {
      const scores = values(B * H * T * S, 11, -30, 30);
      const pad = Array.from({ length: B * S }, (_, i) =>
        i % S >= S - 3 * (Math.floor(i / S) + 1) ? -1e9 : 0,
      );
      // batch 1, query 2 sees no key: its row is zeros, not a uniform average
      const rows = Array.from({ length: B * T }, (_, i) => (i === T + 2 ? 0 : 1));
      const st = tf.tensor4d(scores, [B, H, T, S]);
      const bias = tf.tensor4d(pad, [B, 1, 1, S]);
      // as attentionBias makes it: a cast of a bool, which on WebGPU keeps the bool's i32 buffer
      const rowHasKeys = tf.tidy(() => tf.tensor4d(rows, [B, 1, T, 1], 'bool').cast('float32'));
      const ref = reference(
        scores,
        (b, _h, _t, s) => pad[b * S + s]!,
        (b, t) => rows[b * T + t]!,
      );
      const [plain, n0] = dispatchesOf(() => k.attentionSoftmax(st, scale, bias, rowHasKeys));
      expect(n0).toBe(1);
      expect(plain!.dropped).toBe(plain!.probs);
      expectClose(await read(plain!.probs), ref, 1e-5, FLOOR);

      const keepScale = 1 / 0.9;
      const keep = k.dropoutMask([B, H, T, S], 0.1, 5)!;
      const mask = await keep.data();
      const [out, n1] = dispatchesOf(() => k.attentionSoftmax(st, scale, bias, rowHasKeys, keep, keepScale));
      expect(n1).toBe(2);
      const probs = await out!.probs.data();
      expectClose(probs, ref, 1e-5, FLOOR);
      expectClose(
        await read(out!.dropped),
        ref.map((p, i) => (mask[i] ? p * keepScale : 0)),
        1e-5,
        FLOOR,
      );

      const dy = values(B * H * T * S, 12, -1, 1);
      const dyt = tf.tensor4d(dy, [B, H, T, S]);
      for (const withKeep of [false, true]) {
        const [g, n2] = dispatchesOf(() =>
          withKeep
            ? k.attentionSoftmaxGrad(dyt, out!.probs, scale, keep, keepScale)
            : k.attentionSoftmaxGrad(dyt, out!.probs, scale),
        );
        expect(n2).toBe(1);
        const gRef: number[] = [];
        for (let r = 0; r < B * H * T; r++) {
          const dp = Array.from({ length: S }, (_, s) => {
            const i = r * S + s;
            return withKeep ? (mask[i] ? dy[i]! * keepScale : 0) : dy[i]!;
          });
          const p = Array.from(probs.subarray(r * S, (r + 1) * S));
          const dot = dp.reduce((a, v, s) => a + v * p[s]!, 0);
          gRef.push(...p.map((pv, s) => scale * pv * (dp[s]! - dot)));
        }
        expectClose(await read(g), gRef, 1e-5, FLOOR);
      }
      tf.dispose([st, bias, rowHasKeys, keep, out!.probs, dyt]);
    }),
  );

  it(
    'a causal (T, S) bias and 3-D scores; bias broadcast on any axis',
    noLeaks(async () => {
      const scores = values(H * T * S, 13, -5, 5);
      const causal = Array.from({ length: T * S }, (_, i) => (i % S <= Math.floor(i / S) + S - T ? 0 : -1e9));
      const st = tf.tensor3d(scores, [H, T, S]);
      const bias = tf.tensor2d(causal, [T, S]);
      const ref: number[] = [];
      for (let h = 0; h < H; h++)
        for (let t = 0; t < T; t++) {
          const z = Array.from(
            { length: S },
            (_, s) => scores[(h * T + t) * S + s]! * scale + causal[t * S + s]!,
          );
          const m = Math.max(...z);
          const e = z.map((v) => Math.exp(v - m));
          const sum = e.reduce((a, c) => a + c, 0);
          ref.push(...e.map((v) => v / sum));
        }
      const out = k.attentionSoftmax(st, scale, bias);
      expectClose(await read(out!.probs), ref, 1e-5, FLOOR);
      // a bias that does not broadcast is declined (core then runs TF.js's ops, which raise the error)
      const bad = tf.zeros([T + 1, S]);
      expect(k.attentionSoftmax(st, scale, bad)).toBeUndefined();
      tf.dispose([st, bias, bad]);
    }),
  );
});

describe('batchMatMul', () => {
  it(
    'either operand transposed in place, plus a bias, one dispatch',
    noLeaks(async () => {
      const [n, m, kk, s] = [2, 5, 67, 9];
      const a = values(n * m * kk, 21);
      const b = values(n * kk * s, 22);
      const bias = values(s, 23);
      const ref: number[] = [];
      for (let i = 0; i < n; i++)
        for (let r = 0; r < m; r++)
          for (let c = 0; c < s; c++) {
            let acc = bias[c]!;
            for (let j = 0; j < kk; j++) acc += a[(i * m + r) * kk + j]! * b[(i * kk + j) * s + c]!;
            ref.push(acc);
          }
      const at = tf.tensor3d(a, [n, m, kk]);
      const bt = tf.tensor3d(b, [n, kk, s]);
      const biasT = tf.tensor1d(bias);
      // the same product from transposed copies: aᵀ (N, K, M) read transposed, bᵀ (N, S, K) read transposed
      const aT = tf.transpose(at, [0, 2, 1]) as tf.Tensor3D;
      const bT = tf.transpose(bt, [0, 2, 1]) as tf.Tensor3D;
      for (const [x, y, ta, tb] of [
        [at, bt, false, false],
        [aT, bt, true, false],
        [at, bT, false, true],
        [aT, bT, true, true],
      ] as const) {
        const [out, count] = dispatchesOf(() => k.batchMatMul(x, y, ta, tb, biasT));
        expect(count).toBe(1);
        // floor: a sum of 67 products of O(4) terms is known to ~1e-5 absolute in float32
        expectClose(await read(out), ref, 1e-5, 1);
      }
      tf.dispose([at, bt, biasT, aT, bT]);
    }),
  );
});
