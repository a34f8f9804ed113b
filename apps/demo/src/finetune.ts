/**
 * Fine-tune a pretrained HuggingFace BERT folder on labelled data: the glue the CLI (`pnpm demo finetune`)
 * and the page's section 5 (web/sections/finetune.ts) share. The model logic is bert's: loadSequenceClassifier
 * (the folder's classifier, or its backbone under a new [CLS] head for these labels), fineTuneLoop (BERT's
 * recipe on core's TrainingLoop: subscribe, stop, resume), evaluateClassifier (accuracy / macro F1),
 * estimateTrainingBytes, savePretrained / encodePretrained.
 */
import * as tf from '@tensorflow/tfjs';
import { setRecompute } from '@transformer-kit/attention';
import {
  type BertConfig,
  bertConfigFromHF,
  type ClassifierModelType,
  classifierModelType,
  distilBertConfigFromHF,
  type Example,
  encodeSequenceClassifier,
  encodeTexts,
  estimateTrainingBytes,
  evaluateClassifier,
  type FolderSequenceClassifier,
  fineTuneLoop,
  loadSequenceClassifier,
  maxSequenceLength,
  robertaConfigFromHF,
  type SequenceClassifier,
  saveSequenceClassifier,
  type TrainingMemory,
} from '@transformer-kit/bert';
import {
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  parseConfig,
  readCheckpointFile,
  readOptionalFiles,
  type TrainingLoop,
  WASM_HEAP_MAX,
  wasmHeapStats,
} from '@transformer-kit/core';
import {
  addLora,
  DEFAULT_TARGET_MODULES,
  encodeLoraAdapter,
  loraState,
  saveLoraAdapter,
  unloadLora,
} from '@transformer-kit/lora';
import { TOKENIZER_FILES, type Tokenizer } from '@transformer-kit/tokenizer';
import { type Classification, classifyWithAttention } from './sentiment.js';
import type { DataSplit } from './table.js';

/**
 * Batches padded to a multiple of 8: few distinct shapes, so webgpu compiles few shaders (only when the max
 * length is one too, so padding never goes past it).
 */
const padFor = (maxLength: number) => (maxLength % 8 === 0 ? 8 : undefined);

export interface FineTuneSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  /** Tokens per example (truncated; at most the model's max_position_embeddings). */
  maxLength: number;
  /** Micro-batches per optimizer step: the effective batch is batchSize × accumulationSteps. */
  accumulationSteps: number;
  /** Recompute each block's activations in the backward pass (less memory, ~1/3 more compute). */
  recompute: boolean;
  seed: number;
  /** Validation accuracy / F1 every this many optimizer steps (and after the last). */
  evalEvery?: number;
  /**
   * LoRA rank: train PEFT-style adapters on `loraTargets` (alpha 2r, dropout 0.1) and the classifier
   * instead of every weight. Undefined: full fine-tuning.
   */
  lora?: number;
  /** LoRA's target modules (default: loraTargets(the folder's model_type), PEFT's). */
  loraTargets?: string[];
}

/** HF's run_glue defaults, except 3 epochs at 5e-5 and 128 tokens are also BERT's paper's. */
export const DEFAULT_SETTINGS: FineTuneSettings = {
  epochs: 3,
  batchSize: 16,
  lr: 5e-5,
  maxLength: 128,
  accumulationSteps: 1,
  recompute: false,
  seed: 0,
};

/** What a folder is, read from config.json and the file list before any weight is loaded. */
export interface FolderInfo {
  /** config.json's model_type: the family that fine-tunes (bert, distilbert, roberta). */
  modelType: ClassifierModelType;
  architecture: string;
  config: BertConfig;
  /** The folder's id2label when it is a classifier. */
  labels?: string[];
  vocabulary: string;
}

/** Each family's config reader (bert's), by model_type. */
const CONFIG_FROM_HF = {
  bert: bertConfigFromHF,
  distilbert: distilBertConfigFromHF,
  roberta: robertaConfigFromHF,
} as const;

/** The family's name in the CLI's lines. */
export const FAMILY_NAMES: Record<ClassifierModelType, string> = {
  bert: 'BERT',
  distilbert: 'DistilBERT',
  roberta: 'RoBERTa',
};

/**
 * The HF modules of the classification head, trained in full beside LoRA and saved with the adapter
 * (modules_to_save): BERT's classifier (and a pooler the folder lacked: a BertForMaskedLM gets a new one),
 * DistilBERT's pre_classifier + classifier, RoBERTa's classifier (its dense + out_proj).
 */
function headModules(modelType: ClassifierModelType, architecture: string): string[] {
  if (modelType === 'distilbert') return ['pre_classifier', 'classifier'];
  if (modelType === 'roberta') return ['classifier'];
  return ['classifier', ...(/MaskedLM|PreTraining/.test(architecture) ? ['pooler.dense'] : [])];
}

