import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  type HFConfig,
  listFirst,
  type Module,
  parseConfig,
  readCheckpointFile,
  safetensorsToTensors,
  saveFiles,
  stringifyConfig,
  writeSafetensors,
} from '@transformer-kit/core';
import { addLora, type LoraOptions, type LoraState, loraState } from './lora.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

export interface SaveAdapterOptions {
  /** The base model's Hub id or path, written as base_model_name_or_path and checked on load. */
  baseModelNameOrPath?: string;
  /** PEFT's task_type (e.g. 'SEQ_CLS', 'CAUSAL_LM'); optional. */
  taskType?: string;
}

/** PEFT's adapter_config.json for the model's adapter. */
export function adapterConfig(state: LoraState, options: SaveAdapterOptions = {}): HFConfig {
  const c = state.config;
  return {
    peft_type: 'LORA',
    task_type: options.taskType ?? null,
    base_model_name_or_path: options.baseModelNameOrPath ?? null,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    // PEFT writes the set of matched leaf names for a list, the pattern itself for a string.
    target_modules: typeof c.targetModules === 'string' ? c.targetModules : [...c.targetModules].sort(),
    modules_to_save: c.modulesToSave.length ? c.modulesToSave : null,
    fan_in_fan_out: state.naming.fanInFanOut,
    bias: 'none',
    use_rslora: c.useRslora,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    rank_pattern: {},
    alpha_pattern: {},
    layers_to_transform: null,
    layers_pattern: null,
  };
}

/** PEFT's names and layouts: lora_A.weight (r, in), lora_B.weight (out, r), modules_to_save as HF has them. */
function peftEntries(state: LoraState): Array<{ name: string; param: tf.Variable; transpose: boolean }> {
  return [
    ...state.adapted.flatMap(({ hf, adapter }) => [
      { name: `${PREFIX}${hf}.lora_A.weight`, param: adapter.A, transpose: true },
      { name: `${PREFIX}${hf}.lora_B.weight`, param: adapter.B, transpose: true },
    ]),
    ...state.saved.map((p) => ({ name: `${PREFIX}${p.hf}`, param: p.param, transpose: p.transpose })),
  ];
}

/**
 * The files of a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) as bytes: in the
 * browser offer them as downloads, in Node `saveLoraAdapter` writes them. The adapter must not be merged.
 */
export async function encodeLoraAdapter(
  model: Module,
  options: SaveAdapterOptions = {},
): Promise<Map<string, Uint8Array>> {
  const state = loraState(model);
  if (!state) throw new CheckpointError('encodeLoraAdapter: the model has no LoRA adapter');
  if (state.merged) {
    throw new CheckpointError('encodeLoraAdapter: the adapter is merged into the weights; unmergeLora first');
  }
  const entries = peftEntries(state);
  const tensors = Object.fromEntries(
    entries.map((e) => [e.name, e.transpose ? tf.transpose(e.param) : e.param]),
  );
  try {
    return new Map([
      [ADAPTER_WEIGHTS_FILE, await writeSafetensors(tensors, { format: 'pt' })],
      [ADAPTER_CONFIG_FILE, new TextEncoder().encode(stringifyConfig(adapterConfig(state, options)))],
    ]);
  } finally {
    for (const e of entries) if (e.transpose) tensors[e.name]!.dispose();
  }
}

/** Writes the PEFT adapter folder atomically (each file to a temp name, fsynced, then renamed). */
export async function saveLoraAdapter(
  model: Module,
  dir: string,
  options: SaveAdapterOptions = {},
): Promise<void> {
  await saveFiles(dir, await encodeLoraAdapter(model, options));
}

