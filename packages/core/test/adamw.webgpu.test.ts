import * as tf from '@tensorflow/tfjs';
import { adamWDevice, webgpuKernels } from '@transformer-kit/backend-webgpu';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  DeviceLimitError,
  fusedKernelNames,
  initBackend,
  Rng,
  registerFusedKernels,
  unregisterFusedKernels,
  webgpuDevice,
} from '../src/index.js';

// backend-webgpu's AdamW: one WGSL dispatch per parameter (per binding-sized block of a larger one), m, v
// and the parameter updated in place. The reference is core's AdamW composed of TF.js ops (the fused-op
// interface's reference semantics), run on the same device from the same values.

const MiB = 1024 * 1024;
const SHAPES = [[7], [33, 17], [5, 3, 11], [1000, 37], [1]];

beforeAll(async () => {
  await initBackend('webgpu', { limits: 'default' });
});
afterEach(() => registerFusedKernels('webgpu', webgpuKernels));
afterAll(async () => {
  await initBackend('webgpu');
});

function randomArray(rng: Rng, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() * 2 - 1) * scale;
  return a;
}

/** A variable holding `data` (the initial tensor freed). */
function variableOf(data: Float32Array, shape: number[], trainable = true, name?: string): tf.Variable {
  const init = tf.tensor(data, shape);
  const v = tf.variable(init, trainable, name);
  init.dispose();
  return v;
}

interface Run {
  params: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  dispatchesPerStep: number[];
}

/** Three AdamW steps over SHAPES from seeded values, with the WebGPU kernel or with TF.js ops. */
async function threeSteps(fused: boolean): Promise<Run> {
  if (fused) registerFusedKernels('webgpu', webgpuKernels);
  else unregisterFusedKernels('webgpu');
  const rng = new Rng(7);
  const vars = SHAPES.map((s, i) =>
    variableOf(randomArray(rng, tf.util.sizeFromShape(s), 1), s, true, `p${i}`),
  );
  const opt = new AdamW(
    vars.map((p, i) => [`p${i}`, p] as [string, tf.Variable]),
    { lr: 1e-2, weightDecay: 0.1 },
  );
  const dispatchesPerStep: number[] = [];
  for (let step = 0; step < 3; step++) {
    const grads = Object.fromEntries(
      vars.map((p) => [p.name, tf.tensor(randomArray(rng, p.size, 0.5 * (step + 1)), p.shape)]),
    );
    const d0 = webgpuDevice()!.dispatches;
    // A gradient scale as clipping gives, and a learning rate as a schedule gives.
    opt.step(grads, { lr: 1e-2 * (1 - step / 4), gradScale: 0.75 });
    dispatchesPerStep.push(webgpuDevice()!.dispatches - d0);
    tf.dispose(grads);
  }
  const state = await opt.readState();
  const params = await Promise.all(vars.map(async (p) => (await p.data()) as Float32Array));
  const out = {
    params,
    m: SHAPES.map((_, i) => state.tensors[`p${i}.exp_avg`]!.data),
    v: SHAPES.map((_, i) => state.tensors[`p${i}.exp_avg_sq`]!.data),
    dispatchesPerStep,
  };
  opt.dispose();
  tf.dispose(vars);
  return out;
}

/** Largest |a − b| / max(|b|, floor) over the arrays. */
function maxRel(a: Float32Array[], b: Float32Array[], floor: number): number {
  let worst = 0;
  a.forEach((x, j) => {
    const y = b[j]!;
    expect(x.length).toBe(y.length);
    for (let i = 0; i < x.length; i++)
      worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(Math.abs(y[i]!), floor));
  });
  return worst;
}

