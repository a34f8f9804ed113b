import * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  blockParameterCount,
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  checkFileHolds,
  checkModelType,
  checkParameterBudget,
  type HFConfig,
  type HubOptions,
  hfLabels,
  InvalidArgumentError,
  loadCheckpoint,
  loadEntries,
  parseConfig,
  readCheckpointFile,
  resolveSource,
  saveCheckpoint,
} from '@transformer-kit/core';
import { checkMAEConfig, type MAEConfig, ViTMAEForPreTraining } from './mae.js';
import {
  checkViTConfig,
  type ViTConfig,
  ViTForImageClassification,
  ViTModel,
  vitParameterCount,
} from './model.js';

/*
 * HuggingFace ViT / ViTMAE folders (config.json + model.safetensors) ⇄ our modules. Three differences:
 *  - names: HF's module tree (encoder.layer.i.attention.attention.query, layernorm_before, ...) vs ours
 *    (layers.i.attn.query, attnNorm, ...); task files put the backbone under `vit.`;
 *  - Linear weights: HF [out, in], ours (in, out): transposed on load and on save;
 *  - the patch embedding, stated here once: HF's Conv2d(C → D, kernel p, stride p) weight
 *    `embeddings.patch_embeddings.projection.weight` is (D, C, p, p) and reads NCHW images; ours is a
 *    Linear (p·p·C, D) over extractPatches' (row, column, channel) patch vectors of NHWC images, so
 *        ours[(i·p + j)·C + c, d] = hf[d, c, i, j]      (load: transpose [2, 3, 1, 0] then reshape)
 *    The bias is the same vector. This is the only place NCHW exists.
 * MAE's sin-cos position tables are saved parameters in HF files (requires_grad=False); we read and write
 * them like any other tensor.
 */

export type ViTTaskModel = ViTModel | ViTForImageClassification | ViTMAEForPreTraining;

type Kind = 'plain' | 'linear' | 'conv';

const block = (ours: string, hf: string): Array<[RegExp, string, Kind]> => [
  [
    new RegExp(`^${ours}\\.(\\d+)\\.attn\\.(query|key|value)\\.(weight|bias)$`),
    `${hf}.$1.attention.attention.$2.$3`,
    'linear',
  ],
  [
    new RegExp(`^${ours}\\.(\\d+)\\.attn\\.output\\.(weight|bias)$`),
    `${hf}.$1.attention.output.dense.$2`,
    'linear',
  ],
  [new RegExp(`^${ours}\\.(\\d+)\\.attnNorm\\.(weight|bias)$`), `${hf}.$1.layernorm_before.$2`, 'plain'],
  [
    new RegExp(`^${ours}\\.(\\d+)\\.mlp\\.hidden\\.0\\.(weight|bias)$`),
    `${hf}.$1.intermediate.dense.$2`,
    'linear',
  ],
  [new RegExp(`^${ours}\\.(\\d+)\\.mlp\\.out\\.(weight|bias)$`), `${hf}.$1.output.dense.$2`, 'linear'],
  [new RegExp(`^${ours}\\.(\\d+)\\.mlpNorm\\.(weight|bias)$`), `${hf}.$1.layernorm_after.$2`, 'plain'],
];

// [our name pattern, HF name, layout], for ViTModel's own names.
const BACKBONE: Array<[RegExp, string, Kind]> = [
  [/^embeddings\.clsToken$/, 'embeddings.cls_token', 'plain'],
  [/^embeddings\.position$/, 'embeddings.position_embeddings', 'plain'],
  [/^embeddings\.patch\.weight$/, 'embeddings.patch_embeddings.projection.weight', 'conv'],
  [/^embeddings\.patch\.bias$/, 'embeddings.patch_embeddings.projection.bias', 'plain'],
  ...block('layers', 'encoder.layer'),
  [/^norm\.(weight|bias)$/, 'layernorm.$1', 'plain'],
  [/^pooler\.(weight|bias)$/, 'pooler.dense.$1', 'linear'],
];

const prefixed = (rules: Array<[RegExp, string, Kind]>, p: string): Array<[RegExp, string, Kind]> =>
  rules.map(([re, hf, k]) => [new RegExp(`^${p}\\.${re.source.slice(1)}`), `${p}.${hf}`, k]);

const CLASSIFIER: Array<[RegExp, string, Kind]> = [
  ...prefixed(BACKBONE, 'vit'),
  [/^classifier\.mlp\.out\.(weight|bias)$/, 'classifier.$1', 'linear'],
];

