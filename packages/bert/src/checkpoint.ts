import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  type HFConfig,
  loadCheckpoint,
  saveCheckpoint,
} from '@transformer-kit/core';
import { type BertConfig, BertModel, checkConfig } from './model.js';
import { BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification } from './tasks.js';

/*
 * HuggingFace BERT folders (config.json + model.safetensors) ⇄ our modules. Two differences only:
 *  - names: HF's module tree (encoder.layer.i.attention.self.query, ...) vs ours (layers.i.attn.query, ...);
 *  - layout: HF Linear weights are [out, in], ours (in, out), so every Linear weight is transposed on load
 *    and on save. Embedding tables are [V, D] in both.
 * The MLM decoder is tied to the word embeddings: HF files often omit cls.predictions.decoder.*; we never
 * read it and never write it.
 */

export type BertTaskModel =
  | BertModel
  | BertForMaskedLM
  | BertForSequenceClassification
  | BertForTokenClassification;

// [our name pattern, HF name, is a Linear weight (transpose)], applied to the backbone's own names.
const BACKBONE: Array<[RegExp, string, boolean]> = [
  [/^embeddings\.word\.weight$/, 'embeddings.word_embeddings.weight', false],
  [/^embeddings\.position\.weight$/, 'embeddings.position_embeddings.weight', false],
  [/^embeddings\.tokenType\.weight$/, 'embeddings.token_type_embeddings.weight', false],
  [/^embeddings\.norm\.(weight|bias)$/, 'embeddings.LayerNorm.$1', false],
  [/^layers\.(\d+)\.attn\.(query|key|value)\.(weight|bias)$/, 'encoder.layer.$1.attention.self.$2.$3', true],
  [/^layers\.(\d+)\.attn\.output\.(weight|bias)$/, 'encoder.layer.$1.attention.output.dense.$2', true],
  [/^layers\.(\d+)\.attnNorm\.(weight|bias)$/, 'encoder.layer.$1.attention.output.LayerNorm.$2', false],
  [/^layers\.(\d+)\.mlp\.fc\.(weight|bias)$/, 'encoder.layer.$1.intermediate.dense.$2', true],
  [/^layers\.(\d+)\.mlp\.proj\.(weight|bias)$/, 'encoder.layer.$1.output.dense.$2', true],
  [/^layers\.(\d+)\.mlpNorm\.(weight|bias)$/, 'encoder.layer.$1.output.LayerNorm.$2', false],
  [/^pooler\.(weight|bias)$/, 'pooler.dense.$1', true],
];

// The same for the task models' own names (backbone under `bert.`).
const TASK: Array<[RegExp, string, boolean]> = [
  ...BACKBONE.map(([re, hf, t]): [RegExp, string, boolean] => [
    new RegExp(`^bert\\.${re.source.slice(1)}`),
    `bert.${hf}`,
    t,
  ]),
  [/^mlm\.dense\.(weight|bias)$/, 'cls.predictions.transform.dense.$1', true],
  [/^mlm\.layerNorm\.(weight|bias)$/, 'cls.predictions.transform.LayerNorm.$1', false],
  [/^mlm\.bias$/, 'cls.predictions.bias', false],
  [/^classifier\.pooler\.(weight|bias)$/, 'bert.pooler.dense.$1', true],
  [/^classifier\.mlp\.out\.(weight|bias)$/, 'classifier.$1', true],
];

interface Entry {
  ours: string;
  hf: string;
  transpose: boolean;
  param: tf.Variable;
}

/** Our parameters with their HF names and layouts. */
export function hfParameterNames(model: BertTaskModel): Entry[] {
  const rules = model instanceof BertModel ? BACKBONE : TASK;
  return model.namedParameters().map(([ours, param]) => {
    const rule = rules.find(([re]) => re.test(ours));
    if (!rule) throw new Error(`no HF name for parameter '${ours}'`);
    return {
      ours,
      hf: ours.replace(rule[0], rule[1]),
      transpose: rule[2] && ours.endsWith('.weight'),
      param,
    };
  });
}

