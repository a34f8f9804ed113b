// gatherPositions (embedding-style gather + ScatterNd grad) vs a one-hot (B,P,T)@(B,T,D) batched matmul, fwd+bwd on wasm.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { gatherPositions } from '@transformer-kit/heads';

await initBackend('wasm');
const [B, T, D, P] = [8, 128, 256, 20];
const h = tf.randomNormal([B, T, D]);
const pos = tf.tensor2d(
  Array.from({ length: B }, () => Array.from({ length: P }, () => Math.floor(Math.random() * T))),
  undefined,
  'int32',
);
const w = tf.randomNormal([B, P, D]);
const viaGather = () => tf.grad((x) => gatherPositions(x, pos).mul(w).sum())(h);
const viaOneHot = () => tf.grad((x) => tf.matMul(tf.oneHot(pos, T).cast('float32'), x).mul(w).sum())(h);
for (const [name, f] of [
  ['gather+scatterND', viaGather],
  ['one-hot bmm', viaOneHot],
]) {
  for (let i = 0; i < 3; i++) {
    const g = f();
    await g.data();
    g.dispose();
  }
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    const g = f();
    await g.data();
    g.dispose();
  }
  console.log(name, ((performance.now() - t0) / 20).toFixed(2), 'ms fwd+bwd');
}
const d = tf.tidy(() => viaGather().sub(viaOneHot()).abs().max().dataSync()[0]);
console.log('max diff', d);
