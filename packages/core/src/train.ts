import * as tf from '@tensorflow/tfjs';
import { clipFactor, globalNorm } from './clip.js';
import { InvalidArgumentError, NonFiniteLossError } from './errors.js';
import { valueAndGrads } from './grad.js';
import type { Module } from './module.js';
import { AdamW, type AdamWOptions } from './optim.js';
import { warmupCosine } from './schedule.js';

export interface TrainerOptions extends Omit<AdamWOptions, 'lr'> {
  /** Peak learning rate. */
  lr: number;
  /** Linear warmup steps (default 0). */
  warmupSteps?: number;
  /** Cosine decay to `minLr` ends here; without it the rate stays at `lr` after warmup. */
  totalSteps?: number;
  minLr?: number;
  /** Clip the global gradient norm to this (default: no clipping; the norm is still reported). */
  clipNorm?: number;
  /** Micro-batches per optimizer step; gradients and losses are averaged over them (default 1). */
  accumulationSteps?: number;
  /**
   * Learning rate for 0-based step `step` (e.g. core's `warmupLinear`); replaces the default warmup + cosine
   * (then warmupSteps, totalSteps and minLr are not used).
   */
  schedule?: (step: number) => number;
}

export interface StepResult {
  /** 1-based number of the optimizer step just taken. */
  step: number;
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate used for this step. */
  lr: number;
}

/**
 * The training step every model shares: loss and gradients of the model's trainable parameters, averaged
 * over micro-batches, clipped by global norm, then one AdamW step at the scheduled rate. A NaN/Inf loss
 * (or gradient norm) raises NonFiniteLossError naming the step and leaves the parameters untouched.
 * Every tensor it makes is freed, so numTensors stays flat across steps.
 *
 *   const trainer = new Trainer(model, { lr: 3e-4, weightDecay: 0.1, warmupSteps: 10, totalSteps: 200, clipNorm: 1 });
 *   const { loss } = await trainer.step(() => model.loss(x, y));
 */
export class Trainer {
  readonly optimizer: AdamW;
  readonly schedule: (step: number) => number;
  readonly clipNorm: number | undefined;
  readonly accumulationSteps: number;
  readonly #vars: tf.Variable[];

  constructor(
    readonly model: Module,
    options: TrainerOptions,
  ) {
    const {
      lr,
      warmupSteps,
      totalSteps,
      minLr,
      clipNorm,
      accumulationSteps = 1,
      schedule,
      ...adam
    } = options;
    if (clipNorm !== undefined && !(clipNorm > 0)) {
      throw new InvalidArgumentError(`Trainer: clipNorm must be > 0, got ${clipNorm}`);
    }
    if (!Number.isInteger(accumulationSteps) || accumulationSteps < 1) {
      throw new InvalidArgumentError(
        `Trainer: accumulationSteps must be an integer >= 1, got ${accumulationSteps}`,
      );
    }
    this.schedule = schedule ?? warmupCosine({ lr, warmupSteps, totalSteps, minLr });
    this.optimizer = new AdamW(model, { ...adam, lr });
    this.clipNorm = clipNorm;
    this.accumulationSteps = accumulationSteps;
    this.#vars = this.optimizer.variables;
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.optimizer.stepCount;
  }

  /**
   * One optimizer step. `lossFn(i)` builds the scalar loss of micro-batch i (0 ≤ i < accumulationSteps);
   * it runs inside core's `valueAndGrads`, so its intermediates are freed as the backward pass goes.
   */
  async step(lossFn: (microBatch: number) => tf.Scalar): Promise<StepResult> {
    const step = this.stepCount + 1;
    const lr = this.schedule(this.stepCount);
    const n = this.accumulationSteps;
    let grads: tf.NamedTensorMap = {};
    let lossSum: tf.Scalar | undefined;
    try {
      for (let i = 0; i < n; i++) {
        const { value, grads: g } = variableGrads(() => lossFn(i), this.#vars);
        const prev = grads;
        const prevLoss = lossSum;
        grads = i === 0 ? g : addInto(prev, g);
        lossSum = prevLoss ? (tf.add(prevLoss, value) as tf.Scalar) : value;
        if (i > 0) tf.dispose([prev, g, prevLoss, value] as tf.TensorContainer);
      }
      // Sums over micro-batches; the 1/n of the mean and the clip factor reach AdamW as one gradScale.
      const normT = globalNorm(Object.values(grads));
      // A failed read-back (a WebGPU device error) must not leak the norm.
      const [lossArr, normArr] = await Promise.all([lossSum!.data(), normT.data()]).finally(() =>
        normT.dispose(),
      );
      const loss = lossArr[0]! / n;
      const gradNorm = normArr[0]! / n;
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss);
      if (!Number.isFinite(gradNorm)) {
        const err = new NonFiniteLossError(step, loss);
        err.message = `gradient norm is ${gradNorm} at step ${step} (loss ${loss}): lower the learning rate or check the inputs`;
        throw err;
      }
      // torch.nn.utils.clip_grad_norm_
      const clip = this.clipNorm === undefined ? 1 : clipFactor(gradNorm, this.clipNorm);
      this.optimizer.step(grads, { lr, gradScale: clip / n });
      return { step, loss, gradNorm, lr };
    } finally {
      tf.dispose(grads);
      lossSum?.dispose();
    }
  }

  /** Frees the optimizer state (the model keeps its parameters). */
  dispose(): void {
    this.optimizer.dispose();
  }
}

/** valueAndGrads keyed by variable name, as tf.variableGrads returns them (and AdamW takes them). */
function variableGrads(
  f: () => tf.Scalar,
  vars: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const { value, grads } = valueAndGrads(f, vars);
  const named: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    const g = grads[i];
    if (g) named[v.name] = g;
  });
  return { value, grads: named };
}

function addInto(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    out[k] = x && y ? tf.add(x, y) : (x ?? y)!.clone();
  }
  return out;
}
