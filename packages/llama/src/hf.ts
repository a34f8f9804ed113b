import type * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  type CheckpointEntry,
  CheckpointMismatchError,
  type CheckpointSource,
  checkFileHolds,
  checkModelType,
  checkParameterBudget,
  encodeMappedModel,
  type HFConfig,
  type HFMapping,
  type HFRule,
  type HubOptions,
  hfNumber,
  LINEAR_LAYOUT,
  loadMapped,
  loadMappedModel,
  mapParameters,
  readOptionalFiles,
  resolveSource,
  saveMapped,
  saveMappedModel,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { type LlamaConfig, LlamaForCausalLM, llamaConfig } from './model.js';

/*
 * HuggingFace LlamaForCausalLM <-> transformer-kit names and layouts, as one table over core's HF mapping.
 *  - nn.Linear stores weights (out, in); our Linear (in, out): every projection is transposed at the boundary.
 *  - q/k/v/o_proj → attn.query/key/value/output; gate/up/down_proj → mlp.gate/up/down;
 *    input_layernorm → attnNorm; post_attention_layernorm → mlpNorm; embed_tokens → embeddings.
 *  - lm_head.weight is absent when tied (save_pretrained drops it); ignored on load when tied.
 *  - rotary_emb.inv_freq buffers (older checkpoints) are recomputed, not loaded.
 */

/** Our config from an HF Llama config.json object. */
export function llamaConfigFromHF(hf: HFConfig, overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  checkModelType(hf, 'llama');
  const num = (key: string, fallback?: number) => hfNumber(hf, key, fallback);
  if (hf.rope_scaling != null)
    throw new CheckpointMismatchError(
      `config.json: rope_scaling ${JSON.stringify(hf.rope_scaling)} is not supported (plain rotary only)`,
    );
  const numHeads = num('num_attention_heads');
  return llamaConfig(
    {
      vocabSize: num('vocab_size'),
      hiddenSize: num('hidden_size'),
      intermediateSize: num('intermediate_size'),
      numLayers: num('num_hidden_layers'),
      numHeads,
      numKvHeads: num('num_key_value_heads', numHeads),
      ...(hf.head_dim == null ? {} : { headDim: num('head_dim') }),
      maxPositions: num('max_position_embeddings', 2048),
      rmsNormEps: num('rms_norm_eps', 1e-6),
      ropeTheta: num('rope_theta', 10000),
      tieWeights: hf.tie_word_embeddings === true,
      attentionBias: hf.attention_bias === true,
      mlpBias: hf.mlp_bias === true,
      activation: activationFromHF(hf, 'hidden_act', 'silu'),
      attentionDropout: 0,
    },
    overrides,
  );
}

/** An HF config.json object for our config. */
export function llamaConfigToHF(c: LlamaConfig): HFConfig {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim ?? c.hiddenSize / c.numHeads,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieWeights,
    attention_bias: c.attentionBias,
    mlp_bias: c.mlpBias,
    hidden_act: activationToHF(c.activation),
    attention_dropout: c.attentionDropout,
  };
}

const L = LINEAR_LAYOUT;

const RULES: readonly HFRule[] = [
  { ours: /^model\.embeddings\.weight$/, hf: 'model.embed_tokens.weight' },
  { ours: /^model\.layers\.(\d+)\.attnNorm\.weight$/, hf: 'model.layers.$1.input_layernorm.weight' },
  ...(['query', 'key', 'value', 'output'] as const).map((ours, i) => ({
    ours: new RegExp(`^model\\.layers\\.(\\d+)\\.attn\\.${ours}\\.(weight|bias)$`),
    hf: `model.layers.$1.self_attn.${'qkvo'[i]}_proj.$2`,
    layout: L,
  })),
  { ours: /^model\.layers\.(\d+)\.mlpNorm\.weight$/, hf: 'model.layers.$1.post_attention_layernorm.weight' },
  {
    ours: /^model\.layers\.(\d+)\.mlp\.(gate|up|down)\.(weight|bias)$/,
    hf: 'model.layers.$1.mlp.$2_proj.$3',
    layout: L,
  },
  { ours: /^model\.norm\.weight$/, hf: 'model.norm.weight' },
  { ours: /^lmHead\.(weight|bias)$/, hf: 'lm_head.$1', layout: L },
];

/** Llama's HF table (LlamaForCausalLM names and layouts). */
export function llamaMapping(model: LlamaForCausalLM): HFMapping {
  return {
    architecture: 'LlamaForCausalLM',
    rules: RULES,
    // A bare LlamaModel file (no `model.`) loads too.
    prefix: { name: 'model', roots: ['embed_tokens', 'layers', 'norm'] },
    // Old checkpoints carry rotary inv_freq buffers: recomputed, not loaded.
    ignored: [/\.rotary_emb\.inv_freq$/],
    // A tied checkpoint may still carry lm_head.weight (a copy of embed_tokens).
    tied: model.config.tieWeights ? [/^lm_head\.weight$/] : [],
  };
}