const MAE: Array<[RegExp, string, Kind]> = [
  ...prefixed(BACKBONE, 'vit'),
  [/^decoder\.embed\.(weight|bias)$/, 'decoder.decoder_embed.$1', 'linear'],
  [/^decoder\.maskToken$/, 'decoder.mask_token', 'plain'],
  [/^decoder\.position$/, 'decoder.decoder_pos_embed', 'plain'],
  ...block('decoder\\.layers', 'decoder.decoder_layers'),
  [/^decoder\.norm\.(weight|bias)$/, 'decoder.decoder_norm.$1', 'plain'],
  [/^decoder\.pred\.(weight|bias)$/, 'decoder.decoder_pred.$1', 'linear'],
];

export interface HFEntry {
  ours: string;
  hf: string;
  kind: Kind;
  param: tf.Variable;
}

/** Our parameters with their HF names and layouts. */
export function hfParameterNames(model: ViTTaskModel): HFEntry[] {
  const rules =
    model instanceof ViTModel ? BACKBONE : model instanceof ViTMAEForPreTraining ? MAE : CLASSIFIER;
  return model.namedParameters().map(([ours, param]) => {
    const rule = rules.find(([re]) => re.test(ours));
    if (!rule) throw new CheckpointError(`no HF name for parameter '${ours}'`);
    const kind = rule[2] === 'linear' && !ours.endsWith('.weight') ? 'plain' : rule[2];
    return { ours, hf: ours.replace(rule[0], rule[1]), kind, param };
  });
}

/** HF layout of one of our tensors. */
function toHF(t: tf.Tensor, kind: Kind, c: ViTConfig): tf.Tensor {
  if (kind === 'linear') return tf.transpose(t);
  if (kind === 'conv') {
    const p = c.patchSize;
    return tf.tidy(() => t.reshape([p, p, c.numChannels, c.hiddenSize]).transpose([3, 2, 0, 1]));
  }
  return t;
}

/** Our layout of one HF tensor. */
function fromHF(t: tf.Tensor, kind: Kind): tf.Tensor {
  if (kind === 'linear') return tf.transpose(t);
  if (kind === 'conv') {
    const [d, ch, p, q] = t.shape as [number, number, number, number];
    return tf.tidy(() => t.transpose([2, 3, 1, 0]).reshape([p * q * ch, d]));
  }
  return t;
}

/** The shape HF stores for one of our parameters. */
function hfShape(e: HFEntry, c: ViTConfig): number[] {
  if (e.kind === 'linear') return [...e.param.shape].reverse();
  if (e.kind === 'conv') return [c.hiddenSize, c.numChannels, c.patchSize, c.patchSize];
  return e.param.shape;
}

type ModelType = 'vit' | 'vit_mae';

const num = (hf: HFConfig, key: string, fallback?: number): number => {
  const v = hf[key] ?? fallback;
  if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
  return v;
};

const square = (hf: HFConfig, key: string, fallback: number): number => {
  const v = hf[key] ?? fallback;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 2 && v[0] === v[1] && typeof v[0] === 'number') return v[0];
  throw new CheckpointMismatchError(
    `config.json: ${key} ${JSON.stringify(v)} is not supported (square only)`,
  );
};

/** Our ViTConfig from HF's config.json (model_type 'vit' or 'vit_mae'); what we cannot honour is a CheckpointMismatchError. */
export function vitConfigFromHF(hf: HFConfig): ViTConfig {
  if (hf.qkv_bias === false)
    throw new CheckpointMismatchError('config.json: qkv_bias false is not supported');
  return checkViTConfig({
    imageSize: square(hf, 'image_size', 224),
    patchSize: square(hf, 'patch_size', 16),
    numChannels: num(hf, 'num_channels', 3),
    hiddenSize: num(hf, 'hidden_size'),
    numLayers: num(hf, 'num_hidden_layers'),
    numHeads: num(hf, 'num_attention_heads'),
    intermediateSize: num(hf, 'intermediate_size'),
    hiddenDropout: num(hf, 'hidden_dropout_prob', 0),
    attentionDropout: num(hf, 'attention_probs_dropout_prob', 0),
    layerNormEps: num(hf, 'layer_norm_eps', 1e-12),
    activation: activationFromHF(hf, 'hidden_act', 'gelu'),
    qkvBias: true,
  });
}

export function maeConfigFromHF(hf: HFConfig): MAEConfig {
  return checkMAEConfig({
    ...vitConfigFromHF(hf),
    decoderHiddenSize: num(hf, 'decoder_hidden_size', 512),
    decoderNumLayers: num(hf, 'decoder_num_hidden_layers', 8),
    decoderNumHeads: num(hf, 'decoder_num_attention_heads', 16),
    decoderIntermediateSize: num(hf, 'decoder_intermediate_size', 2048),
    maskRatio: num(hf, 'mask_ratio', 0.75),
    normPixLoss: Boolean(hf.norm_pix_loss ?? false),
  });
}

