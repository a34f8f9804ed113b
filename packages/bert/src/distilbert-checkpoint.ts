import * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  checkModelType,
  type HFConfig,
  type HubOptions,
  hfLabels,
  loadCheckpoint,
  loadEntries,
  parseConfig,
  readCheckpointFile,
  readOptionalFiles,
  resolveSource,
  saveCheckpoint,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import {
  type DistilBertConfig,
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  type DistilBertTaskModel,
  distilBertConfig,
} from './distilbert.js';

/*
 * HuggingFace DistilBERT folders ⇄ our modules: names (transformer.layer.i.attention.q_lin, …) and the
 * Linear layout ([out, in] in HF, (in, out) here: transposed both ways). The MLM projector's weight is the
 * word-embedding table (tied): never read, never written.
 */

// [our name pattern, HF name, is a Linear (weight transposed)], for the backbone's own names.
const BACKBONE: Array<[RegExp, string, boolean]> = [
  [/^embeddings\.word\.weight$/, 'embeddings.word_embeddings.weight', false],
  [/^embeddings\.position\.weight$/, 'embeddings.position_embeddings.weight', false],
  [/^embeddings\.norm\.(weight|bias)$/, 'embeddings.LayerNorm.$1', false],
  [/^layers\.(\d+)\.attn\.query\.(weight|bias)$/, 'transformer.layer.$1.attention.q_lin.$2', true],
  [/^layers\.(\d+)\.attn\.key\.(weight|bias)$/, 'transformer.layer.$1.attention.k_lin.$2', true],
  [/^layers\.(\d+)\.attn\.value\.(weight|bias)$/, 'transformer.layer.$1.attention.v_lin.$2', true],
  [/^layers\.(\d+)\.attn\.output\.(weight|bias)$/, 'transformer.layer.$1.attention.out_lin.$2', true],
  [/^layers\.(\d+)\.attnNorm\.(weight|bias)$/, 'transformer.layer.$1.sa_layer_norm.$2', false],
  [/^layers\.(\d+)\.mlp\.hidden\.0\.(weight|bias)$/, 'transformer.layer.$1.ffn.lin1.$2', true],
  [/^layers\.(\d+)\.mlp\.out\.(weight|bias)$/, 'transformer.layer.$1.ffn.lin2.$2', true],
  [/^layers\.(\d+)\.mlpNorm\.(weight|bias)$/, 'transformer.layer.$1.output_layer_norm.$2', false],
];

const TASK: Array<[RegExp, string, boolean]> = [
  ...BACKBONE.map(([re, hf, t]): [RegExp, string, boolean] => [
    new RegExp(`^distilbert\\.${re.source.slice(1)}`),
    `distilbert.${hf}`,
    t,
  ]),
  [/^mlm\.dense\.(weight|bias)$/, 'vocab_transform.$1', true],
  [/^mlm\.layerNorm\.(weight|bias)$/, 'vocab_layer_norm.$1', false],
  [/^mlm\.bias$/, 'vocab_projector.bias', false],
  [/^classifier\.mlp\.hidden\.0\.(weight|bias)$/, 'pre_classifier.$1', true],
  [/^classifier\.mlp\.out\.(weight|bias)$/, 'classifier.$1', true],
];

// In DistilBERT files, but not parameters of the model asked for: buffers, the tied projector, other heads.
const IGNORED = [
  /(^|\.)position_ids$/,
  /^vocab_projector\.weight$/,
  /^(vocab_transform|vocab_layer_norm|vocab_projector)\./,
  /^(pre_classifier|classifier|qa_outputs)\./,
];

interface Entry {
  ours: string;
  hf: string;
  transpose: boolean;
  param: tf.Variable;
}

/** Our parameters with their HF names and layouts. */
export function distilBertParameterNames(model: DistilBertTaskModel): Entry[] {
  const rules = model instanceof DistilBertModel ? BACKBONE : TASK;
  return model.namedParameters().map(([ours, param]) => {
    const rule = rules.find(([re]) => re.test(ours));
    if (!rule) throw new CheckpointError(`no HF name for DistilBERT parameter '${ours}'`);
    return {
      ours,
      hf: ours.replace(rule[0], rule[1]),
      transpose: rule[2] && ours.endsWith('.weight'),
      param,
    };
  });
}

