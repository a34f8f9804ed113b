import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  BATCH_MATMUL as WASM_BATCH_MATMUL,
  TRANSPOSE_2D as WASM_TRANSPOSE_2D,
} from '@transformer-kit/backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { wasmRuntime } from '../src/backend/wasm-runtime.js';
import { batchMatMul, initBackend, matMul, matMulTransposed, sumLeading, transpose2d } from '../src/index.js';

// core's SIMD kernel against TF.js's own BatchMatMul (a scalar loop on wasm, but exact).
const run = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) =>
  tf.engine().runKernel(WASM_BATCH_MATMUL, { a, b }, { transposeA, transposeB }) as tf.Tensor;
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0]!);
/** Largest difference relative to the reference's largest magnitude. */
const relDiff = (a: tf.Tensor, ref: tf.Tensor) =>
  maxDiff(a, ref) /
  Math.max(
    1,
    tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]!),
  );
const heap = () =>
  (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;

describe("core's wasm kernels", () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is registered on wasm (SIMD) and used by batchMatMul', () => {
    expect(wasmRuntime.active).toBe(true);
    const a = tf.ones([2, 4, 3]);
    const b = tf.ones([2, 3, 8]);
    const profileKernels: string[] = [];
    return tf
      .profile(() => batchMatMul(a, b))
      .then((p) => {
        for (const k of p.kernels) profileKernels.push(k.name);
        expect(profileKernels).toContain(WASM_BATCH_MATMUL);
        expect(profileKernels).not.toContain('BatchMatMul');
      });
  });

  it('equals tf.matMul for every flag pair and for sizes off the 4x8 tile', () => {
    // (batch, M, K, N): tile-aligned, ragged M and N, single row / column / inner dim.
    const shapes = [
      [3, 8, 16, 8],
      [2, 5, 7, 9],
      [1, 1, 32, 64],
      [4, 64, 1, 3],
      [2, 13, 64, 1],
      [64, 64, 32, 64],
    ] as const;
    let seed = 1;
    for (const [n, m, k, s] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          tf.tidy(() => {
            const a = tf.randomNormal(tA ? [n, k, m] : [n, m, k], 0, 1, 'float32', seed++);
            const b = tf.randomNormal(tB ? [n, s, k] : [n, k, s], 0, 1, 'float32', seed++);
            const got = run(a, b, tA, tB);
            expect(got.shape).toEqual([n, m, s]);
            expect(maxDiff(got, tf.matMul(a, b, tA, tB))).toBeLessThan(1e-4);
          });
        }
      }
    }
  });

  it('equals tf.matMul across the block boundaries (rows 128, depth 256, columns 1024) and off the tile', () => {
    // (batch, M, K, N) from 1, 3, 5, 129, 257, 300, 1030: ragged everywhere, every block size crossed,
    // and 1-3 rows (the matrix-vector paths) for every flag pair.
    const shapes = [
      [1, 1, 1, 1],
      [1, 3, 5, 1030],
      [1, 5, 1030, 3],
      [1, 129, 257, 300],
      [1, 257, 300, 129],
      [1, 300, 129, 1030],
      [1, 1030, 257, 5],
      [1, 1, 1030, 257],
      [1, 2, 300, 129],
      [2, 3, 257, 1030],
      [3, 129, 5, 257],
      [5, 1, 129, 300],
    ] as const;
    let seed = 100;
    for (const [n, m, k, s] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          tf.tidy(() => {
            const a = tf.randomNormal(tA ? [n, k, m] : [n, m, k], 0, 1, 'float32', seed++);
            const b = tf.randomNormal(tB ? [n, s, k] : [n, k, s], 0, 1, 'float32', seed++);
            const got = run(a, b, tA, tB);
            expect(got.shape).toEqual([n, m, s]);
            const err = relDiff(got, tf.matMul(a, b, tA, tB));
            expect(err, `${[n, m, k, s]} tA=${tA} tB=${tB}`).toBeLessThan(1e-5);
          });
        }
      }
    }
  });

  it('adds the bias in every path: blocked (over several depth blocks), and 1-3 rows both layouts', () => {
    let seed = 300;
    for (const [n, m, k, s] of [
      [2, 9, 300, 1030],
      [1, 129, 513, 17],
      [3, 1, 257, 33],
      [2, 3, 5, 1030],
    ] as const) {
      for (const tB of [false, true]) {
        tf.tidy(() => {
          const a = tf.randomNormal([n, m, k], 0, 1, 'float32', seed++);
          const b = tf.randomNormal(tB ? [n, s, k] : [n, k, s], 0, 1, 'float32', seed++);
          const bias = tf.randomNormal([s], 0, 1, 'float32', seed++);
          const got = tf
            .engine()
            .runKernel(WASM_BATCH_MATMUL, { a, b, bias }, { transposeA: false, transposeB: tB }) as tf.Tensor;
          expect(relDiff(got, tf.matMul(a, b, false, tB).add(bias))).toBeLessThan(1e-5);
        });
      }
    }
  });

  it('one-row products (decoding) run on the kernel and equal tf.matMul, with gradients', async () => {
    const x = tf.randomNormal([1, 768], 0, 1, 'float32', 41);
    const w = tf.randomNormal([768, 2304], 0, 0.05, 'float32', 42);
    const table = tf.randomNormal([1001, 768], 0, 0.05, 'float32', 43);
    const p = await tf.profile(() =>
      tf.dispose([
        matMul(x as tf.Tensor2D, w as tf.Tensor2D),
        matMulTransposed(x as tf.Tensor2D, table as tf.Tensor2D),
      ]),
    );
    const names = p.kernels.map((k) => k.name);
    expect(names.filter((k) => k === WASM_BATCH_MATMUL)).toHaveLength(2);
    expect(names).not.toContain('_FusedMatMul');
    expect(names).not.toContain('BatchMatMul');
    expect(relDiff(matMul(x as tf.Tensor2D, w as tf.Tensor2D), tf.matMul(x, w))).toBeLessThan(1e-5);
    expect(
      relDiff(matMulTransposed(x as tf.Tensor2D, table as tf.Tensor2D), tf.matMul(x, table, false, true)),
    ).toBeLessThan(1e-5);
    const q = tf.randomNormal([2, 3, 1, 64], 0, 1, 'float32', 44);
    const keys = tf.randomNormal([2, 3, 37, 64], 0, 1, 'float32', 45);
    const probs = tf.randomNormal([2, 3, 1, 37], 0, 1, 'float32', 46);
    expect(relDiff(batchMatMul(q, keys, true), tf.matMul(q, keys, false, true))).toBeLessThan(1e-5);
    expect(relDiff(batchMatMul(probs, keys), tf.matMul(probs, keys))).toBeLessThan(1e-5);
    const fast = tf.grads((u, v) => batchMatMul(u, v, true).square().sum())([q, keys]);
    const ref = tf.grads((u, v) => tf.matMul(u, v, false, true).square().sum())([q, keys]);
    fast.forEach((g, i) => {
      expect(relDiff(g, ref[i]!)).toBeLessThan(1e-5);
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++)
      tf.dispose(tf.tidy(() => tf.grads((u, v) => matMul(u as tf.Tensor2D, v as tf.Tensor2D).sum())([x, w])));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, table, q, keys, probs, ...fast, ...ref]);
  });

  it('big products do not grow the heap in steady state', () => {
    // (That the module imports its memory and defines none: backend-wasm's build.test.ts.)
    const a = tf.randomNormal([1, 512, 768]);
    const b = tf.randomNormal([1, 768, 2048]);
    const step = () =>
      tf.dispose([
        run(a, b, false, false),
        run(b, a, true, true),
        run(a, b.reshape([1, 2048, 768]), false, true),
      ]);
    step();
    const bytes = heap().buffer.byteLength;
    for (let i = 0; i < 3; i++) step();
    expect(heap().buffer.byteLength).toBe(bytes);
    tf.dispose([a, b]);
  });

  it('stays correct when the heap grows between calls and inside one (its output allocation)', () => {
    const a = tf.randomNormal([2, 37, 300], 0, 1, 'float32', 51);
    const b = tf.randomNormal([2, 300, 45], 0, 1, 'float32', 52);
    const ref = tf.matMul(a, b);
    const before = heap().buffer.byteLength;
    // An allocation bigger than the heap: it must grow; a and b now lie in a grown (new) buffer.
    const big = tf.zeros([before / 4 + 1024]);
    expect(heap().buffer.byteLength).toBeGreaterThan(before);
    expect(relDiff(run(a, b, false, false), ref)).toBeLessThan(1e-5);
    big.dispose();
    // The product's own output is bigger than the heap: the heap grows while the kernel allocates it.
    const size = heap().buffer.byteLength;
    const cols = Math.ceil(size / (4 * 4)) + 4096;
    const x = tf.randomNormal([1, 4, 3], 0, 1, 'float32', 53);
    const y = tf.randomNormal([1, 3, cols], 0, 1, 'float32', 54);
    const got = run(x, y, false, false);
    expect(heap().buffer.byteLength).toBeGreaterThan(size);
    const want = tf.matMul(x, y);
    expect(relDiff(got, want)).toBeLessThan(1e-5);
    tf.dispose([a, b, ref, x, y, got, want]);
  });

  it("runs on a shared heap too (TF.js's threaded build in cross-origin isolated pages)", () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    const k0 = wasmRuntime.instantiate(memory);
    k0.setScratch(65536);
    const [m, k, n] = [6, 300, 11];
    const heapF = new Float32Array(memory.buffer);
    const [aAt, bAt, cAt] = [2 << 20, 2.5 * (1 << 20), 3 << 20];
    const av = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
    const bv = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
    heapF.set(av, aAt / 4);
    heapF.set(bv, bAt / 4);
    for (const rows of [m, 1]) {
      k0.matmul(1, rows, n, k, aAt, 0, k * 4, 4, bAt, 0, n * 4, 4, cAt, 0, n * 4, 0);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < n; j++) {
          let want = 0;
          for (let q = 0; q < k; q++) want += av[i * k + q]! * bv[q * n + j]!;
          expect(heapF[cAt / 4 + i * n + j]).toBeCloseTo(want, 3);
        }
      }
    }
  });

  it('gradients of batchMatMul equal tf.matMul gradients (plain and transposeB, rank 4)', () => {
    const a = tf.randomNormal([2, 3, 17, 5], 0, 1, 'float32', 8);
    const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 9);
    const c = tf.randomNormal([2, 3, 6, 5], 0, 1, 'float32', 10);
    for (const [y, tB] of [
      [b, false],
      [c, true],
    ] as const) {
      const w = tf.randomNormal([2, 3, 17, 6], 0, 1, 'float32', 11);
      const fast = tf.grads((p, q) => batchMatMul(p, q, tB).mul(w).sum())([a, y]);
      const ref = tf.grads((p, q) => tf.matMul(p, q, false, tB).mul(w).sum())([a, y]);
      fast.forEach((g, i) => {
        expect(g.shape).toEqual(ref[i]!.shape);
        expect(maxDiff(g, ref[i]!)).toBeLessThan(1e-4);
      });
    }
  });

  it('adds a bias to every row; its gradient is the column sum of dy', () => {
    const a = tf.randomNormal([3, 5, 7], 0, 1, 'float32', 21);
    const b = tf.randomNormal([3, 7, 9], 0, 1, 'float32', 22);
    const bias = tf.randomNormal([9], 0, 1, 'float32', 23);
    const w = tf.randomNormal([3, 5, 9], 0, 1, 'float32', 24);
    const kernel = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
      tf
        .engine()
        .runKernel(
          WASM_BATCH_MATMUL,
          { a: p, b: q, bias: r },
          { transposeA: false, transposeB: false },
        ) as tf.Tensor;
    expect(maxDiff(kernel(a, b, bias), tf.matMul(a, b).add(bias))).toBeLessThan(1e-4);
    const fast = tf.grads((p, q, r) => kernel(p, q, r).mul(w).sum())([a, b, bias]);
    const ref = tf.grads((p, q, r) => tf.matMul(p, q).add(r).mul(w).sum())([a, b, bias]);
    fast.forEach((g, i) => {
      expect(maxDiff(g, ref[i]!)).toBeLessThan(1e-4);
    });
  });

  it('leaves no tensors behind, forward and backward', () => {
    const a = tf.randomNormal([4, 9, 8]);
    const b = tf.randomNormal([4, 11, 8]);
    const step = () => tf.tidy(() => tf.grads((p, q) => batchMatMul(p, q, true).sum())([a, b]));
    tf.dispose(step());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('transpose2d equals tf.transpose and runs the kernel; sumLeading equals sum over leading axes', async () => {
    for (const [r, c] of [
      [1, 1],
      [3, 7],
      [1024, 128],
      [65, 1],
    ] as const) {
      const x = tf.randomNormal([r, c], 0, 1, 'float32', r + c);
      expect(maxDiff(transpose2d(x as tf.Tensor2D), tf.transpose(x))).toBe(0);
      const y = tf.randomNormal([2, r, c], 0, 1, 'float32', r * c);
      expect(maxDiff(sumLeading(y), y.sum([0, 1]))).toBeLessThan(1e-3);
    }
    const p = await tf.profile(() => transpose2d(tf.ones([4, 5])));
    expect(p.kernels.map((k) => k.name)).toContain(WASM_TRANSPOSE_2D);
  });

  it('clone shares the buffer (tensors are immutable) and disposing one keeps the other', () => {
    const x = tf.tensor([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
  });

  it('rejects operands whose leading dims differ', () => {
    expect(() => batchMatMul(tf.ones([2, 8, 4]), tf.ones([3, 4, 5]))).toThrow(/leading dims/);
  });
});

describe('the relaxed-SIMD (fused multiply-add) build', () => {
  const run = (flags: string[], arg: string[]) => {
    const script = fileURLToPath(new URL('./fixtures/kernel-products.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [...flags, script, ...arg], {
      encoding: 'utf8',
      maxBuffer: 2 ** 26,
    });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { variant: string; products: number[][] };
  };

  it('is chosen where the engine has relaxed SIMD and equals the SIMD build within 1e-5 relative', () => {
    // Node 20 has relaxed SIMD behind a V8 flag; Node >= 22 by default (the flag is then not needed).
    const flags =
      Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
    const fused = run(flags, []);
    const plain = run(flags, ['simd']);
    expect(fused.variant).toBe('relaxed-simd');
    expect(plain.variant).toBe('simd');
    let worst = 0;
    fused.products.forEach((p, i) => {
      const q = plain.products[i]!;
      const scale = Math.max(...q.map(Math.abs));
      for (let j = 0; j < p.length; j++) worst = Math.max(worst, Math.abs(p[j]! - q[j]!) / scale);
    });
    expect(worst).toBeLessThan(1e-5);
    // Not bit-identical: the fused build really ran (one rounding per multiply-add instead of two).
    expect(worst).toBeGreaterThan(0);
  }, 60_000);
});
