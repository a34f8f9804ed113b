import { InvalidArgumentError } from '@transformer-kit/core';
import type { BertConfig } from './model.js';

/*
 * A rough memory estimate of one fine-tuning step, from the config alone, so a caller can say before it
 * starts that a batch will not fit (the wasm heap is 4 GiB at most) and offer a smaller batch with gradient
 * accumulation instead of crashing. It counts float32 bytes: the weights, their gradients and AdamW's two
 * moments (16 bytes per parameter), the dense gradient of the word-embedding table, and the activations a
 * layer keeps per token for core's valueAndGrads (which frees them as the backward pass goes): about four
 * hidden-sized vectors, the MLP's GELU input (intermediate size) and the attention probabilities with their
 * dropout mask (heads × T), plus one layer's worth of backward transients. Calibrated on core's
 * measurement (BERT-base width, 8 × 128: 27 MB of activations per layer; this says 31) and meant to err
 * on the safe side, not to be exact.
 */

export interface TrainingMemory {
  parameters: number;
  /** Weights + gradients + AdamW moments. */
  stateBytes: number;
  /** Activations and backward transients of one micro-batch. */
  activationBytes: number;
  totalBytes: number;
}

export interface TrainingMemoryOptions {
  batchSize: number;
  /** Padded sequence length (the max length, in the worst case). */
  seqLength: number;
  numLabels?: number;
  /** Activation recomputation per block: only block inputs are kept, one block's activations at a time. */
  recompute?: boolean;
}

export function estimateTrainingBytes(
  c: Pick<
    BertConfig,
    | 'vocabSize'
    | 'hiddenSize'
    | 'numLayers'
    | 'numHeads'
    | 'intermediateSize'
    | 'maxPositions'
    | 'typeVocabSize'
  >,
  { batchSize, seqLength, numLabels = 2, recompute = false }: TrainingMemoryOptions,
): TrainingMemory {
  for (const [name, v] of Object.entries({ batchSize, seqLength }))
    if (!Number.isInteger(v) || v < 1)
      throw new InvalidArgumentError(`estimateTrainingBytes: ${name} must be an integer >= 1, got ${v}`);
  const d = c.hiddenSize;
  const i = c.intermediateSize;
  const perLayer = 4 * d * d + 4 * d + 2 * d * i + i + d + 4 * d;
  const parameters =
    (c.vocabSize + c.maxPositions + c.typeVocabSize) * d +
    2 * d +
    c.numLayers * perLayer +
    d * d +
    d +
    d * numLabels +
    numLabels;
  const f = 4;
  const t = seqLength;
  // Floats kept per layer and example: 4 hidden-sized vectors, the GELU input, heads × T probabilities.
  const layerFloats = t * (4 * d + i + c.numHeads * t);
  // Recompute keeps each block's input and reruns one block at a time in the backward pass.
  const kept = (recompute ? c.numLayers * t * d : c.numLayers * layerFloats) + layerFloats;
  const activationBytes = f * batchSize * kept + f * c.vocabSize * d;
  const stateBytes = 4 * f * parameters;
  return { parameters, stateBytes, activationBytes, totalBytes: stateBytes + activationBytes };
}
