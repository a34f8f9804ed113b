/**
 * What the page shows, as plain data: each section writes its part, the browser test reads all of it
 * through `window.demo.state`. No models here (those stay in their sections).
 */
import type { EvalMetrics } from '../src/finetune.js';
import type { Classification } from '../src/sentiment.js';

export interface FineTuneState {
  /** One line describing the picked folder (null: none picked). */
  model: string | null;
  /** config.json's model_type of the picked folder: bert, distilbert or roberta. */
  family: string | null;
  data: {
    labels: string[];
    counts: number[];
    train: number;
    validation: number;
    majority: number;
  } | null;
  losses: number[];
  running: boolean;
  newHead: boolean | null;
  metrics: EvalMetrics | null;
  plan: string | null;
  /** The memory check found that a full fine-tune does not fit and LoRA does: LoRA was proposed. */
  loraProposed: boolean;
  /** The LoRA rank and target modules of the model being trained (null: full fine-tuning). */
  lora: { r: number; targetModules: string[]; trainable: number; total: number } | null;
  outOfMemory: boolean;
  classified: Classification | null;
  /** The files of the last save, and what was saved (a PEFT adapter folder or the whole HF folder). */
  saved: string[] | null;
  savedAs: 'adapter' | 'merged' | null;
  reloadIdentical: boolean | null;
}

export interface SearchState {
  /** One line describing the loaded sentence-transformers folder. */
  model: string | null;
  /** Hub files read while loading, and how many came from the browser cache. */
  files: Array<{ file: string; bytes: number; cached: boolean }>;
  texts: string[];
  query: string | null;
  results: Array<{ text: string; score: number }> | null;
  running: boolean;
}

export interface PageState {
  backend: string;
  backendInfo: unknown;
  errors: string[];
  sentiment: {
    losses: number[];
    accuracy: number | null;
    running: boolean;
    /** Where the current model's encoder started, and the final test accuracy of each start. */
    from: 'scratch' | 'pretrained';
    results: Partial<Record<'scratch' | 'pretrained', number>>;
  };
  gpt: { losses: number[]; running: boolean; generated: string };
  classified: Classification | null;
  checkpoint: string | null;
  ft: FineTuneState;
  search: SearchState;
}

export function createState(): PageState {
  return {
    backend: '',
    backendInfo: null,
    errors: [],
    sentiment: { losses: [], accuracy: null, running: false, from: 'scratch', results: {} },
    gpt: { losses: [], running: false, generated: '' },
    classified: null,
    checkpoint: null,
    ft: {
      model: null,
      family: null,
      data: null,
      losses: [],
      running: false,
      newHead: null,
      metrics: null,
      plan: null,
      loraProposed: false,
      lora: null,
      outOfMemory: false,
      classified: null,
      saved: null,
      savedAs: null,
      reloadIdentical: null,
    },
    search: { model: null, files: [], texts: [], query: null, results: null, running: false },
  };
}
