/**
 * A bare page for the wasm backend's threads: starts wasm with `?threads=N` (default every core, as the
 * demo page) and exposes window.threads to test/browser.mjs (core's kernels and training losses bitwise
 * the same on 1 and N threads; a step that throws leaves the pool working) and to
 * bench/page-threads.bench.mjs (ms per training step, XNNPACK's matmul peak).
 */
import * as tf from '@tensorflow/tfjs';
import { BertForSequenceClassification } from '@transformer-kit/bert';
import {
  batchMatMul,
  crossEntropy,
  InvalidArgumentError,
  initBackend,
  kernelThreads,
  Linear,
  Module,
  matMul,
  Rng,
  setKernelThreads,
  Trainer,
} from '@transformer-kit/core';
import { matmulPeakGflops } from '../../../bench/peak.mjs';
import { describeBackend } from '../src/describe.js';
import { wasmPaths } from './wasm.js';

const params = new URLSearchParams(location.search);
const threads = params.has('threads') ? Number(params.get('threads')) : undefined;

/** Products as a training step has them (plain, batched, either operand transposed, ragged rows, the
 * gradients of a linear layer), each large enough for the pool. */
function products(): tf.Tensor[] {
  return tf.tidy(() => {
    const a = tf.randomNormal([300, 512], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([512, 384], 0, 1, 'float32', 2) as tf.Tensor2D;
    const q = tf.randomNormal([6, 128, 64], 0, 1, 'float32', 3);
    const k = tf.randomNormal([6, 128, 64], 0, 1, 'float32', 4);
    const grads = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
      matMul(x as tf.Tensor2D, w as tf.Tensor2D)
        .square()
        .sum(),
    )([a, b]);
    return [
      matMul(a, b),
      batchMatMul(q, k, true),
      batchMatMul(q.slice([0, 0, 0], [6, 127, 64]), k.transpose([0, 2, 1])),
      ...grads,
    ];
  });
}

/** FNV-1a over the float32 bits of every tensor: equal digests, bitwise-equal results. */
function digest(ts: tf.Tensor[]): string {
  let h = 0x811c9dc5;
  for (const t of ts) {
    for (const word of new Uint32Array((t.dataSync() as Float32Array).slice().buffer)) {
      h = Math.imul(h ^ word, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, '0');
}

/** Two wide layers: every product of a step goes to the pool. */
class Wide extends Module {
  readonly fc = this.module('fc', new Linear(256, 512, { rng: new Rng(1), std: 0.1 }));
  readonly out = this.module('out', new Linear(512, 256, { rng: new Rng(2), std: 0.1 }));
  loss(x: tf.Tensor, y: tf.Tensor): tf.Scalar {
    return crossEntropy(this.out.forward(this.fc.forward(x).relu()), y);
  }
}

const api = {
  info: null as Awaited<ReturnType<typeof initBackend>> | null,
  ready: null as Promise<void> | null,

  /** The products on the threads in use and on one: digests, and whether they are bitwise equal. */
  async products(): Promise<{ threads: number; digest: string; oneThread: string }> {
    const n = kernelThreads();
    const many = products();
    await setKernelThreads(1);
    const one = products();
    await setKernelThreads(n);
    const out = { threads: n, digest: digest(many), oneThread: digest(one) };
    tf.dispose([...many, ...one]);
    return out;
  },

  /**
   * Seeded training steps of a wide two-layer model; `failAt`: before that step, one whose loss function
   * throws after the forward products ran (the pool must keep working).
   */
  async losses(steps: number, failAt = -1): Promise<{ losses: number[]; failed: string | null }> {
    const model = new Wide();
    const trainer = new Trainer(model, { lr: 1e-2 });
    const x = tf.randomNormal([256, 256], 0, 1, 'float32', 5);
    const y = tf.randomUniformInt([256], 0, 256, 6);
    const losses: number[] = [];
    let failed: string | null = null;
    try {
      for (let i = 0; i < steps; i++) {
        if (i === failAt) {
          failed = await trainer
            .step(() => {
              model.loss(x, y);
              throw new InvalidArgumentError('bad batch');
            })
            .then(
              () => null,
              (err: Error) => err.message,
            );
        }
        losses.push((await trainer.step(() => model.loss(x, y))).loss);
      }
    } finally {
      trainer.dispose();
      model.dispose();
      tf.dispose([x, y]);
    }
    return { losses, failed };
  },

  /** Milliseconds per BERT fine-tuning step (sequence classification, batch × seq tokens): median. */
  async bertStepMs(
    size: 'mini' | 'small',
    { batch = 8, seq = 128, warmup = 2, iters = 5 } = {},
  ): Promise<number> {
    const model = new BertForSequenceClassification(size, { numLabels: 2 });
    model.train();
    const rng = new Rng(1);
    const inputIds = Array.from({ length: batch }, () =>
      Array.from({ length: seq }, () => 5 + rng.int(30000)),
    );
    const attentionMask = inputIds.map((r) => r.map(() => 1));
    const labels = tf.tensor1d(
      inputIds.map((_, i) => i % 2),
      'int32',
    );
    const trainer = new Trainer(model, { lr: 2e-5, weightDecay: 0.01, clipNorm: 1 });
    const times: number[] = [];
    try {
      for (let i = 0; i < warmup + iters; i++) {
        const t0 = performance.now();
        await trainer.step(() => model.loss({ inputIds, attentionMask }, labels));
        if (i >= warmup) times.push(performance.now() - t0);
      }
    } finally {
      trainer.dispose();
      model.dispose();
      labels.dispose();
    }
    return times.sort((p, q) => p - q)[Math.floor(times.length / 2)]!;
  },

  /** The best GFLOP/s of TF.js's plain 2-D tf.matMul (XNNPACK) at BERT-base product shapes. */
  matmulGflops: () => matmulPeakGflops(),

  setKernelThreads,
};

Object.assign(window, { threads: api });
api.ready = initBackend('wasm', { wasmPaths, threads }).then((info) => {
  api.info = info;
  const line = document.getElementById('backend-info');
  if (line) line.textContent = describeBackend(info);
});