/** Our BertConfig from HF's config.json; fields we cannot honour are a CheckpointMismatchError. */
export function bertConfigFromHF(hf: HFConfig): BertConfig {
  if (hf.model_type !== undefined && hf.model_type !== 'bert') {
    throw new CheckpointMismatchError(
      `config.json says model_type '${String(hf.model_type)}' (architectures ${JSON.stringify(hf.architectures ?? [])}), not 'bert'`,
    );
  }
  const num = (key: string, fallback?: number): number => {
    const v = hf[key] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
    return v;
  };
  const act = hf.hidden_act ?? 'gelu';
  if (act !== 'gelu')
    throw new CheckpointMismatchError(
      `config.json: hidden_act '${String(act)}' is not supported (BERT uses exact 'gelu')`,
    );
  const posType = hf.position_embedding_type ?? 'absolute';
  if (posType !== 'absolute')
    throw new CheckpointMismatchError(
      `config.json: position_embedding_type '${String(posType)}' is not supported (only 'absolute')`,
    );
  return checkConfig({
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    maxPositions: num('max_position_embeddings', 512),
    typeVocabSize: num('type_vocab_size', 2),
    hiddenDropout: num('hidden_dropout_prob', 0.1),
    attentionDropout: num('attention_probs_dropout_prob', 0.1),
    layerNormEps: num('layer_norm_eps', 1e-12),
    padTokenId: num('pad_token_id', 0),
  });
}

export function bertConfigToHF(c: BertConfig): HFConfig {
  return {
    model_type: 'bert',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize,
    hidden_act: 'gelu',
    hidden_dropout_prob: c.hiddenDropout,
    attention_probs_dropout_prob: c.attentionDropout,
    max_position_embeddings: c.maxPositions,
    type_vocab_size: c.typeVocabSize,
    initializer_range: 0.02,
    layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padTokenId,
    position_embedding_type: 'absolute',
  };
}

// Names in a BERT file a given model may not need: buffers, the tied decoder, heads, the pooler.
const IGNORED = [
  /(^|\.)position_ids$/,
  /(^|\.)token_type_ids$/,
  /^cls\./,
  /^classifier\./,
  /^(bert\.)?pooler\./,
];

export interface LoadOptions {
  /**
   * Allow the task head to be absent from the checkpoint and start it fresh (fine-tuning from a pretrained
   * BertModel / BertForMaskedLM). Default false: a missing head is a CheckpointMismatchError.
   */
  newHead?: boolean;
}

/**
 * Reads a folder/URL/files, builds the model the caller asked for from its config.json and copies the
 * weights in. Anything that does not fit raises CheckpointMismatchError listing the first differences
 * (in HF names), and nothing is assigned.
 */
async function load<M extends BertTaskModel>(
  source: CheckpointSource,
  build: (config: BertConfig, hf: HFConfig) => M,
  options: LoadOptions = {},
): Promise<M> {
  const { config: hf, tensors: raw } = await loadCheckpoint(source);
  let model: M | undefined;
  try {
    const config = bertConfigFromHF(hf);
    model = build(config, hf);
    const tensors = normalizeNames(raw, model instanceof BertModel);
    const entries = hfParameterNames(model);
    const expected = new Set(entries.map((e) => e.hf));
    // The task head: our parameters outside the backbone (the classifier's pooler is HF's bert.pooler).
    const head = entries.filter((e) => !(model instanceof BertModel) && !e.ours.startsWith('bert.'));
    const missing = entries.filter((e) => !(e.hf in tensors)).map((e) => e.hf);
    const headMissing = head.filter((e) => !(e.hf in tensors)).map((e) => e.hf);
    const allHeadMissing = headMissing.length > 0 && headMissing.length === head.length;
    const tolerated = options.newHead && allHeadMissing ? new Set(headMissing) : new Set<string>();
    // A file may carry parts this model does not have (another task's head, a pooler): those are skipped.
    const unexpected = Object.keys(tensors).filter(
      (k) => !expected.has(k) && !IGNORED.some((re) => re.test(k)),
    );
    const problems: string[] = [];
    const reallyMissing = missing.filter((m) => !tolerated.has(m));
    if (reallyMissing.length) {
      const hint =
        headMissing.length && !options.newHead
          ? ' (to start the task head fresh, pass { newHead: true })'
          : '';
      problems.push(`missing: ${first(reallyMissing)}${hint}`);
    }
    if (unexpected.length) problems.push(`unexpected: ${first(unexpected)}`);
    const shapes = entries
      .filter((e) => e.hf in tensors)
      .filter((e) => {
        const s = tensors[e.hf]!.shape;
        return !tf.util.arraysEqual(e.transpose ? [...s].reverse() : s, e.param.shape);
      })
      .map(
        (e) =>
          `${e.hf} [${tensors[e.hf]!.shape}] vs expected [${e.transpose ? [...e.param.shape].reverse() : e.param.shape}]`,
      );
    if (shapes.length) problems.push(`shape mismatch: ${first(shapes)}`);
    if (problems.length) {
      const arch = JSON.stringify(hf.architectures ?? hf.model_type ?? 'unknown');
      throw new CheckpointMismatchError(
        `checkpoint (${arch}) does not fit ${model.constructor.name}: ${problems.join('; ')}`,
      );
    }
    const state: Record<string, tf.Tensor> = {};
    for (const e of entries) {
      const t = tensors[e.hf];
      if (t) state[e.ours] = e.transpose ? tf.transpose(t) : t;
    }
    model.loadStateDict(state, { strict: false });
    for (const e of entries) if (e.transpose && state[e.ours]) state[e.ours]!.dispose();
    return model;
  } catch (err) {
    model?.dispose();
    throw err;
  } finally {
    for (const t of Object.values(raw)) t.dispose();
  }
}

