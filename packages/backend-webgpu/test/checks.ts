import * as tf from '@tensorflow/tfjs';
import { adamWDevice, webgpuKernels as k, sumSquaresInBlocks } from '../src/index.js';
import { assertAtMost, assertEqual, dispatchesOf, read } from './harness.js';
import {
  adamWRef,
  batchMatMulRef,
  expectClose,
  geluRef,
  keepMaskRef,
  layerNormRef,
  logSumExpRef,
  softmaxGradRef,
  softmaxRef,
  values,
} from './reference.js';

/*
 * Every kernel against a float64 reference of its formula (TF.js's own ops on cpu compute the same
 * formulas in float32, so this is the stricter check), on shapes whose rows are not a multiple of 4 or of
 * the workgroup size, single rows, and GPT-2's 50,257-way rows; each asserts its dispatch count, so a kernel
 * that declined fails. The same checks run on Dawn in Node (kernels.webgpu.test.ts, lavapipe) and in
 * Chromium's WebGPU (test/browser/, SwiftShader); the runner adds error scopes and a leak check (runCheck).
 */

export interface KernelCheck {
  group: string;
  name: string;
  run: () => Promise<void>;
}

export const kernelChecks: KernelCheck[] = [];
const check = (group: string, name: string, run: () => Promise<void>) =>
  kernelChecks.push({ group, name, run });

for (const form of ['erf', 'tanh'] as const) {
  check('GELU', `${form}: forward and gradient, one dispatch each`, async () => {
    const x = values(5 * 203, 1, -9, 9);
    const dy = values(x.length, 2, -2, 2);
    const xt = tf.tensor2d(x, [5, 203]);
    const dyt = tf.tensor2d(dy, [5, 203]);
    const [y, n1] = dispatchesOf(() => k.gelu(form, xt));
    const [g, n2] = dispatchesOf(() => k.geluGrad(form, xt, dyt));
    assertEqual([n1, n2], [1, 1], 'dispatches');
    const ref = geluRef(form, x, dy);
    // floor: GELU's slope is ≤ 1.13, so a float32 input's rounding (6e-8 relative) moves y by ~1e-6 at |x| = 9
    expectClose(await read(y), ref.y, 1e-5, 1e-6);
    expectClose(await read(g), ref.dx, 1e-5, 1e-6);
    tf.dispose([xt, dyt]);
  });
}

for (const [rows, cols] of [
  [1, 5],
  [7, 771],
  [3, 4099],
] as const) {
  check('LayerNorm', `(${rows}, ${cols}): [y, x̂, rstd] and the input gradient`, async () => {
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
    assertEqual(n1, 3, 'forward dispatches');
    const [y, xhat, rstd] = out!;
    assertEqual(rstd.shape, [1, rows, 1], 'rstd shape');
    const ref = layerNormRef(x, gamma, beta, dy, rows, cols, eps);
    const [dx, n2] = dispatchesOf(() => k.layerNormGrad(dyt, xhat, gt, rstd));
    assertEqual(n2, 1, 'gradient dispatches');
    // floor 0.01: x̂ and y are O(1), and a float32 input's rounding alone moves them by ~1e-7
    expectClose(await read(y), ref.y, 1e-5, 1e-2);
    expectClose(await read(xhat), ref.xhat, 1e-5, 1e-2);
    expectClose(await read(rstd), ref.rstd, 1e-5, 0);
    expectClose(await read(dx), ref.dx, 1e-5, 1e-2);
    tf.dispose([xt, gt, bt, dyt]);
  });
}

