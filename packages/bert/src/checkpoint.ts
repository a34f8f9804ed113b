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
  type BertFamily,
  type FamilyLoadOptions,
  type HFEntry,
  hfEntries,
  loadBertLike,
} from './family-checkpoint.js';
import { type BertConfig, BertModel, checkBertConfig as checkConfig } from './model.js';
import { BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification } from './tasks.js';

/*
 * HuggingFace BERT folders ⇄ our modules, as one table over core's HF mapping: HF's module tree
 * (encoder.layer.i.attention.self.query, …) vs ours (layers.i.attn.query, …), and nn.Linear weights stored
 * (out, in) where ours are (in, out). Task files put the backbone under `bert.`. The MLM decoder is tied to
 * the word embeddings: never read, never written.
 */

export type BertTaskModel =
  | BertModel
  | BertForMaskedLM
  | BertForSequenceClassification
  | BertForTokenClassification;

const L = LINEAR_LAYOUT;

/** The backbone's names (RoBERTa's too). */
export const BERT_BACKBONE_RULES: readonly HFRule[] = [
  { ours: /^embeddings\.word\.weight$/, hf: 'embeddings.word_embeddings.weight' },
  { ours: /^embeddings\.position\.weight$/, hf: 'embeddings.position_embeddings.weight' },
  { ours: /^embeddings\.tokenType\.weight$/, hf: 'embeddings.token_type_embeddings.weight' },
  { ours: /^embeddings\.norm\.(weight|bias)$/, hf: 'embeddings.LayerNorm.$1' },
  {
    ours: /^layers\.(\d+)\.attn\.(query|key|value)\.(weight|bias)$/,
    hf: 'encoder.layer.$1.attention.self.$2.$3',
    layout: L,
  },
  {
    ours: /^layers\.(\d+)\.attn\.output\.(weight|bias)$/,
    hf: 'encoder.layer.$1.attention.output.dense.$2',
    layout: L,
  },
  { ours: /^layers\.(\d+)\.attnNorm\.(weight|bias)$/, hf: 'encoder.layer.$1.attention.output.LayerNorm.$2' },
  {
    ours: /^layers\.(\d+)\.mlp\.hidden\.0\.(weight|bias)$/,
    hf: 'encoder.layer.$1.intermediate.dense.$2',
    layout: L,
  },
  { ours: /^layers\.(\d+)\.mlp\.out\.(weight|bias)$/, hf: 'encoder.layer.$1.output.dense.$2', layout: L },
  { ours: /^layers\.(\d+)\.mlpNorm\.(weight|bias)$/, hf: 'encoder.layer.$1.output.LayerNorm.$2' },
  { ours: /^pooler\.(weight|bias)$/, hf: 'pooler.dense.$1', layout: L },
];

const TASK_RULES: readonly HFRule[] = [
  ...prefixRules(BERT_BACKBONE_RULES, 'bert'),
  { ours: /^mlm\.dense\.(weight|bias)$/, hf: 'cls.predictions.transform.dense.$1', layout: L },
  { ours: /^mlm\.layerNorm\.(weight|bias)$/, hf: 'cls.predictions.transform.LayerNorm.$1' },
  { ours: /^mlm\.bias$/, hf: 'cls.predictions.bias' },
  // The [CLS] classifier's pooler is HF's bert.pooler.
  { ours: /^classifier\.pooler\.(weight|bias)$/, hf: 'bert.pooler.dense.$1', layout: L },
  { ours: /^classifier\.mlp\.out\.(weight|bias)$/, hf: 'classifier.$1', layout: L },
];

/** Top-level names of a bare backbone file (BERT's and RoBERTa's). */
export const BERT_ROOTS = ['embeddings', 'encoder', 'pooler'];

/** Old TF-converted names still found in files. */
export const TF_LAYER_NORM_NAMES: ReadonlyArray<readonly [RegExp, string]> = [
  [/LayerNorm\.gamma$/, 'LayerNorm.weight'],
  [/LayerNorm\.beta$/, 'LayerNorm.bias'],
];

// Spelled out rather than constructor.name, which minifiers rename.
function architecture(m: BertTaskModel): string {
  if (m instanceof BertForMaskedLM) return 'BertForMaskedLM';
  if (m instanceof BertForSequenceClassification) return 'BertForSequenceClassification';
  if (m instanceof BertForTokenClassification) return 'BertForTokenClassification';
  return 'BertModel';
}

/**
 * BERT's HF table for a model. HF's rule for what may be absent: a backbone loads from any task file, its
 * missing pooler initialised with a warning; a task head starts fresh only when asked (newHead).
 */
