import * as tf from '@tensorflow/tfjs';
import { wasmHeapStats } from './backend/wasm-runtime.js';
import type { BackboneConfig } from './config.js';
import { CheckpointMismatchError, OutOfMemoryError } from './errors.js';
import type { SafetensorsEntry } from './safetensors.js';

/*
 * Sizes a model from its config before anything is allocated: a config.json that asks for more parameters
 * than the backend can hold, or than its weights file carries, is refused while that costs nothing.
 */

/** Parameters of `numLayers` transformer blocks (attention q/k/v/o, MLP, two LayerNorms). */
export function blockParameterCount(
  c: Pick<BackboneConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers'>,
  bias = true,
): number {
  const h = c.hiddenSize;
  const i = c.intermediateSize;
  const weights = 4 * h * h + 2 * h * i;
  const biases = bias ? 4 * h + i + h : 0;
  return c.numLayers * (weights + biases + 4 * h);
}

/**
 * Throws OutOfMemoryError when `params` float32 parameters would not fit the backend's memory: on wasm the
 * heap's budget less what is live (the 4 GB ceiling); elsewhere only past 2^31 elements per model, beyond
 * what TF.js can address. Called before a model is built, so nothing is allocated.
 */
export function checkParameterBudget(what: string, params: number): void {
  const bytes = params * 4;
  const heap = tf.getBackend() === 'wasm' ? wasmHeapStats() : undefined;
  const budget = heap ? heap.budget - heap.liveBytes : 2 ** 31 * 4;
  if (bytes > budget) {
    const gb = (n: number) => `${(n / 2 ** 30).toFixed(2)} GB`;
    throw new OutOfMemoryError(
      `${what}: ${params} parameters need ${gb(bytes)} but the ${tf.getBackend()} backend has ${gb(budget)} free` +
        (heap
          ? ' (the wasm heap cannot exceed 4 GB): choose a smaller config or the node/webgpu backend'
          : ''),
      { requested: bytes, inUse: heap?.liveBytes ?? 0, budget },
    );
  }
}

/**
 * Parameters a loader may build beyond what the file holds before comparing names (16M: 64 MB of float32).
 * Below it, building the model costs little and the name-by-name comparison gives the better message.
 */
export const FILE_SLACK_PARAMETERS = 2 ** 24;

/**
 * Throws CheckpointMismatchError when config.json describes more than FILE_SLACK_PARAMETERS parameters
 * beyond the values the weights files (their parsed headers) hold: a small file cannot make the loader
 * build a large model.
 */
export function checkFileHolds(
  what: string,
  required: number,
  entries: readonly Pick<SafetensorsEntry, 'shape'>[],
): void {
  let held = 0;
  for (const e of entries) held += e.shape.reduce((a, d) => a * d, 1);
  if (required > held + FILE_SLACK_PARAMETERS)
    throw new CheckpointMismatchError(
      `config.json describes a ${what} of ${required} parameters but the weights hold only ${held} values: the config and weights belong to different models`,
    );
}
