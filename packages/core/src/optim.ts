import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import type { Module } from './module.js';

/** Which parameters get weight decay. The usual rule: matrices yes; biases, norm gains (rank < 2) no. */
export type DecayRule = (name: string, param: tf.Variable) => boolean;

export const decayMatricesOnly: DecayRule = (_name, param) => param.rank >= 2;

export interface AdamWOptions {
  /** Learning rate used when `step` is not given one (default 1e-3, as torch.optim.AdamW). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  weightDecay?: number;
  /** Default `decayMatricesOnly`. To exempt embeddings too: `(n, p) => p.rank >= 2 && !n.includes('wte')`. */
  decay?: DecayRule;
}

interface Slot {
  name: string;
  param: tf.Variable;
  decay: boolean;
  m: tf.Variable;
  v: tf.Variable;
}

/**
 * AdamW exactly as torch.optim.AdamW (amsgrad off): decay the weight first, p ← p·(1 − lr·wd), then the
 * bias-corrected Adam step p ← p − lr·m̂ / (√v̂ + eps). Moments live in non-trainable tf.Variables so they
 * survive across steps without leaking; `dispose()` frees them.
 */
export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Number of steps taken (torch's `state['step']`). */
  stepCount = 0;
  // Keyed by tf.Variable.name: the keys tf.variableGrads returns.
  readonly #slots = new Map<string, Slot>();

  constructor(params: Module | Array<[string, tf.Variable]>, options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    checkRange('lr', this.lr, 0, Infinity);
    checkRange('beta1', this.beta1, 0, 1);
    checkRange('beta2', this.beta2, 0, 1);
    checkRange('eps', this.eps, 0, Infinity);
    checkRange('weightDecay', this.weightDecay, 0, Infinity);
    const decay = options.decay ?? decayMatricesOnly;
    const named = Array.isArray(params) ? params : params.namedParameters();
    for (const [name, param] of named) {
      if (!param.trainable) continue;
      this.#slots.set(param.name, {
        name,
        param,
        decay: decay(name, param),
        m: zerosVariable(param),
        v: zerosVariable(param),
      });
    }
  }

  /** The trainable parameters this optimizer updates, in registration order. */
  get variables(): tf.Variable[] {
    return [...this.#slots.values()].map((s) => s.param);
  }

  /** Parameter names that get weight decay (to check the decay rule). */
  get decayedNames(): string[] {
    return [...this.#slots.values()].filter((s) => s.decay).map((s) => s.name);
  }

  /**
   * One update from `grads`, keyed by tf.Variable name as `tf.variableGrads` returns them. Parameters without
   * a gradient are left alone (no decay either), as in PyTorch. The caller keeps ownership of `grads`.
   */
  step(grads: tf.NamedTensorMap, lr = this.lr): void {
    checkRange('lr', lr, 0, Infinity);
    for (const key of Object.keys(grads)) {
      if (!this.#slots.has(key))
        throw new InvalidArgumentError(`AdamW.step: gradient for unknown variable '${key}'`);
    }
    this.stepCount++;
    const t = this.stepCount;
    const { beta1: b1, beta2: b2, eps } = this;
    // Bias corrections on the host, folded into two scalars as torch does.
    const stepSize = lr / (1 - b1 ** t);
    const sqrtBc2 = Math.sqrt(1 - b2 ** t);
    for (const [key, s] of this.#slots) {
      const g = grads[key];
      if (!g) continue;
      tf.tidy(() => {
        const m = s.m.mul(b1).add(g.mul(1 - b1));
        const v = s.v.mul(b2).add(g.square().mul(1 - b2));
        const decayed = s.decay && this.weightDecay > 0 ? s.param.mul(1 - lr * this.weightDecay) : s.param;
        const update = m.div(v.sqrt().div(sqrtBc2).add(eps)).mul(stepSize);
        s.m.assign(m);
        s.v.assign(v);
        s.param.assign(decayed.sub(update));
      });
    }
  }

  /** Frees the moment buffers (not the parameters, which the model owns). */
  dispose(): void {
    for (const s of this.#slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.#slots.clear();
  }
}

function zerosVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const v = tf.variable(zeros, false);
  zeros.dispose();
  return v;
}

function checkRange(what: string, x: number, lo: number, hi: number): void {
  const ok = Number.isFinite(x) ? x >= lo && (hi === Infinity ? true : x < hi) : false;
  if (!ok) throw new InvalidArgumentError(`AdamW: ${what} must be in [${lo}, ${hi}), got ${x}`);
}
