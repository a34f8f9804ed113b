import { InvalidArgumentError, type Rng } from '@transformer-kit/core';

/*
 * Samplers as small objects (keras-hub's samplers, HF's logits processors): a LogitsProcessor rewrites one
 * row of next-token logits (temperature, top-k, top-p, min-p, repetition penalty), and a Sampler picks the
 * token from the processed row (greedy, random), or, for BeamSearch, `generate` keeps several sequences.
 * Everything runs on the host on the row `generate` has already read back: exact and seeded on every backend.
 */

/** Rewrites one row of logits in place; `tokens` is the sequence so far (prompt + generated). */
export interface LogitsProcessor {
  process(logits: Float64Array, tokens: readonly number[]): void;
}

/** Picks the next token from one row of raw logits. */
export interface Sampler {
  pick(logits: ArrayLike<number>, tokens: readonly number[], rng: Rng): number;
}

const softmax = (logits: Float64Array): Float64Array => {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < p.length; i++) z += p[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < p.length; i++) p[i]! /= z;
  return p;
};

/** Indices sorted by value, largest first (ties: lower index first). */
const byValue = (x: ArrayLike<number>): number[] =>
  Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || a - b);

/** Divides the logits by t > 0 (t < 1 sharpens, t > 1 flattens). */
export class Temperature implements LogitsProcessor {
  constructor(readonly temperature: number) {
    if (!(temperature > 0 && Number.isFinite(temperature)))
      throw new InvalidArgumentError(
        `temperature must be > 0 (use greedy: true for argmax), got ${temperature}`,
      );
  }
  process(logits: Float64Array): void {
    for (let i = 0; i < logits.length; i++) logits[i]! /= this.temperature;
  }
}

/** Keeps the k largest logits (ties at the k-th broken by index), the rest -Infinity. */
export class TopK implements LogitsProcessor {
  constructor(readonly k: number) {
    if (!(Number.isInteger(k) && k >= 1))
      throw new InvalidArgumentError(`topK must be an integer >= 1, got ${k}`);
  }
  process(logits: Float64Array): void {
    for (const i of byValue(logits).slice(this.k)) logits[i] = -Infinity;
  }
}

/** Nucleus: keeps the smallest most-likely set whose probability reaches p (at least one token). */
export class TopP implements LogitsProcessor {
  constructor(readonly p: number) {
    if (!(p > 0 && p <= 1)) throw new InvalidArgumentError(`topP must be in (0, 1], got ${p}`);
  }
  process(logits: Float64Array): void {
    if (this.p >= 1) return;
    const probs = softmax(logits);
    const order = byValue(probs);
    let mass = 0;
    let keep = 0;
    while (keep < order.length && mass < this.p) mass += probs[order[keep++]!]!;
    for (const i of order.slice(Math.max(1, keep))) logits[i] = -Infinity;
  }
}

/** Keeps the tokens whose probability is at least minP × the top probability (Nguyen et al. 2024). */
export class MinP implements LogitsProcessor {
  constructor(readonly minP: number) {
    if (!(minP >= 0 && minP <= 1)) throw new InvalidArgumentError(`minP must be in [0, 1], got ${minP}`);
  }
  process(logits: Float64Array): void {
    const probs = softmax(logits);
    let top = 0;
    for (const p of probs) if (p > top) top = p;
    for (let i = 0; i < probs.length; i++) if (probs[i]! < this.minP * top) logits[i] = -Infinity;
  }
}

/** CTRL's repetition penalty (HF's): a token already in the sequence has its logit divided (> 0) or multiplied (< 0) by θ. */
export class RepetitionPenalty implements LogitsProcessor {
  constructor(readonly penalty: number) {
    if (!(penalty > 0 && Number.isFinite(penalty)))
      throw new InvalidArgumentError(`repetitionPenalty must be > 0, got ${penalty}`);
  }
  process(logits: Float64Array, tokens: readonly number[]): void {
    for (const id of new Set(tokens)) {
      const v = logits[id];
      if (v !== undefined) logits[id] = v > 0 ? v / this.penalty : v * this.penalty;
    }
  }
}

