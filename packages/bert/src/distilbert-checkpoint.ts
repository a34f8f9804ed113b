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
  parseConfig,
  readCheckpointFile,
  resolveSource,
} from '@transformer-kit/core';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import {
  type DistilBertConfig,
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  type DistilBertTaskModel,
  distilBertConfig,
} from './distilbert.js';
import {
  encodeFamily,
  type Family,
  type FamilyLoadOptions,
  familyTokenizer,
  type HFEntry,
  loadFamily,
  mapNames,
  prefixed,
  saveFamily,
} from './family-checkpoint.js';

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
  ...prefixed(BACKBONE, 'distilbert'),
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

/** Our parameters with their HF names and layouts. */
export function distilBertParameterNames(model: DistilBertTaskModel): HFEntry[] {
  return mapNames(model, model instanceof DistilBertModel ? BACKBONE : TASK, 'DistilBERT');
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

export type DistilBertLoadOptions = FamilyLoadOptions;

function architecture(m: DistilBertTaskModel): string {
  if (m instanceof DistilBertForMaskedLM) return 'DistilBertForMaskedLM';
  if (m instanceof DistilBertForSequenceClassification) return 'DistilBertForSequenceClassification';
  return 'DistilBertModel';
}

const FAMILY: Family<DistilBertTaskModel, DistilBertConfig> = {
  name: 'DistilBERT',
  prefix: 'distilbert',
  backboneRoots: ['embeddings', 'transformer'],
  configFromHF: distilBertConfigFromHF,
  names: distilBertParameterNames,
  isBackbone: (m) => m instanceof DistilBertModel,
  architecture,
  ignored: IGNORED,
};

const load = <M extends DistilBertTaskModel>(
  source: CheckpointSource,
  build: (c: DistilBertConfig, hf: HFConfig) => M,
  options?: FamilyLoadOptions,
) =>
  loadFamily(
    FAMILY,
    source,
    build as (c: DistilBertConfig, hf: HFConfig) => DistilBertTaskModel,
    options,
  ) as Promise<M>;

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
export function saveDistilBertPretrained(
  model: DistilBertTaskModel,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  return saveFamily(
    distilBertParameterNames(model),
    dir,
    { architectures: [architecture(model)], ...distilBertConfigToHF(model.config) },
    {
      tokenizer,
      id2label: model instanceof DistilBertForSequenceClassification ? model.id2label : undefined,
    },
  );
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
  const tokenizer = await familyTokenizer(source, hf);
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
  const model: DistilBertTaskModel = arch.endsWith('ForMaskedLM')
    ? await loadDistilBertForMaskedLM(source, options)
    : arch.endsWith('ForSequenceClassification')
      ? await loadDistilBertForSequenceClassification(source, options)
      : await loadDistilBertModel(source);
  return tokenizer ? { model, tokenizer } : { model };
}

/** The files saveDistilBertPretrained writes, as bytes by file name (the page's downloads). */
export function encodeDistilBertPretrained(
  model: DistilBertTaskModel,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<Map<string, Uint8Array>> {
  return encodeFamily(
    distilBertParameterNames(model),
    { architectures: [architecture(model)], ...distilBertConfigToHF(model.config) },
    {
      tokenizer,
      id2label: model instanceof DistilBertForSequenceClassification ? model.id2label : undefined,
    },
  );
}
