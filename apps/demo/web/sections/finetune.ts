/**
 * Page section 5: fine-tune a HuggingFace BERT, DistilBERT or RoBERTa folder (or Hub id; config.json's
 * model_type decides the family, as the CLI's `finetune --from`) on the demo's sentences or a CSV/TSV, fully
 * or with LoRA (proposed when the memory check finds that a full fine-tune does not fit), with the live loss,
 * validation accuracy / F1, Stop / Resume; then classify with heatmaps, save a PEFT adapter folder or the
 * HF folder (the CLI's save: FineTuneExperiment.encode), and reload what was saved to compare predictions.
 * Glue only: ../../src/finetune.ts is what the CLI runs.
 */
import * as tf from '@tensorflow/tfjs';
import { loadSequenceClassifier } from '@transformer-kit/bert';
import type { CheckpointSource, FileData } from '@transformer-kit/core';
import { loadLoraAdapter, trainableParameterCount } from '@transformer-kit/lora';
import { maxAbsDiff } from '../../src/checkpoints.js';
import {
  type EvalMetrics,
  FAMILY_NAMES,
  FineTuneExperiment,
  type FineTuneSettings,
  type FolderInfo,
  inspectFolder,
  isOutOfMemory,
  loraTargets,
  planMemory,
  predictProbs,
} from '../../src/finetune.js';
import { UsageError } from '../../src/io.js';
import {
  type DataSplit,
  type LabelledData,
  readLabelledTable,
  sentimentData,
  splitData,
} from '../../src/table.js';
import { classificationView } from '../classification.js';
import { loadSentences } from '../data.js';
import { type HubFile, hubSource } from '../hub.js';
import type { Page } from '../page.js';
import { LossPlot } from '../plot.js';
import { zipStored } from '../zip.js';

export interface FineTuneSection {
  /** Stops and frees the experiment (a backend switch); the picked folder and data stay. */
  dispose(): void;
  /** Reads the demo's sentiment sentences as the data (the default). */
  useSentimentData(): Promise<void>;
  /** The memory estimate per step for the current inputs, fully and with LoRA (the browser test sizes a budget by it). */
  estimates(): { full: number; lora: number };
}

/** The picked model: where it is read from, what it is, and the name the adapter records as its base. */
interface Picked {
  source: CheckpointSource;
  info: FolderInfo;
  name: string;
}