export function vitConfigToHF(c: ViTConfig): HFConfig {
  return {
    model_type: 'vit',
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize,
    hidden_act: activationToHF(c.activation),
    hidden_dropout_prob: c.hiddenDropout,
    attention_probs_dropout_prob: c.attentionDropout,
    initializer_range: 0.02,
    layer_norm_eps: c.layerNormEps,
    image_size: c.imageSize,
    patch_size: c.patchSize,
    num_channels: c.numChannels,
    qkv_bias: c.qkvBias,
    encoder_stride: c.patchSize,
  };
}

export function maeConfigToHF(c: MAEConfig): HFConfig {
  const { encoder_stride: _, ...vit } = vitConfigToHF(c);
  return {
    ...vit,
    model_type: 'vit_mae',
    decoder_num_attention_heads: c.decoderNumHeads,
    decoder_hidden_size: c.decoderHiddenSize,
    decoder_num_hidden_layers: c.decoderNumLayers,
    decoder_intermediate_size: c.decoderIntermediateSize,
    mask_ratio: c.maskRatio,
    norm_pix_loss: c.normPixLoss,
  };
}

// Names a file may carry that a given model does not need.
const IGNORED = [/(^|\.)embeddings\.mask_token$/, /^classifier\./, /^(vit\.)?pooler\./, /^decoder\./];

export interface LoadOptions {
  /** Start the classifier fresh when the file has none (e.g. fine-tuning from a ViTModel file). Default false. */
  newHead?: boolean;
}

async function load<M extends ViTTaskModel>(
  source: CheckpointSource,
  want: ModelType,
  build: (hf: HFConfig, names: string[]) => M,
  options: LoadOptions = {},
): Promise<M> {
  // Sized from config.json and the file's header before any tensor is made: the encoder must be in the
  // file, and the backbone must fit the backend.
  const { config: hf, tensors: raw } = await loadCheckpoint(source, {
    check: (config, entries) => {
      // Another model_type is refused by `build`'s own check, with its message.
      if (config.model_type !== undefined && !['vit', 'vit_mae'].includes(config.model_type as string))
        return;
      const c = vitConfigFromHF(config);
      // MAE pretraining builds the decoder too: its blocks count against the backend's memory.
      const m = want === 'vit_mae' ? maeConfigFromHF(config) : undefined;
      const decoder = m
        ? blockParameterCount({
            hiddenSize: m.decoderHiddenSize,
            intermediateSize: m.decoderIntermediateSize,
            numLayers: m.decoderNumLayers,
          })
        : 0;
      checkParameterBudget(want === 'vit_mae' ? 'ViTMAE' : 'ViT', vitParameterCount(c) + decoder);
      // Patch projection and blocks: what every ViT / ViTMAE file holds (positions may be a fixed table).
      const h = c.hiddenSize;
      checkFileHolds('ViT', c.numChannels * c.patchSize ** 2 * h + h + blockParameterCount(c), entries);
    },
  });
  let model: M | undefined;
  try {
    model = build(hf, Object.keys(raw));
    const c = model.config;
    const entries = hfParameterNames(model);
    loadEntries(
      model,
      normalizeNames(raw, model instanceof ViTModel),
      entries.map((e) => ({
        ours: e.ours,
        hf: e.hf,
        hfShape: hfShape(e, c),
        ...(e.kind === 'plain' ? {} : { fromHF: (t: tf.Tensor) => fromHF(t, e.kind) }),
      })),
      {
        config: hf,
        what: `${want} model`,
        head: entries.filter((e) => e.ours.startsWith('classifier.')).map((e) => e.hf),
        freshHead: options.newHead === true,
        headHint: ' (to start the classifier fresh, pass { newHead: true })',
        ignored: IGNORED,
      },
    );
    return model;
  } catch (err) {
    model?.dispose();
    throw err;
  } finally {
    for (const t of Object.values(raw)) t.dispose();
  }
}

/** A backbone loads from a task file (`vit.` dropped); a classifier from a bare ViTModel file (`vit.` added). */
function normalizeNames(raw: Record<string, tf.Tensor>, forBackbone: boolean): Record<string, tf.Tensor> {
  const hasPrefix = Object.keys(raw).some((k) => k.startsWith('vit.'));
  return Object.fromEntries(
    Object.entries(raw).map(([k, t]) => {
      if (forBackbone && hasPrefix) return [k.replace(/^vit\./, ''), t];
      if (!forBackbone && !hasPrefix && /^(embeddings|encoder|layernorm|pooler)\./.test(k))
        return [`vit.${k}`, t];
      return [k, t];
    }),
  );
}

