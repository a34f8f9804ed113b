import * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  checkFileHolds,
  checkModelType,
  checkParameterBudget,
  encodeCheckpoint,
  type HFConfig,
  type HubOptions,
  hfLabels,
  listFirst,
  loadCheckpoint,
  loadEntries,
  parseConfig,
  readCheckpointFile,
  readOptionalFiles,
  resolveSource,
  type SaveCheckpointOptions,
  saveCheckpoint,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { type BertConfig, BertModel, bertParameterCount, checkBertConfig as checkConfig } from './model.js';
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
  [/^layers\.(\d+)\.mlp\.hidden\.0\.(weight|bias)$/, 'encoder.layer.$1.intermediate.dense.$2', true],
  [/^layers\.(\d+)\.mlp\.out\.(weight|bias)$/, 'encoder.layer.$1.output.dense.$2', true],
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
    if (!rule) throw new CheckpointError(`no HF name for parameter '${ours}'`);
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
  checkModelType(hf, 'bert');
  const num = (key: string, fallback?: number): number => {
    const v = hf[key] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
    return v;
  };
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
  /** Where the "newly initialised" warning goes (default console.warn). */
  onWarning?: (message: string) => void;
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
  // Sized from config.json and the file's header before any tensor is made: the backbone must be in the
  // file (a pooler or head may start fresh), and backbone + pooler must fit the backend.
  const { config: hf, tensors: raw } = await loadCheckpoint(source, {
    check: (config, entries) => {
      const c = bertConfigFromHF(config);
      const params = bertParameterCount(c);
      checkParameterBudget('BERT', params + c.hiddenSize * (c.hiddenSize + 1));
      checkFileHolds('BERT', params, entries);
    },
  });
  let model: M | undefined;
  try {
    model = build(bertConfigFromHF(hf), hf);
    const entries = hfParameterNames(model);
    // The head: a task model's parameters outside the backbone (the classifier's pooler is HF's
    // bert.pooler); a backbone's pooler, which task files such as BertForMaskedLM do not have.
    const backbone = model instanceof BertModel;
    const head = entries.filter((e) =>
      backbone ? e.ours.startsWith('pooler.') : !e.ours.startsWith('bert.'),
    );
    // HF's rule: a backbone loads from any task file, its missing pooler initialised with a warning; a task
    // head starts fresh only when asked (newHead), also with the warning.
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
        what: model.constructor.name,
        head: head.map((e) => e.hf),
        freshHead: backbone || options.newHead === true,
        headHint: ' (to start the task head fresh, pass { newHead: true })',
        ignored: IGNORED,
      },
    );
    if (fresh.length)
      (options.onWarning ?? console.warn)(
        `Some weights of ${architecture(model)} were not in the checkpoint and are newly initialised: ${listFirst(fresh)}. Train them before use.`,
      );
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

/**
 * A BertModel (backbone + pooler) from a BertModel file, or the backbone of any BERT task file; a pooler the
 * file lacks (BertForMaskedLM, BertForTokenClassification) is initialised fresh with a warning, as HF does.
 */
export function loadBertModel(
  source: CheckpointSource,
  { pooler = true, ...options }: Pick<LoadOptions, 'onWarning'> & { pooler?: boolean } = {},
): Promise<BertModel> {
  return load(source, (c) => new BertModel(c, { pooler }), options);
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
  return load(source, (c, hf) => new BertForTokenClassification(c, hfLabels(hf, options.numLabels)), options);
}

// Spelled out rather than constructor.name, which minifiers rename.
function architecture(m: BertTaskModel): string {
  if (m instanceof BertForMaskedLM) return 'BertForMaskedLM';
  if (m instanceof BertForSequenceClassification) return 'BertForSequenceClassification';
  if (m instanceof BertForTokenClassification) return 'BertForTokenClassification';
  return 'BertModel';
}