check(
  'dropout',
  "the device mask keeps 1 − rate, is fixed by the seed, equals every backend's, and neighbours are independent",
  async () => {
    const shape = [997, 1003];
    for (const rate of [0.1, 0.5]) {
      const [m1, n] = dispatchesOf(() => k.dropoutMask(shape, rate, 1234));
      assertEqual(n, 1, 'dispatches');
      assertEqual(m1?.dtype, 'bool', 'mask dtype');
      const a = await read(m1);
      const b = await read(k.dropoutMask(shape, rate, 1234));
      const c = await read(k.dropoutMask(shape, rate, 2 ** 40 + 1234));
      assertEqual(Array.from(a), Array.from(b), 'the same seed, the same mask');
      const ref = keepMaskRef(a.length, rate, 1234);
      assertEqual(
        Array.from(a).findIndex((x, i) => x !== ref[i]),
        -1,
        'the mask of every backend (keepMask)',
      );
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
      assertAtMost(Math.abs(kept / size - p), 5 * sd, `rate ${rate}: |kept fraction − keep rate|`);
      assertAtMost(Math.abs(both / (size - 1) - p * p), 0.01, `rate ${rate}: neighbours kept together − p²`);
      // another seed: a fresh draw, not a shift of the same stream
      assertAtMost(
        Math.abs(differ / size - 2 * p * (1 - p)),
        0.01,
        `rate ${rate}: another seed's mask differs`,
      );
    }
  },
);

check('dropout', 'applies keep ? x · scale : 0 exactly', async () => {
  const x = values(3 * 101, 7);
  const xt = tf.tensor2d(x, [3, 101]);
  const keep = k.dropoutMask([3, 101], 0.3, 9)!;
  const mask = await keep.data();
  const [y, n] = dispatchesOf(() => k.dropout(xt, keep, 1 / 0.7));
  assertEqual(n, 1, 'dispatches');
  const ref = Array.from(x, (v, i) => (mask[i] ? Math.fround(v * Math.fround(1 / 0.7)) : 0));
  assertEqual(Array.from(await read(y)), ref, 'dropped values');
  tf.dispose([xt, keep]);
});

for (const [n, v] of [
  [1, 7],
  [5, 301],
  [3, 50257],
] as const) {
  check('cross-entropy pieces', `logSumExp and expShift over (${n}, ${v})`, async () => {
    const x = values(n * v, n + v, -20, 12);
    const xt = tf.tensor2d(x, [n, v]);
    const [lse, n1] = dispatchesOf(() => k.logSumExp(xt));
    assertEqual(n1, 1, 'logSumExp dispatches');
    assertEqual(lse?.shape, [n, 1], 'logSumExp shape');
    const ref = logSumExpRef(x, n, v);
    expectClose(await read(lse), ref, 1e-5, 0);
    const shift = tf.tensor2d(
      ref.map((l) => l - 0.5),
      [n, 1],
    );
    const [e, n2] = dispatchesOf(() => k.expShift(xt, shift));
    assertEqual(n2, 1, 'expShift dispatches');
    const eRef = Array.from(x, (val, i) => Math.exp(val - Math.fround(ref[Math.floor(i / v)]! - 0.5)));
    // purely relative: e^x for a float32 x of size 20 is known to ~2e-6 relative
    expectClose(await read(e), eRef, 1e-5, 1e-30);
    tf.dispose([xt, shift]);
  });
}

for (const size of [1, 1000, 65536, 65537, 3_000_001]) {
  check('reductions', `sumSquares of ${size} values`, async () => {
    const x = values(size, size, -2, 2);
    const xt = tf.tensor1d(x);
    const [s, n] = dispatchesOf(() => k.sumSquares(xt));
    assertEqual(n, size <= 65536 ? 1 : 2, 'dispatches');
    assertEqual(s?.shape, [], 'shape');
    const ref = x.reduce((a, b) => a + b * b, 0);
    expectClose(await read(s), [ref], 1e-5, 0);
    xt.dispose();
  });
}

