import * as tf from '@tensorflow/tfjs';
import { hostView } from './backend/host-memory.js';
import { CheckpointMismatchError, InvalidArgumentError, listFirst } from './errors.js';
import { type AdamWConstants, fusedKernels } from './fused.js';
import type { Module } from './module.js';
import { rowsPerBinding } from './row-blocks.js';

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

/** Host backends keep tensors in CPU memory: there one fused JS loop beats a dozen elementwise kernels. */
const HOST_BACKENDS = new Set(['cpu', 'wasm']);

/** Adam moments: a Float32Array on host backends, a non-trainable tf.Variable on device backends. */
type Moment = Float32Array | tf.Variable;

interface Slot {
  name: string;
  param: tf.Variable;
  decay: boolean;
  m?: Moment;
  v?: Moment;
}

export interface AdamWStepOptions {
  /** Learning rate for this step (default: the optimizer's `lr`). */
  lr?: number;
  /** Multiplies every gradient first: how clipping and accumulation averaging ride along for free. */
  gradScale?: number;
}

/**
 * AdamW exactly as torch.optim.AdamW (amsgrad off): decay the weight first, p ← p·(1 − lr·wd), then the
 * bias-corrected Adam step p ← p − lr·m̂ / (√v̂ + eps).
 *
 * On cpu and wasm the moments are host arrays (out of the 4 GB wasm heap) and the update is one pass: a
 * loop on cpu, the wasm runtime's SIMD kernel on wasm (on every core; the moments staged through the heap a chunk at a
 * time); on GPU backends the moments are tf.Variables, updated by the backend's fused kernel where one is
 * registered (WebGPU: one dispatch per parameter, in place) and by TF.js ops otherwise. `dispose()` frees them.
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
      if (param.dtype !== 'float32') {
        throw new InvalidArgumentError(
          `AdamW: parameter '${name}' is ${param.dtype}; only float32 is trained`,
        );
      }
      this.#slots.set(param.name, { name, param, decay: decay(name, param) });
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
  step(grads: tf.NamedTensorMap, { lr = this.lr, gradScale = 1 }: AdamWStepOptions = {}): void {
    checkRange('lr', lr, 0, Infinity);
    if (!Number.isFinite(gradScale))
      throw new InvalidArgumentError(`AdamW.step: gradScale must be finite, got ${gradScale}`);
    for (const key of Object.keys(grads)) {
      if (!this.#slots.has(key))
        throw new InvalidArgumentError(`AdamW.step: gradient for unknown variable '${key}'`);
    }
    this.stepCount++;
    const t = this.stepCount;
    const host = HOST_BACKENDS.has(tf.getBackend());
    // Bias corrections on the host, folded into two scalars as torch does.
    const k = {
      b1: this.beta1,
      b2: this.beta2,
      eps: this.eps,
      stepSize: lr / (1 - this.beta1 ** t),
      sqrtBc2: Math.sqrt(1 - this.beta2 ** t),
      gradScale,
    };
    for (const [key, s] of this.#slots) {
      const g = grads[key];
      if (!g) continue;
      const decayFactor = s.decay ? 1 - lr * this.weightDecay : 1;
      if (host) this.#hostUpdate(s, g, decayFactor, k);
      else this.#deviceUpdate(s, g, decayFactor, k);
    }
  }

  #hostUpdate(s: Slot, grad: tf.Tensor, decayFactor: number, k: Constants): void {
    const m = toHost(s, 'm');
    const v = toHost(s, 'v');
    // The new values go into a fresh tensor (nothing else can see it yet); p and g are read in place: no
    // host copies of the largest parameters (GPT-2's 154 MB embedding table was copied three times per step).
    let next =
      grad.dtype === 'float32'
        ? fusedKernels().adamWHost?.(s.param, grad, m, v, { ...k, decayFactor })
        : undefined;
    if (!next) {
      next = tf.zerosLike(s.param);
      // Views taken after that allocation, which may grow the wasm heap. Where no view can be written in
      // place (hostView checks), the values are computed into an array that becomes the new tensor.
      const target = hostView(next);
      const out = target ?? new Float32Array(s.param.size);
      const p = hostView(s.param) ?? (s.param.dataSync() as Float32Array);
      const g = hostView(grad) ?? (grad.dataSync() as Float32Array);
      const { b1, b2, eps, stepSize, sqrtBc2, gradScale } = k;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! * gradScale;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        out[i] = p[i]! * decayFactor - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
      }
      if (!target) {
        next.dispose();
        next = tf.tensor(out, s.param.shape, 'float32');
      }
    }
    s.param.assign(next);
    next.dispose();
  }

  #deviceUpdate(s: Slot, grad: tf.Tensor, decayFactor: number, k: Constants): void {
    const m = toDevice(s, 'm');
    const v = toDevice(s, 'v');
    if (grad.dtype === 'float32' && fusedKernels().adamWDevice?.(s.param, grad, m, v, { ...k, decayFactor }))
      return;
    const { b1, b2, eps, stepSize, sqrtBc2, gradScale } = k;
    // Small tidies, assigned at once, so at most a few parameter-sized temporaries are alive.
    tf.tidy(() => {
      const g = gradScale === 1 ? grad : grad.mul(gradScale);
      m.assign(tf.tidy(() => m.mul(b1).add(g.mul(1 - b1))));
      v.assign(tf.tidy(() => v.mul(b2).add(g.square().mul(1 - b2))));
    });
    tf.tidy(() => {
      const update = tf.tidy(() => m.div(v.sqrt().div(sqrtBc2).add(eps)).mul(stepSize));
      s.param.assign(tf.tidy(() => (decayFactor === 1 ? s.param : s.param.mul(decayFactor)).sub(update)));
    });
  }

  /**
   * The state needed to resume: the step count and torch-named moments (`<param>.exp_avg`,
   * `<param>.exp_avg_sq`) as host copies. Save it with `writeSafetensors(state.tensors, {step: String(state.step)})`.
   */
  exportState(): OptimizerState {
    return this.#state((t) => t.dataSync() as Float32Array);
  }

  /**
   * `exportState()` for any backend: the moments read with `data()`. On WebGPU in Node a synchronous read
   * is impossible (TF.js reads the GPU synchronously only through a page's OffscreenCanvas).
   */
  async readState(): Promise<OptimizerState> {
    const read = new Map<tf.Variable, Float32Array>();
    for (const s of this.#slots.values())
      for (const cur of [s.m, s.v])
        if (cur instanceof tf.Variable) read.set(cur, (await cur.data()) as Float32Array);
    return this.#state((t) => read.get(t)!);
  }

  #state(read: (moment: tf.Variable) => Float32Array): OptimizerState {
    const tensors: OptimizerState['tensors'] = {};
    for (const s of this.#slots.values()) {
      for (const [which, suffix] of [
        ['m', 'exp_avg'],
        ['v', 'exp_avg_sq'],
      ] as const) {
        const cur = s[which];
        const data =
          cur instanceof Float32Array
            ? cur.slice()
            : cur
              ? Float32Array.from(read(cur))
              : new Float32Array(s.param.size);
        tensors[`${s.name}.${suffix}`] = { shape: [...s.param.shape], data };
      }
    }
    return { step: this.stepCount, tensors };
  }

  /** Restores `exportState()` output (names and shapes must match); nothing changes unless all fit. */
  importState(state: {
    step: number;
    tensors: Record<string, { shape: number[]; data: ArrayLike<number> }>;
  }): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new InvalidArgumentError(`AdamW.importState: step must be an integer >= 0, got ${state.step}`);
    }
    const problems: string[] = [];
    const wanted = new Set<string>();
    for (const s of this.#slots.values()) {
      for (const suffix of ['exp_avg', 'exp_avg_sq']) {
        const key = `${s.name}.${suffix}`;
        wanted.add(key);
        const t = state.tensors[key];
        if (!t) problems.push(`missing ${key}`);
        else if (!tf.util.arraysEqual(t.shape, s.param.shape))
          problems.push(`${key}: [${t.shape}] vs parameter [${s.param.shape}]`);
      }
    }
    for (const key of Object.keys(state.tensors)) if (!wanted.has(key)) problems.push(`unexpected ${key}`);
    if (problems.length) {
      throw new CheckpointMismatchError(`optimizer state does not fit: ${listFirst(problems)}`);
    }
    for (const s of this.#slots.values()) {
      for (const [which, suffix] of [
        ['m', 'exp_avg'],
        ['v', 'exp_avg_sq'],
      ] as const) {
        const cur = s[which];
        if (cur instanceof tf.Variable) cur.dispose();
        s[which] = Float32Array.from(state.tensors[`${s.name}.${suffix}`]!.data);
      }
    }
    this.stepCount = state.step;
  }

  /** Frees the moment buffers (not the parameters, which the model owns). */
  dispose(): void {
    for (const s of this.#slots.values()) {
      if (s.m instanceof tf.Variable) s.m.dispose();
      if (s.v instanceof tf.Variable) s.v.dispose();
    }
    this.#slots.clear();
  }
}