/** Runs the processors over a copy of the row. */
export function processLogits(
  logits: ArrayLike<number>,
  tokens: readonly number[],
  processors: readonly LogitsProcessor[],
): Float64Array {
  const row = Float64Array.from(logits);
  for (const p of processors) p.process(row, tokens);
  return row;
}

/** The most likely token after the processors (e.g. a repetition penalty). */
export class GreedySampler implements Sampler {
  constructor(readonly processors: readonly LogitsProcessor[] = []) {}
  pick(logits: ArrayLike<number>, tokens: readonly number[]): number {
    const row = this.processors.length ? processLogits(logits, tokens, this.processors) : logits;
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
    return best;
  }
}

/** Draws from the softmax of the processed logits (temperature, top-k, top-p, min-p, ...). */
export class RandomSampler implements Sampler {
  constructor(readonly processors: readonly LogitsProcessor[] = []) {}
  /** The distribution `pick` draws from (over the whole vocabulary; removed tokens have 0). */
  distribution(logits: ArrayLike<number>, tokens: readonly number[] = []): Float64Array {
    return softmax(processLogits(logits, tokens, this.processors));
  }
  pick(logits: ArrayLike<number>, tokens: readonly number[], rng: Rng): number {
    const probs = this.distribution(logits, tokens);
    // Walk the most likely first: the same u picks the same token whatever the vocabulary order.
    const order = byValue(probs);
    let u = rng.next();
    for (const i of order) {
      if (probs[i] === 0) break;
      u -= probs[i]!;
      if (u < 0) return i;
    }
    return order[0]!;
  }
}

/**
 * Beam search: `generate` keeps the `numBeams` most likely sequences (sum of log-probabilities), and returns
 * the best finished one, its score divided by length^lengthPenalty (HF's length_penalty). Deterministic.
 */
export class BeamSearch {
  constructor(
    readonly numBeams: number,
    readonly lengthPenalty = 1,
  ) {
    if (!(Number.isInteger(numBeams) && numBeams >= 1))
      throw new InvalidArgumentError(`numBeams must be an integer >= 1, got ${numBeams}`);
  }
}

export interface SamplingOptions {
  /** Pick the most likely token (default when none of temperature / topK / topP / minP is given). */
  greedy?: boolean;
  /** > 0; divides the logits before sampling (default 1). */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Sample only from the smallest set of tokens whose probability sums to at least topP, in (0, 1]. */
  topP?: number;
  /** Sample only tokens at least minP × as likely as the most likely one, in [0, 1]. */
  minP?: number;
  /** > 0; penalises tokens already in the sequence (1 = none; HF's repetition_penalty). */
  repetitionPenalty?: number;
  /** A sampler object; overrides the options above. */
  sampler?: Sampler | BeamSearch;
}

/** The sampler `generate` uses: `options.sampler`, or one composed from the shorthand options (checked). */
export function samplerFrom(options: SamplingOptions): Sampler | BeamSearch {
  if (options.sampler) return options.sampler;
  const { temperature, topK, topP, minP, repetitionPenalty } = options;
  const pre = repetitionPenalty === undefined ? [] : [new RepetitionPenalty(repetitionPenalty)];
  const warpers = [
    ...(temperature === undefined ? [] : [new Temperature(temperature)]),
    ...(topK === undefined ? [] : [new TopK(topK)]),
    ...(topP === undefined ? [] : [new TopP(topP)]),
    ...(minP === undefined ? [] : [new MinP(minP)]),
  ];
  const greedy = options.greedy ?? warpers.length === 0;
  return greedy ? new GreedySampler(pre) : new RandomSampler([...pre, ...warpers]);
}
