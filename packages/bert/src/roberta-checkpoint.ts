import {
  type CheckpointSource,
  checkModelType,
  type HFConfig,
  type HFMapping,
  type HFRule,
  hfLabels,
  LINEAR_LAYOUT,
  labelsToHF,
  prefixRules,
} from '@transformer-kit/core';
import {
  BERT_BACKBONE_RULES,
  BERT_ROOTS,
  bertConfigFromHF,
  bertConfigToHF,
  TF_LAYER_NORM_NAMES,
} from './checkpoint.js';
import {
  type BertFamily,
  type FamilyLoadOptions,
  type HFEntry,
  hfEntries,
  loadBertLike,
} from './family-checkpoint.js';
import type { BertConfig } from './model.js';
import {
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaModel,
  type RobertaTaskModel,
  robertaConfig,
} from './roberta.js';

/*
 * HuggingFace RoBERTa folders ⇄ our modules, as one table over core's HF mapping. The backbone has BERT's
 * names (under `roberta.` in task files); the heads: lm_head.{dense, layer_norm, bias} (decoder tied: never
 * read or written), classifier.{dense, out_proj}.
 */

const L = LINEAR_LAYOUT;

const TASK: readonly HFRule[] = [
  ...prefixRules(BERT_BACKBONE_RULES, 'roberta'),
  { ours: /^lmHead\.dense\.(weight|bias)$/, hf: 'lm_head.dense.$1', layout: L },
  { ours: /^lmHead\.layerNorm\.(weight|bias)$/, hf: 'lm_head.layer_norm.$1' },
  { ours: /^lmHead\.bias$/, hf: 'lm_head.bias' },
  { ours: /^classifier\.mlp\.hidden\.0\.(weight|bias)$/, hf: 'classifier.dense.$1', layout: L },
  { ours: /^classifier\.mlp\.out\.(weight|bias)$/, hf: 'classifier.out_proj.$1', layout: L },
];

function architecture(m: RobertaTaskModel): string {
  if (m instanceof RobertaForMaskedLM) return 'RobertaForMaskedLM';
  if (m instanceof RobertaForSequenceClassification) return 'RobertaForSequenceClassification';
  return 'RobertaModel';
}

/** RoBERTa's HF table for a model; a task head starts fresh only when asked (newHead), a pooler never. */
export function robertaMapping(model: RobertaTaskModel): HFMapping {
  const backbone = model instanceof RobertaModel;
  return {
    architecture: architecture(model),
    rules: backbone ? BERT_BACKBONE_RULES : TASK,
    prefix: { name: 'roberta', roots: BERT_ROOTS },
    renames: TF_LAYER_NORM_NAMES,
    ignored: [
      /(^|\.)position_ids$/,
      /(^|\.)token_type_ids$/,
      /^lm_head\./,
      /^classifier\./,
      /^(roberta\.)?pooler\./,
    ],
    tied: [/^lm_head\.decoder\.(weight|bias)$/],
    ...(backbone ? {} : { head: { ours: /^(?!roberta\.)/, fresh: 'newHead' as const } }),
  };
}

/** BERT's config reader with RoBERTa's model_type and positions. */
export function robertaConfigFromHF(hf: HFConfig): BertConfig {
  checkModelType(hf, ['roberta', 'xlm-roberta']);
  return robertaConfig(
    bertConfigFromHF({ ...hf, model_type: 'bert', layer_norm_eps: hf.layer_norm_eps ?? 1e-5 }),
  );
}

export function robertaConfigToHF(c: BertConfig): HFConfig {
  return { ...bertConfigToHF(c), model_type: 'roberta', bos_token_id: 0, eos_token_id: 2 };
}

export const ROBERTA_FAMILY: BertFamily<BertConfig, RobertaTaskModel> = {
  name: 'RoBERTa',
  modelTypes: ['roberta', 'xlm-roberta'],
  configFromHF: robertaConfigFromHF,
  hfConfig: (m) => ({
    architectures: [architecture(m)],
    ...robertaConfigToHF(m.config),
    ...(m instanceof RobertaForSequenceClassification ? labelsToHF(m.id2label) : {}),
  }),
  mapping: robertaMapping,
};

export type RobertaLoadOptions = FamilyLoadOptions;

/** A RobertaModel; its pooler when the file has one (a task file has none: pass { pooler: false }). */
export function loadRobertaModel(
  source: CheckpointSource,
  { pooler = true }: { pooler?: boolean } = {},
): Promise<RobertaModel> {
  return loadBertLike(ROBERTA_FAMILY, source, (c) => new RobertaModel(c, { pooler }));
}

export function loadRobertaForMaskedLM(
  source: CheckpointSource,
  options: RobertaLoadOptions = {},
): Promise<RobertaForMaskedLM> {
  return loadBertLike(ROBERTA_FAMILY, source, (c) => new RobertaForMaskedLM(c), options);
}

export function loadRobertaForSequenceClassification(
  source: CheckpointSource,
  options: RobertaLoadOptions & { numLabels?: number } = {},
): Promise<RobertaForSequenceClassification> {
  return loadBertLike(
    ROBERTA_FAMILY,
    source,
    (c, hf) =>
      new RobertaForSequenceClassification(c, {
        ...hfLabels(hf, options.numLabels),
        ...(typeof hf.classifier_dropout === 'number' ? { classifierDropout: hf.classifier_dropout } : {}),
      }),
    options,
  );
}

/** The class `architectures` names: …ForMaskedLM, …ForSequenceClassification, else RobertaModel. */
export function loadRobertaByArchitecture(
  source: CheckpointSource,
  arch: string,
  options: RobertaLoadOptions & { numLabels?: number },
): Promise<RobertaTaskModel> {
  if (arch.endsWith('ForMaskedLM')) return loadRobertaForMaskedLM(source, options);
  if (arch.endsWith('ForSequenceClassification'))
    return loadRobertaForSequenceClassification(source, options);
  return loadRobertaModel(source);
}

/** @deprecated Use `mapParameters(model, robertaMapping(model))` from core. */
export function robertaParameterNames(model: RobertaTaskModel): HFEntry[] {
  return hfEntries(model, robertaMapping(model));
}