export interface OptimizerState {
  step: number;
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

/** One step's constants, shared by every parameter (the decay factor is per parameter). */
type Constants = Omit<AdamWConstants, 'decayFactor'>;

// Moments are created at the first step in the form the current backend wants, and moved if it changes.
function toHost(s: Slot, which: 'm' | 'v'): Float32Array {
  const cur = s[which];
  if (cur instanceof Float32Array) return cur;
  const arr = cur ? Float32Array.from(cur.dataSync()) : new Float32Array(s.param.size);
  cur?.dispose();
  s[which] = arr;
  return arr;
}

function toDevice(s: Slot, which: 'm' | 'v'): tf.Variable {
  const cur = s[which];
  if (cur instanceof tf.Variable) return cur;
  // Over one WebGPU binding TF.js's fill would bind the whole table: zeros come from the host by a copy.
  const init = cur
    ? tf.tensor(cur, s.param.shape, 'float32')
    : rowsPerBinding(s.param) === Number.POSITIVE_INFINITY
      ? tf.zerosLike(s.param)
      : tf.tensor(new Float32Array(s.param.size), s.param.shape, 'float32');
  const variable = tf.variable(init, false);
  init.dispose();
  s[which] = variable;
  return variable;
}

function checkRange(what: string, x: number, lo: number, hi: number): void {
  const ok = Number.isFinite(x) ? x >= lo && (hi === Infinity ? true : x < hi) : false;
  if (!ok) throw new InvalidArgumentError(`AdamW: ${what} must be in [${lo}, ${hi}), got ${x}`);
}