/** Old TF-converted names (LayerNorm.gamma/beta) → current ones; a bare BertModel file gets `bert.` for task models. */
function normalizeNames(raw: Record<string, tf.Tensor>, forBackbone: boolean): Record<string, tf.Tensor> {
  const renamed = Object.entries(raw).map(([k, t]): [string, tf.Tensor] => [
    k.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias'),
    t,
  ]);
  const prefixed = renamed.some(([k]) => k.startsWith('bert.'));
  const bare = renamed.some(([k]) => k.startsWith('embeddings.'));
  return Object.fromEntries(
    renamed.map(([k, t]) => {
      if (forBackbone && prefixed) return [k.replace(/^bert\./, ''), t];
      if (!forBackbone && !prefixed && bare && /^(embeddings|encoder|pooler)\./.test(k))
        return [`bert.${k}`, t];
      return [k, t];
    }),
  );
}

const first = (xs: string[], n = 5) =>
  xs.length > n ? `${xs.slice(0, n).join(', ')} (+${xs.length - n} more)` : xs.join(', ');

function labelsFrom(
  hf: HFConfig,
  numLabels?: number,
): { numLabels: number; id2label?: Record<number, string> } {
  const id2label = hf.id2label as Record<string, string> | undefined;
  const fromFile = id2label
    ? Object.keys(id2label).length
    : typeof hf.num_labels === 'number'
      ? hf.num_labels
      : undefined;
  const n = numLabels ?? fromFile;
  if (n === undefined) throw new CheckpointError('config.json has no id2label / num_labels: pass numLabels');
  const labels =
    id2label && Object.keys(id2label).length === n
      ? Object.fromEntries(Object.entries(id2label).map(([k, v]) => [Number(k), v]))
      : undefined;
  return { numLabels: n, id2label: labels };
}

/** A BertModel (backbone + pooler) from a BertModel file, or the backbone of any BERT task file. */
export function loadBertModel(
  source: CheckpointSource,
  { pooler = true }: { pooler?: boolean } = {},
): Promise<BertModel> {
  return load(source, (c) => new BertModel(c, { pooler }));
}

export function loadBertForMaskedLM(
  source: CheckpointSource,
  options: LoadOptions = {},
): Promise<BertForMaskedLM> {
  return load(source, (c) => new BertForMaskedLM(c), options);
}

/** Labels come from config.json's id2label, or `numLabels` (with `newHead`, e.g. from a pretrained MLM file). */
export function loadBertForSequenceClassification(
  source: CheckpointSource,
  options: LoadOptions & { numLabels?: number } = {},
): Promise<BertForSequenceClassification> {
  return load(
    source,
    (c, hf) => new BertForSequenceClassification(c, labelsFrom(hf, options.numLabels)),
    options,
  );
}

export function loadBertForTokenClassification(
  source: CheckpointSource,
  options: LoadOptions & { numLabels?: number } = {},
): Promise<BertForTokenClassification> {
  return load(
    source,
    (c, hf) => new BertForTokenClassification(c, labelsFrom(hf, options.numLabels)),
    options,
  );
}

// Spelled out rather than constructor.name, which minifiers rename.
function architecture(m: BertTaskModel): string {
  if (m instanceof BertForMaskedLM) return 'BertForMaskedLM';
  if (m instanceof BertForSequenceClassification) return 'BertForSequenceClassification';
  if (m instanceof BertForTokenClassification) return 'BertForTokenClassification';
  return 'BertModel';
}

/** Writes an HF folder that transformers' from_pretrained reads (Linear weights back to [out, in]). */
export async function saveBert(model: BertTaskModel, dir: string): Promise<void> {
  const config: HFConfig = {
    architectures: [architecture(model)],
    ...bertConfigToHF(model.config),
  };
  if (!(model instanceof BertModel) && !(model instanceof BertForMaskedLM)) {
    config.id2label = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [String(k), v]));
    config.label2id = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [v, Number(k)]));
  }
  const tensors: Record<string, tf.Tensor> = {};
  for (const e of hfParameterNames(model)) tensors[e.hf] = e.transpose ? tf.transpose(e.param) : e.param;
  try {
    await saveCheckpoint(dir, { config, tensors, metadata: { format: 'pt' } });
  } finally {
    for (const e of hfParameterNames(model)) if (e.transpose) tensors[e.hf]!.dispose();
  }
}
