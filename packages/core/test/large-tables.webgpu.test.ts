import * as tf from '@tensorflow/tfjs';
import { afterAll, expect, it } from 'vitest';
import {
  DeviceLimitError,
  embedding,
  initBackend,
  linearCrossEntropy,
  matMulTransposed,
  rowBlock,
  rowsPerBinding,
  webgpuDevice,
} from '../src/index.js';

// GPT-2's 50257 x 768 table (154 MB) on a device with the spec's default limits (128 MiB a binding; on
// lavapipe the adapter's own maximum is the same): the lookup, the tied projection and the fused
// cross-entropy read it in row blocks and give wasm's numbers; gradients included.

const V = 50257;
const D = 768;
const IDS = [0, 1, 50256, 45000, 43690, 43689, 12345, 45000];
const TARGETS = [3, 50256, 45000, -100, 43690, 43689, 0, 7];

function fill(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * scale;
  }
  return out;
}
const TABLE = fill(V * D, 1, 0.2);
const HIDDEN = fill(IDS.length * D, 2, 2);
const UPSTREAM = fill(IDS.length * D, 3, 1);

interface Result {
  rows: Float32Array;
  tableGradFromLookup: Float32Array;
  logits: Float32Array;
  loss: number;
  dHidden: Float32Array;
  dTable: Float32Array;
}

async function run(): Promise<Result> {
  const init = [tf.tensor2d(TABLE, [V, D]), tf.tensor2d(HIDDEN, [IDS.length, D])];
  const [table, hidden] = init.map((t) => tf.variable(t)) as [
    tf.Variable<tf.Rank.R2>,
    tf.Variable<tf.Rank.R2>,
  ];
  tf.dispose(init);
  const ids = tf.tensor1d(IDS, 'int32');
  const targets = tf.tensor1d(TARGETS, 'int32');
  const up = tf.tensor2d(UPSTREAM, [IDS.length, D]);
  // Inside tidy: intermediates (the reshapes and casts around the ops) go; the results are kept.
  const { rows, lookup, logits, ce } = tf.tidy(() => {
    const rows = embedding(table, ids);
    const lookup = tf.variableGrads(() => embedding(table, ids).mul(up).sum() as tf.Scalar, [table]);
    // The tied projection, vocabulary chunk by chunk (what LMHead does on such a device).
    const block = Math.min(rowsPerBinding(table), V);
    const parts: tf.Tensor[] = [];
    for (let c0 = 0; c0 < V; c0 += block) {
      parts.push(matMulTransposed(hidden, rowBlock(table, c0, Math.min(block, V - c0))));
    }
    const logits = tf.concat(parts, 1);
    const ce = tf.variableGrads(() => linearCrossEntropy(hidden, table, targets), [hidden, table]);
    return { rows, lookup, logits, ce };
  });
  const out: Result = {
    rows: (await rows.data()) as Float32Array,
    tableGradFromLookup: (await lookup.grads[table.name]!.data()) as Float32Array,
    logits: (await logits.data()) as Float32Array,
    loss: (await ce.value.data())[0]!,
    dHidden: (await ce.grads[hidden.name]!.data()) as Float32Array,
    dTable: (await ce.grads[table.name]!.data()) as Float32Array,
  };
  tf.dispose([table, hidden, ids, targets, up, rows, logits, ce.value, lookup.value]);
  tf.dispose([...Object.values(lookup.grads), ...Object.values(ce.grads)]);
  return out;
}

function worst(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return w;
}
const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

afterAll(async () => {
  await initBackend('webgpu');
});

it("GPT-2's table on a 128 MiB-binding device: lookup, logits, fused loss and gradients equal wasm's", async () => {
  await initBackend('wasm');
  const ref = await run();
  await initBackend('webgpu', { limits: 'default' });
  expect(webgpuDevice()!.maxStorageBufferBindingSize).toBe(128 * 1024 * 1024);
  const before = tf.memory().numTensors;
  const gpu = await run();
  expect(tf.memory().numTensors).toBe(before);
  expect(gpu.rows).toEqual(ref.rows); // a lookup is a copy: exact
  expect(worst(gpu.tableGradFromLookup, ref.tableGradFromLookup)).toBe(0);
  expect(maxAbs(gpu.tableGradFromLookup)).toBeGreaterThan(0.1);
  expect(worst(gpu.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
  expect(maxAbs(gpu.logits)).toBeGreaterThan(0.1); // the silent-zeros bug gave all zeros
  expect(Math.abs(gpu.loss - ref.loss) / ref.loss).toBeLessThanOrEqual(1e-4);
  expect(worst(gpu.dHidden, ref.dHidden)).toBeLessThanOrEqual(1e-4);
  expect(worst(gpu.dTable, ref.dTable)).toBeLessThanOrEqual(1e-4);
  expect(maxAbs(gpu.dTable)).toBeGreaterThan(1e-4);
}, 600_000);

it('what cannot be split throws DeviceLimitError before dispatch (the table in one product)', async () => {
  await initBackend('webgpu', { limits: 'default' });
  const table = tf.tensor2d(TABLE, [V, D]);
  const h = tf.tensor2d(HIDDEN, [IDS.length, D]);
  expect(() => tf.matMul(h, table, false, true)).toThrow(DeviceLimitError);
  tf.dispose([table, h]);
});
