import * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  blockParameterCount,
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  checkFileHolds,
  checkModelType,
  checkParameterBudget,
  encodeMappedModel,
  type HFConfig,
  type HFLayout,
  type HFMapping,
  type HFRule,
  type HubOptions,
  hfLabels,
  hfNumber,
  InvalidArgumentError,
  LINEAR_LAYOUT,
  labelsToHF,
  loadMappedModel,
  mapParameters,
  parseConfig,
  prefixRules,
  readCheckpointFile,
  resolveSource,
  saveMappedModel,
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

const L = LINEAR_LAYOUT;

/** The patch embedding: HF's Conv2d weight (D, C, p, p) ⇄ our Linear (p·p·C, D) (see above). */
function patchConvLayout(c: ViTConfig): HFLayout {
  const p = c.patchSize;
  return {
    shape: () => [c.hiddenSize, c.numChannels, p, p],
    toHF: (t) => tf.tidy(() => t.reshape([p, p, c.numChannels, c.hiddenSize]).transpose([3, 2, 0, 1])),
    fromHF: (t) => {
      const [d, ch, ph, pw] = t.shape as [number, number, number, number];
      return tf.tidy(() => t.transpose([2, 3, 1, 0]).reshape([ph * pw * ch, d]));
    },
  };
}

/** The rules of a stack of blocks: ours under `ours`, HF's under `hf`. */
const block = (ours: string, hf: string): HFRule[] => [
  {
    ours: new RegExp(`^${ours}\\.(\\d+)\\.attn\\.(query|key|value)\\.(weight|bias)$`),
    hf: `${hf}.$1.attention.attention.$2.$3`,
    layout: L,
  },
  {
    ours: new RegExp(`^${ours}\\.(\\d+)\\.attn\\.output\\.(weight|bias)$`),
    hf: `${hf}.$1.attention.output.dense.$2`,
    layout: L,
  },
  { ours: new RegExp(`^${ours}\\.(\\d+)\\.attnNorm\\.(weight|bias)$`), hf: `${hf}.$1.layernorm_before.$2` },
  {
    ours: new RegExp(`^${ours}\\.(\\d+)\\.mlp\\.hidden\\.0\\.(weight|bias)$`),
    hf: `${hf}.$1.intermediate.dense.$2`,
    layout: L,
  },
  {
    ours: new RegExp(`^${ours}\\.(\\d+)\\.mlp\\.out\\.(weight|bias)$`),
    hf: `${hf}.$1.output.dense.$2`,
    layout: L,
  },
  { ours: new RegExp(`^${ours}\\.(\\d+)\\.mlpNorm\\.(weight|bias)$`), hf: `${hf}.$1.layernorm_after.$2` },
];

/** ViTModel's own names. */
const backboneRules = (c: ViTConfig): HFRule[] => [
  { ours: /^embeddings\.clsToken$/, hf: 'embeddings.cls_token' },
  { ours: /^embeddings\.position$/, hf: 'embeddings.position_embeddings' },
  {
    ours: /^embeddings\.patch\.weight$/,
    hf: 'embeddings.patch_embeddings.projection.weight',
    layout: patchConvLayout(c),
  },
  { ours: /^embeddings\.patch\.bias$/, hf: 'embeddings.patch_embeddings.projection.bias' },
  ...block('layers', 'encoder.layer'),
  { ours: /^norm\.(weight|bias)$/, hf: 'layernorm.$1' },
  { ours: /^pooler\.(weight|bias)$/, hf: 'pooler.dense.$1', layout: L },
];

const MAE_DECODER: HFRule[] = [
  { ours: /^decoder\.embed\.(weight|bias)$/, hf: 'decoder.decoder_embed.$1', layout: L },
  { ours: /^decoder\.maskToken$/, hf: 'decoder.mask_token' },
  { ours: /^decoder\.position$/, hf: 'decoder.decoder_pos_embed' },
  ...block('decoder\\.layers', 'decoder.decoder_layers'),
  { ours: /^decoder\.norm\.(weight|bias)$/, hf: 'decoder.decoder_norm.$1' },
  { ours: /^decoder\.pred\.(weight|bias)$/, hf: 'decoder.decoder_pred.$1', layout: L },
];

/** config.json for a model: its class, the config, a classifier's labels, whether a ViTModel has its pooler. */