/** Our DistilBertConfig from HF's config.json; what we cannot run is a CheckpointMismatchError. */
export function distilBertConfigFromHF(hf: HFConfig): DistilBertConfig {
  checkModelType(hf, 'distilbert');
  const num = (key: string, fallback?: number): number => {
    const v = hf[key] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
    return v;
  };
  if (hf.sinusoidal_pos_embds === true)
    throw new CheckpointMismatchError(
      'config.json: sinusoidal_pos_embds is not supported (learned positions only)',
    );
  return distilBertConfig({
    vocabSize: num('vocab_size'),
    hiddenSize: num('dim', 768),
    numLayers: num('n_layers', 6),
    numHeads: num('n_heads', 12),
    intermediateSize: num('hidden_dim', 3072),
    maxPositions: num('max_position_embeddings', 512),
    hiddenDropout: num('dropout', 0.1),
    attentionDropout: num('attention_dropout', 0.1),
    layerNormEps: 1e-12, // fixed in HF's modeling_distilbert.py
    activation: activationFromHF(hf, 'activation', 'gelu'),
    padTokenId: num('pad_token_id', 0),
    seqClassifDropout: num('seq_classif_dropout', 0.2),
  });
}

export function distilBertConfigToHF(c: DistilBertConfig): HFConfig {
  return {
    model_type: 'distilbert',
    vocab_size: c.vocabSize,
    dim: c.hiddenSize,
    n_layers: c.numLayers,
    n_heads: c.numHeads,
    hidden_dim: c.intermediateSize,
    max_position_embeddings: c.maxPositions,
    dropout: c.hiddenDropout,
    attention_dropout: c.attentionDropout,
    activation: activationToHF(c.activation),
    pad_token_id: c.padTokenId,
    seq_classif_dropout: c.seqClassifDropout,
    qa_dropout: 0.1,
    sinusoidal_pos_embds: false,
    tie_weights_: true,
    initializer_range: 0.02,
  };
}

export interface DistilBertLoadOptions {
  /** Start the task head fresh when the file has none (fine-tuning from a DistilBertModel / MLM file). */
  newHead?: boolean;
  onWarning?: (message: string) => void;
}

function architecture(m: DistilBertTaskModel): string {
  if (m instanceof DistilBertForMaskedLM) return 'DistilBertForMaskedLM';
  if (m instanceof DistilBertForSequenceClassification) return 'DistilBertForSequenceClassification';
  return 'DistilBertModel';
}

/** A bare DistilBertModel file (no prefix) for a task model gets `distilbert.`; a task file for a backbone loses it. */
function normalizeNames(raw: Record<string, tf.Tensor>, forBackbone: boolean): Record<string, tf.Tensor> {
  const prefixed = Object.keys(raw).some((k) => k.startsWith('distilbert.'));
  return Object.fromEntries(
    Object.entries(raw).map(([k, t]) => {
      if (forBackbone && prefixed) return [k.replace(/^distilbert\./, ''), t];
      if (!forBackbone && !prefixed && /^(embeddings|transformer)\./.test(k)) return [`distilbert.${k}`, t];
      return [k, t];
    }),
  );
}

