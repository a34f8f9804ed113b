import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  checkFileHolds,
  checkParameterBudget,
  encodeCheckpoint,
  type HFConfig,
  listFirst,
  loadCheckpoint,
  loadEntries,
  type Module,
  readOptionalFiles,
  type SaveCheckpointOptions,
  saveCheckpoint,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { type BertConfig, bertParameterCount } from './model.js';

/*
 * The loader and saver the BERT-like families share (DistilBERT, RoBERTa): each brings its name table,
 * its config mapping and its backbone prefix; this file reads the folder, builds the model, checks and
 * copies the weights (nothing assigned on a mismatch, nothing leaked on any failure) and writes folders back.
 */

/** One of our parameters with its HF name and layout. */
export interface HFEntry {
  ours: string;
  hf: string;
  /** A Linear weight: HF stores [out, in], we (in, out). */
  transpose: boolean;
  param: tf.Variable;
}

/** Our names → HF names by the first matching rule: [our pattern, HF replacement, is a Linear]. */
export function mapNames(
  model: Module,
  rules: ReadonlyArray<[RegExp, string, boolean]>,
  family: string,
): HFEntry[] {
  return model.namedParameters().map(([ours, param]) => {
    const rule = rules.find(([re]) => re.test(ours));
    if (!rule) throw new CheckpointError(`no HF name for ${family} parameter '${ours}'`);
    return {
      ours,
      hf: ours.replace(rule[0], rule[1]),
      transpose: rule[2] && ours.endsWith('.weight'),
      param,
    };
  });
}

/** Task-model rules from backbone rules: the backbone's names under `prefix.` on both sides. */
export function prefixed(
  rules: ReadonlyArray<[RegExp, string, boolean]>,
  prefix: string,
): Array<[RegExp, string, boolean]> {
  return rules.map(([re, hf, t]) => [new RegExp(`^${prefix}\\.${re.source.slice(1)}`), `${prefix}.${hf}`, t]);
}

export interface FamilyLoadOptions {
  /** Start the task head fresh when the file has none (fine-tuning from a backbone or MLM file). */
  newHead?: boolean;
  /** Where the "newly initialised" warning goes (default console.warn). */
  onWarning?: (message: string) => void;
}

export interface Family<M extends Module, C extends BertConfig> {
  /** The family's name in messages ('DistilBERT', 'RoBERTa'). */
  name: string;
  /** The backbone's attribute and HF prefix ('distilbert', 'roberta'). */
  prefix: string;
  /** Top-level HF module names of a bare backbone file (embeddings, encoder, …). */
  backboneRoots: readonly string[];
  configFromHF(hf: HFConfig): C;
  names(model: M): HFEntry[];
  isBackbone(model: M): boolean;
  architecture(model: M): string;
  /** File names the model may ignore (buffers, tied decoders, other heads). */
  ignored: readonly RegExp[];
}

/** A bare backbone file for a task model gets `prefix.`; a task file for a backbone loses it. */
function normalizeNames(
  raw: Record<string, tf.Tensor>,
  prefix: string,
  roots: readonly string[],
  forBackbone: boolean,
): Record<string, tf.Tensor> {
  const hasPrefix = Object.keys(raw).some((k) => k.startsWith(`${prefix}.`));
  const root = new RegExp(`^(${roots.join('|')})\\.`);
  return Object.fromEntries(
    Object.entries(raw).map(([k, t]) => {
      if (forBackbone && hasPrefix) return [k.startsWith(`${prefix}.`) ? k.slice(prefix.length + 1) : k, t];
      if (!forBackbone && !hasPrefix && root.test(k)) return [`${prefix}.${k}`, t];
      return [k, t];
    }),
  );
}

