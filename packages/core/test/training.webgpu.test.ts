import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { AdamW, initBackend, safetensorsToTensors, writeSafetensors } from '../src/index.js';

// On WebGPU, AdamW takes its tensor-op path (moments in tf.Variables). Same torch numbers as on cpu/wasm.
const ref = JSON.parse(readFileSync(new URL('./fixtures/training.json', import.meta.url), 'utf8'));

beforeAll(async () => {
  await initBackend('webgpu');
});

function close(actual: ArrayLike<number>, expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++)
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tol);
}

it('AdamW matches torch.optim.AdamW on webgpu, also after moving from wasm mid-training', async () => {
  for (const firstBackend of ['webgpu', 'wasm']) {
    await initBackend(firstBackend as 'webgpu' | 'wasm');
    const w = tf.variable(tf.tensor2d(ref.w0, [3, 4]));
    const b = tf.variable(tf.tensor1d(ref.b0));
    const opt = new AdamW(
      [
        ['fc.weight', w],
        ['fc.bias', b],
      ],
      { beta1: ref.betas[0], beta2: ref.betas[1], eps: ref.eps, weightDecay: ref.weightDecay },
    );
    for (let i = 0; i < 3; i++) {
      if (i === 1) await initBackend('webgpu');
      const g = ref.grads[i];
      const grads = { [w.name]: tf.tensor2d(g.w, [3, 4]), [b.name]: tf.tensor1d(g.b) };
      opt.step(grads, { lr: ref.lrs[i] });
      tf.dispose(grads);
      close(await w.data(), ref.after[i].w, 1e-5);
      close(await b.data(), ref.after[i].b, 1e-5);
    }
    opt.dispose();
    tf.dispose([w, b]);
  }
});

it('safetensors bytes round-trip through webgpu tensors', async () => {
  const t = tf.tensor2d([
    [1.5, -2],
    [Math.PI, 1e-30],
  ]);
  const back = safetensorsToTensors(await writeSafetensors({ t }));
  expect(tf.getBackend()).toBe('webgpu');
  expect(Array.from(await back.t!.data())).toEqual(Array.from(await t.data()));
  tf.dispose([t, back]);
});
