/**
 * What every section of the page shares, in one object that main.ts makes and passes to each section: the
 * element lookup, the error box, the URL's settings, the state the browser test reads (window.demo.state)
 * and the training-loop driver. Sections keep their own models in their own closures and reach another
 * section only through what its setup function returns.
 */
import type { TrainingLoop } from '@transformer-kit/core';
import { UsageError } from '../src/io.js';
import type { PageState } from './state.js';

/** What the page uses of a TrainingLoop (whatever its batches are). */
export type Loop = Pick<TrainingLoop<unknown>, 'on' | 'run' | 'stop' | 'done'>;

export interface Page {
  /** The element with this id; a missing one is a bug in index.html, named. */
  $: <T extends HTMLElement = HTMLElement>(id: string) => T;
  /** Runs an async UI action; its failure becomes a message in the page. */
  guarded: <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => void;
  showError(e: unknown): void;
  /** Yields to the event loop so the page paints. */
  tick(): Promise<void>;
  /** `?fast`: the test sizes. */
  fast: boolean;
  seed: number;
  /** `?threads=N`: wasm's threads (XNNPACK's pool and core's kernels; default every core). */
  threads: number | undefined;
  /** `?sentimentSteps=N`-style overrides of a schedule (the browser test uses them). */
  stepsFrom(key: string): { steps?: number };
  /** A URL parameter (null when absent). */
  param(key: string): string | null;
  state: PageState;
  /** Trains `exp.loop` with the section's counters (`${prefix}-step`, -loss, -tps, -status) and plot. */
  trainLoop(
    prefix: string,
    exp: { readonly loop: Loop; readonly steps: number; readonly totalSteps: number },
    plot: { push(step: number, loss: number): void },
    losses: number[],
    /** Set while training; the caller clears it when its own follow-up (evaluation) is done too. */
    flag: { running: boolean },
    /** Tokens the training batches held so far (for tokens/s). */
    tokens: () => number,
  ): Promise<void>;
  /** Stops every loop that is running. */
  stopAll(): void;
}

export function createPage(state: PageState): Page {
  const params = new URLSearchParams(location.search);
  const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
    const el = document.getElementById(id);
    if (!el) throw new UsageError(`the page has no #${id}`);
    return el as T;
  };
  const showError = (e: unknown): void => {
    // Class names are minified in the bundle: show the message (ours name the problem) and nothing else.
    const msg = e instanceof Error ? e.message : String(e);
    console.error(e);
    const box = document.createElement('div');
    box.className = 'error';
    box.textContent = msg;
    const close = document.createElement('button');
    close.textContent = '×';
    close.title = 'dismiss';
    close.onclick = () => box.remove();
    box.append(close);
    $('errors').append(box);
    state.errors.push(msg);
  };
  const guarded =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    (...args: A) => {
      fn(...args).catch(showError);
    };
  const tick = () => new Promise<void>((r) => setTimeout(r, 0));
  const running = new Set<Loop>();

  async function trainLoop(...[prefix, exp, plot, losses, flag, tokens]: Parameters<Page['trainLoop']>) {
    const loop = exp.loop;
    running.add(loop);
    flag.running = true;
    $(`${prefix}-train`).setAttribute('disabled', '');
    $(`${prefix}-stop`).removeAttribute('disabled');
    $(`${prefix}-status`).textContent = 'training…';
    const t0 = performance.now();
    const tokens0 = tokens();
    const off = loop.on({
      onStep: async (s) => {
        losses.push(s.loss);
        plot.push(s.step, s.loss);
        $(`${prefix}-step`).textContent = `${s.step} / ${exp.totalSteps}`;
        $(`${prefix}-loss`).textContent = s.loss.toFixed(3);
        $(`${prefix}-tps`).textContent = Math.round(
          (tokens() - tokens0) / ((performance.now() - t0) / 1000),
        ).toLocaleString('en-US');
        // Let the page paint between steps.
        await tick();
      },
    });
    try {
      await loop.run();
      $(`${prefix}-status`).textContent = loop.done ? 'done' : 'stopped: press Train to resume';
    } finally {
      off();
      running.delete(loop);
      $(`${prefix}-train`).removeAttribute('disabled');
      $(`${prefix}-stop`).setAttribute('disabled', '');
      $(`${prefix}-train`).textContent = exp.steps >= exp.totalSteps ? 'Train more' : 'Resume';
    }
  }

  return {
    $,
    guarded,
    showError,
    tick,
    fast: params.has('fast'),
    seed: Number(params.get('seed') ?? 0),
    threads: params.has('threads') ? Number(params.get('threads')) : undefined,
    stepsFrom: (key) => (params.has(key) ? { steps: Number(params.get(key)) } : {}),
    param: (key) => params.get(key),
    state,
    trainLoop,
    stopAll: () => {
      for (const loop of running) loop.stop();
    },
  };
}
