import {
  activationFromHF,
  activationToHF,
  CheckpointMismatchError,
  type CheckpointSource,
  checkModelType,
  type HFConfig,
  type HFMapping,
  type HFRule,
  hfLabels,
  hfNumber,
  LINEAR_LAYOUT,
  labelsToHF,
  prefixRules,
} from '@transformer-kit/core';
import {
  type DistilBertConfig,
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  type DistilBertTaskModel,
  distilBertConfig,
} from './distilbert.js';
import {
  type BertFamily,
  type FamilyLoadOptions,
  type HFEntry,
  hfEntries,
  loadBertLike,
} from './family-checkpoint.js';

/*
 * HuggingFace DistilBERT folders ⇄ our modules, as one table over core's HF mapping: names
 * (transformer.layer.i.attention.q_lin, …) and the nn.Linear layout ((out, in) in HF, (in, out) here). The
 * MLM projector's weight is the word-embedding table (tied): never read, never written.
 */

const L = LINEAR_LAYOUT;

const BACKBONE: readonly HFRule[] = [
  { ours: /^embeddings\.word\.weight$/, hf: 'embeddings.word_embeddings.weight' },
  { ours: /^embeddings\.position\.weight$/, hf: 'embeddings.position_embeddings.weight' },
  { ours: /^embeddings\.norm\.(weight|bias)$/, hf: 'embeddings.LayerNorm.$1' },
  {
    ours: /^layers\.(\d+)\.attn\.query\.(weight|bias)$/,
    hf: 'transformer.layer.$1.attention.q_lin.$2',
    layout: L,
  },
  {
    ours: /^layers\.(\d+)\.attn\.key\.(weight|bias)$/,
    hf: 'transformer.layer.$1.attention.k_lin.$2',
    layout: L,
  },
  {
    ours: /^layers\.(\d+)\.attn\.value\.(weight|bias)$/,
    hf: 'transformer.layer.$1.attention.v_lin.$2',
    layout: L,
  },
  {
    ours: /^layers\.(\d+)\.attn\.output\.(weight|bias)$/,
    hf: 'transformer.layer.$1.attention.out_lin.$2',
    layout: L,
  },
  { ours: /^layers\.(\d+)\.attnNorm\.(weight|bias)$/, hf: 'transformer.layer.$1.sa_layer_norm.$2' },
  {
    ours: /^layers\.(\d+)\.mlp\.hidden\.0\.(weight|bias)$/,
    hf: 'transformer.layer.$1.ffn.lin1.$2',
    layout: L,
  },
  { ours: /^layers\.(\d+)\.mlp\.out\.(weight|bias)$/, hf: 'transformer.layer.$1.ffn.lin2.$2', layout: L },
  { ours: /^layers\.(\d+)\.mlpNorm\.(weight|bias)$/, hf: 'transformer.layer.$1.output_layer_norm.$2' },
];

const TASK: readonly HFRule[] = [
  ...prefixRules(BACKBONE, 'distilbert'),
  { ours: /^mlm\.dense\.(weight|bias)$/, hf: 'vocab_transform.$1', layout: L },
  { ours: /^mlm\.layerNorm\.(weight|bias)$/, hf: 'vocab_layer_norm.$1' },
  { ours: /^mlm\.bias$/, hf: 'vocab_projector.bias' },
  { ours: /^classifier\.mlp\.hidden\.0\.(weight|bias)$/, hf: 'pre_classifier.$1', layout: L },
  { ours: /^classifier\.mlp\.out\.(weight|bias)$/, hf: 'classifier.$1', layout: L },
];

function architecture(m: DistilBertTaskModel): string {
  if (m instanceof DistilBertForMaskedLM) return 'DistilBertForMaskedLM';
  if (m instanceof DistilBertForSequenceClassification) return 'DistilBertForSequenceClassification';
  return 'DistilBertModel';
}

/** DistilBERT's HF table for a model; a task head starts fresh only when asked (newHead). */
export function distilBertMapping(model: DistilBertTaskModel): HFMapping {
  const backbone = model instanceof DistilBertModel;
  return {
    architecture: architecture(model),
    rules: backbone ? BACKBONE : TASK,
    prefix: { name: 'distilbert', roots: ['embeddings', 'transformer'] },
    // Buffers and the other tasks' heads.
    ignored: [
      /(^|\.)position_ids$/,
      /^(vocab_transform|vocab_layer_norm|vocab_projector)\./,
      /^(pre_classifier|classifier|qa_outputs)\./,
    ],
    tied: [/^vocab_projector\.weight$/],
    ...(backbone ? {} : { head: { ours: /^(?!distilbert\.)/, fresh: 'newHead' as const } }),
  };
}

/** Our DistilBertConfig from HF's config.json; what we cannot run is a CheckpointMismatchError. */
export function distilBertConfigFromHF(hf: HFConfig): DistilBertConfig {
  checkModelType(hf, 'distilbert');
  const num = (key: string, fallback?: number) => hfNumber(hf, key, fallback);
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

export const DISTILBERT_FAMILY: BertFamily<DistilBertConfig, DistilBertTaskModel> = {
  name: 'DistilBERT',
  modelTypes: ['distilbert'],
  configFromHF: distilBertConfigFromHF,
  hfConfig: (m) => ({
    architectures: [architecture(m)],
    ...distilBertConfigToHF(m.config),
    ...(m instanceof DistilBertForSequenceClassification ? labelsToHF(m.id2label) : {}),
  }),
  mapping: distilBertMapping,
};

export type DistilBertLoadOptions = FamilyLoadOptions;

export function loadDistilBertModel(source: CheckpointSource): Promise<DistilBertModel> {
  return loadBertLike(DISTILBERT_FAMILY, source, (c) => new DistilBertModel(c));
}

export function loadDistilBertForMaskedLM(
  source: CheckpointSource,
  options: DistilBertLoadOptions = {},
): Promise<DistilBertForMaskedLM> {
  return loadBertLike(DISTILBERT_FAMILY, source, (c) => new DistilBertForMaskedLM(c), options);
}

/** Labels from config.json's id2label, or `numLabels` (with `newHead`, e.g. from distilbert-base-uncased). */
export function loadDistilBertForSequenceClassification(
  source: CheckpointSource,
  options: DistilBertLoadOptions & { numLabels?: number } = {},
): Promise<DistilBertForSequenceClassification> {
  return loadBertLike(
    DISTILBERT_FAMILY,
    source,
    (c, hf) => new DistilBertForSequenceClassification(c, hfLabels(hf, options.numLabels)),
    options,
  );
}

/** The class `architectures` names: …ForMaskedLM, …ForSequenceClassification, else DistilBertModel. */
export function loadDistilBertByArchitecture(
  source: CheckpointSource,
  arch: string,
  options: DistilBertLoadOptions & { numLabels?: number },
): Promise<DistilBertTaskModel> {
  if (arch.endsWith('ForMaskedLM')) return loadDistilBertForMaskedLM(source, options);
  if (arch.endsWith('ForSequenceClassification'))
    return loadDistilBertForSequenceClassification(source, options);
  return loadDistilBertModel(source);
}

/** @deprecated Use `mapParameters(model, distilBertMapping(model))` from core. */
export function distilBertParameterNames(model: DistilBertTaskModel): HFEntry[] {
  return hfEntries(model, distilBertMapping(model));
}
