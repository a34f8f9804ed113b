/**
 * Page section 1, step 2: the [CLS] sentiment classifier fine-tuned from the pretrained encoder (step 1) or
 * from scratch, with a live loss curve, Stop / Resume, and each start's test accuracy side by side. Glue
 * only: the experiment is ../../src/sentiment.ts.
 */
import { UsageError } from '../../src/io.js';
import { SentimentExperiment, sentimentSizes } from '../../src/sentiment.js';
import { loadSentences } from '../data.js';
import type { Page } from '../page.js';
import { LossPlot } from '../plot.js';
import type { PretrainSection } from './pretrain.js';

export interface SentimentSection {
  /** The trained classifier (section 2 classifies with it), or null before Train. */
  current(): SentimentExperiment | null;
  /** Frees the model and clears the counters (a backend switch). */
  dispose(): void;
}

export function setupSentimentSection(page: Page, pretraining: PretrainSection): SentimentSection {
  const { $, guarded, fast, seed, state, tick } = page;
  const plot = new LossPlot($<HTMLCanvasElement>('s-plot'), '#4f7cff');
  let sentiment: SentimentExperiment | null = null;

  async function train(): Promise<void> {
    if (!sentiment) {
      const from = $<HTMLSelectElement>('s-from').value as 'scratch' | 'pretrained';
      // From scratch, the vocabulary is trained on the training sentences; from the pretrained encoder, it
      // is the pretraining corpus's (the encoder's embeddings are for those tokens).
      const pre = from === 'pretrained' ? pretraining.current() : null;
      if (from === 'pretrained' && !pre)
        throw new UsageError('pretrain first (step 1), or start from scratch');
      $('s-status').textContent = pre
        ? 'copying the pretrained encoder…'
        : 'training a WordPiece vocabulary…';
      await tick();
      sentiment = await SentimentExperiment.create(loadSentences(), {
        ...sentimentSizes(fast),
        ...page.stepsFrom('sentimentSteps'),
        seed,
        head: 'cls',
        evalEvery: 50,
        ...(pre ? { tokenizer: pre.tokenizer, pretrained: pre.model } : {}),
      });
      state.sentiment.from = from;
    } else if (sentiment.steps >= sentiment.totalSteps) {
      sentiment.extend(sentiment.totalSteps);
    }
    const exp = sentiment;
    const off = exp.loop.on({ onEval: (m) => showAccuracy(m.accuracy!) });
    try {
      await page.trainLoop('s', exp, plot, state.sentiment.losses, state.sentiment, () => exp.tokensSeen);
      // Also after Stop, so the number matches the weights.
      $('s-status').textContent += ' · evaluating…';
      showAccuracy(await exp.accuracy(exp.test));
      $('s-status').textContent = $('s-status').textContent!.replace(' · evaluating…', '');
    } finally {
      off();
      state.sentiment.running = false;
    }
  }

  function showAccuracy(acc: number): void {
    state.sentiment.accuracy = acc;
    $('s-acc').textContent = `${(acc * 100).toFixed(1)}%`;
    state.sentiment.results[state.sentiment.from] = acc;
    const r = state.sentiment.results;
    const show = (x: number | undefined) =>
      x === undefined ? 'not trained yet' : `${(x * 100).toFixed(1)}%`;
    $('s-compare').classList.remove('muted');
    $('s-compare').textContent =
      `test accuracy · from the pretrained encoder: ${show(r.pretrained)} · from scratch: ${show(r.scratch)}`;
  }

  function reset(): void {
    page.stopAll();
    sentiment?.dispose();
    sentiment = null;
    state.sentiment.losses = [];
    plot.clear();
    $('s-train').textContent = 'Train';
  }

  $('s-train').onclick = guarded(train);
  $('s-stop').onclick = () => page.stopAll();
  $('s-reset').onclick = reset;
  // Another start is another model.
  $('s-from').onchange = reset;

  return {
    current: () => sentiment,
    dispose() {
      reset();
      state.sentiment.accuracy = null;
      $('s-step').textContent = '0';
      for (const id of ['s-loss', 's-tps', 's-acc']) $(id).textContent = '–';
      $('s-status').textContent = '';
    },
  };
}
