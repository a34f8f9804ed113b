import * as tf from '@tensorflow/tfjs';
import {
  type CheckedEntry,
  type CheckpointEntry,
  type CheckpointSource,
  encodeCheckpoint,
  type HFConfig,
  loadCheckpoint,
  loadEntries,
  type SaveCheckpointOptions,
  saveCheckpoint,
} from './checkpoint.js';
import { CheckpointError, CheckpointMismatchError, listFirst } from './errors.js';
import type { Module } from './module.js';

/*
 * The one way a model meets a Hugging Face state dict. A family states, as data, how its parameter paths
 * become HF's names (rules with layouts), where HF puts the backbone (a prefix in task files), which file
 * names are not parameters (buffers, tied copies, other heads) and which of its parameters a file may lack
 * (a head that starts fresh); `loadMapped` and `saveMapped` do the rest for every family, and every
 * mismatch is reported in HF's names.
 */

/** How an HF file stores one of our tensors when it differs from ours. */
export interface HFLayout {
  /** The file's shape for our shape. */
  shape(ours: readonly number[]): number[];
  /** Ours → the file's layout: a new tensor. */
  toHF(t: tf.Tensor): tf.Tensor;
  /** The file's layout → ours: a new tensor. */
  fromHF(t: tf.Tensor): tf.Tensor;
}

/**
 * torch nn.Linear stores its weight (out, in), our Linear (in, out): transposed both ways. Vectors (the
 * bias under the same rule) are the same in both and are passed through untouched.
 */
export const LINEAR_LAYOUT: HFLayout = {
  shape: (s) => (s.length < 2 ? [...s] : [...s].reverse()),
  toHF: (t) => (t.rank < 2 ? t : tf.transpose(t)),
  fromHF: (t) => (t.rank < 2 ? t : tf.transpose(t)),
};

/** One name rule: our parameter path (matched in full) → HF's name, with the file's layout. */
export interface HFRule {
  /** Our parameter path. */
  ours: RegExp;
  /** HF's name: the replacement of `ours` ($1, $2 …). */
  hf: string;
  /** The file's layout; absent: as ours. */
  layout?: HFLayout;
  /**
   * Our tensor is one slice, along our last axis, of an HF tensor several parameters share (GPT-2's
   * c_attn holds query|key|value): `part` (a replacement) names the slice, `parts` gives their order.
   * Split on load, concatenated on save.
   */
  fused?: { part: string; parts: readonly string[] };
}

/** A family's whole mapping for one model: the table `loadMapped` and `saveMapped` both read. */
export interface HFMapping {
  /** HF's class for this model (config.json `architectures`, messages): 'BertForMaskedLM'. */
  architecture: string;
  rules: readonly HFRule[];
  /**
   * HF's backbone prefix in task files (`bert`, `transformer`, `vit`) and the top-level module names of a
   * bare backbone file: a file in either form loads into a model of either form.
   */
  prefix?: { name: string; roots: readonly string[] };
  /** Old spellings found in files → today's (TF-converted `LayerNorm.gamma` → `LayerNorm.weight`). */
  renames?: ReadonlyArray<readonly [RegExp, string]>;
  /** File names that are not parameters of this model, read past: buffers (`attn.bias`, `position_ids`), other tasks' heads. */
  ignored?: readonly RegExp[];
  /** HF names holding a copy of a tensor we keep once (a tied lm_head or MLM decoder): read past, never written. */
  tied?: readonly RegExp[];
  /**
   * Our parameters a file may lack altogether (a task head, a pooler): they start fresh with a warning,
   * `always` or only when the load passes `newHead`.
   */
  head?: { ours: RegExp; fresh: 'always' | 'newHead'; hint?: string };
}

/** One of our parameters under its HF name. */
export interface MappedParameter {
  ours: string;
  hf: string;
  param: tf.Variable;
  layout?: HFLayout;
  /** Its slice of a fused HF tensor: index in `parts`, and how many parts. */
  part?: { index: number; of: number };
}

/** Every parameter of `model` under its HF name; a parameter no rule names is a CheckpointError. */
export function mapParameters(model: Module, mapping: HFMapping): MappedParameter[] {
  return model.namedParameters().map(([ours, param]) => {
    const rule = mapping.rules.find((r) => r.ours.test(ours));
    if (!rule) throw new CheckpointError(`no HF name for ${mapping.architecture} parameter '${ours}'`);
    const hf = ours.replace(rule.ours, rule.hf);
    const p: MappedParameter = { ours, hf, param, ...(rule.layout ? { layout: rule.layout } : {}) };
    if (rule.fused) {
      const name = ours.replace(rule.ours, rule.fused.part);
      const index = rule.fused.parts.indexOf(name);
      if (index < 0) throw new CheckpointError(`'${ours}': part '${name}' is not one of ${rule.fused.parts}`);
      p.part = { index, of: rule.fused.parts.length };
    }
    return p;
  });
}