describe('AdamW on WebGPU in one dispatch per parameter', () => {
  it('is registered behind the fused-op interface', () => {
    expect(fusedKernelNames('webgpu')).toContain('adamWDevice');
  });

  it('equals the TF.js-ops AdamW within 1e-6 relative over three steps, odd sizes, one dispatch each', async () => {
    const before = tf.memory().numTensors;
    const ops = await threeSteps(false);
    const fused = await threeSteps(true);
    expect(maxRel(fused.params, ops.params, 1e-3)).toBeLessThan(1e-6);
    expect(maxRel(fused.m, ops.m, 1e-3)).toBeLessThan(1e-6);
    expect(maxRel(fused.v, ops.v, 1e-6)).toBeLessThan(1e-6);
    // The parameters moved: the comparison is not between two untouched copies.
    const rng = new Rng(7);
    const p0 = randomArray(rng, 7, 1);
    expect(Math.max(...fused.params[0]!.map((x, i) => Math.abs(x - p0[i]!)))).toBeGreaterThan(1e-3);
    // After the first step, which also creates the moments (two fills a parameter).
    expect(fused.dispatchesPerStep.slice(1)).toEqual([SHAPES.length, SHAPES.length]);
    // TF.js's ops: about ten dispatches a parameter (fewer where TF.js runs tiny tensors on the CPU).
    expect(ops.dispatchesPerStep[2]).toBeGreaterThan(3 * SHAPES.length);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('updates a parameter over the binding limit in aligned blocks, equal to the unblocked update', async () => {
    const rng = new Rng(3);
    const n = 1000 * 37; // 148,000 bytes; blocks of 1 KiB (256 values), the last one short
    const p0 = randomArray(rng, n, 1);
    const g0 = randomArray(rng, n, 0.3);
    const m0 = randomArray(rng, n, 0.1);
    const v0 = randomArray(rng, n, 0.1).map(Math.abs);
    const k = {
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      stepSize: 1e-3 / (1 - 0.9 ** 2),
      sqrtBc2: Math.sqrt(1 - 0.999 ** 2),
      gradScale: 1,
      decayFactor: 1 - 1e-3 * 0.01,
    };
    const run = (maxBindingBytes?: number) => {
      const [p, m, v] = [p0, m0, v0].map((a) => variableOf(a, [1000, 37], false));
      const g = tf.tensor2d(g0, [1000, 37]);
      const d0 = webgpuDevice()!.dispatches;
      expect(adamWDevice(p!, g, m!, v!, k, maxBindingBytes ? { maxBindingBytes } : {})).toBe(true);
      const dispatches = webgpuDevice()!.dispatches - d0;
      g.dispose();
      return { vars: [p!, m!, v!], dispatches };
    };
    const whole = run();
    const blocked = run(1024);
    expect(whole.dispatches).toBe(1);
    expect(blocked.dispatches).toBe(Math.ceil(n / 256));
    for (let i = 0; i < 3; i++) {
      const a = (await blocked.vars[i]!.data()) as Float32Array;
      const b = (await whole.vars[i]!.data()) as Float32Array;
      expect(Array.from(a)).toEqual(Array.from(b)); // the same arithmetic, only bound differently
    }
    // and both are the update: against a float64 reference
    const p = (await whole.vars[0]!.data()) as Float32Array;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const mi = k.b1 * m0[i]! + (1 - k.b1) * g0[i]!;
      const vi = k.b2 * v0[i]! + (1 - k.b2) * g0[i]! ** 2;
      const want = p0[i]! * k.decayFactor - (k.stepSize * mi) / (Math.sqrt(vi) / k.sqrtBc2 + k.eps);
      worst = Math.max(worst, Math.abs(p[i]! - want) / Math.max(Math.abs(want), 1e-3));
    }
    expect(worst).toBeLessThan(1e-6);
    tf.dispose([...whole.vars, ...blocked.vars]);
  });

  it("leaves a tensor that shares the parameter's buffer (a clone) as it was", async () => {
    const p = variableOf(new Float32Array([1, 2, 3, 4, 5]), [5]);
    const snapshot = p.clone(); // TF.js shares the buffer between a tensor and its clone
    const opt = new AdamW([['p', p]], { lr: 0.1 });
    const g = tf.tensor1d([1, 1, 1, 1, 1]);
    opt.step({ [p.name]: g });
    expect(Array.from(await snapshot.data())).toEqual([1, 2, 3, 4, 5]);
    const after = await p.data();
    expect(after[0]).toBeCloseTo(1 - 0.1, 5); // the first Adam step moves each weight by lr (no decay: rank 1)
    opt.dispose();
    tf.dispose([p, snapshot, g]);
  });
});

describe("GPT-2's 50,257 x 768 table at the spec-default 128 MiB binding", () => {
  it('trains: two blocked dispatches where TF.js ops stop with DeviceLimitError', async () => {
    expect(webgpuDevice()!.maxStorageBufferBindingSize).toBe(128 * MiB);
    const [rows, cols] = [50257, 768];
    const n = rows * cols;
    const p0 = new Float32Array(n);
    const g0 = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      p0[i] = ((i % 1013) - 506) / 1013;
      g0[i] = ((i % 769) - 384) / 769;
    }
    const before = tf.memory().numTensors;
    const wte = variableOf(p0, [rows, cols], true, 'wte');
    const opt = new AdamW([['wte', wte]], { lr: 1e-3, weightDecay: 0.1 });
    const grad = tf.tensor2d(g0, [rows, cols]);
    unregisterFusedKernels('webgpu');
    expect(() => opt.step({ [wte.name]: grad })).toThrow(DeviceLimitError);
    registerFusedKernels('webgpu', webgpuKernels);
    const fresh = new AdamW([['wte', wte]], { lr: 1e-3, weightDecay: 0.1 });
    const d0 = webgpuDevice()!.dispatches;
    fresh.step({ [wte.name]: grad });
    expect(webgpuDevice()!.dispatches - d0).toBe(2);
    const p = (await wte.data()) as Float32Array;
    // Every value (both blocks, across the boundary) is the first AdamW step: p·(1 − lr·wd) − lr·sign(g).
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const g = g0[i]!;
      const want = p0[i]! * (1 - 1e-4) - (1e-3 * g) / (Math.abs(g) + 1e-8);
      worst = Math.max(worst, Math.abs(p[i]! - want));
    }
    expect(worst).toBeLessThan(1e-6);
    opt.dispose();
    fresh.dispose();
    tf.dispose([wte, grad]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
