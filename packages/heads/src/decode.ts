import type * as tf from '@tensorflow/tfjs';
import { Rng } from '@transformer-kit/core';
import type { Sampler } from './samplers.js';

/** A cache of past keys/values as the decoding loop needs it (attention's KVCache). */
export interface DecodeCache {
  readonly length: number;
  dispose(): void;
}

/** The causal LM the loop drives (a Module with a KV cache): put in eval mode for the loop. */
export interface DecodeModel<C extends DecodeCache> {
  readonly training: boolean;
  eval(): void;
  train(on: boolean): void;
  newCache(): C;
}

/** Next-token logits after `input` (the newest tokens when cached, else the whole window) as a (V) row. */
export type NextLogits<C> = (input: number[], cache: C | undefined) => tf.Tensor;

export interface DecodeOptions {
  maxNewTokens: number;
  stopIds: readonly number[];
  seed: number;
  useCache: boolean;
  /** The position table's size: past it the window keeps the last `maxPositions` tokens (a new cache). */
  maxPositions: number;
}

/**
 * The one sampling loop of every causal LM (GPT, Llama): yields each new token; with a cache each step feeds
 * only the newest token. The model is put in eval mode for the loop and given back as it was.
 */
export async function* decode<C extends DecodeCache>(
  model: DecodeModel<C>,
  nextLogits: NextLogits<C>,
  prompt: readonly number[],
  sampler: Sampler,
  { maxNewTokens, stopIds, seed, useCache, maxPositions }: DecodeOptions,
): AsyncGenerator<number> {
  const rng = new Rng(seed);
  const tokens = [...prompt];
  let cache = useCache ? model.newCache() : undefined;
  let pending = tokens.slice();
  const wasTraining = model.training;
  model.eval();
  try {
    for (let i = 0; i < maxNewTokens; i++) {
      let input = cache ? pending : tokens;
      if ((cache?.length ?? 0) + input.length > maxPositions) {
        // Sliding window: positions shift, so the cache is rebuilt from the last maxPositions tokens.
        input = tokens.slice(-maxPositions);
        if (cache) {
          cache.dispose();
          cache = model.newCache();
        }
      }
      const row = nextLogits(input, cache);
      const logits = await row.data();
      row.dispose();
      const next = sampler.pick(logits, tokens, rng);
      tokens.push(next);
      pending = [next];
      yield next;
      if (stopIds.includes(next)) return;
    }
  } finally {
    cache?.dispose();
    model.train(wasTraining);
  }
}