/** The parameters by HF name, parts of a fused tensor in order. */
function groups(params: readonly MappedParameter[]): Map<string, MappedParameter[]> {
  const out = new Map<string, MappedParameter[]>();
  for (const p of params) out.set(p.hf, [...(out.get(p.hf) ?? []), p]);
  for (const [hf, g] of out) {
    g.sort((a, b) => (a.part?.index ?? 0) - (b.part?.index ?? 0));
    const of = g[0]!.part?.of ?? 1;
    if (g.length !== of || g.some((p, i) => (p.part?.index ?? 0) !== i))
      throw new CheckpointError(`HF tensor '${hf}' is named by ${g.map((p) => `'${p.ours}'`).join(', ')}`);
  }
  return out;
}

/** The load entries: HF shape of the whole (fused) tensor, and each parameter's conversion from it. */
function entries(params: readonly MappedParameter[]): CheckpointEntry[] {
  const out: CheckpointEntry[] = [];
  for (const [hf, g] of groups(params)) {
    const shapes = g.map((p) => p.param.shape);
    const last = shapes[0]!.length - 1;
    const ours = [...shapes[0]!];
    ours[last] = shapes.reduce((n, s) => n + s[last]!, 0);
    const { layout } = g[0]!;
    const hfShape = layout ? layout.shape(ours) : ours;
    let offset = 0;
    for (const p of g) {
      const begin = offset;
      offset += p.param.shape[last]!;
      const slice = g.length > 1;
      if (!layout && !slice) {
        out.push({ ours: p.ours, hf, hfShape });
        continue;
      }
      const fromHF = (t: tf.Tensor) =>
        tf.tidy(() => {
          const whole = layout ? layout.fromHF(t) : t;
          if (!slice) return whole === t ? t.clone() : whole;
          const b = whole.shape.map((_, i) => (i === last ? begin : 0));
          const s = whole.shape.map((d, i) => (i === last ? p.param.shape[last]! : d));
          return tf.slice(whole, b, s);
        });
      out.push({ ours: p.ours, hf, hfShape, fromHF });
    }
  }
  return out;
}

/** File names in this model's form: old spellings renamed, the backbone prefix added or dropped. */
function normalize(
  tensors: Record<string, tf.Tensor>,
  mapping: HFMapping,
  expected: readonly string[],
): Record<string, tf.Tensor> {
  const { renames = [], prefix } = mapping;
  const p = prefix ? `${prefix.name}.` : '';
  const root = prefix ? new RegExp(`^(${prefix.roots.join('|')})\\.`) : undefined;
  const names = Object.keys(tensors);
  const modelPrefixed = !!prefix && expected.some((n) => n.startsWith(p));
  const filePrefixed = !!prefix && names.some((n) => n.startsWith(p));
  const out: Record<string, tf.Tensor> = {};
  const from = new Map<string, string>();
  for (const name of names) {
    let k = renames.reduce((n, [re, to]) => n.replace(re, to), name);
    if (prefix && !modelPrefixed && filePrefixed && k.startsWith(p)) k = k.slice(p.length);
    else if (prefix && modelPrefixed && !filePrefixed && root!.test(k)) k = p + k;
    if (from.has(k))
      throw new CheckpointMismatchError(`checkpoint has both '${from.get(k)}' and '${name}' for '${k}'`);
    from.set(k, name);
    out[k] = tensors[name]!;
  }
  return out;
}

export interface LoadMappedOptions {
  /** The file's config.json (its architectures name the file in messages). */
  config: HFConfig;
  /** Start the mapping's head fresh when the file has none of it. */
  newHead?: boolean;
  /** Where the "newly initialised" warning goes (default console.warn). */
  onWarning?: (message: string) => void;
}

/**
 * Copies an HF state dict into `model` by its mapping. Anything missing, unexpected or mis-shaped is a
 * CheckpointMismatchError listing the first differences in HF names, and then nothing is assigned. Returns
 * the HF names of a head that started fresh (after warning about them). The caller keeps `tensors`.
 */
export function loadMapped(
  model: Module,
  tensors: Record<string, tf.Tensor>,
  mapping: HFMapping,
  { config, newHead = false, onWarning }: LoadMappedOptions,
): string[] {
  const params = mapParameters(model, mapping);
  const file = normalize(
    tensors,
    mapping,
    params.map((p) => p.hf),
  );
  const { head } = mapping;
  const fresh = loadEntries(model, file, entries(params), {
    config,
    what: mapping.architecture,
    head: head ? [...new Set(params.filter((p) => head.ours.test(p.ours)).map((p) => p.hf))] : [],
    freshHead: head?.fresh === 'always' || newHead,
    headHint: head?.hint ?? ' (to start the task head fresh, pass { newHead: true })',
    ignored: [...(mapping.ignored ?? []), ...(mapping.tied ?? [])],
  });
  if (fresh.length)
    (onWarning ?? console.warn)(
      `Some weights of ${mapping.architecture} were not in the checkpoint and are newly initialised: ${listFirst(fresh)}. Train them before use.`,
    );
  return fresh;
}