/**
 * Checks a folder (or Hub repo) for fine-tuning: a config.json whose model_type is bert, distilbert or
 * roberta (another is a CheckpointMismatchError; none is read as BERT) and a vocabulary (tokenizer.json,
 * vocab.txt, or vocab.json + merges.txt). The vocabulary's size is checked against the embedding table when
 * the model loads (bert's loadSequenceClassifier).
 */
export async function inspectFolder(source: CheckpointSource): Promise<FolderInfo> {
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  if (hf.model_type === undefined)
    throw new CheckpointMismatchError(
      `config.json has no model_type; fine-tuning here needs model_type 'bert', 'distilbert' or 'roberta'`,
    );
  const modelType = classifierModelType(hf);
  const config = CONFIG_FROM_HF[modelType](hf);
  const files = await readOptionalFiles(source, TOKENIZER_FILES);
  const vocabulary = files['tokenizer.json']
    ? 'tokenizer.json'
    : files['vocab.txt']
      ? 'vocab.txt'
      : files['vocab.json'] && files['merges.txt']
        ? 'vocab.json, merges.txt'
        : '';
  if (!vocabulary)
    throw new CheckpointMismatchError(
      `the folder has no vocabulary: a ${FAMILY_NAMES[modelType]} folder needs tokenizer.json, vocab.txt or vocab.json + merges.txt next to config.json`,
    );
  const id2label = hf.id2label as Record<string, string> | undefined;
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? 'BertModel');
  return {
    modelType,
    architecture: arch,
    config,
    vocabulary,
    ...(id2label && arch.endsWith('ForSequenceClassification')
      ? {
          labels: Object.entries(id2label)
            .sort(([a], [b]) => Number(a) - Number(b))
            .map(([, v]) => v),
        }
      : {}),
  };
}

/** The ~4 GiB a wasm module can address, less room for the runtime and the evaluation batches. */
export const WASM_BUDGET_BYTES = 0.9 * WASM_HEAP_MAX;

/** The wasm heap's budget: core's cap (setWasmHeapBudget) when the backend runs, else WASM_BUDGET_BYTES. */
function wasmBudget(): number {
  return Math.min(WASM_BUDGET_BYTES, wasmHeapStats()?.budget ?? Number.POSITIVE_INFINITY);
}

export interface MemoryPlan {
  estimate: TrainingMemory;
  /** undefined: no known limit on this backend (webgpu, cpu): try, and catch an out-of-memory error. */
  budgetBytes?: number;
  fits: boolean;
  /** A setting that fits with the same effective batch, when the asked one does not. */
  suggestion?: Pick<FineTuneSettings, 'batchSize' | 'accumulationSteps' | 'maxLength' | 'recompute'>;
  message: string;
}

const gb = (b: number) =>
  b < 1024 ** 3 ? `${Math.max(1, Math.round(b / 1024 ** 2))} MB` : `${(b / 1024 ** 3).toFixed(2)} GB`;

/** Whether a step of `settings` fits the backend's memory, and what to run instead when it does not. */
export function planMemory(
  config: BertConfig,
  numLabels: number,
  settings: Pick<FineTuneSettings, 'batchSize' | 'maxLength' | 'accumulationSteps' | 'recompute' | 'lora'>,
  backend: string,
): MemoryPlan {
  const seqLength = Math.min(settings.maxLength, config.maxPositions);
  const est = (batchSize: number, recompute: boolean, len = seqLength): TrainingMemory => {
    const e = estimateTrainingBytes(config, { batchSize, seqLength: len, numLabels, recompute });
    if (settings.lora === undefined) return e;
    // LoRA: the frozen weights have no gradient and no AdamW moments (the adapters' are negligible).
    const stateBytes = e.stateBytes / 4;
    return { ...e, stateBytes, totalBytes: stateBytes + e.activationBytes };
  };
  const estimate = est(settings.batchSize, settings.recompute);
  const budgetBytes = backend === 'wasm' ? wasmBudget() : undefined;
  if (budgetBytes === undefined)
    return { estimate, fits: true, message: `about ${gb(estimate.totalBytes)} per step (${backend})` };
  if (estimate.totalBytes <= budgetBytes)
    return {
      estimate,
      budgetBytes,
      fits: true,
      message: `about ${gb(estimate.totalBytes)} of the ${gb(budgetBytes)} wasm heap per step`,
    };
  const effective = settings.batchSize * settings.accumulationSteps;
  // The largest batch that fits, without then with recompute (when available), then at shorter lengths.
  let suggestion: MemoryPlan['suggestion'];
  const modes = settings.recompute ? [true] : [false, true];
  for (let len = seqLength; len >= 16 && !suggestion; len = Math.floor(len / 2))
    for (const recompute of modes) {
      // Divisors of the effective batch, so that batch × accumulation is the same number of examples.
      for (let b = settings.batchSize - (len === seqLength ? 1 : 0); b >= 1 && !suggestion; b--)
        if (effective % b === 0 && est(b, recompute, len).totalBytes <= budgetBytes)
          suggestion = {
            batchSize: b,
            accumulationSteps: Math.ceil(effective / b),
            maxLength: len,
            recompute,
          };
      if (suggestion) break;
    }
  const fix = suggestion
    ? `use batch ${suggestion.batchSize} × ${suggestion.accumulationSteps} accumulation steps${suggestion.recompute ? ' with recompute' : ''}${suggestion.maxLength < seqLength ? ` at max length ${suggestion.maxLength}` : ''} (the same effective batch of ${effective})`
    : 'use a smaller model or a shorter max length';
  return {
    estimate,
    budgetBytes,
    fits: false,
    ...(suggestion ? { suggestion } : {}),
    message: `batch ${settings.batchSize} × ${seqLength} tokens needs about ${gb(estimate.totalBytes)}, more than the ${gb(budgetBytes)} wasm heap: ${fix}`,
  };
}

