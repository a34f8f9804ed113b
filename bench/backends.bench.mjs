// Backends on this machine: what initBackend costs and how fast each backend multiplies matrices, next to
// PyTorch on the CPU (system torch 1.13) in the same run. This is the measurement behind `auto` preferring wasm over a
// software WebGPU adapter. Run: node bench/backends.bench.mjs (after `turbo run build`).
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { batchMatMul, initBackend, linear, probeWebGPU } from '@transformer-kit/core';
import { printTable, timeIt, writeResults } from './lib.mjs';

const SIZES = [256, 512, 1024];
const backends = ['cpu', 'wasm'];
const probe = await probeWebGPU();
if (probe.available) backends.push('webgpu');

/** n×n @ n×n, result read back (so GPU work is finished). */
async function matmulGflops(n) {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const ms = await timeIt(
    async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    },
    { warmup: 2, iters: n >= 1024 ? 3 : 5 },
  );
  tf.dispose([a, b]);
  return (2 * n ** 3) / (ms * 1e6);
}

/** Attention-shaped product, 64 slices (batch 16 × 4 heads) of (64, 32) @ (32, 64), via `product`. */
async function batchedGflops(product) {
  const a = tf.randomNormal([64, 64, 32], 0, 1, 'float32', 5);
  const b = tf.randomNormal([64, 32, 64], 0, 1, 'float32', 6);
  const ms = await timeIt(async () => {
    const c = product(a, b);
    await c.data();
    c.dispose();
  });
  tf.dispose([a, b]);
  return (2 * 64 * 64 * 32 * 64) / (ms * 1e6);
}

/** One forward + backward of core's linear: x (512, 256) @ w (256, 1024) + b; 3 matmuls. */
async function linearStepMs() {
  const x = tf.randomNormal([512, 256], 0, 1, 'float32', 3);
  const w = tf.variable(tf.randomNormal([256, 1024], 0, 0.02, 'float32', 4));
  const b = tf.variable(tf.zeros([1024]));
  const ms = await timeIt(async () => {
    const { value, grads } = tf.variableGrads(() => linear(x, w, b).square().mean(), [w, b]);
    await grads[w.name].data();
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([x, w, b]);
  return ms;
}

const rows = [];
const results = {};
for (const name of backends) {
  const t0 = performance.now();
  const info = await initBackend(name);
  const initMs = performance.now() - t0;
  const row = {
    backend: name,
    device: info.softwareAdapter ? 'gpu (software)' : info.device,
    'init ms': initMs,
  };
  for (const n of SIZES) row[`matmul ${n} GFLOP/s`] = await matmulGflops(n);
  row['attn bmm GFLOP/s (tf.matMul)'] = await batchedGflops((a, b) => tf.matMul(a, b));
  row['attn bmm GFLOP/s (core / torch)'] = await batchedGflops((a, b) => batchMatMul(a, b));
  row['linear fwd+bwd ms'] = await linearStepMs();
  rows.push(row);
  results[name] = { ...row, info };
}

// PyTorch in the same run (system python has torch 1.13), same sizes and same linear step.
const py = `
import json, time, torch
torch.manual_seed(0)
def med(f, iters):
    f(); f()
    ts = []
    for _ in range(iters):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2] * 1000
out = {"threads": torch.get_num_threads()}
for n in ${JSON.stringify(SIZES)}:
    a, b = torch.randn(n, n), torch.randn(n, n)
    out[f"matmul {n} GFLOP/s"] = 2 * n**3 / (med(lambda: a @ b, 3 if n >= 1024 else 5) * 1e6)
a, b = torch.randn(64, 64, 32), torch.randn(64, 32, 64)
out["attn bmm GFLOP/s (core / torch)"] = 2 * 64 * 64 * 32 * 64 / (med(lambda: a @ b, 10) * 1e6)
x = torch.randn(512, 256)
w = (torch.randn(256, 1024) * 0.02).requires_grad_()
bias = torch.zeros(1024, requires_grad=True)
def step():
    w.grad = None; bias.grad = None
    ((x @ w + bias) ** 2).mean().backward()
out["linear fwd+bwd ms"] = med(step, 5)
print(json.dumps(out))
`;
const torch = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
if (torch.status === 0) {
  const t = JSON.parse(torch.stdout.trim().split('\n').pop());
  const { threads, ...speeds } = t;
  rows.push({ backend: `pytorch (torch threads ${threads})`, device: 'cpu', 'init ms': '', ...speeds });
  results.pytorch = t;
} else {
  console.log(
    `PyTorch not run: ${(torch.stderr || torch.error?.message || '').split('\n').slice(-2).join(' ')}`,
  );
}

// Ratios against wasm, the backend auto picks on a machine without a real GPU.
const wasm = rows.find((r) => r.backend === 'wasm');
for (const r of rows) {
  r['vs wasm (matmul 1024)'] = `${(r['matmul 1024 GFLOP/s'] / wasm['matmul 1024 GFLOP/s']).toFixed(2)}x`;
}

printTable(`backends on ${os.cpus().length} cores (${os.cpus()[0]?.model}); WebGPU: ${probe.reason}`, rows);
writeResults('backends', { webgpu: probe, results });
