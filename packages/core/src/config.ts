import { type Activation, checkActivation } from './activations.js';
import { InvalidArgumentError } from './errors.js';

/*
 * The one rule for model configs: a preset name, or a partial config filled from the default preset, then
 * overrides; the result is checked (positive integer sizes, dropout rates in [0, 1)). GPT, BERT and ViT use it.
 */

/**
 * The fields every backbone's config has, under the same names: GPTConfig, BertConfig and ViTConfig extend
 * it. HF's names for them (n_embd, hidden_size, ...) appear only in each package's checkpoint mapping.
 */
export interface BackboneConfig {
  /** Width of the residual stream. */
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** MLP width (4 × hiddenSize in every released GPT-2, BERT and ViT). */
  intermediateSize: number;
  /** Dropout on embeddings and on each sublayer's output (training only). */
  hiddenDropout: number;
  /** Dropout on attention probabilities (training only). */
  attentionDropout: number;
  layerNormEps: number;
  /** The MLP's activation: 'gelu' (exact, BERT and ViT) or 'gelu_tanh' (GPT-2's gelu_new). */
  activation: Activation;
}

/**
 * The one check of a backbone config: the shared sizes (and `sizes`, the family's own) are positive
 * integers, the heads divide hiddenSize, the dropout rates are in [0, 1), the activation is known.
 */
export function checkBackboneConfig<C extends BackboneConfig>(
  family: string,
  c: C,
  sizes: readonly (keyof C & string)[] = [],
): C {
  checkPositiveInts(family, c, ['hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', ...sizes]);
  checkHeads(family, c.hiddenSize, c.numHeads, 'hiddenSize');
  checkRates(family, c, ['hiddenDropout', 'attentionDropout']);
  checkEps(family, c.layerNormEps);
  checkActivation(c.activation);
  return c;
}

/** `base` (a preset name, or a partial config over `presets[fallback]`) plus `overrides`. */
export function fromPreset<C extends object, P extends string>(
  family: string,
  presets: Record<P, C>,
  fallback: P,
  base: P | Partial<C>,
  overrides: Partial<C> = {},
): C {
  if (typeof base === 'string' && !Object.hasOwn(presets, base))
    throw new InvalidArgumentError(
      `unknown ${family} preset '${base}'; valid: ${Object.keys(presets).join(', ')}`,
    );
  const start = typeof base === 'string' ? presets[base] : { ...presets[fallback], ...base };
  return { ...start, ...overrides };
}

/**
 * Upper bounds of config sizes, by field: far above any released model (GPT-3: 96 layers × 12288 hidden,
 * vocabularies ≤ 256k, contexts ≤ 128k) and far below what makes a hostile config.json allocate without
 * bound or overflow a typed array. A field not listed is bounded by MAX_SIZE.
 */
export const SIZE_LIMITS: Readonly<Record<string, number>> = {
  numLayers: 1024,
  numHeads: 1024,
  hiddenSize: 65536,
  intermediateSize: 262144,
  vocabSize: 2 ** 22,
  maxPositions: 2 ** 20,
  typeVocabSize: 2 ** 16,
  numLabels: 2 ** 20,
  imageSize: 2 ** 14,
  patchSize: 2 ** 10,
  numChannels: 2 ** 10,
  decoderHiddenSize: 65536,
  decoderNumLayers: 1024,
  decoderNumHeads: 1024,
  decoderIntermediateSize: 262144,
};
export const MAX_SIZE = 2 ** 24;

/** Throws InvalidArgumentError unless every `keys` field of `c` is an integer in [1, SIZE_LIMITS[k]]. */
export function checkPositiveInts<C>(family: string, c: C, keys: readonly (keyof C & string)[]): void {
  for (const k of keys) {
    const v = c[k] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new InvalidArgumentError(`${family} config: ${k} must be a positive integer, got ${String(v)}`);
    const max = Object.hasOwn(SIZE_LIMITS, k) ? SIZE_LIMITS[k]! : MAX_SIZE;
    if (v > max) throw new InvalidArgumentError(`${family} config: ${k} ${v} is over the limit of ${max}`);
  }
}

/** Throws InvalidArgumentError unless a LayerNorm epsilon is finite and > 0 (≤ 0 turns every output NaN). */
export function checkEps(family: string, eps: unknown): void {
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1))
    throw new InvalidArgumentError(`${family} config: layerNormEps must be in (0, 1), got ${String(eps)}`);
}

/** Throws InvalidArgumentError unless every `keys` field of `c` is a rate in [0, 1). */
export function checkRates<C>(family: string, c: C, keys: readonly (keyof C & string)[]): void {
  for (const k of keys) {
    const v = c[k] as unknown;
    if (typeof v !== 'number' || !(v >= 0 && v < 1))
      throw new InvalidArgumentError(`${family} config: ${k} must be in [0, 1), got ${String(v)}`);
  }
}

/** Throws InvalidArgumentError unless `dim` splits into `heads` heads. */
export function checkHeads(family: string, dim: number, heads: number, dimName: string): void {
  if (dim % heads !== 0)
    throw new InvalidArgumentError(
      `${family} config: ${dimName} ${dim} is not divisible by numHeads ${heads}`,
    );
}
