/*
 * Float64 references of every kernel's formula, seeded inputs and the tolerance check. Plain TypeScript (no
 * TF.js, no test framework): the kernel checks (checks.ts) run them in Node on Dawn (lavapipe) and in
 * Chromium's WebGPU (SwiftShader, test/browser/).
 */
import type { AdamWKernelConstants } from '../src/index.js';

/** Seeded values in [lo, hi) (mulberry32), so a failure repeats. */
export function values(n: number, seed: number, lo = -4, hi = 4): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

let worstSeen = 0;
/** The largest relative error expectClose has seen since the last call (a check's report). */
export function takeWorstError(): number {
  const w = worstSeen;
  worstSeen = 0;
  return w;
}

/**
 * Each value within `rtol` of the float64 reference, relative to max(|ref|, floor): `floor` is the size
 * below which a value counts as zero for this quantity (rounding of the inputs alone moves it that much).
 * Throws naming the worst value.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  floor: number,
): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e) / Math.max(Math.abs(e), floor);
    if (!(err <= worst)) {
      worst = err;
      at = i;
      if (Number.isNaN(err)) break; // a NaN fails, whatever follows it
    }
  }
  worstSeen = Math.max(worstSeen, worst);
  if (!(worst <= rtol))
    throw new Error(`value ${at}: ${actual[at]} vs ${expected[at]} (relative error ${worst} > ${rtol})`);
}

/** erfc(z) for z ≥ 0 by Lentz's continued fraction (float64-exact where the series loses digits). */
function erfcContinued(z: number): number {
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
  return Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
}

export function erf(x: number): number {
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
  } else r = 1 - erfcContinued(z);
  return x < 0 ? -r : r;
}

/** Φ(x), the normal CDF; for x < −3√2 straight from erfc (1 − erf there loses relative accuracy). */
export function normalCdf(x: number): number {
  if (x < -3 * Math.SQRT2) return 0.5 * erfcContinued(-x / Math.SQRT2);
  return x < 0 ? 0.5 * (1 - erf(-x / Math.SQRT2)) : 0.5 * (1 + erf(x / Math.SQRT2));
}

const C = Math.sqrt(2 / Math.PI);
const A = 0.044715;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** GELU (erf: x·Φ(x); tanh: GPT-2's x·σ(2c(x + a·x³))) and its gradient dy·GELU'(x). */
export function geluRef(form: 'erf' | 'tanh', x: ArrayLike<number>, dy: ArrayLike<number>) {
  const y = Array.from(x, (v) => (form === 'erf' ? v * normalCdf(v) : v * sigmoid(2 * C * (v + A * v ** 3))));
  const dx = Array.from(x, (v, i) => {
    if (form === 'erf')
      return dy[i]! * (normalCdf(v) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI));
    const s = sigmoid(2 * C * (v + A * v ** 3));
    return dy[i]! * (s + v * s * (1 - s) * 2 * C * (1 + 3 * A * v * v));
  });
  return { y, dx };
}

/** LayerNorm over the last axis of (rows, cols): y, x̂, 1/σ per row, and the input gradient from dy. */
export function layerNormRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  cols: number,
  eps: number,
) {
  const y: number[] = [];
  const xhat: number[] = [];
  const rstd: number[] = [];
  const dx: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: cols }, (_, c) => x[r * cols + c]!);
    const mean = row.reduce((a, b) => a + b, 0) / cols;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
    const rs = 1 / Math.sqrt(variance + eps);
    rstd.push(rs);
    const xh = row.map((v) => (v - mean) * rs);
    xhat.push(...xh);
    y.push(...xh.map((v, c) => v * gamma[c]! + beta[c]!));
    const g = xh.map((_, c) => dy[r * cols + c]! * gamma[c]!);
    const mg = g.reduce((a, b) => a + b, 0) / cols;
    const mgx = g.reduce((a, b, c) => a + b * xh[c]!, 0) / cols;
    dx.push(...g.map((v, c) => rs * (v - mg - xh[c]! * mgx)));
  }
  return { y, xhat, rstd, dx };
}

/** log Σ exp of each row of (rows, cols). */
export function logSumExpRef(x: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c]! - m);
    out.push(m + Math.log(s));
  }
  return out;
}

/** softmax(z) of each row of `rows` rows of `cols`, times `rowScale(r)` (0 for a query that sees no key). */
export function softmaxRef(
  z: (r: number, c: number) => number,
  rows: number,
  cols: number,
  rowScale: (r: number) => number = () => 1,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const zr = Array.from({ length: cols }, (_, c) => z(r, c));
    const m = Math.max(...zr);
    const e = zr.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, c) => a + c, 0);
    out.push(...e.map((v) => (v / sum) * rowScale(r)));
  }
  return out;
}

/** The softmax's input gradient per row: scale · p · (dp − Σ dp·p). */
export function softmaxGradRef(
  dp: ArrayLike<number>,
  p: ArrayLike<number>,
  rows: number,
  cols: number,
  scale: number,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dp[r * cols + c]! * p[r * cols + c]!;
    for (let c = 0; c < cols; c++) out.push(scale * p[r * cols + c]! * (dp[r * cols + c]! - dot));
  }
  return out;
}

/** a (n, m, k) @ b (n, k, s) + bias (s). */
export function batchMatMulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias: ArrayLike<number>,
  [n, m, k, s]: readonly [number, number, number, number],
): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    for (let r = 0; r < m; r++)
      for (let c = 0; c < s; c++) {
        let acc = bias[c]!;
        for (let j = 0; j < k; j++) acc += a[(i * m + r) * k + j]! * b[(i * k + j) * s + c]!;
        out.push(acc);
      }
  return out;
}

/** One AdamW step (torch's update; the constants as core's optimizer computes them): new p, m and v. */
export function adamWRef(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  k: AdamWKernelConstants,
) {
  const n = p.length;
  const out = { p: new Array<number>(n), m: new Array<number>(n), v: new Array<number>(n) };
  for (let i = 0; i < n; i++) {
    const gi = g[i]! * k.gradScale;
    const mi = k.b1 * m[i]! + (1 - k.b1) * gi;
    const vi = k.b2 * v[i]! + (1 - k.b2) * gi * gi;
    out.m[i] = mi;
    out.v[i] = vi;
    out.p[i] = p[i]! * k.decayFactor - (k.stepSize * mi) / (Math.sqrt(vi) / k.sqrtBc2 + k.eps);
  }
  return out;
}

/**
 * Dropout's keep-mask as every backend makes it (backend-wasm's `keepMask`, copied as this package's oracle:
 * it may not depend on backend-wasm): element i is kept when the top 24 bits of pcg(pcg(i ^ key) + key) over
 * 2^24 reach rate (as a float32).
 */
export function keepMaskRef(n: number, rate: number, seed: number): Uint8Array {
  const pcg = (v: number) => {
    const s = (Math.imul(v, 747796405) + 2891336453) >>> 0;
    const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
    return ((w >>> 22) ^ w) >>> 0;
  };
  const key = pcg(((seed % 2 ** 32) >>> 0) ^ pcg(Math.floor(seed / 2 ** 32) + 2654435769));
  const threshold = Math.ceil(Math.fround(rate) * 2 ** 24);
  return Uint8Array.from({ length: n }, (_, i) => (pcg(pcg(i ^ key) + key) >>> 8 >= threshold ? 1 : 0));
}
