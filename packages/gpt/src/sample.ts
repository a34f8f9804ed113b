import { InvalidArgumentError, type Rng } from '@transformer-kit/core';

export interface SamplingOptions {
  /** Pick the most likely token (default when none of temperature / topK / topP is given). */
  greedy?: boolean;
  /** > 0; divides the logits before sampling (default 1). */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Sample only from the smallest set of tokens whose probability sums to at least topP, in (0, 1]. */
  topP?: number;
}

export function checkSampling({ temperature, topK, topP }: SamplingOptions): void {
  if (temperature !== undefined && !(temperature > 0 && Number.isFinite(temperature))) {
    throw new InvalidArgumentError(
      `temperature must be > 0 (use greedy: true for argmax), got ${temperature}`,
    );
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1))
    throw new InvalidArgumentError(`topK must be an integer >= 1, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1))
    throw new InvalidArgumentError(`topP must be in (0, 1], got ${topP}`);
}

export function isGreedy(o: SamplingOptions): boolean {
  return o.greedy ?? (o.temperature === undefined && o.topK === undefined && o.topP === undefined);
}

/**
 * Chooses the next token from one row of logits on the host: the row is already read back to decide
 * whether to stop, and host-side sampling with a seeded Rng is exact and reproducible on every backend.
 */
export function pickToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const n = logits.length;
  if (isGreedy(options)) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const temperature = options.temperature ?? 1;
  let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]!);
  if (options.topK !== undefined) order = order.slice(0, options.topK);
  const top = logits[order[0]!]!;
  let probs = order.map((i) => Math.exp((logits[i]! - top) / temperature));
  let z = probs.reduce((a, p) => a + p, 0);
  if (options.topP !== undefined && options.topP < 1) {
    // Keep the smallest prefix (most likely first) whose mass reaches topP; always at least one token.
    let mass = 0;
    let keep = 0;
    while (keep < probs.length && mass < options.topP * z) mass += probs[keep++]!;
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, order.length);
    z = mass;
  }
  let u = rng.next() * z;
  for (let j = 0; j < order.length; j++) {
    u -= probs[j]!;
    if (u < 0) return order[j]!;
  }
  return order[order.length - 1]!;
}
