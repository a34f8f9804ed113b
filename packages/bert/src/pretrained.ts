import type { CheckpointSource, HubOptions } from '@transformer-kit/core';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import { BERT_FAMILY, type BertTaskModel, type LoadOptions, loadBertByArchitecture } from './checkpoint.js';
import {
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  type DistilBertTaskModel,
} from './distilbert.js';
import { DISTILBERT_FAMILY, loadDistilBertByArchitecture } from './distilbert-checkpoint.js';
import { encodeBertLike, loadAuto, type Pretrained, saveBertLike } from './family-checkpoint.js';
import {
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaModel,
  type RobertaTaskModel,
} from './roberta.js';
import { loadRobertaByArchitecture, ROBERTA_FAMILY } from './roberta-checkpoint.js';

/*
 * The package's one load / save pair, as transformers' Auto classes: config.json's model_type picks the
 * family (bert, distilbert, roberta), its `architectures` the task class; a model is saved by its family's
 * table.
 */

/** Every model this package loads from and saves to HF folders. */
export type BertLikeModel = BertTaskModel | DistilBertTaskModel | RobertaTaskModel;

export type PretrainedOptions = LoadOptions & { numLabels?: number } & HubOptions;

const FAMILIES = {
  bert: { types: BERT_FAMILY.modelTypes, load: loadBertByArchitecture },
  distilbert: { types: DISTILBERT_FAMILY.modelTypes, load: loadDistilBertByArchitecture },
  roberta: { types: ROBERTA_FAMILY.modelTypes, load: loadRobertaByArchitecture },
} as const;

function loadFamilies(
  from: CheckpointSource,
  options: PretrainedOptions,
  names: ReadonlyArray<keyof typeof FAMILIES>,
) {
  return loadAuto<BertLikeModel>(
    from,
    options,
    names.flatMap((n) => FAMILIES[n].types),
    (source, modelType, arch) => {
      const family = names.find((n) => FAMILIES[n].types.includes(modelType))!;
      return FAMILIES[family].load(source, arch, options);
    },
  );
}

/**
 * AutoModel + AutoTokenizer for BERT, DistilBERT and RoBERTa folders (path, URL, files or a Hub id):
 * config.json's model_type picks the family and its `architectures` the class (…ForMaskedLM /
 * …ForPreTraining, …ForSequenceClassification, …ForTokenClassification, else the base model); the tokenizer
 * comes from the folder's tokenizer files (a vocabulary larger than the embedding table is a
 * CheckpointMismatchError).
 */
export function loadPretrained(
  from: CheckpointSource,
  options: PretrainedOptions = {},
): Promise<Pretrained<BertLikeModel>> {
  return loadFamilies(from, options, ['bert', 'distilbert', 'roberta']);
}

// DistilBertModel and RobertaModel extend BertModel: their families are asked first.
const isDistilBert = (m: BertLikeModel): m is DistilBertTaskModel =>
  m instanceof DistilBertModel ||
  m instanceof DistilBertForMaskedLM ||
  m instanceof DistilBertForSequenceClassification;
const isRoberta = (m: BertLikeModel): m is RobertaTaskModel =>
  m instanceof RobertaModel ||
  m instanceof RobertaForMaskedLM ||
  m instanceof RobertaForSequenceClassification;

/**
 * Writes an HF folder that transformers' from_pretrained reads (Linear weights back to (out, in)), with the
 * tokenizer's files when given: model, config and tokenizer together, each file written atomically.
 */
export function savePretrained(
  model: BertLikeModel,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  if (isDistilBert(model)) return saveBertLike(DISTILBERT_FAMILY, model, dir, tokenizer);
  if (isRoberta(model)) return saveBertLike(ROBERTA_FAMILY, model, dir, tokenizer);
  return saveBertLike(BERT_FAMILY, model, dir, tokenizer);
}

/**
 * The files savePretrained writes, as bytes by file name (model.safetensors, config.json, tokenizer files):
 * what a page offers as downloads, and what `loadPretrained` reads back (a Map is a checkpoint source).
 */
export function encodePretrained(
  model: BertLikeModel,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<Map<string, Uint8Array>> {
  if (isDistilBert(model)) return encodeBertLike(DISTILBERT_FAMILY, model, tokenizer);
  if (isRoberta(model)) return encodeBertLike(ROBERTA_FAMILY, model, tokenizer);
  return encodeBertLike(BERT_FAMILY, model, tokenizer);
}

/** @deprecated Use `loadPretrained` (any BERT-like folder); this one refuses all but DistilBERT's. */
export function loadDistilBertPretrained(
  from: CheckpointSource,
  options: PretrainedOptions = {},
): Promise<Pretrained<DistilBertTaskModel>> {
  return loadFamilies(from, options, ['distilbert']) as Promise<Pretrained<DistilBertTaskModel>>;
}

/** @deprecated Use `loadPretrained` (any BERT-like folder); this one refuses all but RoBERTa's. */
export function loadRobertaPretrained(
  from: CheckpointSource,
  options: PretrainedOptions = {},
): Promise<Pretrained<RobertaTaskModel>> {
  return loadFamilies(from, options, ['roberta']) as Promise<Pretrained<RobertaTaskModel>>;
}

/** @deprecated Use `savePretrained`. */
export const saveDistilBertPretrained: (
  m: DistilBertTaskModel,
  dir: string,
  o?: { tokenizer?: Tokenizer },
) => Promise<void> = savePretrained;
/** @deprecated Use `savePretrained`. */
export const saveRobertaPretrained: (
  m: RobertaTaskModel,
  dir: string,
  o?: { tokenizer?: Tokenizer },
) => Promise<void> = savePretrained;
/** @deprecated Use `encodePretrained`. */
export const encodeDistilBertPretrained: (
  m: DistilBertTaskModel,
  o?: { tokenizer?: Tokenizer },
) => Promise<Map<string, Uint8Array>> = encodePretrained;
/** @deprecated Use `encodePretrained`. */
export const encodeRobertaPretrained: (
  m: RobertaTaskModel,
  o?: { tokenizer?: Tokenizer },
) => Promise<Map<string, Uint8Array>> = encodePretrained;
