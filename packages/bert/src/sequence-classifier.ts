import {
  type CheckpointSource,
  CONFIG_FILE,
  checkModelType,
  type HFConfig,
  InvalidArgumentError,
  type Module,
  parseConfig,
  readCheckpointFile,
} from '@transformer-kit/core';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import { type LoadOptions, loadBertForSequenceClassification, loadBertModel } from './checkpoint.js';
import { DistilBertForSequenceClassification } from './distilbert.js';
import { loadDistilBertForSequenceClassification, loadDistilBertModel } from './distilbert-checkpoint.js';
import { familyTokenizer, type Pretrained } from './family-checkpoint.js';
import { encodePretrained, savePretrained } from './pretrained.js';
import { RobertaForSequenceClassification } from './roberta.js';
import { loadRobertaForSequenceClassification, loadRobertaModel } from './roberta-checkpoint.js';
import { BertForSequenceClassification } from './tasks.js';

/*
 * AutoModelForSequenceClassification for fine-tuning: config.json's model_type picks the family (bert,
 * distilbert, roberta); the folder's own classifier is kept when its labels are the ones asked for, else the
 * folder's backbone goes under a new head for them.
 */

/** The sequence classifiers a BERT-like folder fine-tunes into. */
export type FolderSequenceClassifier =
  | BertForSequenceClassification
  | DistilBertForSequenceClassification
  | RobertaForSequenceClassification;

/** The model_types loadSequenceClassifier reads. */
export const CLASSIFIER_MODEL_TYPES = ['bert', 'distilbert', 'roberta'] as const;
export type ClassifierModelType = (typeof CLASSIFIER_MODEL_TYPES)[number];

export interface SequenceClassifierFolderOptions extends Pick<LoadOptions, 'onWarning'> {
  /** Class names in id order (e.g. the labels found in a data set): the new head's id2label. */
  labels: readonly string[];
  /** Seed of a new head. */
  seed?: number;
}

export interface SequenceClassifierFromFolder<M extends Module = FolderSequenceClassifier>
  extends Pretrained<M> {
  /** config.json's model_type. */
  modelType: ClassifierModelType;
  /** The architecture config.json names (the family's base model when it names none). */
  architecture: string;
  /** True when the head is new: the folder had none, or its id2label differs from `labels`. */
  newHead: boolean;
}

/** config.json's model_type, refused (CheckpointMismatchError) when it is not one of CLASSIFIER_MODEL_TYPES. */
export function classifierModelType(hf: HFConfig): ClassifierModelType {
  checkModelType(hf, [...CLASSIFIER_MODEL_TYPES]);
  // A config without model_type passes checkModelType: read as BERT, as before the other families.
  return (hf.model_type as ClassifierModelType | undefined) ?? 'bert';
}

const BASE_ARCHITECTURE: Record<ClassifierModelType, string> = {
  bert: 'BertModel',
  distilbert: 'DistilBertModel',
  roberta: 'RobertaModel',
};

/**
 * A sequence classifier for `labels` from any BERT, DistilBERT or RoBERTa folder, as fine-tuning starts it
 * in HF: the folder's own classifier when it is one with exactly these labels (same names, same order), else
 * the folder's backbone under a new head (BERT: its pooler too when it has one, else a fresh one with a
 * warning).
 */
export async function loadSequenceClassifier(
  source: CheckpointSource,
  { labels, seed = 0, onWarning }: SequenceClassifierFolderOptions,
): Promise<SequenceClassifierFromFolder> {
  if (labels.length < 2)
    throw new InvalidArgumentError(`a classifier needs at least 2 labels, got ${JSON.stringify(labels)}`);
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  const modelType = classifierModelType(hf);
  const tokenizer = await familyTokenizer(source, hf);
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? BASE_ARCHITECTURE[modelType]);
  const fileLabels = Object.entries((hf.id2label ?? {}) as Record<string, unknown>)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, v]) => String(v));
  const same = fileLabels.length === labels.length && fileLabels.every((l, i) => l === labels[i]);
  const own = arch.endsWith('ForSequenceClassification') && same;
  const warn = onWarning ? { onWarning } : {};
  const head = { numLabels: labels.length, id2label: Object.fromEntries(labels.map((l, i) => [i, l])), seed };
  let model: FolderSequenceClassifier;
  if (modelType === 'distilbert') {
    model = own
      ? await loadDistilBertForSequenceClassification(source, warn)
      : withBackbone(
          await loadDistilBertModel(source),
          (b) => new DistilBertForSequenceClassification(b.config, head),
          (name) => `distilbert.${name}`,
        );
  } else if (modelType === 'roberta') {
    model = own
      ? await loadRobertaForSequenceClassification(source, warn)
      : withBackbone(
          await loadRobertaModel(source, { pooler: false }),
          (b) => new RobertaForSequenceClassification(b.config, head),
          (name) => `roberta.${name}`,
        );
  } else {
    model = own
      ? await loadBertForSequenceClassification(source, warn)
      : withBackbone(
          await loadBertModel(source, warn),
          (b) => new BertForSequenceClassification(b.config, head),
          // The backbone's pooler is the [CLS] head's pooler (HF: bert.pooler); its linear layer starts fresh.
          (name) => (name.startsWith('pooler.') ? `classifier.${name}` : `bert.${name}`),
        );
  }
  return { model, ...(tokenizer ? { tokenizer } : {}), modelType, architecture: arch, newHead: !own };
}

/** A new classifier holding a loaded backbone's weights (our names mapped by `rename`); the backbone is disposed. */
function withBackbone<B extends Module, M extends Module>(
  backbone: B,
  build: (backbone: B) => M,
  rename: (name: string) => string,
): M {
  try {
    const model = build(backbone);
    try {
      model.loadStateDict(Object.fromEntries(backbone.namedParameters().map(([n, p]) => [rename(n), p])), {
        strict: false,
      });
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  } finally {
    backbone.dispose();
  }
}

/** Writes the classifier's HF folder with its family's table (config.json with id2label, weights, tokenizer files). */
export function saveSequenceClassifier(
  model: FolderSequenceClassifier,
  dir: string,
  options: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  return savePretrained(model, dir, options);
}

/** The files saveSequenceClassifier writes, as bytes by file name (a page's download; a Map is a source). */
export function encodeSequenceClassifier(
  model: FolderSequenceClassifier,
  options: { tokenizer?: Tokenizer } = {},
): Promise<Map<string, Uint8Array>> {
  return encodePretrained(model, options);
}
