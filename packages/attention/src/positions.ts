import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@transformer-kit/core';

/*
 * Positions that live inside attention (rotary, ALiBi) and the fixed sinusoidal table. Learned position
 * tables stay in the models' embeddings (GPT, BERT, ViT).
 */

export interface RotaryConfig {
  /** Size of each attention head. */
  headDim: number;
  /** Base of the frequencies (HF rope_theta; Llama 10000, SmolLM2 100000). */
  theta?: number;
  /** Share of each head that rotates (HF partial_rotary_factor; GPT-NeoX 0.25); the rest passes through. */
  fraction?: number;
}

/**
 * Rotary position embedding in HF's layout (modeling_llama's rotate_half): the rotated part of a head is two
 * halves [x1, x2] turned by (x1·cos − x2·sin, x2·cos + x1·sin), frequency i = theta^(−2i/rotaryDim).
 * No parameters; cos/sin of each position are computed on the host once and reused.
 */
export class Rotary {
  readonly headDim: number;
  readonly rotaryDim: number;
  readonly theta: number;
  readonly #invFreq: Float64Array;
  // The host tables of the last (theta, rotaryDim, T, offset), shared by every Rotary: all layers' queries
  // and keys of one forward pass reuse one computation.
  static #last: { key: string; cos: Float32Array; sin: Float32Array } | undefined;

  constructor({ headDim, theta = 10000, fraction = 1 }: RotaryConfig) {
    if (!Number.isInteger(headDim) || headDim < 2)
      throw new InvalidArgumentError(`rotary: headDim must be an integer >= 2, got ${headDim}`);
    if (!(theta > 0)) throw new InvalidArgumentError(`rotary: theta must be > 0, got ${theta}`);
    if (!(fraction > 0 && fraction <= 1))
      throw new InvalidArgumentError(`rotary: fraction must be in (0, 1], got ${fraction}`);
    this.headDim = headDim;
    // An even number of rotated dims, as HF's int(head_dim * partial_rotary_factor) for the released models.
    this.rotaryDim = Math.max(2, Math.floor((headDim * fraction) / 2) * 2);
    this.theta = theta;
    const half = this.rotaryDim / 2;
    // Rounded to float32 as HF's inv_freq buffer is.
    this.#invFreq = Float64Array.from({ length: half }, (_, i) =>
      Math.fround(1 / theta ** ((2 * i) / this.rotaryDim)),
    );
  }

  /** cos and sin (T, rotaryDim) for positions offset .. offset + T − 1, [freqs, freqs] as HF's emb. */
  table(t: number, offset = 0): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const d = this.rotaryDim;
    const key = `${this.theta}:${d}:${t}:${offset}`;
    let last = Rotary.#last;
    if (last?.key !== key) {
      last = { key, ...this.#hostTable(t, offset) };
      Rotary.#last = last;
    }
    return { cos: tf.tensor2d(last.cos, [t, d]), sin: tf.tensor2d(last.sin, [t, d]) };
  }

  #hostTable(t: number, offset: number): { cos: Float32Array; sin: Float32Array } {
    const d = this.rotaryDim;
    const half = d / 2;
    const cos = new Float32Array(t * d);
    const sin = new Float32Array(t * d);
    for (let p = 0; p < t; p++) {
      for (let i = 0; i < half; i++) {
        // HF: float32 position × float32 inv_freq.
        const angle = Math.fround((p + offset) * this.#invFreq[i]!);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        cos[p * d + i] = c;
        cos[p * d + i + half] = c;
        sin[p * d + i] = s;
        sin[p * d + i + half] = s;
      }
    }
    return { cos, sin };
  }

  /** Rotates x (B, H, T, headDim) whose first query/key sits at position `offset`. */
  rotate(x: tf.Tensor, offset = 0): tf.Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.headDim)
      throw new InvalidArgumentError(`rotary: expected (B, H, T, ${this.headDim}), got [${x.shape}]`);
    return tf.tidy(() => {
      const t = x.shape[2]!;
      const { cos, sin } = this.table(t, offset);
      const d = this.rotaryDim;
      const rot = d === this.headDim ? x : x.slice([0, 0, 0, 0], [-1, -1, -1, d]);
      const [x1, x2] = tf.split(rot, 2, 3) as [tf.Tensor, tf.Tensor];
      const rotated = rot.mul(cos).add(tf.concat([x2.neg(), x1], 3).mul(sin));
      return d === this.headDim ? rotated : tf.concat([rotated, x.slice([0, 0, 0, d], [-1, -1, -1, -1])], 3);
    });
  }
}

/**
 * ALiBi's per-head slopes (Press et al.; BLOOM's build_alibi_tensor): 2^(−8i/n) for n a power of two, and
 * for other n the power-of-two slopes of the next smaller power plus every other one of the next larger.
 */
export function alibiSlopes(numHeads: number): number[] {
  if (!Number.isInteger(numHeads) || numHeads < 1)
    throw new InvalidArgumentError(`alibiSlopes: numHeads must be a positive integer, got ${numHeads}`);
  const pow2 = (n: number) => Array.from({ length: n }, (_, i) => 2 ** ((-8 * (i + 1)) / n));
  const closest = 2 ** Math.floor(Math.log2(numHeads));
  if (closest === numHeads) return pow2(numHeads);
  return [
    ...pow2(closest),
    ...pow2(2 * closest)
      .filter((_, i) => i % 2 === 0)
      .slice(0, numHeads - closest),
  ];
}

/**
 * ALiBi's additive bias (1, H, T, S): −slope_h · |i − j| for a query at absolute position offset + i and a
 * key at j. (Causal models see only j ≤ i, where this is the paper's −slope·(i − j).)
 */
export function alibiBias(numHeads: number, t: number, s = t, offset = s - t): tf.Tensor4D {
  const slopes = alibiSlopes(numHeads);
  const data = new Float32Array(numHeads * t * s);
  for (let h = 0; h < numHeads; h++)
    for (let i = 0; i < t; i++)
      for (let j = 0; j < s; j++) data[(h * t + i) * s + j] = -slopes[h]! * Math.abs(i + offset - j);
  return tf.tensor4d(data, [1, numHeads, t, s]);
}

/**
 * The fixed sinusoidal table (numPositions, dim) of "Attention Is All You Need": sin at even dims, cos at
 * odd, frequency 10000^(−2i/dim). Add it to token embeddings (it has no parameters to train).
 */
export function sinusoidalPositions(numPositions: number, dim: number, base = 10000): tf.Tensor2D {
  if (!Number.isInteger(numPositions) || numPositions < 1 || !Number.isInteger(dim) || dim < 2 || dim % 2)
    throw new InvalidArgumentError(
      `sinusoidalPositions: numPositions must be a positive integer and dim an even integer, got ${numPositions}, ${dim}`,
    );
  const data = new Float32Array(numPositions * dim);
  for (let p = 0; p < numPositions; p++)
    for (let i = 0; i < dim / 2; i++) {
      const angle = p / base ** ((2 * i) / dim);
      data[p * dim + 2 * i] = Math.sin(angle);
      data[p * dim + 2 * i + 1] = Math.cos(angle);
    }
  return tf.tensor2d(data, [numPositions, dim]);
}