// Spelled out rather than constructor.name, which minifiers rename.
function architecture(m: ViTTaskModel): string {
  if (m instanceof ViTMAEForPreTraining) return 'ViTMAEForPreTraining';
  if (m instanceof ViTForImageClassification) return 'ViTForImageClassification';
  return 'ViTModel';
}

/** ViT's HF table for a model (ViTModel, ViTForImageClassification, ViTMAEForPreTraining). */
export function vitMapping(model: ViTTaskModel): HFMapping {
  const backbone = backboneRules(model.config);
  const rules =
    model instanceof ViTModel
      ? backbone
      : model instanceof ViTMAEForPreTraining
        ? [...prefixRules(backbone, 'vit'), ...MAE_DECODER]
        : [
            ...prefixRules(backbone, 'vit'),
            { ours: /^classifier\.mlp\.out\.(weight|bias)$/, hf: 'classifier.$1', layout: L },
          ];
  return {
    architecture: architecture(model),
    rules,
    prefix: { name: 'vit', roots: ['embeddings', 'encoder', 'layernorm', 'pooler'] },
    // Names a file may carry that a given model does not need.
    ignored: [/(^|\.)embeddings\.mask_token$/, /^classifier\./, /^(vit\.)?pooler\./, /^decoder\./],
    head: {
      ours: /^classifier\./,
      fresh: 'newHead',
      hint: ' (to start the classifier fresh, pass { newHead: true })',
    },
  };
}

/** One of our parameters with its HF name and layout kind (the pre-mapping entry shape). */
export interface HFEntry {
  ours: string;
  hf: string;
  kind: 'plain' | 'linear' | 'conv';
  param: tf.Variable;
}

/** @deprecated Use `mapParameters(model, vitMapping(model))` from core. */
export function hfParameterNames(model: ViTTaskModel): HFEntry[] {
  return mapParameters(model, vitMapping(model)).map(({ ours, hf, param, layout }) => ({
    ours,
    hf,
    param,
    kind: !layout ? 'plain' : layout === L ? (param.rank === 2 ? 'linear' : 'plain') : 'conv',
  }));
}

type ModelType = 'vit' | 'vit_mae';

const num = hfNumber;

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

export interface LoadOptions {
  /** Start the classifier fresh when the file has none (e.g. fine-tuning from a ViTModel file). Default false. */
  newHead?: boolean;
  /** Where the "newly initialised" warning goes (default console.warn). */
  onWarning?: (message: string) => void;
}

function load<M extends ViTTaskModel>(
  source: CheckpointSource,
  want: ModelType,
  build: (hf: HFConfig, names: readonly string[]) => M,
  options: LoadOptions = {},
): Promise<M> {
  return loadMappedModel<ViTTaskModel>(source, {
    // Sized from config.json and the file's header before any tensor is made: the encoder must be in the
    // file, and the backbone must fit the backend.
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
    build,
    mapping: vitMapping,
    ...options,
  }) as Promise<M>;
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

/** config.json for a model: its class, the config, a classifier's labels, whether a ViTModel has its pooler. */
function hfConfig(model: ViTTaskModel): HFConfig {
  if (model instanceof ViTForImageClassification && model.pooling !== 'cls')
    throw new InvalidArgumentError(
      "savePretrained: a mean-pooling classifier has no HF equivalent (ViTForImageClassification reads [CLS]); use pooling: 'cls'",
    );
  return {
    architectures: [architecture(model)],
    ...(model instanceof ViTMAEForPreTraining ? maeConfigToHF(model.config) : vitConfigToHF(model.config)),
    ...(model instanceof ViTForImageClassification ? labelsToHF(model.id2label) : {}),
    ...(model instanceof ViTModel ? { add_pooling_layer: model.pooler !== undefined } : {}),
  };
}

/** Writes an HF folder that transformers' from_pretrained reads (Linear weights (out, in), the patch Conv2d (D, C, p, p)). */
export async function savePretrained(model: ViTTaskModel, dir: string): Promise<void> {
  return saveMappedModel(dir, model, vitMapping(model), { config: hfConfig(model) });
}

/** The files savePretrained writes, as bytes by file name (a page's downloads; a Map is a checkpoint source). */
export async function encodePretrained(model: ViTTaskModel): Promise<Map<string, Uint8Array>> {
  return encodeMappedModel(model, vitMapping(model), { config: hfConfig(model) });
}