/**
 * `model`'s parameters as an HF state dict: HF names and layouts, fused tensors concatenated; `bare`
 * drops the backbone prefix (a bare backbone file). New tensors: the caller disposes them.
 */
export function saveMapped(
  model: Module,
  mapping: HFMapping,
  { bare = false }: { bare?: boolean } = {},
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  const p = mapping.prefix ? `${mapping.prefix.name}.` : undefined;
  try {
    for (const [hf, g] of groups(mapParameters(model, mapping))) {
      const name = bare && p && hf.startsWith(p) ? hf.slice(p.length) : hf;
      const { layout } = g[0]!;
      out[name] = tf.tidy(() => {
        const ours =
          g.length > 1
            ? tf.concat(
                g.map((x) => x.param),
                -1,
              )
            : g[0]!.param;
        const t = layout ? layout.toHF(ours) : ours;
        return t === g[0]!.param ? t.clone() : t;
      });
    }
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}

export interface LoadMappedModelOptions<M extends Module> {
  /**
   * Called with config.json and the stored tensors' names and shapes before anything is decoded: throws to
   * refuse a config out of bounds, too large for the backend, or larger than the file (SIZE_LIMITS,
   * checkParameterBudget, checkFileHolds), so nothing has been allocated.
   */
  check?: (config: HFConfig, entries: readonly CheckedEntry[]) => void;
  /** The model config.json describes (the file's tensor names given, e.g. whether it has a pooler). */
  build: (config: HFConfig, names: readonly string[]) => M;
  mapping: (model: M) => HFMapping;
  newHead?: boolean;
  onWarning?: (message: string) => void;
}

/**
 * Reads an HF folder (path, URL, files, a Hub repo's files), sizes it, builds the model and loads it by its
 * mapping: the one loader of every family. Everything it made is disposed on any failure.
 */
export async function loadMappedModel<M extends Module>(
  source: CheckpointSource,
  { check, build, mapping, newHead, onWarning }: LoadMappedModelOptions<M>,
): Promise<M> {
  const { config, tensors } = await loadCheckpoint(source, check ? { check } : {});
  let model: M | undefined;
  try {
    model = build(config, Object.keys(tensors));
    loadMapped(model, tensors, mapping(model), {
      config,
      ...(newHead === undefined ? {} : { newHead }),
      ...(onWarning ? { onWarning } : {}),
    });
    return model;
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

export interface SaveMappedOptions extends Omit<SaveCheckpointOptions, 'tensors'> {
  /** Write the backbone without its prefix (a bare backbone file). */
  bare?: boolean;
}

/** HF tensors of `model` for the length of `use`. */
async function withMapped<T>(
  model: Module,
  mapping: HFMapping,
  { bare, ...checkpoint }: SaveMappedOptions,
  use: (c: SaveCheckpointOptions) => Promise<T>,
): Promise<T> {
  const tensors = saveMapped(model, mapping, { bare: bare === true });
  try {
    return await use({ metadata: { format: 'pt' }, ...checkpoint, tensors });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** Writes `model` as an HF folder (config.json, model.safetensors, extra files), each file atomically. */
export function saveMappedModel(
  dir: string,
  model: Module,
  mapping: HFMapping,
  options: SaveMappedOptions,
): Promise<void> {
  return withMapped(model, mapping, options, (c) => saveCheckpoint(dir, c));
}

/** The files saveMappedModel writes, as bytes by file name (a page's downloads; a Map is a checkpoint source). */
export function encodeMappedModel(
  model: Module,
  mapping: HFMapping,
  options: SaveMappedOptions,
): Promise<Map<string, Uint8Array>> {
  return withMapped(model, mapping, options, encodeCheckpoint);
}

/** A number from config.json (`fallback` when absent); anything else is a CheckpointError naming the key. */
export function hfNumber(hf: HFConfig, key: string, fallback?: number): number {
  const v = hf[key] ?? fallback;
  if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
  return v;
}

/** config.json's first `architectures` entry, or '' when it names none. */
export function hfArchitecture(hf: HFConfig): string {
  return String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
}

/** config.json's id2label / label2id for a classifier's labels (the inverse of `hfLabels`). */
export function labelsToHF(id2label: Record<number, string>): {
  id2label: Record<string, string>;
  label2id: Record<string, number>;
} {
  return {
    id2label: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [String(k), v])),
    label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])),
  };
}

/** A rule table for a sub-module: every rule under `prefix.` on both sides (a backbone inside a task model). */
export function prefixRules(rules: readonly HFRule[], prefix: string): HFRule[] {
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return rules.map((r) => ({
    ...r,
    ours: new RegExp(`^${esc}\\.${r.ours.source.replace(/^\^/, '')}`),
    hf: `${prefix}.${r.hf}`,
  }));
}
