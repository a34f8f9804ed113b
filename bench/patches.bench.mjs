// Patch extraction: core's extractPatches (reshape/transpose for stride = size, one gather for overlapping
// patches) vs a naive JavaScript loop over the pixels (read back, copy, upload) vs one tf.slice per patch
// (then stack), for NHWC batches of 8 RGB images of 32 to 224 pixels, 16×16 patches (8×8 at 32), stride =
// size and stride = size / 2. Time: median ms. Memory: TF.js's peak bytes during the call (tf.profile) and,
// for the loop, the host arrays it allocates. Run: node bench/patches.bench.mjs [wasm|cpu ...] (after the build).
import { printTable, timeIt, writeResults } from './lib.mjs';

const tf = await import('@tensorflow/tfjs');
const { extractPatches, initBackend, patchGrid } = await import('@transformer-kit/core');

const BATCH = 8;
const C = 3;
const SIZES = [32, 64, 128, 224];
const named = process.argv.slice(2);
const backends = named.length ? named : ['wasm', 'cpu'];

function naive(images, size, stride) {
  const [b, h, w, c] = images.shape;
  const g = patchGrid(h, w, { size, stride });
  const src = images.dataSync();
  const dim = size * size * c;
  const out = new Float32Array(b * g.numPatches * dim);
  let k = 0;
  for (let n = 0; n < b; n++)
    for (let r = 0; r < g.rows; r++)
      for (let q = 0; q < g.cols; q++)
        for (let i = 0; i < size; i++) {
          const row = ((n * h + r * stride + i) * w + q * stride) * c;
          for (let j = 0; j < size * c; j++) out[k++] = src[row + j];
        }
  return { t: tf.tensor3d(out, [b, g.numPatches, dim]), hostBytes: src.byteLength + out.byteLength };
}

function perSlice(images, size, stride) {
  const [b, h, w] = images.shape;
  const g = patchGrid(h, w, { size, stride });
  return tf.tidy(() => {
    const patches = [];
    for (let r = 0; r < g.rows; r++)
      for (let q = 0; q < g.cols; q++)
        patches.push(images.slice([0, r * stride, q * stride, 0], [b, size, size, C]).reshape([b, -1]));
    return tf.stack(patches, 1);
  });
}

const rows = [];
const results = {};
for (const backend of backends) {
  await initBackend(backend);
  for (const hw of SIZES) {
    const size = hw === 32 ? 8 : 16;
    for (const stride of [size, size / 2]) {
      const images = tf.randomUniform([BATCH, hw, hw, C]);
      const g = patchGrid(hw, hw, { size, stride });
      const ref = extractPatches(images, { size, stride });
      // Same values from all three.
      const check = (t) => tf.tidy(() => t.sub(ref).abs().max().dataSync()[0]);
      const a = naive(images, size, stride);
      const s = perSlice(images, size, stride);
      if (check(a.t) !== 0 || check(s) !== 0) throw new Error(`mismatch at ${hw}/${size}/${stride}`);
      const hostBytes = a.hostBytes;
      tf.dispose([a.t, s, ref]);
      const runs = backend === 'cpu' && hw >= 128 ? { warmup: 1, iters: 3 } : { warmup: 2, iters: 7 };
      const time = async (fn) =>
        timeIt(async () => {
          const t = fn();
          await t.data();
          t.dispose();
        }, runs);
      const oursMs = await time(() => extractPatches(images, { size, stride }));
      const loopMs = await time(() => naive(images, size, stride).t);
      const sliceMs = await time(() => perSlice(images, size, stride));
      // Peak bytes above what was allocated before the call.
      const peak = async (fn) => {
        const base = tf.memory().numBytes;
        return (await tf.profile(() => fn())).peakBytes - base;
      };
      const oursPeak = await peak(() => extractPatches(images, { size, stride }));
      const slicePeak = await peak(() => perSlice(images, size, stride));
      tf.dispose(images);
      const MB = (x) => (x / 2 ** 20).toFixed(2);
      const key = `${backend} ${hw}px p${size} s${stride}`;
      results[key] = {
        oursMs,
        loopMs,
        sliceMs,
        oursPeak,
        slicePeak,
        loopHostBytes: hostBytes,
        patches: g.numPatches,
      };
      rows.push({
        backend,
        image: `${BATCH}×${hw}×${hw}×${C}`,
        'patch/stride': `${size}/${stride}`,
        N: g.numPatches,
        'ours ms': oursMs,
        'loop ms': loopMs,
        'slice ms': sliceMs,
        'loop/ours': `${(loopMs / oursMs).toFixed(1)}x`,
        'slice/ours': `${(sliceMs / oursMs).toFixed(1)}x`,
        'ours peak MB': MB(oursPeak),
        'slice peak MB': MB(slicePeak),
        'loop host MB': MB(hostBytes),
      });
    }
  }
}
printTable(
  'extractPatches vs a naive JS loop vs per-patch tf.slice + stack (median ms; peak = TF.js bytes allocated during the call, input excluded)',
  rows,
);
writeResults(named.length ? `patches-${named.join('-')}` : 'patches', { batch: BATCH, channels: C, results });
