import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, type Module, Rng } from '@transformer-kit/core';
import { LoraAdapter } from './adapter.js';
import {
  DEFAULT_TARGET_MODULES,
  type HFLinear,
  type HFNaming,
  type HFParam,
  hfNaming,
  matchesTarget,
} from './naming.js';

/** PEFT's LoraConfig fields the kit implements, camelCased; defaults are PEFT's. */
export interface LoraOptions {
  /** Rank (default 8). */
  r?: number;
  /** lora_alpha (default 8); scaling is alpha / r (alpha / sqrt(r) with `useRslora`). */
  alpha?: number;
  /** Dropout on the adapter's input (default 0). */
  dropout?: number;
  /**
   * HF module names to adapt: a list matches a name or its `.suffix` (['query', 'value']), a string is a
   * regex matched against the whole name; default PEFT's per-model list (BERT/ViT query+value, GPT-2 c_attn).
   */
  targetModules?: string | string[];
  /**
   * HF modules trained in full and saved with the adapter, e.g. ['classifier'] (PEFT's modules_to_save); a
   * module covers everything in it (RoBERTa's classifier.dense and .out_proj).
   */
  modulesToSave?: string[];
  /** Rank-stabilised scaling alpha / sqrt(r) (PEFT's use_rslora; default false). */
  useRslora?: boolean;
  /** Seed of lora_A's init (default 0). */
  seed?: number;
}

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string | string[];
  modulesToSave: string[];
  useRslora: boolean;
}

export interface AdaptedModule {
  /** The HF module name (PEFT's key without `base_model.model.`). */
  hf: string;
  /** Our Linears it covers (three for GPT-2's fused c_attn). */
  paths: string[];
  adapter: LoraAdapter;
}

/** The LoRA adapter installed on a model: what `addLora` returns and save / merge act on. */
export interface LoraState {
  readonly config: LoraConfig;
  readonly naming: HFNaming;
  readonly adapted: AdaptedModule[];
  /** Parameters trained in full (modules_to_save), with their HF names and layouts. */
  readonly saved: HFParam[];
  merged: boolean;
  /** Restores the forwards and trainable flags and detaches the adapters. */
  readonly undo: () => void;
}

const states = new WeakMap<Module, LoraState>();

/** The model's LoRA state, or undefined if it has no adapter. */
export function loraState(model: Module): LoraState | undefined {
  return states.get(model);
}

function need(model: Module, what: string): LoraState {
  const s = states.get(model);
  if (!s) throw new InvalidArgumentError(`${what}: the model has no LoRA adapter (call addLora first)`);
  return s;
}

/** Defaults filled in and checked; `modelType` picks PEFT's default target modules. */
export function loraConfig(options: LoraOptions, modelType: string | undefined): LoraConfig {
  const r = options.r ?? 8;
  if (!Number.isInteger(r) || r <= 0)
    throw new InvalidArgumentError(`LoRA: r must be an integer > 0, got ${r}`);
  const alpha = options.alpha ?? 8;
  if (!Number.isFinite(alpha) || alpha <= 0)
    throw new InvalidArgumentError(`LoRA: alpha must be > 0, got ${alpha}`);
  const dropout = options.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1))
    throw new InvalidArgumentError(`LoRA: dropout must be in [0, 1), got ${dropout}`);
  const targetModules = options.targetModules ?? (modelType ? DEFAULT_TARGET_MODULES[modelType] : undefined);
  if (!targetModules || targetModules.length === 0) {
    throw new InvalidArgumentError(
      'LoRA: targetModules is required for this model (no PEFT default for it), e.g. ["query", "value"]',
    );
  }
  return {
    r,
    alpha,
    dropout,
    targetModules,
    modulesToSave: options.modulesToSave ?? [],
    useRslora: options.useRslora ?? false,
  };
}

/** Distinct last name parts of the model's Linears, with an example full name, for error messages. */
function linearNames(linears: readonly HFLinear[]): string {
  const leaves = [...new Set(linears.map((l) => l.hf.split('.').at(-1)!))];
  return `${leaves.join(', ')} (e.g. ${linears[0]?.hf ?? 'none'})`;
}

/**
 * Adds a LoRA adapter to every Linear whose HF name matches `targetModules` and freezes everything else
 * but `modulesToSave`: frozen weights get no gradient (core's linear skips it) and no optimizer state
 * (AdamW skips non-trainable parameters), so build the Trainer after this call. The adapters join the
 * module tree (`<linear>.lora.A`, `.B`), so every existing training loop trains them. One adapter per model.
 */