async function load<M extends DistilBertTaskModel>(
  source: CheckpointSource,
  build: (config: DistilBertConfig, hf: HFConfig) => M,
  options: DistilBertLoadOptions = {},
): Promise<M> {
  const { config: hf, tensors: raw } = await loadCheckpoint(source);
  let model: M | undefined;
  try {
    model = build(distilBertConfigFromHF(hf), hf);
    const entries = distilBertParameterNames(model);
    const backbone = model instanceof DistilBertModel;
    const head = backbone ? [] : entries.filter((e) => !e.ours.startsWith('distilbert.'));
    const fresh = loadEntries(
      model,
      normalizeNames(raw, backbone),
      entries.map((e) => ({
        ours: e.ours,
        hf: e.hf,
        hfShape: e.transpose ? [...e.param.shape].reverse() : e.param.shape,
        ...(e.transpose ? { fromHF: (t: tf.Tensor) => tf.transpose(t) } : {}),
      })),
      {
        config: hf,
        what: architecture(model),
        head: head.map((e) => e.hf),
        freshHead: options.newHead === true,
        headHint: ' (to start the task head fresh, pass { newHead: true })',
        ignored: IGNORED,
      },
    );
    if (fresh.length)
      (options.onWarning ?? console.warn)(
        `Some weights of ${architecture(model)} were not in the checkpoint and are newly initialised: ${fresh.slice(0, 5).join(', ')}. Train them before use.`,
      );
    return model;
  } catch (err) {
    model?.dispose();
    throw err;
  } finally {
    tf.dispose(Object.values(raw));
  }
}

export function loadDistilBertModel(source: CheckpointSource): Promise<DistilBertModel> {
  return load(source, (c) => new DistilBertModel(c));
}

export function loadDistilBertForMaskedLM(
  source: CheckpointSource,
  options: DistilBertLoadOptions = {},
): Promise<DistilBertForMaskedLM> {
  return load(source, (c) => new DistilBertForMaskedLM(c), options);
}

/** Labels from config.json's id2label, or `numLabels` (with `newHead`, e.g. from distilbert-base-uncased). */
export function loadDistilBertForSequenceClassification(
  source: CheckpointSource,
  options: DistilBertLoadOptions & { numLabels?: number } = {},
): Promise<DistilBertForSequenceClassification> {
  return load(
    source,
    (c, hf) => new DistilBertForSequenceClassification(c, hfLabels(hf, options.numLabels)),
    options,
  );
}

/** Writes an HF DistilBERT folder (config.json, model.safetensors, tokenizer files when given), atomically per file. */
export async function saveDistilBertPretrained(
  model: DistilBertTaskModel,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  const config: HFConfig = { architectures: [architecture(model)], ...distilBertConfigToHF(model.config) };
  if (model instanceof DistilBertForSequenceClassification) {
    config.id2label = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [String(k), v]));
    config.label2id = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [v, Number(k)]));
  }
  const entries = distilBertParameterNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  for (const e of entries) tensors[e.hf] = e.transpose ? tf.transpose(e.param) : e.param;
  try {
    await saveCheckpoint(dir, {
      config,
      tensors,
      metadata: { format: 'pt' },
      ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
    });
  } finally {
    for (const e of entries) if (e.transpose) tensors[e.hf]!.dispose();
  }
}

/**
 * AutoModel + AutoTokenizer for DistilBERT folders, URLs, files or Hub ids ('distilbert-base-uncased'): the
 * class from `architectures` (…ForMaskedLM, …ForSequenceClassification, else DistilBertModel).
 */
export async function loadDistilBertPretrained(
  from: CheckpointSource,
  options: DistilBertLoadOptions & { numLabels?: number } & HubOptions = {},
): Promise<{ model: DistilBertTaskModel; tokenizer?: Tokenizer }> {
  const source = await resolveSource(from, options);
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  checkModelType(hf, 'distilbert');
  const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
  if (tokenizer && typeof hf.vocab_size === 'number' && tokenizer.vocabSize > hf.vocab_size)
    throw new CheckpointMismatchError(
      `the vocabulary has ${tokenizer.vocabSize} tokens but the embedding table has ${hf.vocab_size} rows (config.json vocab_size): the tokenizer files belong to another model`,
    );
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
  const model: DistilBertTaskModel = arch.endsWith('ForMaskedLM')
    ? await loadDistilBertForMaskedLM(source, options)
    : arch.endsWith('ForSequenceClassification')
      ? await loadDistilBertForSequenceClassification(source, options)
      : await loadDistilBertModel(source);
  return tokenizer ? { model, tokenizer } : { model };
}