/** LoraOptions from a PEFT adapter_config.json; what the kit does not implement is a CheckpointError. */
export function optionsFromAdapterConfig(hf: HFConfig): LoraOptions {
  if (hf.peft_type !== 'LORA')
    throw new CheckpointError(`${ADAPTER_CONFIG_FILE}: peft_type '${hf.peft_type}' is not LORA`);
  const unsupported: string[] = [];
  if (hf.bias != null && hf.bias !== 'none') unsupported.push(`bias '${hf.bias}'`);
  if (hf.use_dora === true) unsupported.push('use_dora');
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = hf[k];
    if (v && typeof v === 'object' && Object.keys(v).length) unsupported.push(k);
  }
  if (hf.layers_to_transform != null) unsupported.push('layers_to_transform');
  if (hf.exclude_modules != null) unsupported.push('exclude_modules');
  if (hf.lora_bias === true) unsupported.push('lora_bias');
  if (unsupported.length)
    throw new CheckpointError(`${ADAPTER_CONFIG_FILE}: not supported: ${unsupported.join(', ')}`);
  const num = (k: string) => {
    if (typeof hf[k] !== 'number')
      throw new CheckpointError(`${ADAPTER_CONFIG_FILE}: '${k}' is missing or not a number`);
    return hf[k] as number;
  };
  const targets = hf.target_modules;
  if (
    !(typeof targets === 'string' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')))
  ) {
    throw new CheckpointError(
      `${ADAPTER_CONFIG_FILE}: 'target_modules' must be a string or a list of strings`,
    );
  }
  return {
    r: num('r'),
    alpha: num('lora_alpha'),
    dropout: typeof hf.lora_dropout === 'number' ? hf.lora_dropout : 0,
    targetModules: targets as string | string[],
    modulesToSave: Array.isArray(hf.modules_to_save) ? (hf.modules_to_save as string[]) : [],
    useRslora: hf.use_rslora === true,
  };
}

export interface LoadAdapterOptions {
  /**
   * The base model's Hub id or path as the caller loaded it; an adapter whose base_model_name_or_path
   * names another model is refused (neither set: not checked).
   */
  baseModelNameOrPath?: string;
}

/**
 * Loads a PEFT LoRA adapter folder (a path, URL or files by name: any core CheckpointSource, so a Hub
 * download's folder plugs in) onto `model`: adds the adapter from adapter_config.json, then its weights.
 * Another base model's adapter (name, tensor names or shapes) is a CheckpointMismatchError and leaves the
 * model as it was.
 */
export async function loadLoraAdapter(
  model: Module,
  source: CheckpointSource,
  options: LoadAdapterOptions = {},
): Promise<LoraState> {
  const hf = parseConfig(await readCheckpointFile(source, ADAPTER_CONFIG_FILE), ADAPTER_CONFIG_FILE);
  const base = hf.base_model_name_or_path;
  if (
    options.baseModelNameOrPath &&
    typeof base === 'string' &&
    base &&
    base !== options.baseModelNameOrPath
  ) {
    throw new CheckpointMismatchError(
      `adapter is for base model '${base}', not '${options.baseModelNameOrPath}'`,
    );
  }
  const loraOptions = optionsFromAdapterConfig(hf);
  const tensors = safetensorsToTensors(await readCheckpointFile(source, ADAPTER_WEIGHTS_FILE), {
    source: ADAPTER_WEIGHTS_FILE,
  });
  let state: LoraState | undefined;
  try {
    state = addLora(model, loraOptions);
    const entries = peftEntries(state);
    const problems: string[] = [];
    const expected = new Set(entries.map((e) => e.name));
    const missing = entries.filter((e) => !(e.name in tensors)).map((e) => e.name);
    // PEFT's default modules_to_save for a task (classifier, score) may name modules the file lacks.
    const unexpected = Object.keys(tensors).filter((n) => !expected.has(n));
    if (missing.length) problems.push(`missing: ${listFirst(missing)}`);
    if (unexpected.length) problems.push(`unexpected: ${listFirst(unexpected)}`);
    const shapes: string[] = [];
    for (const e of entries) {
      const t = tensors[e.name];
      const want = e.transpose ? [...e.param.shape].reverse() : e.param.shape;
      if (t && !tf.util.arraysEqual(t.shape, want))
        shapes.push(`${e.name}: file [${t.shape}] vs model [${want}]`);
    }
    if (shapes.length) problems.push(`shape mismatch: ${listFirst(shapes)}`);
    if (problems.length) {
      throw new CheckpointMismatchError(
        `adapter does not fit the model (another base model?); ${problems.join('; ')}`,
      );
    }
    for (const e of entries) {
      const t = tensors[e.name]!;
      if (e.transpose) tf.tidy(() => e.param.assign(tf.transpose(t)));
      else e.param.assign(t);
    }
    return state;
  } catch (err) {
    state?.undo();
    throw err;
  } finally {
    tf.dispose(tensors);
  }
}
