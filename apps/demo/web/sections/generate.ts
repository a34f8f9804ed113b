/**
 * Page section 3: a character-level GPT trained live on Moby Dick (loss curve, Stop / Resume), then text
 * streamed from a prompt. Glue only: the experiment is ../../src/generate.ts.
 */
import { GptExperiment, gptSizes } from '../../src/generate.js';
import { UsageError } from '../../src/io.js';
import { loadMobyDick } from '../data.js';
import type { Page } from '../page.js';
import { LossPlot } from '../plot.js';
import { streamInto } from '../stream.js';

export interface GenerateSection {
  /** Frees the model and clears the counters (a backend switch). */
  dispose(): void;
}

export function setupGenerateSection(page: Page): GenerateSection {
  const { $, guarded, fast, seed, state, tick } = page;
  const plot = new LossPlot($<HTMLCanvasElement>('g-plot'), '#e8710a');
  let gpt: GptExperiment | null = null;

  async function train(): Promise<void> {
    if (!gpt) {
      $('g-status').textContent = 'preparing Moby Dick…';
      await tick();
      gpt = await GptExperiment.create(loadMobyDick(), {
        ...gptSizes(fast),
        ...page.stepsFrom('gptSteps'),
        seed,
      });
    } else if (gpt.steps >= gpt.totalSteps) {
      gpt.extend(gpt.totalSteps);
    }
    try {
      const exp = gpt;
      await page.trainLoop('g', exp, plot, state.gpt.losses, state.gpt, () => exp.steps * exp.tokensPerStep);
    } finally {
      state.gpt.running = false;
    }
  }

  async function generate(): Promise<void> {
    const model = gpt;
    if (!model) throw new UsageError('train the GPT first (press Train in section 3)');
    const prompt = $<HTMLInputElement>('g-prompt').value;
    const n = Number($<HTMLInputElement>('g-n').value);
    const temperature = Number($<HTMLInputElement>('g-temp').value);
    state.gpt.generated = '';
    await streamInto(
      $('g-out'),
      prompt,
      (onText) => model.generate(prompt, { maxNewTokens: n, temperature, onText }),
      (piece) => {
        state.gpt.generated += piece;
      },
    );
  }

  function reset(): void {
    page.stopAll();
    gpt?.dispose();
    gpt = null;
    state.gpt.losses = [];
    plot.clear();
    $('g-train').textContent = 'Train';
  }

  $('g-train').onclick = guarded(train);
  $('g-stop').onclick = () => page.stopAll();
  $('g-reset').onclick = reset;
  $('g-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(generate)();
  };

  return {
    dispose() {
      reset();
      $('g-step').textContent = '0';
      for (const id of ['g-loss', 'g-tps']) $(id).textContent = '–';
      $('g-status').textContent = '';
    },
  };
}
