import type * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import type { StepResult, Trainer } from './train.js';

/*
 * The one training loop (minGPT's Trainer: it knows nothing of the model). It asks a batch source for a
 * batch per micro-batch, hands the model's loss of that batch to core's Trainer (AdamW, schedule, clipping,
 * accumulation, non-finite checks), evaluates every N steps, stops early when the monitored metric stops
 * improving, saves every N steps, and tells subscribers (a CLI progress bar, a page plot) what happened.
 * `stop()` ends `run()` after the current step; calling `run()` again resumes where it stopped.
 */

/** Metrics an evaluation returns; a bare number is `{ valLoss: number }`. */
export type Metrics = Record<string, number>;

export interface LoopStep extends StepResult {
  /** 0-based epoch the step's batches came from (0 when the source has no epochs). */
  epoch: number;
  /** Metrics of the evaluation that ran after this step, if one did. */
  metrics?: Metrics;
}

export type StopReason = 'steps' | 'earlyStopping' | 'stopped';

export interface LoopResult {
  /** Every step taken by this loop, in order (over all `run()` calls). */
  history: LoopStep[];
  /** Metrics of the last evaluation, if any. */
  metrics?: Metrics;
  /** Best value of the early-stopping metric (when early stopping is on). */
  best?: number;
  reason: StopReason;
}

/** Subscribers to the loop's progress, called in order; any may be async (the loop awaits it). */
export interface LoopCallbacks {
  /** After every optimizer step (before its evaluation and checkpoint). */
  onStep?: (step: LoopStep) => void | Promise<void>;
  /** After every evaluation. */
  onEval?: (metrics: Metrics, step: number) => void | Promise<void>;
  /** After every checkpoint save. */
  onCheckpoint?: (step: number) => void | Promise<void>;
  /** When `run()` returns (finished, stopped early, or stopped). */
  onEnd?: (result: LoopResult) => void | Promise<void>;
}

/**
 * Where batches come from: `next()` returns the next batch (one per micro-batch). With `stepsPerEpoch`
 * (batches per epoch) the source also counts epochs (`epochs` in the loop options, and `LoopStep.epoch`).
 */
export interface BatchSource<B> {
  next(): B;
  readonly stepsPerEpoch?: number;
}

export interface EarlyStoppingOptions {
  /** Metric to watch (default 'valLoss'). */
  monitor?: string;
  /** 'min' (default): lower is better; 'max': higher is better. */
  mode?: 'min' | 'max';
  /** Evaluations without improvement before stopping (default 3). */
  patience?: number;
  /** An improvement smaller than this does not count (default 0). */
  minDelta?: number;
}

export interface TrainingLoopOptions<B> {
  trainer: Trainer;
  /** Batches, one per micro-batch; a function is a source without epochs. */
  batches: BatchSource<B> | (() => B);
  /**
   * The model's scalar loss for one batch. It runs inside the trainer's gradient scope, so tensors it (or
   * the batch source) makes are freed there; the loop puts the model in train mode before each step.
   */
  loss: (batch: B) => tf.Scalar;
  /** Optimizer steps to take, or `epochs` over the source (⌈epochs × stepsPerEpoch / accumulationSteps⌉). */
  steps?: number;
  epochs?: number;
  /** Held-out evaluation; the loop switches the model to eval mode around it. */
  evaluate?: () => Promise<number | Metrics>;
  /** Evaluate every this many steps (default: only after the last step). */
  evalEvery?: number;
  /** Evaluate after the last step too (default true when `evaluate` is given). */
  evalAtEnd?: boolean;
  earlyStopping?: EarlyStoppingOptions;
  /** Save every this many steps (and after the last) with `save` (e.g. an atomic checkpoint writer). */
  checkpointEvery?: number;
  save?: (step: number) => Promise<void>;
  callbacks?: LoopCallbacks[];
}

const positiveInt = (name: string, v: number | undefined) => {
  if (v !== undefined && (!Number.isInteger(v) || v < 1))
    throw new InvalidArgumentError(`TrainingLoop: ${name} must be an integer >= 1, got ${v}`);
};

export class TrainingLoop<B> {
  readonly trainer: Trainer;
  readonly history: LoopStep[] = [];
  /** The total number of optimizer steps the loop runs to (changes with `extend`). */
  totalSteps: number;
  readonly #source: BatchSource<B>;
  readonly #options: TrainingLoopOptions<B>;
  readonly #callbacks: LoopCallbacks[];
  #stopRequested = false;
  #best: number | undefined;
  #bad = 0;
  #earlyStopped = false;
  #metrics: Metrics | undefined;

