/**
 * The page: pick a backend, train a BERT sentiment classifier and a char-level GPT live (loss curves,
 * stop/resume), classify a sentence with its attention heatmaps, stream generated text, and run a
 * HuggingFace checkpoint picked from disk. Every failure is shown in the page.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendChoice, initBackend, type TrainingLoop } from '@transformer-kit/core';
import { describeBackend } from '../src/describe.js';
import { GptExperiment, gptSizes } from '../src/generate.js';
import { type LoadedCheckpoint, loadHfCheckpoint } from '../src/hf.js';
import {
  type Attention,
  type Classification,
  SentimentExperiment,
  sentimentSizes,
} from '../src/sentiment.js';
import { loadMobyDick, loadSentences } from './data.js';
import { drawMatrix, drawRow } from './heatmap.js';
import { canvasHasInk, LossPlot } from './plot.js';
import { setupVitSection } from './vit.js';
import { wasmPaths } from './wasm.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};
const params = new URLSearchParams(location.search);
const fast = params.has('fast');
const seed = Number(params.get('seed') ?? 0);
/** `?sentimentSteps=N` / `?gptSteps=N` override the training schedules (the browser test uses them). */
const stepsFrom = (key: string) => (params.has(key) ? { steps: Number(params.get(key)) } : {});

