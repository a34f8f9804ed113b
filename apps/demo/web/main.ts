/**
 * The page: pick a backend, pretrain a small BERT on masked words and fine-tune its sentiment classifier,
 * classify a sentence with its attention heatmaps, train a char-level GPT and stream text, run a
 * HuggingFace checkpoint, fine-tune a BERT / DistilBERT / RoBERTa folder or Hub id on your labels (fully or
 * with LoRA), pretrain a ViT as a masked autoencoder, and search texts by meaning with a
 * sentence-transformers model. Each section is a module under sections/; this file only wires them: one
 * Page object (state, helpers) goes to each, and the backend switch frees every section's models.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendChoice, initBackend, setWasmHeapBudget } from '@transformer-kit/core';
import { describeBackend } from '../src/describe.js';
import { createPage } from './page.js';
import { canvasHasInk } from './plot.js';
import { setupCheckpointSection } from './sections/checkpoint.js';
import { setupClassifySection } from './sections/classify.js';
import { setupFineTuneSection } from './sections/finetune.js';
import { setupGenerateSection } from './sections/generate.js';
import { setupPretrainSection } from './sections/pretrain.js';
import { setupSearchSection } from './sections/search.js';
import { setupSentimentSection } from './sections/sentiment.js';
import { setupVitSection } from './sections/vit.js';
import { createState } from './state.js';
import { wasmPaths } from './wasm.js';

const page = createPage(createState());
const { $, guarded, showError, state } = page;
window.addEventListener('error', (ev) => showError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

const pretraining = setupPretrainSection(page, {
  // Offer the pretrained encoder for the next fine-tuning (a model already training keeps its start).
  onPretrained: () => {
    if (!sentiment.current()) $<HTMLSelectElement>('s-from').value = 'pretrained';
  },
});
const sentiment = setupSentimentSection(page, pretraining);
const generate = setupGenerateSection(page);
const checkpoint = setupCheckpointSection(page);
setupClassifySection(page, {
  trained: () => sentiment.current(),
  loaded: () => checkpoint.current()?.classifier ?? null,
});
const finetune = setupFineTuneSection(page);
const vit = setupVitSection(page);
const search = setupSearchSection(page);

/** Another backend: every model is freed (its tensors belong to the old one). */
async function useBackend(choice: BackendChoice): Promise<void> {
  page.stopAll();
  for (const section of [finetune, pretraining, sentiment, generate, checkpoint, search]) section.dispose();
  $('backend-info').textContent = `starting ${choice}…`;
  const info = await initBackend(choice, { wasmPaths, threads: page.threads });
  state.backend = tf.getBackend();
  state.backendInfo = info;
  $('backend-info').textContent = describeBackend(info);
}

const backendSelect = $<HTMLSelectElement>('backend');
backendSelect.onchange = guarded(() => useBackend(backendSelect.value as BackendChoice));
$('tf-version').textContent = tf.version.tfjs;

// For the browser test and for poking around in the console.
const demo = {
  state,
  pretraining: pretraining.state,
  vit,
  useBackend,
  ready: null as Promise<void> | null,
  inked: (id: string) => canvasHasInk($<HTMLCanvasElement>(id)),
  // The memory check's inputs: section 5's estimates and core's wasm heap cap (the test lowers it).
  ftEstimates: () => finetune.estimates(),
  setWasmHeapBudget,
};
Object.assign(window, { demo });

guarded(finetune.useSentimentData)();

const initial = (page.param('backend') ?? 'auto') as BackendChoice;
backendSelect.value = initial;
demo.ready = useBackend(initial).catch((e) => {
  showError(e);
  $('backend-info').textContent = `could not start ${initial}: pick another backend`;
});
