/**
 * Page section 1, step 1: masked-LM pretraining of the small BERT on the bundled State of the Union
 * addresses + Moby Dick with a live loss curve, and a fill-in-the-blank box. Glue only: the corpus, sizes,
 * model and guesses are ../src/pretrain.ts, the training is bert's pretrainMaskedLM. Step 2 (sentiment.ts)
 * fine-tunes from `current()`'s encoder.
 */
import type { BertForMaskedLM } from '@transformer-kit/bert';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import {
  buildMaskedLM,
  fillMask,
  type Guess,
  pretrain,
  pretrainingCorpus,
  pretrainSizes,
  trainVocabulary,
} from '../../src/pretrain.js';
import { sentimentSizes } from '../../src/sentiment.js';
import { loadMobyDick, loadSpeeches } from '../data.js';
import type { Page } from '../page.js';
import { LossPlot } from '../plot.js';

export interface PretrainState {
  losses: number[];
  running: boolean;
  /** Finished pretraining steps of the current model (0: untrained). */
  steps: number;
  /** The latest fill-in-the-blank answer: per [MASK], the top 5. */
  guesses: Guess[][] | null;
}

export interface PretrainSection {
  state: PretrainState;
  /** The masked LM and its vocabulary once pretrained (null before). */
  current(): { model: BertForMaskedLM; tokenizer: Tokenizer } | null;
  /** Frees the model (a backend switch). */
  dispose(): void;
}

export function setupPretrainSection(
  page: Page,
  opts: {
    /** Called when a pretrained encoder is ready (step 2 offers it). */
    onPretrained: () => void;
  },
): PretrainSection {
  const { $, guarded, fast, seed, tick } = page;
  const state: PretrainState = { losses: [], running: false, steps: 0, guesses: null };
  const plot = new LossPlot($<HTMLCanvasElement>('p-plot'), '#8e44ad');
  // `?pretrainSteps=N` overrides the step count (the browser test uses it).
  const sizes = { ...pretrainSizes(fast), ...page.stepsFrom('pretrainSteps') };
  let corpus: ReturnType<typeof pretrainingCorpus> | null = null;
  let mlm: { model: BertForMaskedLM; tokenizer: Tokenizer } | null = null;
  const status = (s: string) => {
    $('p-status').textContent = s;
  };

  /** The vocabulary and an untrained model (what "before pretraining" fills in with), made once. */
  async function ensureModel(): Promise<{ model: BertForMaskedLM; tokenizer: Tokenizer }> {
    if (mlm) return mlm;
    status('training a WordPiece vocabulary on the corpus…');
    await tick();
    corpus ??= pretrainingCorpus(loadSpeeches(), loadMobyDick());
    $('p-about').textContent =
      `${corpus.speeches} State of the Union addresses ${corpus.years} (public domain) and Moby Dick: ${corpus.sentences.length.toLocaleString('en-US')} sentences, ${corpus.words.toLocaleString('en-US')} words. A WordPiece vocabulary is trained on them; each batch, 15% of the tokens are masked afresh and the model guesses them.`;
    const tokenizer = trainVocabulary(corpus.sentences, sizes.vocabSize);
    mlm = { model: buildMaskedLM(tokenizer, sentimentSizes(fast).model, seed), tokenizer };
    status(`vocabulary: ${tokenizer.vocabSize} tokens; model untrained`);
    return mlm;
  }

  async function run(): Promise<void> {
    // Each press pretrains a fresh model for the whole schedule (bert's recipe runs to its end).
    dispose();
    const { model, tokenizer } = await ensureModel();
    state.running = true;
    state.losses = [];
    plot.clear();
    $('p-train').setAttribute('disabled', '');
    status('pretraining…');
    const t0 = performance.now();
    try {
      await pretrain(model, tokenizer, corpus!.sentences, {
        ...sizes,
        seed,
        onStep: async (step, loss) => {
          state.losses.push(loss);
          plot.push(step, loss);
          $('p-step').textContent = `${step} / ${sizes.steps}`;
          $('p-loss').textContent = loss.toFixed(3);
          await tick();
        },
      });
      state.steps = state.losses.length;
      status(
        `done: ${sizes.steps} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s (uniform guess: ln ${tokenizer.vocabSize} = ${Math.log(tokenizer.vocabSize).toFixed(2)})`,
      );
      await fill();
      opts.onPretrained();
    } finally {
      state.running = false;
      $('p-train').removeAttribute('disabled');
      $('p-train').textContent = 'Pretrain again';
    }
  }

  async function fill(): Promise<void> {
    const { model, tokenizer } = await ensureModel();
    const text = $<HTMLInputElement>('p-text').value;
    const guesses = await fillMask(model, tokenizer, text);
    state.guesses = guesses;
    const when = state.steps ? `after ${state.steps} pretraining steps` : 'before pretraining';
    const el = $('p-result');
    el.classList.remove('muted');
    el.textContent = `${when}: ${guesses
      .map(
        (g, i) =>
          `${guesses.length > 1 ? `[MASK] ${i + 1}: ` : ''}${g.map((x) => `${x.token} ${(x.p * 100).toFixed(1)}%`).join(' · ')}`,
      )
      .join('  |  ')}`;
  }

  function dispose(): void {
    mlm?.model.dispose();
    mlm = null;
    state.steps = 0;
  }

  $('p-train').onclick = guarded(run);
  $('p-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(fill)();
  };
  return {
    state,
    current: () => (mlm && state.steps > 0 ? mlm : null),
    dispose,
  };
}
