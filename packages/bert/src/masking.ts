import * as tf from '@tensorflow/tfjs';
import { argsortRows, IGNORE_INDEX, InvalidArgumentError, Rng, ShapeError } from '@transformer-kit/core';
import { rowsTensor } from './model.js';

/*
 * BERT's masked-LM corruption, made fresh for every batch with tensor ops (no per-token host loop), like
 * keras-hub's MaskedLMMaskGenerator. In each row, among the positions that are real tokens and not special
 * tokens, a fraction `selectionRate` is chosen at random; of those, `maskRate` become [MASK], `randomRate`
 * a uniformly random token, and the rest stay as they were. Only chosen positions carry labels.
 *
 * The count per row is floor(rate · n + u), u ~ U[0,1): exactly rate · n in expectation, never more than
 * ceil(rate · T), so the chosen positions fit a fixed (B, P) slot array that MaskedLMHead gathers.
 */

export interface MaskGeneratorOptions {
  vocabSize: number;
  maskTokenId: number;
  /** Token ids never chosen, e.g. [CLS], [SEP], [PAD] (also excluded: padding and specialTokensMask = 1). */
  unselectableIds?: number[];
  selectionRate?: number;
  maskRate?: number;
  randomRate?: number;
  seed?: number;
}

export interface MaskInputs {
  inputIds: tf.Tensor | number[][];
  /** 1 = real token; 0 positions are never chosen. */
  attentionMask?: tf.Tensor | number[][];
  /** The tokenizer's special-tokens mask: 1 positions are never chosen. */
  specialTokensMask?: tf.Tensor | number[][];
}

export interface MaskedBatch {
  /** The corrupted ids (B, T) to feed the model. */
  inputIds: tf.Tensor2D;
  /** Original ids at chosen positions, IGNORE_INDEX (-100) elsewhere (B, T). */
  labels: tf.Tensor2D;
  /** Chosen positions (B, P), P = ceil(selectionRate · T); slots past a row's count hold arbitrary positions. */
  positions: tf.Tensor2D;
  /** Original ids at `positions`, IGNORE_INDEX in unused slots (B, P): the MLM targets. */
  positionLabels: tf.Tensor2D;
}

export class MaskedLMMaskGenerator {
  readonly vocabSize: number;
  readonly maskTokenId: number;
  readonly unselectableIds: number[];
  readonly selectionRate: number;
  readonly maskRate: number;
  readonly randomRate: number;
  readonly #rng: Rng;

  constructor(options: MaskGeneratorOptions) {
    const {
      vocabSize,
      maskTokenId,
      unselectableIds = [],
      selectionRate = 0.15,
      maskRate = 0.8,
      randomRate = 0.1,
      seed = 0,
    } = options;
    if (!Number.isInteger(vocabSize) || vocabSize < 1)
      throw new InvalidArgumentError(`vocabSize must be a positive integer, got ${vocabSize}`);
    if (!Number.isInteger(maskTokenId) || maskTokenId < 0 || maskTokenId >= vocabSize) {
      throw new InvalidArgumentError(
        `maskTokenId ${maskTokenId} is outside the vocabulary [0, ${vocabSize})`,
      );
    }
    if (!(selectionRate > 0 && selectionRate <= 1))
      throw new InvalidArgumentError(`selectionRate must be in (0, 1], got ${selectionRate}`);
    if (!(maskRate >= 0 && randomRate >= 0 && maskRate + randomRate <= 1)) {
      throw new InvalidArgumentError(
        `maskRate (${maskRate}) and randomRate (${randomRate}) must be >= 0 and sum to at most 1`,
      );
    }
    this.vocabSize = vocabSize;
    this.maskTokenId = maskTokenId;
    this.unselectableIds = unselectableIds;
    this.selectionRate = selectionRate;
    this.maskRate = maskRate;
    this.randomRate = randomRate;
    this.#rng = new Rng(seed);
  }

  /** Slots per row for sequences of length T. */
  numSlots(t: number): number {
    return Math.max(1, Math.ceil(this.selectionRate * t));
  }

  /** A fresh mask for this batch (the generator's seed advances). The caller owns the returned tensors. */
  generate(batch: MaskInputs): MaskedBatch {
    const seeds = [0, 1, 2, 3].map(() => this.#rng.nextSeed());
    return tf.tidy(() => {
      const ids = rowsTensor(batch.inputIds, 'inputIds');
      const [b, t] = ids.shape as [number, number];
      const fits = (x: tf.Tensor, name: string) => {
        if (!tf.util.arraysEqual(x.shape, [b, t]))
          throw new ShapeError(`${name} shape [${x.shape}] does not match inputIds [${b},${t}]`);
        return x;
      };
      let candidate: tf.Tensor = tf.onesLike(ids).cast('bool');
      if (batch.attentionMask)
        candidate = candidate.logicalAnd(
          fits(rowsTensor(batch.attentionMask, 'attentionMask'), 'attentionMask').notEqual(0),
        );
      if (batch.specialTokensMask)
        candidate = candidate.logicalAnd(
          fits(rowsTensor(batch.specialTokensMask, 'specialTokensMask'), 'specialTokensMask').equal(0),
        );
      for (const id of this.unselectableIds) candidate = candidate.logicalAnd(ids.notEqual(id));

      // Rank candidates by a random key; take the top k of each row (core's argsortRows, which MAE's patch
      // mask in @transformer-kit/vit shares).
      const p = this.numSlots(t);
      const key = tf.where(
        candidate,
        tf.randomUniform([b, t], 0, 1, 'float32', seeds[0]),
        tf.fill([b, t], -1),
      );
      const n = candidate.cast('float32').sum(1);
      const k = n
        .mul(this.selectionRate)
        .add(tf.randomUniform([b], 0, 1, 'float32', seeds[1]))
        .floor()
        .minimum(n);
      const indices = argsortRows(key, { k: p, descending: true });
      const used = tf.range(0, p, 1, 'float32').expandDims(0).less(k.expandDims(1)); // (B, P)
      // In float: a reduction over a middle axis transposes first, and WebGPU's int32 transpose is broken.
      const slotsOneHot = tf.oneHot(indices, t).cast('float32').mul(used.cast('float32').expandDims(2)); // (B, P, T)
      const selected = slotsOneHot.sum(1).greater(0); // (B, T)

      const r = tf.randomUniform([b, t], 0, 1, 'float32', seeds[2]);
      const toMask = selected.logicalAnd(r.less(this.maskRate));
      const toRandom = selected
        .logicalAnd(r.greaterEqual(this.maskRate))
        .logicalAnd(r.less(this.maskRate + this.randomRate));
      const randomIds = tf.randomUniform([b, t], 0, this.vocabSize, 'int32', seeds[3]);
      const corrupted = tf.where(
        toMask,
        tf.fill([b, t], this.maskTokenId, 'int32'),
        tf.where(toRandom, randomIds, ids),
      );
      const ignore = tf.fill([b, t], IGNORE_INDEX, 'int32');
      // The label of slot j is the original id at its position: a one-hot row sum, not a batched gather.
      const atSlots = tf.oneHot(indices, t).mul(ids.expandDims(1)).sum(2);
      return {
        inputIds: corrupted as tf.Tensor2D,
        labels: tf.where(selected, ids, ignore) as tf.Tensor2D,
        positions: indices.cast('int32') as tf.Tensor2D,
        positionLabels: tf.where(used, atSlots, tf.fill([b, p], IGNORE_INDEX, 'int32')) as tf.Tensor2D,
      };
    });
  }
}