export function addLora(model: Module, options: LoraOptions = {}): LoraState {
  if (states.has(model)) throw new InvalidArgumentError('addLora: the model already has a LoRA adapter');
  const naming = hfNaming(model);
  const config = loraConfig(options, naming.modelType);
  const targets = naming.linears.filter((l) => matchesTarget(l.hf, config.targetModules));
  if (targets.length === 0) {
    throw new InvalidArgumentError(
      `LoRA: targetModules ${JSON.stringify(config.targetModules)} match no Linear; this model's Linears: ${linearNames(naming.linears)}`,
    );
  }
  const moduleOf = (hf: string) => hf.replace(/\.(weight|bias)$/, '');
  // PEFT wraps a matched module whole: 'classifier' also covers RoBERTa's classifier.dense / .out_proj.
  const enclosing = (hf: string) => {
    const parts = moduleOf(hf).split('.');
    return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
  };
  const saved = naming.params.filter((p) =>
    enclosing(p.hf).some((m) => matchesTarget(m, config.modulesToSave)),
  );
  if (config.modulesToSave.length > 0 && saved.length === 0) {
    const modules = [...new Set(naming.params.map((p) => moduleOf(p.hf)))];
    throw new InvalidArgumentError(
      `LoRA: modulesToSave ${JSON.stringify(config.modulesToSave)} match no module; modules: ${modules.slice(0, 8).join(', ')}${modules.length > 8 ? ', ...' : ''}`,
    );
  }
  const wasTrainable = model.namedParameters().map(([, v]) => [v, v.trainable] as const);
  for (const [v] of wasTrainable) v.trainable = false;
  for (const p of saved) p.param.trainable = true;

  const scaling = config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
  const rng = new Rng(options.seed ?? 0);
  const adapted: AdaptedModule[] = [];
  const undos: Array<() => void> = [];
  for (const t of targets) {
    const adapter = new LoraAdapter(t.members, config.r, scaling, config.dropout, rng);
    const host = t.members[0]!;
    host.addModule('lora', adapter);
    const uninstall = adapter.install();
    undos.push(() => {
      uninstall();
      host.removeModule('lora');
      adapter.dispose();
    });
    adapted.push({ hf: t.hf, paths: t.paths, adapter });
  }
  const state: LoraState = {
    config,
    naming,
    adapted,
    saved,
    merged: false,
    undo: () => {
      for (const u of undos) u();
      for (const [v, t] of wasTrainable) v.trainable = t;
      states.delete(model);
    },
  };
  states.set(model, state);
  return state;
}

/** Folds every adapter into its Linear's weight (W += scaling · A·B); the forward then skips the adapters. */
export function mergeLora(model: Module): void {
  const s = need(model, 'mergeLora');
  if (s.merged) return;
  for (const { adapter } of s.adapted) foldInto(adapter, 1);
  s.merged = true;
}

/** Undoes `mergeLora` (W −= scaling · A·B), so the adapters train or are saved on their own again. */
export function unmergeLora(model: Module): void {
  const s = need(model, 'unmergeLora');
  if (!s.merged) return;
  for (const { adapter } of s.adapted) foldInto(adapter, -1);
  s.merged = false;
}

function foldInto(adapter: LoraAdapter, sign: 1 | -1): void {
  adapter.members.forEach((m, i) => {
    const d = adapter.deltaWeight(i);
    const w = sign === 1 ? m.weight.add(d) : m.weight.sub(d);
    m.weight.assign(w);
    tf.dispose([d, w]);
    adapter.merged = sign === 1;
  });
}

/**
 * Removes the adapter (PEFT's unload; with `merge`, merge_and_unload): forwards and trainable flags are as
 * before addLora, the adapters' tensors are freed, and with `merge` the weights keep the folded update, so
 * the model saves as a plain HF checkpoint.
 */
export function unloadLora(model: Module, { merge = false }: { merge?: boolean } = {}): void {
  const s = need(model, 'unloadLora');
  if (merge) mergeLora(model);
  else unmergeLora(model);
  s.undo();
}

/** Trainable vs all parameters, as PEFT's print_trainable_parameters counts them. */
export function trainableParameterCount(model: Module): { trainable: number; total: number } {
  const params = model.parameters();
  return {
    trainable: params.filter((v) => v.trainable).reduce((n, v) => n + v.size, 0),
    total: params.reduce((n, v) => n + v.size, 0),
  };
}
