// GPT-2 small's training step at batch 8 × 128 on wasm with the loss as the fused, vocabulary-chunked
// linearCrossEntropy (GPT.loss) and as before (the full (B·T, V) logits, then crossEntropy), in one process:
// peak live bytes on TF.js's wasm heap and step time of each. Run: node bench/lm-loss.bench.mjs (after the build).
import { printTable, writeResults } from './lib.mjs';

const tf = await import('@tensorflow/tfjs');
const core = await import('@transformer-kit/core');
const { GPT, gptConfig } = await import('@transformer-kit/gpt');
const BATCH = Number(process.env.TK_BENCH_BATCH ?? 8);
const SEQ = 128;

await core.initBackend('wasm', { quiet: true });
const model = new GPT(gptConfig('gpt2'));
model.train();
const rng = new core.Rng(1);
const ids = () => Array.from({ length: BATCH }, () => Array.from({ length: SEQ }, () => rng.int(50257)));
const x = tf.tensor2d(ids(), undefined, 'int32');
const y = tf.tensor2d(ids(), undefined, 'int32');
const losses = {
  'unfused (logits + crossEntropy)': () => core.crossEntropy(model.forward(x), y),
  'fused linearCrossEntropy': () => model.loss(x, y),
};
const rows = [];
for (const [name, loss] of Object.entries(losses)) {
  // Same weights for both: gradients only (no optimizer step), as the loss is all that differs.
  core.resetWasmHeapPeak();
  const t0 = performance.now();
  const { value, grads } = core.valueAndGrads(loss, model.parameters());
  const l = (await value.data())[0];
  const ms = performance.now() - t0;
  tf.dispose([value, ...grads.filter(Boolean)]);
  rows.push({ loss: name, ms, 'peak MB': Math.round(core.wasmHeapStats().peakBytes / 2 ** 20), value: l });
}
printTable(`GPT-2 small forward + backward at ${BATCH} × ${SEQ} on wasm (one process)`, rows);
writeResults('lm-loss', { batch: BATCH, seq: SEQ, rows });