export function setupFineTuneSection(page: Page): FineTuneSection {
  const { $, guarded, seed, state, tick } = page;
  const st = state.ft;
  const plot = new LossPlot($<HTMLCanvasElement>('ft-plot'), '#0f9d58');
  const view = classificationView(page, 'ft-');
  let picked: Picked | null = null;
  let data: { table: LabelledData; split: DataSplit } | null = null;
  let ft: FineTuneExperiment | null = null;
  let saved: Map<string, Uint8Array> | null = null;

  /** The files of a folder picked with a directory input or as several files, by path inside the folder. */
  function filesOf(list: FileList): { files: Map<string, FileData>; name: string } {
    const files = new Map<string, FileData>();
    let name = 'picked-folder';
    for (const f of Array.from(list)) {
      // A directory input gives 'folder/sub/file': the folder's name, then paths inside it.
      const parts = (f.webkitRelativePath || f.name).split('/');
      if (parts.length > 1) name = parts[0]!;
      files.set(parts.length > 1 ? parts.slice(1).join('/') : f.name, f);
    }
    return { files, name };
  }

  /** A new model: checked first (another architecture, no vocabulary), and only then replaces the old one. */
  async function pick(source: CheckpointSource, name: string): Promise<void> {
    notWhileTraining();
    $('ft-model-info').textContent = 'reading the folder…';
    let info: FolderInfo;
    try {
      info = await inspectFolder(source);
    } catch (e) {
      $('ft-model-info').textContent = picked
        ? `That folder cannot be fine-tuned (see the message at the top); still using the previous one: ${describe(picked.info)}`
        : 'That folder cannot be fine-tuned (see the message at the top).';
      throw e;
    }
    stop();
    disposeExperiment();
    picked = { source, info, name };
    st.model = describe(info);
    st.family = info.modelType;
    $('ft-model-info').className = 'result';
    $('ft-model-info').textContent = st.model;
    const len = Math.min(info.config.maxPositions, Number($<HTMLInputElement>('ft-maxlen').value) || 128);
    $<HTMLInputElement>('ft-maxlen').value = String(len);
    // PEFT's default target modules for this family.
    $<HTMLInputElement>('ft-lora-targets').value = loraTargets(info.modelType).join(', ');
  }

  /** Picking another folder or data set replaces the model: not while a step may be running on it. */
  function notWhileTraining(): void {
    if (st.running) throw new UsageError('press Stop before picking another model folder or data set');
  }

  function describe(info: FolderInfo): string {
    const c = info.config;
    const labels = info.labels ? `, labels ${info.labels.join(' / ')}` : '';
    return `${info.architecture} (${FAMILY_NAMES[info.modelType]}): ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads, vocabulary ${c.vocabSize} (${info.vocabulary}), max length ${c.maxPositions}${labels}`;
  }

  /** New data: parsed and split first; a bad file is an error and the previous data (and model) stay. */
  async function pickData(file: File | null): Promise<void> {
    notWhileTraining();
    const table = file ? readLabelledTable(await file.text(), file.name) : sentimentData(loadSentences());
    const split = splitData(table, 0.2, seed);
    stop();
    disposeExperiment();
    data = { table, split };
    st.data = {
      labels: split.labels,
      counts: table.counts,
      train: split.train.length,
      validation: split.validation.length,
      majority: split.majority.accuracy,
    };
    $('ft-data-info').className = 'result';
    $('ft-data-info').textContent =
      `${table.source}: ${table.rows.length} rows (columns ${[table.columns.text, table.columns.pair, table.columns.label].filter(Boolean).join(', ')}) · labels found: ${table.labels.map((l, i) => `${l} (${table.counts[i]})`).join(', ')} · split ${split.train.length} train / ${split.validation.length} validation · majority class '${split.majority.label}' scores ${(split.majority.accuracy * 100).toFixed(1)}%`;
  }

  function settingsFromInputs(): FineTuneSettings {
    const num = (id: string, min: number) => {
      const v = Number($<HTMLInputElement>(id).value);
      if (!(Number.isFinite(v) && v >= min))
        throw new UsageError(`${id.replace('ft-', '')}: must be a number >= ${min}`);
      return v;
    };
    const int = (id: string, min: number) => Math.floor(num(id, min));
    const lr = num('ft-lr', 0);
    if (lr === 0) throw new UsageError('lr: must be > 0');
    const lora = $<HTMLInputElement>('ft-lora').checked;
    const targets = $<HTMLInputElement>('ft-lora-targets')
      .value.split(/[\s,]+/)
      .filter(Boolean);
    if (lora && targets.length === 0)
      throw new UsageError('LoRA target modules: name at least one Linear (e.g. query, value)');
    return {
      epochs: int('ft-epochs', 1),
      batchSize: int('ft-batch', 1),
      accumulationSteps: int('ft-accum', 1),
      lr,
      maxLength: int('ft-maxlen', 8),
      recompute: $<HTMLInputElement>('ft-recompute').checked,
      seed,
      ...(lora ? { lora: int('ft-lora-r', 1), loraTargets: targets } : {}),
    };
  }

  const sameSettings = (a: FineTuneSettings, b: FineTuneSettings) =>
    (Object.keys({ ...a, ...b }) as Array<keyof FineTuneSettings>).every(
      (k) => k === 'evalEvery' || String(a[k]) === String(b[k]),
    );

  /**
   * The memory check (the CLI's estimate); false when the batch cannot fit. It then offers a batch that
   * fits and, for a full fine-tune that LoRA would fit, LoRA (no gradients or moments for frozen weights).
   */
  function checkMemory(settings: FineTuneSettings): boolean {
    const labels = data!.split.labels.length;
    const plan = planMemory(picked!.info.config, labels, settings, tf.getBackend());
    st.plan = plan.message;
    const box = $('ft-memory');
    box.innerHTML = '';
    box.className = plan.fits ? 'result muted' : 'result warn';
    box.append(plan.fits ? `Memory: ${plan.message}.` : `Not started: ${plan.message}.`);
    if (plan.fits) return true;
    if (settings.lora === undefined) {
      const r = Number($<HTMLInputElement>('ft-lora-r').value) || 8;
      const lora = planMemory(picked!.info.config, labels, { ...settings, lora: r }, tf.getBackend());
      if (lora.fits) {
        st.loraProposed = true;
        const b = document.createElement('button');
        b.id = 'ft-use-lora';
        b.textContent = `Use LoRA (rank ${r}): ${lora.message}`;
        b.onclick = () => {
          $<HTMLInputElement>('ft-lora').checked = true;
          $('ft-memory').textContent = 'LoRA on: press Fine-tune.';
        };
        box.append(' ', b);
      }
    }
    if (plan.suggestion) offer(plan.suggestion);
    // The estimate is rough: let the user try; an out-of-memory error is caught and loses nothing.
    const b = document.createElement('button');
    b.id = 'ft-force';
    b.textContent = 'Try anyway';
    b.onclick = guarded(() => fineTune(true));
    box.append(' ', b);
    return false;
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
    if (!picked)
      throw new UsageError('pick a BERT, DistilBERT or RoBERTa folder (or a Hub id) first (section 5)');
    if (!data) await pickData(null);
    const settings = settingsFromInputs();
    if (!force && !checkMemory(settings)) return;
    // LoRA on or off, or other target modules, is another model: start again from the folder.
    if (
      ft &&
      (ft.settings.lora !== settings.lora || String(ft.settings.loraTargets) !== String(settings.loraTargets))
    )
      disposeExperiment();
    if (!ft) {
      $('ft-status').textContent = 'loading the model…';
      await tick();
      ft = await FineTuneExperiment.create(picked.source, data!.split, settings, (w) => {
        $('ft-status').textContent = w;
      });
      st.newHead = ft.info.newHead;
      const { trainable, total } = trainableParameterCount(ft.model);
      st.lora =
        settings.lora === undefined
          ? null
          : { r: settings.lora, targetModules: settings.loraTargets ?? [], trainable, total };
      $('ft-params').textContent =
        `${(total / 1e6).toFixed(2)}M parameters${st.lora ? `, ${(trainable / 1e3).toFixed(1)}k trained (LoRA rank ${st.lora.r} on ${st.lora.targetModules.join(', ')})` : ', every one trained'}`;
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
      onEval: (m) => showMetrics({ accuracy: m.accuracy!, f1: m.f1! }),
    });
    try {
      await page.trainLoop('ft', exp, plot, st.losses, st, () => exp.tokensSeen);
      $('ft-eta').textContent = exp.loop.done ? 'done' : '–';
      if (!exp.loop.done) {
        // Stopped: evaluate the weights as they are.
        $('ft-status').textContent += ' · evaluating…';
        showMetrics(await exp.evaluate());
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
        st.outOfMemory = true;
        return;
      }
      throw e;
    } finally {
      off();
      st.running = false;
      for (const id of ['ft-save', 'ft-save-files']) $(id).removeAttribute('disabled');
    }
  }

  function formatSeconds(s: number): string {
    if (!Number.isFinite(s)) return '–';
    if (s < 60) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }

  function showMetrics(m: EvalMetrics): void {
    st.metrics = m;
    $('ft-acc').textContent = `${(m.accuracy * 100).toFixed(1)}%`;
    $('ft-f1').textContent = m.f1.toFixed(3);
  }

  function stop(): void {
    ft?.loop.stop();
  }

  function disposeExperiment(): void {
    ft?.dispose();
    ft = null;
    saved = null;
    st.losses = [];
    st.metrics = null;
    st.saved = null;
    st.savedAs = null;
    st.lora = null;
    st.reloadIdentical = null;
    plot.clear();
    $('ft-step').textContent = '0';
    for (const id of ['ft-loss', 'ft-tps', 'ft-eta', 'ft-acc', 'ft-f1']) $(id).textContent = '–';
    $('ft-status').textContent = '';
    $('ft-params').textContent = '';
    $('ft-train').textContent = 'Fine-tune';
    for (const id of ['ft-save', 'ft-save-files', 'ft-reload']) $(id).setAttribute('disabled', '');
  }

  async function classify(): Promise<void> {
    if (!ft) throw new UsageError('fine-tune first (section 5)');
    const r = await ft.classify($<HTMLInputElement>('ft-c-text').value);
    st.classified = r;
    view.show(r);
  }

  function download(name: string, bytes: Blob): void {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(bytes);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }

  /**
   * The fine-tuned model's folder, kept for "Reload" and downloaded: with LoRA a PEFT adapter folder or the
   * merged model as the user chooses (merging is for good: training on then trains every weight).
   */
  async function save(asZip: boolean): Promise<void> {
    if (!ft || !picked) throw new UsageError('fine-tune first (section 5)');
    if (st.running) throw new UsageError('press Stop before saving');
    const as = st.lora && $<HTMLSelectElement>('ft-save-as').value === 'adapter' ? 'adapter' : 'merged';
    saved = await ft.encode({ as, baseModel: picked.name });
    st.savedAs = as;
    if (st.lora && as === 'merged') {
      // The adapters are folded into the weights: the next run is a full fine-tune of those weights.
      const { lora: _r, loraTargets: _t, ...full } = ft.settings;
      ft.reconfigure(full);
      st.lora = null;
      $<HTMLInputElement>('ft-lora').checked = false;
    }
    st.saved = [...saved.keys()];
    // A Hub id's 'org/' would be a folder inside the zip (and '_' in the download's name): its last part.
    const name =
      as === 'adapter' ? `${picked.name.split('/').at(-1)}-lora` : `finetuned-${picked.info.modelType}`;
    if (asZip) download(`${name}.zip`, zipStored(saved, name));
    else for (const [file, bytes] of saved) download(file, new Blob([bytes as BlobPart]));
    $('ft-reload').removeAttribute('disabled');
    $('ft-status').textContent =
      `saved ${as === 'adapter' ? 'a PEFT adapter folder' : 'an HF folder'}: ${st.saved.join(', ')}`;
  }

  /** Loads the saved folder back (as the CLI reloads it) and compares its predictions with the model's. */
  async function reload(): Promise<void> {
    if (!ft || !saved || !picked) throw new UsageError('save the fine-tuned model first');
    const files = new Map<string, FileData>(saved);
    const adapter = st.savedAs === 'adapter';
    const back = await loadSequenceClassifier(adapter ? picked.source : files, {
      labels: ft.split.labels,
      seed,
    });
    try {
      if (adapter) await loadLoraAdapter(back.model, files, { baseModelNameOrPath: picked.name });
      const rows = ft.split.validation;
      const before = await ft.predict(rows);
      const after = await predictProbs(back.model, back.tokenizer!, rows, ft.maxLength);
      const maxDiff = maxAbsDiff(before, after);
      st.reloadIdentical = maxDiff === 0 && (adapter || !back.newHead);
      $('ft-status').textContent =
        `reloaded the saved ${adapter ? 'adapter onto the base folder' : 'folder'}: ${st.reloadIdentical ? 'identical' : 'DIFFERENT'} predictions on all ${rows.length} validation rows (max |Δp| = ${maxDiff})`;
    } finally {
      back.model.dispose();
    }
  }

  const pickFiles = (id: string) =>
    guarded(async () => {
      const list = $<HTMLInputElement>(id).files;
      if (!list?.length) return;
      const { files, name } = filesOf(list);
      await pick(files, name);
    });
  $<HTMLInputElement>('ft-folder').onchange = pickFiles('ft-folder');
  $<HTMLInputElement>('ft-files').onchange = pickFiles('ft-files');
  $('ft-hub-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(async () => {
      const id = $<HTMLInputElement>('ft-hub').value.trim();
      const files: HubFile[] = [];
      await pick(await hubSource(page, 'ft', id, files), id);
    })();
  };
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
  const card = $('ft-card');
  card.ondragover = (ev) => {
    ev.preventDefault();
    card.classList.add('dragging');
  };
  card.ondragleave = () => card.classList.remove('dragging');
  card.ondrop = (ev) => {
    ev.preventDefault();
    card.classList.remove('dragging');
    const file = ev.dataTransfer?.files[0];
    if (!file) return;
    $<HTMLSelectElement>('ft-data-source').value = 'file';
    guarded(pickData)(file);
  };
  $('ft-train').onclick = guarded(() => fineTune());
  $('ft-stop').onclick = stop;
  $('ft-save').onclick = guarded(() => save(true));
  $('ft-save-files').onclick = guarded(() => save(false));
  $('ft-reload').onclick = guarded(reload);
  $('ft-c-form').onsubmit = (ev) => {
    ev.preventDefault();
    guarded(classify)();
  };

  return {
    dispose() {
      stop();
      disposeExperiment();
    },
    useSentimentData: () => pickData(null),
    estimates() {
      if (!picked || !data) throw new UsageError('pick a model and data first (section 5)');
      const { lora: _r, loraTargets: _t, ...full } = settingsFromInputs();
      const r = Number($<HTMLInputElement>('ft-lora-r').value) || 8;
      const est = (s: FineTuneSettings) =>
        planMemory(picked!.info.config, data!.split.labels.length, s, tf.getBackend()).estimate.totalBytes;
      return { full: est(full), lora: est({ ...full, lora: r }) };
    },
  };
}
