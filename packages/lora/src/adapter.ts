import * as tf from '@tensorflow/tfjs';
import {
  add,
  dropoutLinear,
  InvalidArgumentError,
  type Linear,
  linear,
  Module,
  type Rng,
} from '@transformer-kit/core';

/**
 * One LoRA adapter as PEFT's lora.Linear adds it: y = base(x) + B(A(dropout(x))) · scaling. A is (in, r)
 * and B (r, out) in our (in, out) layout (PEFT's lora_A.weight / lora_B.weight transposed). A fused group
 * (GPT-2's c_attn as our query|key|value) shares A and splits B's columns among its members, which is
 * exactly PEFT's adapter on the fused module.
 */
export class LoraAdapter extends Module {
  readonly A: tf.Variable;
  readonly B: tf.Variable;
  readonly offsets: number[];
  merged = false;
  // A(dropout(x)) of the last input, reused by the rest of a fused group that reads the same x (one
  // dropout mask for the group, as PEFT's single module has).
  #lastInput: tf.Tensor | undefined;
  #lastHidden: tf.Tensor | undefined;

  // The Linears it adapts are owned by their layers: kept out of the fields Module checks for children.
  readonly #members: readonly Linear[];
  get members(): readonly Linear[] {
    return this.#members;
  }

  constructor(
    members: readonly Linear[],
    readonly r: number,
    readonly scaling: number,
    readonly dropoutRate: number,
    rng: Rng,
  ) {
    super();
    this.#members = members;
    const inFeatures = members[0]!.inFeatures;
    // PEFT: kaiming_uniform_(lora_A, a=sqrt(5)) on (r, in): bound = gain·sqrt(3/fan_in) = 1/sqrt(in).
    const bound = 1 / Math.sqrt(inFeatures);
    this.A = this.param('A', tf.randomUniform([inFeatures, r], -bound, bound, 'float32', rng.nextSeed()));
    this.offsets = [0];
    for (const m of members) this.offsets.push(this.offsets.at(-1)! + m.outFeatures);
    this.B = this.param('B', tf.zeros([r, this.offsets.at(-1)!]));
  }

  /** B's columns for member i (all of B unless fused). */
  #bFor(i: number): tf.Tensor {
    if (this.members.length === 1) return this.B;
    return tf.slice(this.B, [0, this.offsets[i]!], [this.r, this.members[i]!.outFeatures]);
  }

  /** The adapter's addition to member i's output for input x. Call inside tf.tidy. */
  delta(x: tf.Tensor, i: number, training: boolean): tf.Tensor {
    const reuse =
      i > 0 && this.#lastInput === x && this.#lastHidden !== undefined && !this.#lastHidden.isDisposed;
    const h = reuse ? this.#lastHidden! : dropoutLinear(x, this.A, this.dropoutRate, training);
    if (this.members.length > 1) {
      this.#lastInput = x;
      this.#lastHidden = h;
    }
    // The scaling goes on the r-wide h: a product's backward keeps its inputs, and on the (…, out) result
    // that would be one more full-width activation per adapter.
    return linear(tf.mul(h, this.scaling), this.#bFor(i));
  }

  /** scaling · A·B_i: what merging adds to member i's (in, out) weight. */
  deltaWeight(i: number): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.A, this.#bFor(i)), this.scaling) as tf.Tensor2D);
  }

  /** Routes the members' outputs through the adapter; returns the undo. */
  install(): () => void {
    this.members.forEach((m, i) => {
      if (m.adapter) throw new InvalidArgumentError('LoRA: a Linear already has an adapter');
      m.adapter = (x, y) => (this.merged ? y : add(y, this.delta(x, i, m.training)));
    });
    return () => {
      for (const m of this.members) m.adapter = undefined;
      this.#lastInput = undefined;
      this.#lastHidden = undefined;
    };
  }
}