check('reductions', 'sumSquares over a forced 4 KiB binding: 98 blocks, the last short', async () => {
  const size = 100_003;
  const x = values(size, 31, -2, 2);
  const xt = tf.tensor1d(x);
  const [s, n] = dispatchesOf(() => sumSquaresInBlocks(xt, 4096));
  // one dispatch per 1,024-value block, then TF.js's sum of the partials
  assertAtMost(Math.ceil(size / 1024), n, 'dispatches (at least one per block)');
  assertEqual(sumSquaresInBlocks(xt), undefined, 'a tensor within the binding is left to TF.js');
  const ref = x.reduce((a, b) => a + b * b, 0);
  expectClose(await read(s), [ref], 1e-5, 0);
  xt.dispose();
});

for (const shape of [
  [1, 5],
  [1023, 771],
  [2, 3, 70],
  [4097, 3],
]) {
  check('reductions', `sumLeading of [${shape}]`, async () => {
    const size = shape.reduce((a, b) => a * b, 1);
    const d = shape[shape.length - 1]!;
    const x = values(size, d, -1, 1);
    const xt = tf.tensor(x, shape);
    const [s, n] = dispatchesOf(() => k.sumLeading(xt));
    assertEqual(n, 1, 'dispatches');
    const ref = new Array<number>(d).fill(0);
    const abs = new Array<number>(d).fill(0);
    x.forEach((v, i) => {
      ref[i % d]! += v;
      abs[i % d]! += Math.abs(v);
    });
    // relative to Σ|x| of the column: a sum of mixed signs is only known to float32's rounding of its terms
    const got = await read(s);
    for (let c = 0; c < d; c++)
      assertAtMost(Math.abs(got[c]! - ref[c]!), 1e-6 * abs[c]!, `column ${c} error`);
    xt.dispose();
  });
}

{
  const [B, H, T, S] = [2, 3, 5, 67];
  const scale = 0.125;
  // Probabilities are compared relative to max(p, 1e-4): WGSL lets exp be off by 3 + 2·|x| ULP, so a p of
  // 1e-6 (x ≈ −14) is only known to ~2e-6 relative on a conforming device, whatever the kernel does.
  const FLOOR = 1e-4;

  check(
    'attention softmax',
    'softmax(scores · scale + bias) · rowHasKeys with a padding bias (B, 1, 1, S), dropout and its gradient',
    async () => {
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
      // row r of (B·H·T): batch ⌊r / (H·T)⌋, query r mod T
      const ref = softmaxRef(
        (r, s) => scores[r * S + s]! * scale + pad[Math.floor(r / (H * T)) * S + s]!,
        B * H * T,
        S,
        (r) => rows[Math.floor(r / (H * T)) * T + (r % T)]!,
      );
      const [plain, n0] = dispatchesOf(() => k.attentionSoftmax(st, scale, bias, rowHasKeys));
      assertEqual(n0, 1, 'dispatches without dropout');
      assertEqual(plain?.dropped === plain?.probs, true, 'without dropout, dropped is probs');
      expectClose(await read(plain?.probs), ref, 1e-5, FLOOR);

      const keepScale = 1 / 0.9;
      const keep = k.dropoutMask([B, H, T, S], 0.1, 5)!;
      const mask = await keep.data();
      const [out, n1] = dispatchesOf(() => k.attentionSoftmax(st, scale, bias, rowHasKeys, keep, keepScale));
      assertEqual(n1, 2, 'dispatches with dropout');
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
        assertEqual(n2, 1, 'gradient dispatches');
        const dp = Array.from(dy, (v, i) => (withKeep ? (mask[i] ? v * keepScale : 0) : v));
        expectClose(await read(g), softmaxGradRef(dp, probs, B * H * T, S, scale), 1e-5, FLOOR);
      }
      tf.dispose([st, bias, rowHasKeys, keep, out!.probs, dyt]);
    },
  );

  check('attention softmax', 'a causal (T, S) bias and 3-D scores; bias broadcast on any axis', async () => {
    const scores = values(H * T * S, 13, -5, 5);
    const causal = Array.from({ length: T * S }, (_, i) => (i % S <= Math.floor(i / S) + S - T ? 0 : -1e9));
    const st = tf.tensor3d(scores, [H, T, S]);
    const bias = tf.tensor2d(causal, [T, S]);
    const ref = softmaxRef((r, s) => scores[r * S + s]! * scale + causal[(r % T) * S + s]!, H * T, S);
    const [out, n] = dispatchesOf(() => k.attentionSoftmax(st, scale, bias));
    assertEqual(n, 1, 'dispatches');
    expectClose(await read(out?.probs), ref, 1e-5, FLOOR);
    // a bias that does not broadcast is declined (core then runs TF.js's ops, which raise the error)
    const bad = tf.zeros([T + 1, S]);
    assertEqual(k.attentionSoftmax(st, scale, bad), undefined, 'a bias that does not broadcast');
    tf.dispose([st, bias, bad]);
  });
}