  constructor(options: TrainingLoopOptions<B>) {
    const { trainer, batches, steps, epochs, evalEvery, checkpointEvery, earlyStopping } = options;
    this.trainer = trainer;
    this.#options = options;
    this.#source = typeof batches === 'function' ? { next: batches } : batches;
    this.#callbacks = [...(options.callbacks ?? [])];
    positiveInt('steps', steps);
    positiveInt('epochs', epochs);
    positiveInt('evalEvery', evalEvery);
    positiveInt('checkpointEvery', checkpointEvery);
    positiveInt('earlyStopping.patience', earlyStopping?.patience);
    if (checkpointEvery !== undefined && !options.save)
      throw new InvalidArgumentError('TrainingLoop: checkpointEvery needs a save function');
    if (earlyStopping && !options.evaluate)
      throw new InvalidArgumentError('TrainingLoop: earlyStopping needs an evaluate function');
    if (epochs !== undefined) {
      const per = this.#source.stepsPerEpoch;
      if (per === undefined)
        throw new InvalidArgumentError('TrainingLoop: epochs needs a batch source with stepsPerEpoch');
      // With accumulation every optimizer step takes trainer.accumulationSteps batches.
      this.totalSteps = Math.ceil((epochs * per) / trainer.accumulationSteps);
    } else if (steps !== undefined) {
      this.totalSteps = steps;
    } else {
      throw new InvalidArgumentError('TrainingLoop: give steps or epochs');
    }
  }

  /** Subscribes to progress events; returns a function that unsubscribes. */
  on(callbacks: LoopCallbacks): () => void {
    this.#callbacks.push(callbacks);
    return () => {
      const i = this.#callbacks.indexOf(callbacks);
      if (i >= 0) this.#callbacks.splice(i, 1);
    };
  }

  /** Optimizer steps taken so far. */
  get step(): number {
    return this.trainer.stepCount;
  }

  get done(): boolean {
    return this.#earlyStopped || this.step >= this.totalSteps;
  }

  /** Metrics of the last evaluation. */
  get metrics(): Metrics | undefined {
    return this.#metrics;
  }

  /** Ends `run()` after the step in progress; `run()` again resumes. */
  stop(): void {
    this.#stopRequested = true;
  }

  /** Raises the step budget by `more` (the trainer's schedule is the caller's business). */
  extend(more: number): void {
    positiveInt('more', more);
    this.totalSteps += more;
    this.#earlyStopped = false;
    this.#bad = 0;
  }

  /** Takes one optimizer step, then evaluates and saves when due; emits the events. */
  async trainStep(): Promise<LoopStep> {
    const { loss, evalEvery, checkpointEvery } = this.#options;
    const per = this.#source.stepsPerEpoch;
    const epoch = per ? Math.floor((this.step * this.trainer.accumulationSteps) / per) : 0;
    this.trainer.model.train();
    const r: LoopStep = { ...(await this.trainer.step(() => loss(this.#source.next()))), epoch };
    this.history.push(r);
    await this.#emit((c) => c.onStep?.(r));
    const last = r.step >= this.totalSteps;
    const evalAtEnd = this.#options.evalAtEnd ?? true;
    if (
      this.#options.evaluate &&
      ((evalEvery !== undefined && r.step % evalEvery === 0) || (last && evalAtEnd))
    ) {
      r.metrics = await this.evaluate();
      await this.#emit((c) => c.onEval?.(r.metrics!, r.step));
      this.#watch(r.metrics);
    }
    if (this.#options.save && checkpointEvery !== undefined && (r.step % checkpointEvery === 0 || last)) {
      await this.#options.save(r.step);
      await this.#emit((c) => c.onCheckpoint?.(r.step));
    }
    return r;
  }

  /** Runs the evaluation in eval mode (train mode is restored after); records the metrics. */
  async evaluate(): Promise<Metrics> {
    const fn = this.#options.evaluate;
    if (!fn) throw new InvalidArgumentError('TrainingLoop: no evaluate function was given');
    const model = this.trainer.model;
    const wasTraining = model.training;
    model.eval();
    try {
      const v = await fn();
      this.#metrics = typeof v === 'number' ? { valLoss: v } : v;
      return this.#metrics;
    } finally {
      model.train(wasTraining);
    }
  }

  /** Steps until the budget is spent, early stopping triggers, or `stop()` is called. */
  async run(): Promise<LoopResult> {
    this.#stopRequested = false;
    let reason: StopReason = 'steps';
    while (!this.done) {
      if (this.#stopRequested) {
        reason = 'stopped';
        break;
      }
      await this.trainStep();
    }
    if (this.#earlyStopped) reason = 'earlyStopping';
    const result: LoopResult = {
      history: this.history,
      reason,
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      ...(this.#best !== undefined ? { best: this.#best } : {}),
    };
    await this.#emit((c) => c.onEnd?.(result));
    return result;
  }

  #watch(metrics: Metrics): void {
    const es = this.#options.earlyStopping;
    if (!es) return;
    const { monitor = 'valLoss', mode = 'min', patience = 3, minDelta = 0 } = es;
    const v = metrics[monitor];
    if (v === undefined)
      throw new InvalidArgumentError(
        `TrainingLoop: early stopping watches '${monitor}', the evaluation returned ${Object.keys(metrics).join(', ') || 'nothing'}`,
      );
    const better =
      this.#best === undefined || (mode === 'min' ? v < this.#best - minDelta : v > this.#best + minDelta);
    if (better) {
      this.#best = v;
      this.#bad = 0;
    } else if (++this.#bad >= patience) {
      this.#earlyStopped = true;
    }
  }

  async #emit(call: (c: LoopCallbacks) => void | Promise<void>): Promise<void> {
    for (const c of [...this.#callbacks]) await call(c);
  }
}