/** core's OutOfMemoryError (a step that cannot fit the wasm heap), recognised by its code. */
export function isOutOfMemory(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'OUT_OF_MEMORY';
}

export interface EvalMetrics {
  accuracy: number;
  f1: number;
}

export class FineTuneExperiment {
  #loop: TrainingLoop<Example[]>;
  /** Real (non-padding) tokens in the training batches so far. */
  tokensSeen = 0;
  /** Every optimizer step's loss, over every loop this experiment ran. */
  readonly losses: number[] = [];

  private constructor(
    readonly model: FolderSequenceClassifier,
    readonly tokenizer: Tokenizer,
    readonly split: DataSplit,
    public settings: FineTuneSettings,
    readonly info: { architecture: string; newHead: boolean },
  ) {
    this.#loop = this.#newLoop();
  }

  /** Loads the folder as a classifier for the split's labels (a new [CLS] head unless it already is one). */
  static async create(
    source: CheckpointSource,
    split: DataSplit,
    settings: FineTuneSettings,
    onWarning: (message: string) => void = () => {},
  ): Promise<FineTuneExperiment> {
    await inspectFolder(source);
    const loaded = await loadSequenceClassifier(source, {
      labels: split.labels,
      seed: settings.seed,
      onWarning,
    });
    if (!loaded.tokenizer) {
      loaded.model.dispose();
      throw new CheckpointMismatchError('the folder has no vocabulary (vocab.txt or tokenizer.json)');
    }
    if (settings.lora !== undefined) {
      // Targets: PEFT's defaults for the family (query/value; DistilBERT's q_lin/v_lin).
      addLora(loaded.model, {
        r: settings.lora,
        alpha: 2 * settings.lora,
        dropout: 0.1,
        targetModules: settings.loraTargets ?? loraTargets(loaded.modelType),
        modulesToSave: headModules(loaded.modelType, loaded.architecture),
        seed: settings.seed,
      });
    }
    const exp = new FineTuneExperiment(loaded.model, loaded.tokenizer, split, settings, loaded);
    exp.#applyRecompute();
    return exp;
  }

