// An encoder classifier over your own token ids, from the parts: embeddings + learned positions, post-norm
// blocks (BERT's layout) with a padding mask, and heads' ClsClassifier on the first position. The task: does
// a variable-length sequence of ids 2..11 contain the id 7 before the id 3? (Order matters, so a bag of
// tokens cannot solve it.)
//   node examples/encoder-classifier.mjs
import * as tf from '@tensorflow/tfjs';
import { attentionBias, paddingMask, runBlocks, TransformerBlock } from '@transformer-kit/attention';
import {
  accuracy,
  classificationLoss,
  Embedding,
  initBackend,
  Module,
  predictions,
  Rng,
  Trainer,
} from '@transformer-kit/core';
import { ClsClassifier } from '@transformer-kit/heads';

const PAD = 0;
const CLS = 1;
const VOCAB = 12;
const MAX = 12;

export class Classifier extends Module {
  constructor({ dim = 32, heads = 4, layers = 2, seed = 0 } = {}) {
    super();
    const rng = new Rng(seed);
    this.words = this.module('words', new Embedding(VOCAB, dim, { rng }));
    this.positions = this.module('positions', new Embedding(MAX, dim, { rng }));
    this.layers = this.moduleList(
      'layers',
      Array.from(
        { length: layers },
        () =>
          new TransformerBlock({
            hiddenSize: dim,
            numHeads: heads,
            intermediateSize: 2 * dim,
            norm: 'post',
            activation: 'gelu',
            rng,
          }),
      ),
    );
    this.head = this.module('head', new ClsClassifier(dim, 2, { rng }));
  }
  /** ids (B, T), attentionMask (B, T) of 1/0 → logits (B, 2). */
  forward(ids, attentionMask) {
    const t = ids.shape[1];
    const x = this.words.forward(ids).add(this.positions.forward(tf.range(0, t, 1, 'int32')));
    // (B, T) of 1/0 must become (B, 1, 1, T): a raw (B, T) mask would be read as (T, S) and is refused.
    const mask = attentionBias(paddingMask(attentionMask));
    return this.head.forward(runBlocks(this.layers, x, { mask }).output);
  }
}

/** Sequences [CLS, ...ids, PAD...] with label 1 when a 7 comes before a 3. */
export function batch(size, rng) {
  const ids = [];
  const mask = [];
  const labels = [];
  for (let i = 0; i < size; i++) {
    const n = 3 + Math.floor(rng.next() * (MAX - 4));
    const body = Array.from({ length: n }, () => 2 + Math.floor(rng.next() * 10));
    const a = body.indexOf(7);
    const b = body.indexOf(3);
    labels.push(a >= 0 && (b < 0 || a < b) ? 1 : 0);
    ids.push([CLS, ...body, ...Array(MAX - 1 - n).fill(PAD)]);
    mask.push([1, ...Array(n).fill(1), ...Array(MAX - 1 - n).fill(0)]);
  }
  return {
    ids: tf.tensor2d(ids, undefined, 'int32'),
    mask: tf.tensor2d(mask, undefined, 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

export async function main({ steps = 250, log = console.log } = {}) {
  await initBackend(process.env.TK_BACKEND ?? 'wasm');
  const model = new Classifier({ seed: 3 });
  const trainer = new Trainer(model, { lr: 2e-3, warmupSteps: 20, totalSteps: steps });
  const rng = new Rng(5);
  let loss = Number.NaN;
  for (let step = 1; step <= steps; step++) {
    const b = batch(64, rng);
    ({ loss } = await trainer.step(() => classificationLoss(model.forward(b.ids, b.mask), b.labels)));
    tf.dispose([b.ids, b.mask, b.labels]);
    if (step % 50 === 0) log(`step ${step}: loss ${loss.toFixed(4)}`);
  }
  model.eval();
  const test = batch(500, new Rng(999));
  const logits = model.forward(test.ids, test.mask);
  const acc = accuracy(await predictions(logits), Array.from(await test.labels.data()));
  tf.dispose([logits, test.ids, test.mask, test.labels]);
  log(`held-out accuracy: ${(100 * acc).toFixed(1)}%`);
  trainer.dispose();
  model.dispose();
  return { loss, accuracy: acc };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
