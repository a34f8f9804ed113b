/**
 * The page: pick a backend, pretrain a small BERT on masked words and fine-tune its sentiment classifier
 * (from the pretrained encoder or from scratch), train a char-level GPT live (loss curves,
 * stop/resume), classify a sentence with its attention heatmaps, stream generated text, and run a
 * HuggingFace checkpoint picked from disk. Every failure is shown in the page.
 */
import * as tf from '@tensorflow/tfjs';
import { loadSequenceClassifier } from '@transformer-kit/bert';
import { type BackendChoice, type FileData, initBackend, type TrainingLoop } from '@transformer-kit/core';
import { describeBackend } from '../src/describe.js';
import {
  type EvalMetrics,
  FineTuneExperiment,
  type FineTuneSettings,
  type FolderInfo,
  inspectFolder,
  isOutOfMemory,
  planMemory,
  predictProbs,
} from '../src/finetune.js';
import { GptExperiment, gptSizes } from '../src/generate.js';
import { type LoadedCheckpoint, loadHfCheckpoint } from '../src/hf.js';
import {
  type Attention,
  type Classification,
  SentimentExperiment,
  sentimentSizes,
} from '../src/sentiment.js';
import {
  type DataSplit,
  type LabelledData,
  readLabelledTable,
  sentimentData,
  splitData,
} from '../src/table.js';
import { loadMobyDick, loadSentences } from './data.js';
import { drawMatrix, drawRow } from './heatmap.js';
import { canvasHasInk, LossPlot } from './plot.js';
import { setupPretrainSection } from './pretrain.js';
import { setupVitSection } from './vit.js';
import { wasmPaths } from './wasm.js';
import { zipStored } from './zip.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};
const params = new URLSearchParams(location.search);
const fast = params.has('fast');
const seed = Number(params.get('seed') ?? 0);
/** `?threads=N`: threads on wasm, for XNNPACK's pool and core's kernels (default every core). */
const threads = params.has('threads') ? Number(params.get('threads')) : undefined;
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
  sentiment: {
    losses: [] as number[],
    accuracy: null as number | null,
    running: false,
    /** Where the current model's encoder started, and the final test accuracy of each start. */
    from: 'scratch' as 'scratch' | 'pretrained',
    results: {} as Partial<Record<'scratch' | 'pretrained', number>>,
  },
  gpt: { losses: [] as number[], running: false, generated: '' },
  classified: null as Classification | null,
  checkpoint: null as string | null,
  ft: {
    model: null as string | null,
    data: null as {
      labels: string[];
      counts: number[];
      train: number;
      validation: number;
      majority: number;
    } | null,
    losses: [] as number[],
    running: false,
    newHead: null as boolean | null,
    metrics: null as EvalMetrics | null,
    plan: null as string | null,
    outOfMemory: false,
    classified: null as Classification | null,
    saved: null as string[] | null,
    reloadIdentical: null as boolean | null,
  },
};
let sentiment: SentimentExperiment | null = null;
let gpt: GptExperiment | null = null;
let loaded: LoadedCheckpoint | null = null;
const pretraining = setupPretrainSection({
  $,
  guarded,
  fast,
  seed,
  ...(params.has('pretrainSteps') ? { steps: Number(params.get('pretrainSteps')) } : {}),
  // Offer the pretrained encoder for the next fine-tuning (a model already training keeps its start).
  onPretrained: () => {
    if (!sentiment) $<HTMLSelectElement>('s-from').value = 'pretrained';
  },
});
const sPlot = new LossPlot($<HTMLCanvasElement>('s-plot'), '#4f7cff');
const gPlot = new LossPlot($<HTMLCanvasElement>('g-plot'), '#e8710a');

// ---- backend ------------------------------------------------------------------------------------------
async function useBackend(choice: BackendChoice): Promise<void> {
  stopAll();
  disposeModels();
  $('backend-info').textContent = `starting ${choice}…`;
  const info = await initBackend(choice, { wasmPaths, threads });
  state.backend = tf.getBackend();
  state.backendInfo = info;
  $('backend-info').textContent = describeBackend(info);
}

