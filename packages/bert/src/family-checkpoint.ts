import type * as tf from '@tensorflow/tfjs';
import {
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  checkFileHolds,
  checkModelType,
  checkParameterBudget,
  encodeMappedModel,
  type HFConfig,
  type HFMapping,
  type HubOptions,
  LINEAR_LAYOUT,
  loadMappedModel,
  type Module,
  mapParameters,
  parseConfig,
  readCheckpointFile,
  readOptionalFiles,
  resolveSource,
  type SaveMappedOptions,
  saveMappedModel,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { type BertConfig, bertParameterCount } from './model.js';

/*
 * What the BERT-like families (BERT, DistilBERT, RoBERTa) share on top of core's HF mapping: each family is
 * its config mapping and its name table (core's HFMapping); this file sizes the folder before anything is
 * built, loads and saves through the table, and reads the folder's tokenizer.
 */

/** A BERT-like family: its model_types, config mapping and the HF table of each of its models. */
export interface BertFamily<C extends BertConfig, M extends Module> {
  /** The family's name in messages ('BERT', 'DistilBERT', 'RoBERTa'). */
  name: string;
  /** config.json model_types it reads. */
  modelTypes: readonly string[];
  configFromHF(hf: HFConfig): C;
  /** config.json for a model: architectures, the config, labels of a classifier. */
  hfConfig(model: M): HFConfig;
  mapping(model: M): HFMapping;
}

export interface FamilyLoadOptions {
  /** Start the task head fresh when the file has none (fine-tuning from a backbone or MLM file). */
  newHead?: boolean;
  /** Where the "newly initialised" warning goes (default console.warn). */
  onWarning?: (message: string) => void;
}

/** Loads `build`'s model from a folder/URL/files through the family's table; nothing is left on failure. */
export function loadBertLike<C extends BertConfig, M extends Module, T extends M>(
  family: BertFamily<C, M>,
  source: CheckpointSource,
  build: (config: C, hf: HFConfig) => T,
  { newHead, onWarning }: FamilyLoadOptions = {},
): Promise<T> {
  return loadMappedModel(source, {
    // Sized from config.json and the file's header before any tensor is made: the backbone must be in the
    // file (a pooler or head may start fresh), and backbone + a pooler must fit the backend.
    check: (hf, entries) => {
      const c = family.configFromHF(hf);
      const params = bertParameterCount(c);
      checkParameterBudget(family.name, params + c.hiddenSize * (c.hiddenSize + 1));
      checkFileHolds(family.name, params, entries);
    },
    build: (hf) => build(family.configFromHF(hf), hf),
    mapping: (m: T) => family.mapping(m),
    ...(newHead === undefined ? {} : { newHead }),
    ...(onWarning ? { onWarning } : {}),
  });
}

const folderOptions = <M extends Module>(
  family: BertFamily<BertConfig, M>,
  model: M,
  tokenizer: Tokenizer | undefined,
): SaveMappedOptions => ({
  config: family.hfConfig(model),
  ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
});

/** Writes the model's HF folder (config.json, model.safetensors, tokenizer files when given), atomically per file. */
export async function saveBertLike<M extends Module>(
  family: BertFamily<BertConfig, M>,
  model: M,
  dir: string,
  tokenizer?: Tokenizer,
): Promise<void> {
  return saveMappedModel(dir, model, family.mapping(model), folderOptions(family, model, tokenizer));
}

/** The files saveBertLike writes, as bytes by file name. */
export async function encodeBertLike<M extends Module>(
  family: BertFamily<BertConfig, M>,
  model: M,
  tokenizer?: Tokenizer,
): Promise<Map<string, Uint8Array>> {
  return encodeMappedModel(model, family.mapping(model), folderOptions(family, model, tokenizer));
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

export interface Pretrained<M> {
  model: M;
  /** From tokenizer.json (or vocab.txt / vocab.json + merges.txt) next to the weights, when the folder has one. */
  tokenizer?: Tokenizer;
}

/**
 * AutoModel + AutoTokenizer over folders of the given model_types: config.json picks the family's class
 * (`pick` with model_type and the first `architectures` entry), the tokenizer is checked against the
 * embedding table before any weight is read.
 */
export async function loadAuto<M>(
  from: CheckpointSource,
  hub: HubOptions,
  modelTypes: readonly string[],
  pick: (source: CheckpointSource, modelType: string, architecture: string) => Promise<M>,
): Promise<Pretrained<M>> {
  const source = await resolveSource(from, hub); // a Hub id ('bert-base-uncased') → its files
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  checkModelType(hf, modelTypes);
  const tokenizer = await familyTokenizer(source, hf);
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
  const model = await pick(source, (hf.model_type as string | undefined) ?? modelTypes[0]!, arch);
  return tokenizer ? { model, tokenizer } : { model };
}

/** One of our parameters with its HF name and whether HF stores it transposed (the pre-mapping entry shape). */
export interface HFEntry {
  ours: string;
  hf: string;
  /** A Linear weight: HF stores (out, in), we (in, out). */
  transpose: boolean;
  param: tf.Variable;
}

/** A mapping's parameters as HFEntry (what the deprecated `*ParameterNames` functions return). */
export function hfEntries(model: Module, mapping: HFMapping): HFEntry[] {
  return mapParameters(model, mapping).map(({ ours, hf, param, layout }) => ({
    ours,
    hf,
    param,
    transpose: layout === LINEAR_LAYOUT && param.rank === 2,
  }));
}