  /** attention's setRecompute: each block's activations are recomputed in the backward pass. */
  #applyRecompute(): void {
    setRecompute(this.model, this.settings.recompute);
  }

  /** Optimizer steps taken and planned by the current loop. */
  get steps(): number {
    return this.#loop.step;
  }

  get totalSteps(): number {
    return this.#loop.totalSteps;
  }

  get maxLength(): number {
    // RoBERTa's positions start after its padding id: fewer tokens than position rows.
    return Math.min(this.settings.maxLength, maxSequenceLength(this.model.config));
  }

  #newLoop(): TrainingLoop<Example[]> {
    const s = this.settings;
    return fineTuneLoop(this.model, this.tokenizer, this.split.train, {
      epochs: s.epochs,
      batchSize: s.batchSize,
      lr: s.lr,
      maxLength: this.maxLength,
      accumulationSteps: s.accumulationSteps,
      seed: s.seed,
      ...(padFor(this.maxLength) ? { padToMultipleOf: 8 } : {}),
      onBatch: (b) => {
        for (const row of b.attentionMask) for (const m of row) this.tokensSeen += m;
      },
      callbacks: [{ onStep: (r) => void this.losses.push(r.loss) }],
      evaluate: async () => ({ ...(await this.evaluate()) }),
      ...(s.evalEvery ? { evalEvery: s.evalEvery } : {}),
    });
  }

  /** The training loop: subscribe with `loop.on`, `run()`, `stop()`, `run()` again to resume. */
  get loop(): TrainingLoop<Example[]> {
    return this.#loop;
  }

  /**
   * New settings (e.g. a smaller batch with accumulation after running out of memory, or more epochs): a
   * fresh optimizer and schedule over the new epochs; the weights trained so far are kept.
   */
  reconfigure(settings: FineTuneSettings): void {
    this.#loop.trainer.dispose();
    this.settings = settings;
    this.#applyRecompute();
    this.#loop = this.#newLoop();
  }

  /** Validation accuracy and macro F1 (eval mode). */
  async evaluate(examples: Example[] = this.split.validation): Promise<EvalMetrics> {
    const { accuracy, f1 } = await evaluateClassifier(this.model, this.tokenizer, examples, {
      batchSize: 32,
      maxLength: this.maxLength,
      ...(padFor(this.maxLength) ? { padToMultipleOf: 8 } : {}),
    });
    return { accuracy, f1 };
  }

  /** Class probabilities per example (eval mode). */
  predict(examples: Array<Pick<Example, 'text' | 'pair'>>): Promise<number[][]> {
    return predictProbs(this.model, this.tokenizer, examples, this.maxLength);
  }

  /** Probabilities and every layer's attention for one sentence (the page's heatmaps). */
  classify(text: string): Promise<Classification> {
    return classifyWithAttention(this.model, this.tokenizer, text);
  }

  /**
   * Writes the HF folder (model.safetensors, config.json with id2label, tokenizer.json, vocab.txt). With
   * LoRA: `as: 'adapter'` writes a PEFT adapter folder for `baseModel`; `'merged'` folds the adapters into
   * the weights for good (the experiment then holds a plain model) and writes the HF folder.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    if (this.#saveKind(options) === 'adapter')
      await saveLoraAdapter(this.model, dir, adapterOptions(options));
    else await saveSequenceClassifier(this.model, dir, { tokenizer: this.tokenizer });
  }

  /** The files `save` writes, as bytes by file name (the page's downloads; loadable again as a checkpoint source). */
  encode(options: SaveOptions = {}): Promise<Map<string, Uint8Array>> {
    return this.#saveKind(options) === 'adapter'
      ? encodeLoraAdapter(this.model, adapterOptions(options))
      : encodeSequenceClassifier(this.model, { tokenizer: this.tokenizer });
  }

  /** What save / encode write: the adapter, or the model (with LoRA merged for good first when asked). */
  #saveKind({ as = 'adapter' }: SaveOptions): 'adapter' | 'model' {
    if (!loraState(this.model)) return 'model';
    if (as === 'adapter') return 'adapter';
    unloadLora(this.model, { merge: true });
    return 'model';
  }

  dispose(): void {
    this.#loop.trainer.dispose();
    this.model.dispose();
  }
}

/** How a fine-tuned model is saved: with LoRA, a PEFT adapter folder for `baseModel` or the merged model. */
export interface SaveOptions {
  as?: 'adapter' | 'merged';
  /** adapter_config.json's base_model_name_or_path (a Hub id or the folder). */
  baseModel?: string;
}

const adapterOptions = ({ baseModel }: SaveOptions) => ({
  taskType: 'SEQ_CLS' as const,
  ...(baseModel ? { baseModelNameOrPath: baseModel } : {}),
});

/**
 * LoRA's target modules for a family: PEFT's default for its model_type (@transformer-kit/lora's table),
 * else BERT's names.
 */
export function loraTargets(modelType: ClassifierModelType): string[] {
  return DEFAULT_TARGET_MODULES[modelType] ?? DEFAULT_TARGET_MODULES.bert!;
}

/** Softmax probabilities of a classifier, 32 examples at a time, in eval mode. */
export async function predictProbs(
  model: SequenceClassifier,
  tokenizer: Tokenizer,
  examples: Array<Pick<Example, 'text' | 'pair'>>,
  maxLength: number,
): Promise<number[][]> {
  const wasTraining = model.training;
  model.eval();
  const out: number[][] = [];
  try {
    for (let i = 0; i < examples.length; i += 32) {
      const batch = examples.slice(i, i + 32);
      const inputs = encodeTexts(
        tokenizer,
        batch.map((e): string | [string, string] => (e.pair === undefined ? e.text : [e.text, e.pair])),
        maxLength,
        padFor(maxLength),
      );
      const probs = tf.tidy(() => tf.softmax(model.forward(inputs)));
      for (const row of (await probs.array()) as number[][]) out.push(row);
      probs.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