check('batchMatMul', 'either operand transposed in place, plus a bias, one dispatch', async () => {
  const dims = [2, 5, 67, 9] as const;
  const [n, m, kk, s] = dims;
  const a = values(n * m * kk, 21);
  const b = values(n * kk * s, 22);
  const bias = values(s, 23);
  const ref = batchMatMulRef(a, b, bias, dims);
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
    assertEqual(count, 1, `dispatches (transposeA ${ta}, transposeB ${tb})`);
    // floor: a sum of 67 products of O(4) terms is known to ~1e-5 absolute in float32
    expectClose(await read(out), ref, 1e-5, 1);
  }
  tf.dispose([at, bt, biasT, aT, bT]);
});

check(
  'AdamW',
  'one dispatch per parameter; a forced 1 KiB binding gives the same bits in blocks',
  async () => {
    const shape = [1000, 37];
    const n = 1000 * 37;
    const p0 = values(n, 41, -1, 1);
    const g0 = values(n, 42, -0.3, 0.3);
    const m0 = values(n, 43, -0.1, 0.1);
    const v0 = values(n, 44, 0, 0.01);
    // the second step's constants, a clipping scale and weight decay: every term of the update is exercised
    const constants = {
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      stepSize: 1e-3 / (1 - 0.9 ** 2),
      sqrtBc2: Math.sqrt(1 - 0.999 ** 2),
      gradScale: 0.75,
      decayFactor: 1 - 1e-3 * 0.01,
    };
    const step = async (maxBindingBytes?: number) => {
      const [p, m, v] = [p0, m0, v0].map((a) => {
        const init = tf.tensor(a, shape);
        const variable = tf.variable(init, false);
        init.dispose();
        return variable;
      });
      const g = tf.tensor(g0, shape);
      const [ran, dispatches] = dispatchesOf(() =>
        adamWDevice(p!, g, m!, v!, constants, maxBindingBytes ? { maxBindingBytes } : {}),
      );
      assertEqual(ran, true, 'the kernel ran');
      const out = await Promise.all(
        [p!, m!, v!].map(async (t) => Array.from((await t.data()) as Float32Array)),
      );
      tf.dispose([p!, m!, v!, g]);
      return { out, dispatches };
    };
    const whole = await step();
    assertEqual(whole.dispatches, 1, 'dispatches (one binding)');
    const ref = adamWRef(p0, g0, m0, v0, constants);
    const [p, m, v] = whole.out;
    // floors: p and m are O(0.1-1), v O(1e-3); below those a float32 input's rounding is the error
    expectClose(p!, ref.p, 1e-5, 1e-2);
    expectClose(m!, ref.m, 1e-5, 1e-2);
    expectClose(v!, ref.v, 1e-5, 1e-4);
    const blocked = await step(1024);
    assertEqual(blocked.dispatches, Math.ceil(n / 256), 'dispatches (256-value blocks)');
    for (let i = 0; i < 3; i++) assertEqual(blocked.out[i], whole.out[i], `blocked == whole (tensor ${i})`);
  },
);