/** The config.json and tensors (HF names and layouts) of a model; the caller disposes the transposed copies. */
function hfCheckpoint(
  model: BertTaskModel,
  tokenizer: Tokenizer | undefined,
): { checkpoint: SaveCheckpointOptions; dispose: () => void } {
  const config: HFConfig = {
    architectures: [architecture(model)],
    ...bertConfigToHF(model.config),
  };
  if (!(model instanceof BertModel) && !(model instanceof BertForMaskedLM)) {
    config.id2label = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [String(k), v]));
    config.label2id = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [v, Number(k)]));
  }
  // Not an HF field: HF's BertForSequenceClassification always pools [CLS].
  if (model instanceof BertForSequenceClassification && model.pooling === 'mean')
    config.classifier_pooling = 'mean';
  const entries = hfParameterNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  for (const e of entries) tensors[e.hf] = e.transpose ? tf.transpose(e.param) : e.param;
  return {
    checkpoint: {
      config,
      tensors,
      metadata: { format: 'pt' },
      ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
    },
    dispose: () => {
      for (const e of entries) if (e.transpose) tensors[e.hf]!.dispose();
    },
  };
}

/**
 * Writes an HF folder that transformers' from_pretrained reads (Linear weights back to [out, in]), with the
 * tokenizer's files (tokenizer.json, vocab.txt) when given: model, config and tokenizer together, each file
 * written atomically.
 */
export async function savePretrained(
  model: BertTaskModel,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  const { checkpoint, dispose } = hfCheckpoint(model, tokenizer);
  try {
    await saveCheckpoint(dir, checkpoint);
  } finally {
    dispose();
  }
}

/**
 * The files savePretrained writes, as bytes by file name (model.safetensors, config.json, tokenizer files):
 * what a page offers as downloads, and what `loadPretrained` reads back (a Map is a checkpoint source).
 */
export async function encodePretrained(
  model: BertTaskModel,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<Map<string, Uint8Array>> {
  const { checkpoint, dispose } = hfCheckpoint(model, tokenizer);
  try {
    return await encodeCheckpoint(checkpoint);
  } finally {
    dispose();
  }
}

export interface Pretrained<M> {
  model: M;
  /** From tokenizer.json (or vocab.txt) next to the weights, when the folder has one. */
  tokenizer?: Tokenizer;
}

/**
 * The folder's tokenizer (tokenizer.json, else vocab.txt), checked against the embedding table before any
 * weight is read: a vocabulary with more tokens than config.json's vocab_size belongs to another model (its
 * ids would fall outside the table). A smaller one is allowed (tables padded to a round size).
 */
async function folderTokenizer(source: CheckpointSource, hf: HFConfig): Promise<Tokenizer | undefined> {
  const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
  const rows = hf.vocab_size;
  if (tokenizer && typeof rows === 'number' && tokenizer.vocabSize > rows)
    throw new CheckpointMismatchError(
      `the vocabulary has ${tokenizer.vocabSize} tokens but the embedding table has ${rows} rows (config.json vocab_size): the tokenizer files belong to another model`,
    );
  return tokenizer;
}

/**
 * AutoModel + AutoTokenizer for BERT folders (path, URL or files): the task class comes from config.json's
 * `architectures` (…ForMaskedLM / …ForPreTraining → BertForMaskedLM, …ForSequenceClassification,
 * …ForTokenClassification, else BertModel), the tokenizer from the folder's tokenizer files (a vocabulary
 * larger than the embedding table is a CheckpointMismatchError).
 */
export async function loadPretrained(
  from: CheckpointSource,
  options: LoadOptions & { numLabels?: number } & HubOptions = {},
): Promise<Pretrained<BertTaskModel>> {
  const source = await resolveSource(from, options); // a Hub id ('bert-base-uncased') → its files
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  checkModelType(hf, 'bert');
  const tokenizer = await folderTokenizer(source, hf);
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
  const model: BertTaskModel = /ForMaskedLM$|ForPreTraining$/.test(arch)
    ? await loadBertForMaskedLM(source, options)
    : arch.endsWith('ForSequenceClassification')
      ? await loadBertForSequenceClassification(source, options)
      : arch.endsWith('ForTokenClassification')
        ? await loadBertForTokenClassification(source, options)
        : await loadBertModel(source, options);
  return tokenizer ? { model, tokenizer } : { model };
}