function disposeModels(): void {
  stopFt();
  disposeFt();
  pretraining.dispose();
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
  prefix: 's' | 'g' | 'ft',
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
    const from = $<HTMLSelectElement>('s-from').value as 'scratch' | 'pretrained';
    // From scratch, the vocabulary is trained on the training sentences; from the pretrained encoder, it is
    // the pretraining corpus's (the encoder's embeddings are for those tokens).
    const pre = from === 'pretrained' ? pretraining.current() : null;
    if (from === 'pretrained' && !pre) throw new Error('pretrain first (step 1), or start from scratch');
    $('s-status').textContent = pre ? 'copying the pretrained encoder…' : 'training a WordPiece vocabulary…';
    await tick();
    sentiment = await SentimentExperiment.create(loadSentences(), {
      ...sentimentSizes(fast),
      ...stepsFrom('sentimentSteps'),
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
  state.sentiment.results[state.sentiment.from] = acc;
  const r = state.sentiment.results;
  const show = (x: number | undefined) => (x === undefined ? 'not trained yet' : `${(x * 100).toFixed(1)}%`);
  $('s-compare').classList.remove('muted');
  $('s-compare').textContent =
    `test accuracy · from the pretrained encoder: ${show(r.pretrained)} · from scratch: ${show(r.scratch)}`;
}

function resetSentiment(): void {
  stopAll();
  sentiment?.dispose();
  sentiment = null;
  state.sentiment.losses = [];
  sPlot.clear();
  $('s-train').textContent = 'Train';
}

// ---- 2. classify + heatmaps ---------------------------------------------------------------------------
const lastAttention: Record<string, Attention | undefined> = {};

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
  showClassification(r, '');
}

/** A classification with its heatmaps, in section 2 (prefix '') or in the fine-tune section ('ft-'). */
function showClassification(r: Classification, prefix: '' | 'ft-'): void {
  const top = r.probs.indexOf(Math.max(...r.probs));
  const label = r.labels[top] ?? String(top);
  const positive = /pos/i.test(label) || label === '1';
  const result = $(`${prefix}c-result`);
  result.className = 'result';
  result.innerHTML = '';
  const tag = document.createElement('span');
  tag.className = `label ${positive ? 'pos' : 'neg'}`;
  tag.textContent = label;
  const p = document.createElement('span');
  const others =
    r.labels.length > 2
      ? ` (${r.labels.map((l, i) => `${l} ${(r.probs[i]! * 100).toFixed(0)}%`).join(', ')})`
      : '';
  p.textContent = `  ${(r.probs[top]! * 100).toFixed(1)}%${others} · ${r.tokens.length} tokens: ${r.tokens.join(' ')}`;
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.innerHTML = `<span style="width:${(r.probs[top]! * 100).toFixed(1)}%;background:${positive ? 'var(--good)' : 'var(--bad)'}"></span>`;
  result.append(tag, p, bar);
  lastAttention[prefix] = r.attention;
  for (const id of ['h-heat', 'h-controls']) $(`${prefix}${id}`).hidden = false;
  if (prefix === '') $('h-empty').hidden = true;
  fillLayerHead(r.attention, prefix);
  drawHeat(prefix);
}

function fillLayerHead(a: Attention, prefix: '' | 'ft-'): void {
  const fill = (sel: HTMLSelectElement, n: number, name: string) => {
    const keep = Math.min(Number(sel.value) || 0, n - 1);
    sel.innerHTML = '';
    for (let i = 0; i < n; i++) sel.add(new Option(`${name} ${i}`, String(i)));
    sel.value = String(keep);
  };
  fill($<HTMLSelectElement>(`${prefix}h-layer`), a.layers.length, 'layer');
  fill($<HTMLSelectElement>(`${prefix}h-head`), a.numHeads, 'head');
}

function drawHeat(prefix: '' | 'ft-'): void {
  const a = lastAttention[prefix];
  if (!a) return;
  const layer = Number($<HTMLSelectElement>(`${prefix}h-layer`).value);
  const head = Number($<HTMLSelectElement>(`${prefix}h-head`).value);
  const t = a.tokens.length;
  const m = a.layers[layer]!.subarray(head * t * t, (head + 1) * t * t);
  const width = $(`${prefix}h-heat`).clientWidth || 560;
  drawRow($<HTMLCanvasElement>(`${prefix}h-cls`), a.tokens, m.subarray(0, t), width - 8);
  drawMatrix($<HTMLCanvasElement>(`${prefix}h-full`), a.tokens, m, Math.min(560, width - 120));
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

// ---- 5. fine-tune your BERT ---------------------------------------------------------------------------
/** The picked folder's files (a checkpoint source) and what it is; the data; the experiment. */
let ftFiles: Map<string, FileData> | null = null;
let ftInfo: FolderInfo | null = null;
let ftData: LabelledData | null = null;
let ftSplit: DataSplit | null = null;
let ft: FineTuneExperiment | null = null;
let ftSaved: Map<string, Uint8Array> | null = null;
const ftPlot = new LossPlot($<HTMLCanvasElement>('ft-plot'), '#0f9d58');

/** The files of a folder picked with a directory input or as several files, by plain name. */
async function filesOf(list: FileList): Promise<Map<string, FileData>> {
  const files = new Map<string, FileData>();
  for (const f of Array.from(list)) files.set(f.name, f);
  return files;
}

/** A new folder: checked first (another architecture, no vocabulary), and only then replaces the old one. */
async function pickFolder(list: FileList): Promise<void> {
  notWhileTraining();
  const files = await filesOf(list);
  $('ft-model-info').textContent = `reading ${files.size} files…`;
  let info: FolderInfo;
  try {
    info = await inspectFolder(files);
  } catch (e) {
    $('ft-model-info').textContent = ftInfo
      ? `That folder cannot be fine-tuned (see the message at the top); still using the previous one: ${describeFolder(ftInfo)}`
      : 'That folder cannot be fine-tuned (see the message at the top).';
    throw e;
  }
  stopFt();
  disposeFt();
  ftFiles = files;
  ftInfo = info;
  state.ft.model = describeFolder(info);
  $('ft-model-info').className = 'result';
  $('ft-model-info').textContent = state.ft.model;
  const len = Math.min(info.config.maxPositions, Number($<HTMLInputElement>('ft-maxlen').value) || 128);
  $<HTMLInputElement>('ft-maxlen').value = String(len);
}

/** Picking another folder or data set replaces the model: not while a step may be running on it. */
function notWhileTraining(): void {
  if (state.ft.running) throw new Error('press Stop before picking another model folder or data set');
}

function describeFolder(info: FolderInfo): string {
  const c = info.config;
  const labels = info.labels ? `, labels ${info.labels.join(' / ')}` : '';
  return `${info.architecture}: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, vocabulary ${c.vocabSize} (${info.vocabulary}), max length ${c.maxPositions}${labels}`;
}

/** New data: parsed and split first; a bad file is an error and the previous data (and model) stay. */
async function pickData(file: File | null): Promise<void> {
  notWhileTraining();
  let data: LabelledData;
  if (file) data = readLabelledTable(await file.text(), file.name);
  else data = sentimentData(loadSentences());
  const split = splitData(data, 0.2, seed);
  stopFt();
  disposeFt();
  ftData = data;
  ftSplit = split;
  showData();
}

function showData(): void {
  const d = ftData!;
  const sp = ftSplit!;
  state.ft.data = {
    labels: sp.labels,
    counts: d.counts,
    train: sp.train.length,
    validation: sp.validation.length,
    majority: sp.majority.accuracy,
  };
  $('ft-data-info').className = 'result';
  $('ft-data-info').textContent =
    `${d.source}: ${d.rows.length} rows (columns ${[d.columns.text, d.columns.pair, d.columns.label].filter(Boolean).join(', ')}) · labels found: ${d.labels.map((l, i) => `${l} (${d.counts[i]})`).join(', ')} · split ${sp.train.length} train / ${sp.validation.length} validation · majority class '${sp.majority.label}' scores ${(sp.majority.accuracy * 100).toFixed(1)}%`;
}

function ftSettings(): FineTuneSettings {
  const num = (id: string, min: number) => {
    const v = Number($<HTMLInputElement>(id).value);
    if (!(Number.isFinite(v) && v >= min))
      throw new Error(`${id.replace('ft-', '')}: must be a number >= ${min}`);
    return v;
  };
  const int = (id: string, min: number) => Math.floor(num(id, min));
  const lr = num('ft-lr', 0);
  if (lr === 0) throw new Error('lr: must be > 0');
  return {
    epochs: int('ft-epochs', 1),
    batchSize: int('ft-batch', 1),
    accumulationSteps: int('ft-accum', 1),
    lr,
    maxLength: int('ft-maxlen', 8),
    recompute: $<HTMLInputElement>('ft-recompute').checked,
    seed,
  };
}

const sameSettings = (a: FineTuneSettings, b: FineTuneSettings) =>
  (Object.keys(a) as Array<keyof FineTuneSettings>).every((k) => k === 'evalEvery' || a[k] === b[k]);

/** The memory check; returns false (and offers a setting that fits) when the batch cannot fit. */
function checkMemory(settings: FineTuneSettings): boolean {
  const plan = planMemory(ftInfo!.config, ftSplit!.labels.length, settings, tf.getBackend());
  state.ft.plan = plan.message;
  const box = $('ft-memory');
  box.innerHTML = '';
  box.className = plan.fits ? 'result muted' : 'result warn';
  box.append(plan.fits ? `Memory: ${plan.message}.` : `Not started: ${plan.message}.`);
  if (plan.suggestion) offer(plan.suggestion);
  if (!plan.fits) {
    // The estimate is rough: let the user try; an out-of-memory error is caught and loses nothing.
    const b = document.createElement('button');
    b.id = 'ft-force';
    b.textContent = 'Try anyway';
    b.onclick = guarded(() => fineTune(true));
    box.append(' ', b);
  }
  return plan.fits;
}

/** A button that puts a setting that fits into the inputs. */
function offer(
  s: Pick<FineTuneSettings, 'batchSize' | 'accumulationSteps' | 'maxLength' | 'recompute'>,
): void {
  const b = document.createElement('button');
  b.id = 'ft-use-suggestion';
  b.textContent = `Use batch ${s.batchSize} × ${s.accumulationSteps}${s.recompute ? ' + recompute' : ''}${s.maxLength !== Number($<HTMLInputElement>('ft-maxlen').value) ? `, length ${s.maxLength}` : ''}`;
  b.onclick = () => {
    $<HTMLInputElement>('ft-batch').value = String(s.batchSize);
    $<HTMLInputElement>('ft-accum').value = String(s.accumulationSteps);
    $<HTMLInputElement>('ft-maxlen').value = String(s.maxLength);
    $<HTMLInputElement>('ft-recompute').checked = s.recompute;
    $('ft-memory').textContent = 'Settings changed: press Fine-tune.';
  };
  $('ft-memory').append(' ', b);
}

async function fineTune(force = false): Promise<void> {
  if (!ftFiles || !ftInfo) throw new Error('pick a BERT model folder first (section 5)');
  if (!ftSplit) await pickData(null);
  const settings = ftSettings();
  if (!force && !checkMemory(settings)) return;
  if (!ft) {
    $('ft-status').textContent = 'loading the model…';
    await tick();
    ft = await FineTuneExperiment.create(ftFiles, ftSplit!, settings, (w) => {
      $('ft-status').textContent = w;
    });
    state.ft.newHead = ft.info.newHead;
  } else if (ft.loop.done || !sameSettings(ft.settings, settings)) {
    // More epochs, or new settings (e.g. a smaller batch after running out of memory): same weights.
    ft.reconfigure(settings);
  }
  const exp = ft;
  const t0 = performance.now();
  const step0 = exp.loop.step;
  const off = exp.loop.on({
    onStep: (r) => {
      const per = (performance.now() - t0) / 1000 / Math.max(1, r.step - step0);
      $('ft-eta').textContent = formatSeconds(per * (exp.loop.totalSteps - r.step));
    },
    onEval: (m) => showFtMetrics({ accuracy: m.accuracy!, f1: m.f1! }),
  });
  try {
    await trainLoop('ft', exp, ftPlot, state.ft.losses, state.ft, () => exp.tokensSeen);
    $('ft-eta').textContent = exp.loop.done ? 'done' : '–';
    if (!exp.loop.done) {
      // Stopped: evaluate the weights as they are.
      $('ft-status').textContent += ' · evaluating…';
      showFtMetrics(await exp.evaluate());
      $('ft-status').textContent = $('ft-status').textContent!.replace(' · evaluating…', '');
    }
    $('ft-train').textContent = exp.loop.done ? 'Fine-tune more' : 'Resume';
  } catch (e) {
    if (isOutOfMemory(e)) {
      // The step failed before changing any weight: offer a smaller batch, keep what was trained.
      $('ft-status').textContent = 'out of memory: nothing trained so far is lost';
      const box = $('ft-memory');
      box.className = 'result warn';
      box.textContent = `${(e as Error).message} `;
      offer({
        batchSize: Math.max(1, Math.floor(settings.batchSize / 2)),
        accumulationSteps: settings.accumulationSteps * 2,
        maxLength: settings.maxLength,
        recompute: settings.recompute,
      });
      state.ft.outOfMemory = true;
      return;
    }
    throw e;
  } finally {
    off();
    state.ft.running = false;
    for (const id of ['ft-save', 'ft-save-files']) $(id).removeAttribute('disabled');
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function showFtMetrics(m: EvalMetrics): void {
  state.ft.metrics = m;
  $('ft-acc').textContent = `${(m.accuracy * 100).toFixed(1)}%`;
  $('ft-f1').textContent = m.f1.toFixed(3);
}

function stopFt(): void {
  ft?.loop.stop();
}

function disposeFt(): void {
  ft?.dispose();
  ft = null;
  ftSaved = null;
  state.ft.losses = [];
  state.ft.metrics = null;
  state.ft.saved = null;
  state.ft.reloadIdentical = null;
  ftPlot.clear();
  $('ft-step').textContent = '0';
  for (const id of ['ft-loss', 'ft-tps', 'ft-eta', 'ft-acc', 'ft-f1']) $(id).textContent = '–';
  $('ft-status').textContent = '';
  $('ft-train').textContent = 'Fine-tune';
  for (const id of ['ft-save', 'ft-save-files', 'ft-reload']) $(id).setAttribute('disabled', '');
}

async function classifyFt(): Promise<void> {
  if (!ft) throw new Error('fine-tune first (section 5)');
  const r = await ft.classify($<HTMLInputElement>('ft-c-text').value);
  state.ft.classified = r;
  showClassification(r, 'ft-');
}

function download(name: string, data: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(data);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/** The fine-tuned model as an HF folder (savePretrained's files), kept for "Reload" and downloaded. */
async function saveFt(asZip: boolean): Promise<void> {
  if (!ft) throw new Error('fine-tune first (section 5)');
  ftSaved = await ft.encode();
  state.ft.saved = [...ftSaved.keys()];
  if (asZip) download('finetuned-bert.zip', zipStored(ftSaved, 'finetuned-bert'));
  else for (const [name, bytes] of ftSaved) download(name, new Blob([bytes as BlobPart]));
  $('ft-reload').removeAttribute('disabled');
  $('ft-status').textContent = `saved ${[...ftSaved.keys()].join(', ')}`;
}

/** Loads the saved folder back (as the page loads any folder) and compares its predictions with the model's. */
async function reloadFt(): Promise<void> {
  if (!ft || !ftSaved) throw new Error('save the fine-tuned model first');
  const files = new Map<string, FileData>(ftSaved);
  const back = await loadSequenceClassifier(files, { labels: ft.split.labels });
  try {
    const rows = ft.split.validation;
    const before = await ft.predict(rows);
    const after = await predictProbs(back.model, back.tokenizer!, rows, ft.maxLength);
    const maxDiff = Math.max(...before.flatMap((p, i) => p.map((v, j) => Math.abs(v - after[i]![j]!))));
    state.ft.reloadIdentical = maxDiff === 0 && !back.newHead;
    $('ft-status').textContent =
      `reloaded the saved folder: ${state.ft.reloadIdentical ? 'identical' : 'DIFFERENT'} predictions on all ${rows.length} validation rows (max |Δp| = ${maxDiff})`;
  } finally {
    back.model.dispose();
  }
}

// ---- wiring -------------------------------------------------------------------------------------------
const tick = () => new Promise((r) => setTimeout(r, 0));

$('s-train').onclick = guarded(trainSentiment);
$('s-stop').onclick = () => stopAll();
$('s-reset').onclick = resetSentiment;
// Another start is another model.
$('s-from').onchange = resetSentiment;
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
$('h-layer').onchange = () => drawHeat('');
$('h-head').onchange = () => drawHeat('');
$('ft-h-layer').onchange = () => drawHeat('ft-');
$('ft-h-head').onchange = () => drawHeat('ft-');
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
$<HTMLInputElement>('ft-folder').onchange = guarded(async () => {
  const files = $<HTMLInputElement>('ft-folder').files;
  if (files?.length) await pickFolder(files);
});
$<HTMLInputElement>('ft-files').onchange = guarded(async () => {
  const files = $<HTMLInputElement>('ft-files').files;
  if (files?.length) await pickFolder(files);
});
$<HTMLInputElement>('ft-data-file').onchange = guarded(async () => {
  const file = $<HTMLInputElement>('ft-data-file').files?.[0];
  if (!file) return;
  $<HTMLSelectElement>('ft-data-source').value = 'file';
  await pickData(file);
});
$<HTMLSelectElement>('ft-data-source').onchange = guarded(async () => {
  if ($<HTMLSelectElement>('ft-data-source').value === 'sentiment') await pickData(null);
  else $<HTMLInputElement>('ft-data-file').click();
});
// A CSV/TSV dropped anywhere on the card.
const ftCard = $('ft-card');
ftCard.ondragover = (ev) => {
  ev.preventDefault();
  ftCard.classList.add('dragging');
};
ftCard.ondragleave = () => ftCard.classList.remove('dragging');
ftCard.ondrop = (ev) => {
  ev.preventDefault();
  ftCard.classList.remove('dragging');
  const file = ev.dataTransfer?.files[0];
  if (!file) return;
  $<HTMLSelectElement>('ft-data-source').value = 'file';
  guarded(pickData)(file);
};
$('ft-train').onclick = guarded(() => fineTune());
$('ft-stop').onclick = () => stopFt();
$('ft-save').onclick = guarded(() => saveFt(true));
$('ft-save-files').onclick = guarded(() => saveFt(false));
$('ft-reload').onclick = guarded(reloadFt);
$('ft-c-form').onsubmit = (ev) => {
  ev.preventDefault();
  guarded(classifyFt)();
};
const backendSelect = $<HTMLSelectElement>('backend');
backendSelect.onchange = guarded(() => useBackend(backendSelect.value as BackendChoice));
$('tf-version').textContent = tf.version.tfjs;

const vit = setupVitSection({ $, guarded, fast, seed });

// For the browser test and for poking around in the console.
Object.assign(window, {
  demo: {
    state,
    pretraining: pretraining.state,
    vit,
    useBackend,
    ready: null as Promise<void> | null,
    inked: (id: string) => canvasHasInk($<HTMLCanvasElement>(id)),
  },
});

guarded(pickData)(null);

const initial = (params.get('backend') ?? 'auto') as BackendChoice;
backendSelect.value = initial;
(window as unknown as { demo: { ready: Promise<void> } }).demo.ready = useBackend(initial).catch((e) => {
  showError(e);
  $('backend-info').textContent = `could not start ${initial}: pick another backend`;
});