export function bertMapping(model: BertTaskModel): HFMapping {
  const backbone = model instanceof BertModel;
  return {
    architecture: architecture(model),
    rules: backbone ? BERT_BACKBONE_RULES : TASK_RULES,
    prefix: { name: 'bert', roots: BERT_ROOTS },
    renames: TF_LAYER_NORM_NAMES,
    // Buffers, the other tasks' heads, a pooler this model does not have.
    ignored: [
      /(^|\.)position_ids$/,
      /(^|\.)token_type_ids$/,
      /^cls\./,
      /^classifier\./,
      /^(bert\.)?pooler\./,
    ],
    tied: [/^cls\.predictions\.decoder\.(weight|bias)$/],
    head: backbone ? { ours: /^pooler\./, fresh: 'always' } : { ours: /^(?!bert\.)/, fresh: 'newHead' },
  };
}

/** Our BertConfig from HF's config.json; fields we cannot honour are a CheckpointMismatchError. */
export function bertConfigFromHF(hf: HFConfig): BertConfig {
  checkModelType(hf, 'bert');
  const num = (key: string, fallback?: number) => hfNumber(hf, key, fallback);
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
    activation: activationFromHF(hf, 'hidden_act', 'gelu'),
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
    hidden_act: activationToHF(c.activation),
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

/** config.json for a model: its class, the config, a classifier's labels. */
function hfConfig(model: BertTaskModel): HFConfig {
  return {
    architectures: [architecture(model)],
    ...bertConfigToHF(model.config),
    ...(model instanceof BertModel || model instanceof BertForMaskedLM ? {} : labelsToHF(model.id2label)),
    // Not an HF field: HF's BertForSequenceClassification always pools [CLS].
    ...(model instanceof BertForSequenceClassification && model.pooling === 'mean'
      ? { classifier_pooling: 'mean' }
      : {}),
  };
}

export const BERT_FAMILY: BertFamily<BertConfig, BertTaskModel> = {
  name: 'BERT',
  modelTypes: ['bert'],
  configFromHF: bertConfigFromHF,
  hfConfig,
  mapping: bertMapping,
};

export interface LoadOptions extends FamilyLoadOptions {}

/**
 * A BertModel (backbone + pooler) from a BertModel file, or the backbone of any BERT task file; a pooler the
 * file lacks (BertForMaskedLM, BertForTokenClassification) is initialised fresh with a warning, as HF does.
 */
export function loadBertModel(
  source: CheckpointSource,
  { pooler = true, ...options }: Pick<LoadOptions, 'onWarning'> & { pooler?: boolean } = {},
): Promise<BertModel> {
  return loadBertLike(BERT_FAMILY, source, (c) => new BertModel(c, { pooler }), options);
}

export function loadBertForMaskedLM(
  source: CheckpointSource,
  options: LoadOptions = {},
): Promise<BertForMaskedLM> {
  return loadBertLike(BERT_FAMILY, source, (c) => new BertForMaskedLM(c), options);
}

/** Labels come from config.json's id2label, or `numLabels` (with `newHead`, e.g. from a pretrained MLM file). */
export function loadBertForSequenceClassification(
  source: CheckpointSource,
  options: LoadOptions & { numLabels?: number } = {},
): Promise<BertForSequenceClassification> {
  return loadBertLike(
    BERT_FAMILY,
    source,
    (c, hf) =>
      new BertForSequenceClassification(c, {
        ...hfLabels(hf, options.numLabels),
        pooling: hf.classifier_pooling === 'mean' ? 'mean' : 'cls',
      }),
    options,
  );
}

export function loadBertForTokenClassification(
  source: CheckpointSource,
  options: LoadOptions & { numLabels?: number } = {},
): Promise<BertForTokenClassification> {
  return loadBertLike(
    BERT_FAMILY,
    source,
    (c, hf) => new BertForTokenClassification(c, hfLabels(hf, options.numLabels)),
    options,
  );
}

/** The task class `architectures` names: …ForMaskedLM / …ForPreTraining, …ForSequenceClassification, …ForTokenClassification, else BertModel. */
export function loadBertByArchitecture(
  source: CheckpointSource,
  arch: string,
  options: LoadOptions & { numLabels?: number },
): Promise<BertTaskModel> {
  if (/ForMaskedLM$|ForPreTraining$/.test(arch)) return loadBertForMaskedLM(source, options);
  if (arch.endsWith('ForSequenceClassification')) return loadBertForSequenceClassification(source, options);
  if (arch.endsWith('ForTokenClassification')) return loadBertForTokenClassification(source, options);
  return loadBertModel(source, options);
}

/** @deprecated Use `mapParameters(model, bertMapping(model))` from core. */
export function hfParameterNames(model: BertTaskModel): HFEntry[] {
  return hfEntries(model, bertMapping(model));
}
