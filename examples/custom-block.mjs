// A block of your own from the parts (no TransformerBlock inside): RMSNorm → attention with rotary
// positions and grouped-query heads → residual, RMSNorm → SwiGLU → residual. It implements the small Block
// interface (forward(x, options) → { output }, a `recompute` flag, run through forwardBlock), so runBlocks,
// setRecompute and the KV cache work with it. Trained as a character-level LM, then sampled with the cache.
//   node examples/custom-block.mjs
import * as tf from '@tensorflow/tfjs';
import {
  causalBias,
  forwardBlock,
  KVCache,
  MultiHeadAttention,
  runBlocks,
  setRecompute,
} from '@transformer-kit/attention';
import {
  add,
  crossEntropy,
  Embedding,
  GatedMlp,
  initBackend,
  Module,
  RMSNorm,
  Rng,
  Trainer,
} from '@transformer-kit/core';
import { LMHead } from '@transformer-kit/heads';

export class RopeSwiGLUBlock extends Module {
  recompute = false;
  constructor(dim, { heads = 4, kvHeads = 2, hidden = 2 * dim, theta = 10000, rng } = {}) {
    super();
    this.attnNorm = this.module('attnNorm', new RMSNorm(dim, 1e-6));
    this.attn = this.module(
      'attn',
      new MultiHeadAttention({
        dim,
        numHeads: heads,
        numKvHeads: kvHeads,
        bias: false,
        rotary: { theta },
        rng,
      }),
    );
    this.mlpNorm = this.module('mlpNorm', new RMSNorm(dim, 1e-6));
    this.mlp = this.module('mlp', new GatedMlp(dim, hidden, { activation: 'silu', rng }));
  }
  forward(x, options = {}) {
    return forwardBlock(this, x, options, (h, { mask, cache }) => {
      const a = add(h, this.attn.forward(this.attnNorm.forward(h), { mask, cache }).output);
      return { output: add(a, this.mlp.forward(this.mlpNorm.forward(a))) };
    });
  }
}

export class TinyLM extends Module {
  constructor(vocab, { dim = 48, layers = 2, seed = 0 } = {}) {
    super();
    const rng = new Rng(seed);
    this.embed = this.module('embed', new Embedding(vocab, dim, { rng }));
    this.blocks = this.moduleList(
      'blocks',
      Array.from({ length: layers }, () => new RopeSwiGLUBlock(dim, { rng })),
    );
    this.norm = this.module('norm', new RMSNorm(dim, 1e-6));
    this.head = this.module('head', new LMHead(dim, { tiedEmbedding: this.embed.weight }));
  }
  forward(ids, cache) {
    const t = ids.shape[1];
    const past = cache?.length ?? 0;
    const mask = t > 1 ? causalBias(t, past + t) : undefined;
    return this.head.forward(
      this.norm.forward(
        runBlocks(this.blocks, this.embed.forward(ids), { mask, caches: cache?.layers }).output,
      ),
    );
  }
}

const TEXT = 'the quick brown fox jumps over the lazy dog. ';

export async function main({ steps = 150, log = console.log } = {}) {
  await initBackend(process.env.TK_BACKEND ?? 'wasm');
  const chars = [...new Set(TEXT)].sort();
  const encode = (s) => [...s].map((c) => chars.indexOf(c));
  const data = encode(TEXT.repeat(8));
  const model = new TinyLM(chars.length, { seed: 2 });
  setRecompute(model); // recompute works for any block with the flag: memory per block = its input
  const trainer = new Trainer(model, { lr: 1e-2, warmupSteps: 10, totalSteps: steps, weightDecay: 0 });
  const rng = new Rng(1);
  const T = 32;
  let first = Number.NaN;
  let loss = Number.NaN;
  for (let step = 1; step <= steps; step++) {
    const starts = Array.from({ length: 16 }, () => Math.floor(rng.next() * (data.length - T - 1)));
    const x = starts.map((s) => data.slice(s, s + T));
    const y = starts.map((s) => data.slice(s + 1, s + T + 1));
    ({ loss } = await trainer.step(() =>
      crossEntropy(model.forward(tf.tensor2d(x, undefined, 'int32')), tf.tensor2d(y, undefined, 'int32')),
    ));
    if (step === 1) first = loss;
    if (step % 50 === 0) log(`step ${step}: loss ${loss.toFixed(4)}`);
  }
  // Greedy generation, one token per step through the KV cache (rotary positions continue from its length).
  model.eval();
  const cache = new KVCache(model.blocks.length);
  const out = encode('the quick');
  let input = out.slice();
  for (let i = 0; i < 30; i++) {
    const next = tf.tidy(() =>
      model
        .forward(tf.tensor2d([input], undefined, 'int32'), cache)
        .slice([0, input.length - 1], [1, 1])
        .argMax(-1),
    );
    const id = (await next.data())[0];
    next.dispose();
    out.push(id);
    input = [id];
  }
  cache.dispose();
  const text = out.map((i) => chars[i]).join('');
  log(`generated: ${JSON.stringify(text)}`);
  trainer.dispose();
  model.dispose();
  return { first, loss, text };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
