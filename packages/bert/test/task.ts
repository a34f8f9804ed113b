import * as tf from '@tensorflow/tfjs';
import { Embedding, Module, Rng } from '@transformer-kit/core';
import { MeanPoolClassifier } from '@transformer-kit/heads';
import type { BertInputs, Example } from '../src/index.js';

/*
 * A generated sentiment task where word order and negation matter. Each sentence has fillers, a subject and
 * one adjective; a third of them have "not" right before the adjective (flips the label: "not bad" is
 * positive), a third have "not" somewhere else (no flip), a third have no "not". Sentences with "not" thus
 * share their bag of words across both labels: a bag-of-words model cannot beat ~1/3 + 2/3 · 1/2 ≈ 67%,
 * while [CLS] over a BERT encoder can see what "not" is next to.
 */
const POS = ['good', 'great', 'fine', 'nice'];
const NEG = ['bad', 'awful', 'poor', 'terrible'];
const NOUNS = ['movie', 'film', 'plot', 'acting', 'story', 'music'];
const FILLER = ['really', 'quite', 'so', 'and', 'it', 'is', 'this', 'honestly', 'very', 'overall'];
export const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'not',
  'the',
  'was',
  ...POS,
  ...NEG,
  ...NOUNS,
  ...FILLER,
];

export function makeExamples(n: number, rng: Rng): Example[] {
  const pick = <T>(xs: T[]) => xs[rng.int(xs.length)]!;
  return Array.from({ length: n }, () => {
    const positive = rng.next() < 0.5;
    const adj = pick(positive ? POS : NEG);
    const words = [
      ...Array.from({ length: rng.int(3) }, () => pick(FILLER)),
      'the',
      pick(NOUNS),
      'was',
      adj,
      ...Array.from({ length: rng.int(3) }, () => pick(FILLER)),
    ];
    const kind = rng.int(3); // 0: no "not", 1: "not" before the adjective, 2: "not" elsewhere
    const at = words.indexOf(adj);
    if (kind === 1) words.splice(at, 0, 'not');
    if (kind === 2) {
      const spots = Array.from({ length: words.length + 1 }, (_, i) => i).filter((i) => i !== at);
      words.splice(pick(spots), 0, 'not');
    }
    return { text: words.join(' '), label: Number(positive !== (kind === 1)) };
  });
}

/** The baseline: mean of word embeddings (padding excluded) → MLP. Order-blind by construction. */
export class BagOfWords extends Module {
  readonly embed: Embedding;
  readonly head: MeanPoolClassifier;
  constructor(
    vocabSize: number,
    dim: number,
    readonly numLabels: number,
  ) {
    super();
    const rng = new Rng(3);
    this.embed = this.module('embed', new Embedding(vocabSize, dim, { rng }));
    this.head = this.module(
      'head',
      new MeanPoolClassifier(dim, numLabels, { hiddenSizes: [dim], dropout: 0, rng }),
    );
  }
  forward(inputs: BertInputs): tf.Tensor {
    const mask = tf.tensor2d(inputs.attentionMask as number[][], undefined, 'int32');
    return this.head.forward(
      this.embed.forward(tf.tensor2d(inputs.inputIds as number[][], undefined, 'int32')),
      mask,
    );
  }
}