// ---- errors: always visible, never a blank page -------------------------------------------------------
function showError(e: unknown): void {
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
}
window.addEventListener('error', (ev) => showError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
/** Runs an async UI action; its failure becomes a message in the page. */
function guarded<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => void {
  return (...args) => {
    fn(...args).catch(showError);
  };
}

// ---- state (also read by the browser test through window.demo) --------------------------------------
const state = {
  backend: '' as string,
  backendInfo: null as unknown,
  errors: [] as string[],
  sentiment: { losses: [] as number[], accuracy: null as number | null, running: false },
  gpt: { losses: [] as number[], running: false, generated: '' },
  classified: null as Classification | null,
  checkpoint: null as string | null,
};
let sentiment: SentimentExperiment | null = null;
let gpt: GptExperiment | null = null;
let loaded: LoadedCheckpoint | null = null;
const sPlot = new LossPlot($<HTMLCanvasElement>('s-plot'), '#4f7cff');
const gPlot = new LossPlot($<HTMLCanvasElement>('g-plot'), '#e8710a');

// ---- backend ------------------------------------------------------------------------------------------
async function useBackend(choice: BackendChoice): Promise<void> {
  stopAll();
  disposeModels();
  $('backend-info').textContent = `starting ${choice}…`;
  const info = await initBackend(choice, { wasmPaths });
  state.backend = tf.getBackend();
  state.backendInfo = info;
  $('backend-info').textContent = describeBackend(info);
}

function disposeModels(): void {
  sentiment?.dispose();
  gpt?.dispose();
  loaded?.dispose();
  sentiment = gpt = loaded = null;
  state.sentiment.losses = [];
  state.gpt.losses = [];
  state.sentiment.accuracy = null;
  sPlot.clear();
  gPlot.clear();
  for (const id of ['s-step', 'g-step']) $(id).textContent = '0';
  for (const id of ['s-loss', 's-tps', 's-acc', 'g-loss', 'g-tps']) $(id).textContent = '–';
  for (const id of ['s-status', 'g-status']) $(id).textContent = '';
  resetHfUi();
}

// ---- training: core's TrainingLoop, the page subscribes (plot, counters) and stops/resumes it ----------
/** What the page uses of a TrainingLoop (whatever its batches are). */
type Loop = Pick<TrainingLoop<unknown>, 'on' | 'run' | 'stop' | 'done'>;
const running = new Set<Loop>();
function stopAll(): void {
  for (const loop of running) loop.stop();
}

async function trainLoop(
  prefix: 's' | 'g',
  exp: { readonly loop: Loop; readonly steps: number; readonly totalSteps: number },
  plot: LossPlot,
  losses: number[],
  /** Set while training; the caller clears it when its own follow-up (evaluation) is done too. */
  flag: { running: boolean },
  /** Tokens the training batches held so far (for tokens/s). */
  tokens: () => number,
): Promise<void> {
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

// ---- 1. sentiment -------------------------------------------------------------------------------------
async function trainSentiment(): Promise<void> {
  if (!sentiment) {
    $('s-status').textContent = 'training a WordPiece vocabulary…';
    await tick();
    sentiment = await SentimentExperiment.create(loadSentences(), {
      ...sentimentSizes(fast),
      ...stepsFrom('sentimentSteps'),
      seed,
      head: 'cls',
      evalEvery: 50,
    });
  } else if (sentiment.steps >= sentiment.totalSteps) {
    sentiment.extend(sentiment.totalSteps);
  }
  const exp = sentiment;
  const off = exp.loop.on({ onEval: (m) => showAccuracy(m.accuracy!) });
  try {
    await trainLoop('s', exp, sPlot, state.sentiment.losses, state.sentiment, () => exp.tokensSeen);
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
}

// ---- 2. classify + heatmaps ---------------------------------------------------------------------------
let lastAttention: Attention | null = null;

async function classify(): Promise<void> {
  const text = $<HTMLInputElement>('c-text').value;
  const which = $<HTMLSelectElement>('c-model').value;
  const model = which === 'loaded' ? loaded?.classifier : sentiment;
  if (!model)
    throw new Error(
      which === 'loaded'
        ? 'load a BERT checkpoint first (section 4)'
        : 'train the sentiment model first (press Train in section 1)',
    );
  const r = await model.classify(text);
  state.classified = r;
  const top = r.probs.indexOf(Math.max(...r.probs));
  const label = r.labels[top] ?? String(top);
  const positive = /pos/i.test(label) || label === '1';
  $('c-result').className = 'result';
  $('c-result').innerHTML = '';
  const tag = document.createElement('span');
  tag.className = `label ${positive ? 'pos' : 'neg'}`;
  tag.textContent = label;
  const p = document.createElement('span');
  p.textContent = `  ${(r.probs[top]! * 100).toFixed(1)}% · ${r.tokens.length} tokens: ${r.tokens.join(' ')}`;
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.innerHTML = `<span style="width:${(r.probs[top]! * 100).toFixed(1)}%;background:${positive ? 'var(--good)' : 'var(--bad)'}"></span>`;
  $('c-result').append(tag, p, bar);
  lastAttention = r.attention;
  for (const id of ['h-heat', 'h-controls']) $(id).hidden = false;
  $('h-empty').hidden = true;
  fillLayerHead(r.attention);
  drawHeat();
}

function fillLayerHead(a: Attention): void {
  const fill = (sel: HTMLSelectElement, n: number, prefix: string) => {
    const keep = Math.min(Number(sel.value) || 0, n - 1);
    sel.innerHTML = '';
    for (let i = 0; i < n; i++) sel.add(new Option(`${prefix} ${i}`, String(i)));
    sel.value = String(keep);
  };
  fill($<HTMLSelectElement>('h-layer'), a.layers.length, 'layer');
  fill($<HTMLSelectElement>('h-head'), a.numHeads, 'head');
}

function drawHeat(): void {
  const a = lastAttention;
  if (!a) return;
  const layer = Number($<HTMLSelectElement>('h-layer').value);
  const head = Number($<HTMLSelectElement>('h-head').value);
  const t = a.tokens.length;
  const m = a.layers[layer]!.subarray(head * t * t, (head + 1) * t * t);
  const width = $('h-heat').clientWidth || 560;
  drawRow($<HTMLCanvasElement>('h-cls'), a.tokens, m.subarray(0, t), width - 8);
  drawMatrix($<HTMLCanvasElement>('h-full'), a.tokens, m, Math.min(560, width - 120));
}

// ---- 3. GPT -------------------------------------------------------------------------------------------
async function trainGpt(): Promise<void> {
  if (!gpt) {
    $('g-status').textContent = 'preparing Moby Dick…';
    await tick();
    gpt = await GptExperiment.create(loadMobyDick(), { ...gptSizes(fast), ...stepsFrom('gptSteps'), seed });
  } else if (gpt.steps >= gpt.totalSteps) {
    gpt.extend(gpt.totalSteps);
  }
  try {
    const exp = gpt;
    await trainLoop('g', exp, gPlot, state.gpt.losses, state.gpt, () => exp.steps * exp.tokensPerStep);
  } finally {
    state.gpt.running = false;
  }
}

async function generate(): Promise<void> {
  const model = gpt;
  if (!model) throw new Error('train the GPT first (press Train in section 3)');
  const prompt = $<HTMLInputElement>('g-prompt').value;
  const n = Number($<HTMLInputElement>('g-n').value);
  const temperature = Number($<HTMLInputElement>('g-temp').value);
  await streamInto($('g-out'), prompt, (onText) =>
    model.generate(prompt, { maxNewTokens: n, temperature, onText }),
  );
}

async function streamInto(
  out: HTMLElement,
  prompt: string,
  run: (onText: (s: string) => void) => Promise<string>,
): Promise<void> {
  out.innerHTML = '';
  const p = document.createElement('span');
  p.className = 'prompt';
  p.textContent = prompt;
  const gen = document.createTextNode('');
  out.append(p, gen);
  state.gpt.generated = '';
  await run((piece) => {
    gen.data += piece;
    state.gpt.generated += piece;
  });
}

// ---- 4. HuggingFace checkpoint ------------------------------------------------------------------------
function resetHfUi(): void {
  $('hf-info').textContent = 'No checkpoint loaded.';
  $('hf-info').className = 'result muted';
  $('hf-form').hidden = true;
  $('hf-out').hidden = true;
  const opt = $<HTMLSelectElement>('c-model').querySelector('option[value=loaded]');
  opt?.remove();
}

async function loadCheckpoint(list: FileList): Promise<void> {
  loaded?.dispose();
  loaded = null;
  resetHfUi();
  const files = new Map<string, ArrayBuffer>();
  for (const f of Array.from(list)) files.set(f.name, await f.arrayBuffer());
  $('hf-info').textContent = `reading ${files.size} files…`;
  try {
    loaded = await loadHfCheckpoint(files);
  } catch (e) {
    $('hf-info').textContent = 'Could not load that folder (see the message at the top).';
    throw e;
  }
  state.checkpoint = loaded.description;
  $('hf-info').className = 'result';
  $('hf-info').textContent = loaded.description;
  $('hf-form').hidden = false;
  $<HTMLInputElement>('hf-text').value = loaded.placeholder;
  if (loaded.classifier) {
    $<HTMLSelectElement>('c-model').add(new Option('loaded checkpoint', 'loaded'));
  }
}

async function runCheckpoint(): Promise<void> {
  const ck = loaded;
  if (!ck) throw new Error('no checkpoint loaded');
  const text = $<HTMLInputElement>('hf-text').value;
  const out = $('hf-out');
  out.hidden = false;
  await streamInto(out, ck.streams ? text : '', (onText) => ck.run(text, onText));
}

// ---- wiring -------------------------------------------------------------------------------------------
const tick = () => new Promise((r) => setTimeout(r, 0));

$('s-train').onclick = guarded(trainSentiment);
$('s-stop').onclick = () => stopAll();
$('s-reset').onclick = () => {
  stopAll();
  sentiment?.dispose();
  sentiment = null;
  state.sentiment.losses = [];
  sPlot.clear();
  $('s-train').textContent = 'Train';
};
$('g-train').onclick = guarded(trainGpt);
$('g-stop').onclick = () => stopAll();
$('g-reset').onclick = () => {
  stopAll();
  gpt?.dispose();
  gpt = null;
  state.gpt.losses = [];
  gPlot.clear();
  $('g-train').textContent = 'Train';
};
$('c-form').onsubmit = (ev) => {
  ev.preventDefault();
  guarded(classify)();
};
$('h-layer').onchange = drawHeat;
$('h-head').onchange = drawHeat;
$('g-form').onsubmit = (ev) => {
  ev.preventDefault();
  guarded(generate)();
};
$<HTMLInputElement>('hf-files').onchange = guarded(async () => {
  const files = $<HTMLInputElement>('hf-files').files;
  if (files?.length) await loadCheckpoint(files);
});
$('hf-form').onsubmit = (ev) => {
  ev.preventDefault();
  guarded(runCheckpoint)();
};
const backendSelect = $<HTMLSelectElement>('backend');
backendSelect.onchange = guarded(() => useBackend(backendSelect.value as BackendChoice));
$('tf-version').textContent = tf.version.tfjs;

const vit = setupVitSection({ $, guarded, fast, seed });

// For the browser test and for poking around in the console.
Object.assign(window, {
  demo: {
    state,
    vit,
    useBackend,
    ready: null as Promise<void> | null,
    inked: (id: string) => canvasHasInk($<HTMLCanvasElement>(id)),
  },
});

const initial = (params.get('backend') ?? 'auto') as BackendChoice;
backendSelect.value = initial;
(window as unknown as { demo: { ready: Promise<void> } }).demo.ready = useBackend(initial).catch((e) => {
  showError(e);
  $('backend-info').textContent = `could not start ${initial}: pick another backend`;
});
