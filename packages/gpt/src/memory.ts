import * as tf from '@tensorflow/tfjs';
import {
  InvalidArgumentError,
  linearCrossEntropyFloats,
  OutOfMemoryError,
  wasmHeapStats,
} from '@transformer-kit/core';
import type { GPT } from './model.js';

/*
 * What one training step of a built GPT will ask of memory, from its config and which parameters are
 * trainable (LoRA freezes most), so a step that cannot fit the wasm heap is refused before it starts
 * rather than failing mid-step. Float32 bytes: the weights (live already), a gradient per trainable
 * parameter (all alive at once before clipping), and what each block keeps for core's valueAndGrads, per
 * token: two LayerNorms' inputs, q, k, v, the attention context and a residual (7 hidden-sized vectors),
 * the GELU input and the 1-byte dropout mask of the probabilities (0.25 × heads × T: attention's backward
 * pass makes the probabilities again from q and k); with trainable weights also the inputs of the qkv and
 * MLP products (2 hidden-sized vectors and the GELU output), which frozen weights do not need. Counted from
 * the tape of a BERT-base step (the same block). Plus the vocabulary projection's logits and their gradient
 * (core's linearCrossEntropy: whole at 8 × 128, chunked when larger). GPT-2 medium with LoRA at 8 × 128
 * (bench/lora.bench.mjs): 2,754 MB of heap measured, 2,902 estimated; with recompute 1,861 and 1,894.
 * AdamW's moments are host memory on wasm (momentBytes).
 */

export interface GptTrainingMemory {
  parameters: number;
  trainable: number;
  /** Weights + gradients of the trainable parameters + activations: what the wasm heap must hold. */
  heapBytes: number;
  activationBytes: number;
  /** AdamW's two moments per trainable parameter (host memory on wasm). */
  momentBytes: number;
}

export interface GptTrainingMemoryOptions {
  batchSize: number;
  seqLength: number;
  /** Activation recomputation (attention's setRecompute): only block inputs are kept. */
  recompute?: boolean;
}

export function estimateTrainingBytes(
  model: GPT,
  { batchSize, seqLength, recompute = false }: GptTrainingMemoryOptions,
): GptTrainingMemory {
  for (const [name, v] of Object.entries({ batchSize, seqLength }))
    if (!Number.isInteger(v) || v < 1)
      throw new InvalidArgumentError(`estimateTrainingBytes: ${name} must be an integer >= 1, got ${v}`);
  const c = model.config;
  const params = model.parameters();
  const parameters = params.reduce((n, v) => n + v.size, 0);
  const trainable = params.filter((v) => v.trainable).reduce((n, v) => n + v.size, 0);
  const t = seqLength;
  const [d, i] = [c.hiddenSize, c.intermediateSize];
  const frozen = trainable < parameters / 2;
  const layerFloats = t * (7 * d + i + 0.25 * c.numHeads * t + (frozen ? 0 : 2 * d + i));
  const kept = (recompute ? c.numLayers * t * d : c.numLayers * layerFloats) + layerFloats;
  const activationBytes = 4 * (batchSize * kept + linearCrossEntropyFloats(batchSize * t, c.vocabSize));
  return {
    parameters,
    trainable,
    heapBytes: 4 * (parameters + trainable) + activationBytes,
    activationBytes,
    momentBytes: 8 * trainable,
  };
}

const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GB`;

/**
 * estimateTrainingBytes, and on wasm an OutOfMemoryError when the step's gradients and activations do not
 * fit next to what the heap holds now (the weights): before any step runs, naming what would fit instead.
 */
export function checkTrainingFits(model: GPT, options: GptTrainingMemoryOptions): GptTrainingMemory {
  const est = estimateTrainingBytes(model, options);
  const heap = tf.getBackend() === 'wasm' ? wasmHeapStats() : undefined;
  if (!heap) return est;
  const needed = est.heapBytes - 4 * est.parameters;
  const free = heap.budget - heap.liveBytes;
  if (needed > free) {
    const full = est.trainable === est.parameters;
    throw new OutOfMemoryError(
      `GPT training at ${options.batchSize} × ${options.seqLength}: ${gb(needed)} of gradients (${(est.trainable / 1e6).toFixed(1)}M trainable parameters) and activations${options.recompute ? ' (recomputed)' : ''} do not fit the ${gb(free)} left in the wasm heap next to the ${gb(4 * est.parameters)} of weights (the heap cannot exceed 4 GB): ${full ? 'train LoRA adapters (@transformer-kit/lora addLora), ' : ''}${options.recompute ? '' : "turn on activation recomputation (attention's setRecompute), "}or use a smaller batch with accumulationSteps`,
      { requested: needed, inUse: heap.liveBytes, budget: heap.budget },
    );
  }
  return est;
}
