import { InvalidArgumentError } from './errors.js';

export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Steps of linear warmup (default 0). */
  warmupSteps?: number;
  /** Steps after which the rate stays at `minLr`. Without it the rate stays at `lr` after warmup. */
  totalSteps?: number;
  /** Floor of the cosine (default 0). */
  minLr?: number;
}

function check({ lr, warmupSteps = 0, totalSteps, minLr = 0 }: WarmupCosineOptions): void {
  if (!(lr >= 0) || !Number.isFinite(lr))
    throw new InvalidArgumentError(`schedule: lr must be >= 0, got ${lr}`);
  if (!(minLr >= 0 && minLr <= lr))
    throw new InvalidArgumentError(`schedule: minLr must be in [0, lr], got ${minLr}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new InvalidArgumentError(`schedule: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  }
  if (totalSteps !== undefined && (!Number.isInteger(totalSteps) || totalSteps < warmupSteps)) {
    throw new InvalidArgumentError(
      `schedule: totalSteps must be an integer >= warmupSteps (${warmupSteps}), got ${totalSteps}`,
    );
  }
}

/**
 * Learning rate for 0-based optimizer step `step`: linear warmup lr·(step+1)/warmupSteps (so the first step
 * already moves), then a half cosine from lr down to minLr at totalSteps, minLr after that.
 */
export function warmupCosine(options: WarmupCosineOptions): (step: number) => number {
  return warmupDecay(options, (progress) => 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * HF's get_linear_schedule_with_warmup: the same warmup, then a straight line from lr down to minLr at
 * totalSteps (lr after warmup without totalSteps), minLr after that.
 */
export function warmupLinear(options: WarmupCosineOptions): (step: number) => number {
  return warmupDecay(options, (progress) => 1 - progress);
}

/** The shared warmup, then minLr + (lr − minLr)·kept(progress) for progress 0 → 1 over the decay. */
function warmupDecay(
  { lr, warmupSteps = 0, totalSteps, minLr = 0 }: WarmupCosineOptions,
  kept: (progress: number) => number,
): (step: number) => number {
  check({ lr, warmupSteps, totalSteps, minLr });
  return (step: number) => {
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    if (totalSteps === undefined) return lr;
    if (step >= totalSteps) return minLr;
    return minLr + (lr - minLr) * kept((step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  };
}