/** LlamaForCausalLM's parameters for a config, counted without building it. */
export function llamaParameterCount(c: LlamaConfig): number {
  const h = c.hiddenSize;
  const d = c.headDim ?? h / c.numHeads;
  const [q, kv, i] = [c.numHeads * d, c.numKvHeads * d, c.intermediateSize];
  const attention = 2 * h * q + 2 * h * kv + (c.attentionBias ? q + 2 * kv + h : 0);
  const mlp = 3 * h * i + (c.mlpBias ? 2 * i + h : 0);
  return c.vocabSize * h + c.numLayers * (attention + mlp + 2 * h) + h + (c.tieWeights ? 0 : h * c.vocabSize);
}

/** Builds a LlamaForCausalLM from an HF config object and tensors (names and shapes checked). */
export function llamaFromHF(
  config: HFConfig,
  tensors: Record<string, tf.Tensor>,
  overrides: Partial<LlamaConfig> = {},
): LlamaForCausalLM {
  const c = llamaConfigFromHF(config, overrides);
  checkParameterBudget('Llama', llamaParameterCount(c));
  const model = new LlamaForCausalLM(c);
  try {
    loadMapped(model, tensors, llamaMapping(model), { config });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Loads an HF LlamaForCausalLM folder (config.json + model.safetensors or shards) from a path, URL or files. */
export function loadLlamaForCausalLM(
  source: CheckpointSource,
  overrides: Partial<LlamaConfig> = {},
): Promise<LlamaForCausalLM> {
  return loadMappedModel(source, {
    // Sized from config.json and the file's header before any tensor is made.
    check: (hf, entries) => {
      const params = llamaParameterCount(llamaConfigFromHF(hf, overrides));
      checkParameterBudget('Llama', params);
      checkFileHolds('Llama', params, entries);
    },
    build: (hf) => new LlamaForCausalLM(llamaConfigFromHF(hf, overrides)),
    mapping: llamaMapping,
  });
}

/**
 * AutoModel + AutoTokenizer for Llama folders (path, URL, files or a Hub id): the model and, when the
 * folder has one, its tokenizer (tokenizer.json: byte-level BPE for SmolLM2/Llama 3).
 */
export async function loadPretrained(
  from: CheckpointSource,
  overrides: Partial<LlamaConfig> = {},
  hub: HubOptions = {},
): Promise<{ model: LlamaForCausalLM; tokenizer?: Tokenizer }> {
  const source = await resolveSource(from, hub); // a Hub id ('HuggingFaceTB/SmolLM2-135M') → its files
  const model = await loadLlamaForCausalLM(source, overrides);
  try {
    const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
    return tokenizer ? { model, tokenizer } : { model };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

const saveOptions = (model: LlamaForCausalLM, tokenizer: Tokenizer | undefined) => ({
  config: llamaConfigToHF(model.config),
  ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
});

/**
 * Saves as an HF LlamaForCausalLM folder (lm_head omitted when tied, as save_pretrained), with the
 * tokenizer's files when given. Atomic per file.
 */
export async function savePretrained(
  model: LlamaForCausalLM,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  return saveMappedModel(dir, model, llamaMapping(model), saveOptions(model, tokenizer));
}

/** The files savePretrained writes, as bytes by file name (a page's downloads; a Map is a checkpoint source). */
export async function encodePretrained(
  model: LlamaForCausalLM,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<Map<string, Uint8Array>> {
  return encodeMappedModel(model, llamaMapping(model), saveOptions(model, tokenizer));
}

/** @deprecated Use `loadLlamaForCausalLM` (or `loadPretrained` for the tokenizer too). */
export const loadLlama = loadLlamaForCausalLM;
/** @deprecated Use `llamaConfigFromHF`. */
export const configFromHF = llamaConfigFromHF;
/** @deprecated Use `llamaConfigToHF`. */
export const configToHF = llamaConfigToHF;

/** @deprecated Use `mapParameters(model, llamaMapping(model))` from core: every parameter with its HF name and shape. */
export function hfEntries(model: LlamaForCausalLM): CheckpointEntry[] {
  return mapParameters(model, llamaMapping(model)).map(({ ours, hf, param, layout }) => ({
    ours,
    hf,
    hfShape: layout ? layout.shape(param.shape) : param.shape,
    ...(layout && param.rank === 2 ? { fromHF: layout.fromHF } : {}),
  }));
}

/** @deprecated Use `saveMapped(model, llamaMapping(model))` from core: our parameters under HF names and layouts (caller disposes). */
export function stateDictToHF(model: LlamaForCausalLM): Record<string, tf.Tensor> {
  return saveMapped(model, llamaMapping(model));
}
