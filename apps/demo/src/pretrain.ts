/**
 * BERT's first step: masked-LM pretraining of the sentiment model's encoder on unlabelled English, with a
 * WordPiece vocabulary trained on the same text. The training is bert's `pretrainMaskedLM` (a fresh mask per
 * batch, made on the device, on core's TrainingLoop); this file picks the sizes, builds the model that
 * matches the sentiment encoder, and asks it to fill in blanks. No IO: the CLI and the page share it.
 */
import * as tf from '@tensorflow/tfjs';
import { BertForMaskedLM, bertConfig, pretrainMaskedLM } from '@transformer-kit/bert';
import { InvalidArgumentError } from '@transformer-kit/core';
import { type Tokenizer, trainWordPiece } from '@transformer-kit/tokenizer';
import { corpusSentences, type Speech } from './data.js';
import type { SentimentSizes } from './sentiment.js';

export interface PretrainSizes {
  steps: number;
  batchSize: number;
  lr: number;
  /** Tokens per sentence, [CLS] and [SEP] included (the encoder's position table). */
  maxLength: number;
  vocabSize: number;
  /** Fraction of the tokens chosen for prediction each batch (BERT: 0.15). */
  selectionRate: number;
  /** State of the Union addresses from this year on (older English is further from the reviews). */
  fromYear: number;
}

/**
 * Default: ~45 s of CPU on 2 cores (wasm). Fast: a few seconds, for the tests. Sentences are cut at 32
 * tokens (most are shorter): a step costs half as much as at 64, and at this budget more steps beat longer
 * context (300 steps of 64 × 64 tokens were still at the unigram loss; 1,000 of 32 × 32, about the same
 * time, got below it).
 */
export function pretrainSizes(fast = false): PretrainSizes {
  return fast
    ? {
        steps: 60,
        batchSize: 32,
        lr: 3e-3,
        maxLength: 32,
        vocabSize: 1000,
        selectionRate: 0.15,
        fromYear: 2009,
      }
    : {
        steps: 1000,
        batchSize: 32,
        lr: 3e-3,
        maxLength: 32,
        vocabSize: 2000,
        selectionRate: 0.15,
        fromYear: 1946,
      };
}

/** The pretraining sentences: the State of the Union addresses, then Moby Dick (cleaned by data.ts). */
export function pretrainingCorpus(
  speeches: Speech[],
  mobyDick: string,
): { sentences: string[]; speeches: number; words: number; years: string } {
  const sentences = [...speeches.flatMap((s) => corpusSentences(s.text)), ...corpusSentences(mobyDick)];
  const words = sentences.reduce((n, s) => n + s.split(' ').length, 0);
  const years = speeches.map((s) => s.year);
  return {
    sentences,
    speeches: speeches.length,
    words,
    years: `${years.reduce((a, b) => Math.min(a, b))}–${years.reduce((a, b) => Math.max(a, b))}`,
  };
}

/** A WordPiece vocabulary trained on the pretraining sentences (BERT's special tokens first). */
export function trainVocabulary(sentences: string[], vocabSize: number): Tokenizer {
  return trainWordPiece(sentences, { vocabSize });
}

/** A BertForMaskedLM whose encoder has exactly the sentiment classifier's shape, for `tokenizer`'s vocabulary. */
export function buildMaskedLM(
  tokenizer: Tokenizer,
  model: SentimentSizes['model'],
  seed: number,
): BertForMaskedLM {
  const config = bertConfig('tiny', {
    ...model,
    vocabSize: tokenizer.vocabSize,
    padTokenId: tokenizer.specialId('[PAD]'),
  });
  return new BertForMaskedLM(config, { seed });
}

export interface PretrainOptions {
  steps: number;
  batchSize: number;
  lr: number;
  maxLength: number;
  seed: number;
  /** Default 0.15. */
  selectionRate?: number;
  /** Called after every optimizer step and awaited (the CLI's progress bar; the page's plot, which yields to paint). */
  onStep?: (step: number, loss: number) => void | Promise<void>;
}

/**
 * `steps` optimizer steps of bert's pretrainMaskedLM on shuffled `sentences` (BERT's recipe: warmup 10%,
 * AdamW, clipping 1); returns every step's loss. The recipe counts epochs, so `steps` is expressed as a
 * fraction of one (rounded up to whole steps by the loop; the half step keeps float error from adding one).
 */
export async function pretrain(
  model: BertForMaskedLM,
  tokenizer: Tokenizer,
  sentences: string[],
  { steps, batchSize, lr, maxLength, seed, selectionRate, onStep }: PretrainOptions,
): Promise<number[]> {
  if (!Number.isInteger(steps) || steps < 1)
    throw new InvalidArgumentError(`pretraining steps must be an integer >= 1, got ${steps}`);
  const stepsPerEpoch = Math.ceil(sentences.length / batchSize);
  return pretrainMaskedLM(model, tokenizer, sentences, {
    epochs: (steps - 0.5) / stepsPerEpoch,
    batchSize,
    lr,
    maxLength,
    seed,
    ...(selectionRate !== undefined ? { selectionRate } : {}),
    ...(onStep ? { callbacks: [{ onStep: (r) => onStep(r.step, r.loss) }] } : {}),
  });
}

export interface Guess {
  token: string;
  p: number;
}

/** The `k` likeliest tokens for each [MASK] in `text` (eval mode), in order of the masks. */
export async function fillMask(
  model: BertForMaskedLM,
  tokenizer: Tokenizer,
  text: string,
  k = 5,
): Promise<Guess[][]> {
  const maskId = tokenizer.specialId('[MASK]');
  const enc = tokenizer.encode(text, null, { truncation: { maxLength: model.config.maxPositions } });
  const positions = enc.ids.flatMap((id, i) => (id === maskId ? [i] : []));
  if (!positions.length)
    throw new InvalidArgumentError(`no [MASK] in "${text}": write [MASK] where a word is missing`);
  model.eval();
  const [values, indices] = tf.tidy(() => {
    const logits = model.forward({ inputIds: [enc.ids] }, tf.tensor2d([positions], undefined, 'int32'));
    const top = tf.topk(tf.softmax(logits.squeeze([0])), k);
    return [top.values, top.indices];
  });
  const p = (await values!.array()) as number[][];
  const ids = (await indices!.array()) as number[][];
  tf.dispose([values!, indices!]);
  return ids.map((row, m) =>
    row.map((id, j) => ({ token: tokenizer.idToToken(id) ?? '[UNK]', p: p[m]![j]! })),
  );
}

/** "union 0.31, nation 0.12, …" */
export function formatGuesses(guesses: Guess[]): string {
  return guesses.map((g) => `${g.token} ${g.p.toFixed(2)}`).join(', ');
}