/** Reads a folder/URL/files/Hub repo, builds the model and loads it; disposes everything it made on failure. */
export async function loadFamily<M extends Module, C extends BertConfig>(
  family: Family<M, C>,
  source: CheckpointSource,
  build: (config: C, hf: HFConfig) => M,
  options: FamilyLoadOptions = {},
): Promise<M> {
  // As BERT's loader: sized from config.json and the file's header before any tensor is made; the backbone
  // must be in the file (a pooler or head may start fresh) and backbone + a pooler must fit the backend.
  const { config: hf, tensors: raw } = await loadCheckpoint(source, {
    check: (config, entries) => {
      const c = family.configFromHF(config);
      const params = bertParameterCount(c);
      checkParameterBudget(family.name, params + c.hiddenSize * (c.hiddenSize + 1));
      checkFileHolds(family.name, params, entries);
    },
  });
  let model: M | undefined;
  try {
    model = build(family.configFromHF(hf), hf);
    const entries = family.names(model);
    const backbone = family.isBackbone(model);
    const head = backbone ? [] : entries.filter((e) => !e.ours.startsWith(`${family.prefix}.`));
    const fresh = loadEntries(
      model,
      normalizeNames(raw, family.prefix, family.backboneRoots, backbone),
      entries.map((e) => ({
        ours: e.ours,
        hf: e.hf,
        hfShape: e.transpose ? [...e.param.shape].reverse() : e.param.shape,
        ...(e.transpose ? { fromHF: (t: tf.Tensor) => tf.transpose(t) } : {}),
      })),
      {
        config: hf,
        what: family.architecture(model),
        head: head.map((e) => e.hf),
        freshHead: options.newHead === true,
        headHint: ' (to start the task head fresh, pass { newHead: true })',
        ignored: family.ignored,
      },
    );
    if (fresh.length)
      (options.onWarning ?? console.warn)(
        `Some weights of ${family.architecture(model)} were not in the checkpoint and are newly initialised: ${listFirst(fresh)}. Train them before use.`,
      );
    return model;
  } catch (err) {
    model?.dispose();
    throw err;
  } finally {
    tf.dispose(Object.values(raw));
  }
}

/** config.json (architectures + `config`, id2label for classifiers) and HF tensors; the caller disposes. */
function familyCheckpoint(
  entries: HFEntry[],
  config: HFConfig,
  { tokenizer, id2label }: FamilySaveOptions,
): { checkpoint: SaveCheckpointOptions; dispose: () => void } {
  const full: HFConfig = { ...config };
  if (id2label) {
    full.id2label = Object.fromEntries(Object.entries(id2label).map(([k, v]) => [String(k), v]));
    full.label2id = Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)]));
  }
  const tensors: Record<string, tf.Tensor> = {};
  for (const e of entries) tensors[e.hf] = e.transpose ? tf.transpose(e.param) : e.param;
  return {
    checkpoint: {
      config: full,
      tensors,
      metadata: { format: 'pt' },
      ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
    },
    dispose: () => {
      for (const e of entries) if (e.transpose) tensors[e.hf]!.dispose();
    },
  };
}

export interface FamilySaveOptions {
  tokenizer?: Tokenizer | undefined;
  id2label?: Record<number, string> | undefined;
}

/** Writes config.json, model.safetensors and tokenizer files, each atomically. */
export async function saveFamily(
  entries: HFEntry[],
  dir: string,
  config: HFConfig,
  options: FamilySaveOptions = {},
): Promise<void> {
  const { checkpoint, dispose } = familyCheckpoint(entries, config, options);
  try {
    await saveCheckpoint(dir, checkpoint);
  } finally {
    dispose();
  }
}

/** The files saveFamily writes, as bytes by file name (a Map is a checkpoint source). */
export async function encodeFamily(
  entries: HFEntry[],
  config: HFConfig,
  options: FamilySaveOptions = {},
): Promise<Map<string, Uint8Array>> {
  const { checkpoint, dispose } = familyCheckpoint(entries, config, options);
  try {
    return await encodeCheckpoint(checkpoint);
  } finally {
    dispose();
  }
}

/** The folder's tokenizer, refused when its vocabulary is larger than the embedding table (another model's). */
export async function familyTokenizer(
  source: CheckpointSource,
  hf: HFConfig,
): Promise<Tokenizer | undefined> {
  const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
  if (tokenizer && typeof hf.vocab_size === 'number' && tokenizer.vocabSize > hf.vocab_size)
    throw new CheckpointMismatchError(
      `the vocabulary has ${tokenizer.vocabSize} tokens but the embedding table has ${hf.vocab_size} rows (config.json vocab_size): the tokenizer files belong to another model`,
    );
  return tokenizer;
}