/** A ViTModel from a ViTModel file (with its pooler when the file has one) or the backbone of a ViT classifier file. */
export function loadViTModel(
  source: CheckpointSource,
  { pooler }: { pooler?: boolean } = {},
): Promise<ViTModel> {
  return load(source, 'vit', (hf, names) => {
    checkModelType(hf, 'vit');
    const filePooler = names.some((k) => /^(vit\.)?pooler\.dense\.weight$/.test(k));
    return new ViTModel(vitConfigFromHF(hf), { pooler: pooler ?? filePooler });
  });
}

/**
 * Labels come from config.json's id2label, or `numLabels` (with `newHead`, from a ViTModel file, or from a
 * ViTMAEForPreTraining file: its encoder, sin-cos positions included, becomes the backbone, as HF does).
 */
export function loadViTForImageClassification(
  source: CheckpointSource,
  options: LoadOptions & { numLabels?: number } = {},
): Promise<ViTForImageClassification> {
  return load(
    source,
    'vit',
    (hf) => {
      checkModelType(
        hf,
        options.newHead ? ['vit', 'vit_mae'] : 'vit',
        options.newHead
          ? undefined
          : 'a vit_mae file needs { newHead: true } (its encoder becomes the backbone)',
      );
      return new ViTForImageClassification(vitConfigFromHF(hf), hfLabels(hf, options.numLabels));
    },
    options,
  );
}

export function loadViTMAEForPreTraining(source: CheckpointSource): Promise<ViTMAEForPreTraining> {
  return load(source, 'vit_mae', (hf) => {
    checkModelType(hf, 'vit_mae');
    return new ViTMAEForPreTraining(maeConfigFromHF(hf));
  });
}

/**
 * AutoModel for ViT folders (path, URL or files): the class comes from config.json's `architectures`
 * (…ForImageClassification, …MAEForPreTraining, else ViTModel; a vit_mae file without architectures is MAE).
 * Images need no tokenizer: the result is `{ model }`, the shape GPT's and BERT's loadPretrained return.
 */
export async function loadPretrained(
  from: CheckpointSource,
  options: LoadOptions & { numLabels?: number } & HubOptions = {},
): Promise<{ model: ViTTaskModel }> {
  const source = await resolveSource(from, options); // a Hub id ('google/vit-base-patch16-224') → its files
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  checkModelType(hf, ['vit', 'vit_mae']);
  const arch = String((hf.architectures as unknown[] | undefined)?.[0] ?? '');
  const model: ViTTaskModel = arch.endsWith('ForImageClassification')
    ? await loadViTForImageClassification(source, options)
    : arch.endsWith('MAEForPreTraining') || (!arch && hf.model_type === 'vit_mae')
      ? await loadViTMAEForPreTraining(source)
      : await loadViTModel(source);
  return { model };
}

// Spelled out rather than constructor.name, which minifiers rename.
function architecture(m: ViTTaskModel): string {
  if (m instanceof ViTMAEForPreTraining) return 'ViTMAEForPreTraining';
  if (m instanceof ViTForImageClassification) return 'ViTForImageClassification';
  return 'ViTModel';
}

/** Writes an HF folder that transformers' from_pretrained reads (Linear weights [out, in], the patch Conv2d (D, C, p, p)). */
export async function savePretrained(model: ViTTaskModel, dir: string): Promise<void> {
  const config: HFConfig = {
    architectures: [architecture(model)],
    ...(model instanceof ViTMAEForPreTraining ? maeConfigToHF(model.config) : vitConfigToHF(model.config)),
  };
  if (model instanceof ViTForImageClassification) {
    if (model.pooling !== 'cls')
      throw new InvalidArgumentError(
        "savePretrained: a mean-pooling classifier has no HF equivalent (ViTForImageClassification reads [CLS]); use pooling: 'cls'",
      );
    config.id2label = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [String(k), v]));
    config.label2id = Object.fromEntries(Object.entries(model.id2label).map(([k, v]) => [v, Number(k)]));
  }
  if (model instanceof ViTModel) config.add_pooling_layer = model.pooler !== undefined;
  const entries = hfParameterNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  for (const e of entries) tensors[e.hf] = toHF(e.param, e.kind, model.config);
  try {
    await saveCheckpoint(dir, { config, tensors, metadata: { format: 'pt' } });
  } finally {
    for (const e of entries) if (e.kind !== 'plain') tensors[e.hf]!.dispose();
  }
}
