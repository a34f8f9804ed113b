import {
  activationFromHF,
  activationToHF,
  blockParameterCount,
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
  readOptionalFiles,
  resolveSource,
  type StateDict,
  saveMapped,
  saveMappedModel,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { GPT, type GPTConfig, gptConfig } from './model.js';

/*
 * HuggingFace GPT2LMHeadModel ⇄ GPT, as one table over core's HF mapping:
 *  - HF's Conv1D stores weights (in, out), the same as our Linear: no transposes;
 *  - c_attn fuses query|key|value along `out`: split in three on load, concatenated on save;
 *  - attn.bias / attn.masked_bias are causal-mask buffers, not parameters: ignored;
 *  - lm_head.weight is the tied wte: ignored on load when tied, not written (as save_pretrained); untied,
 *    it is an nn.Linear (vocab, hidden);
 *  - the `transformer.` prefix is optional (a GPT2Model file loads too).
 */

/** Our config from an HF GPT-2 config.json object. */
export function gptConfigFromHF(hf: HFConfig, overrides: Partial<GPTConfig> = {}): GPTConfig {
  checkModelType(hf, 'gpt2');
  const num = (key: string, fallback?: number) => hfNumber(hf, key, fallback);
  return gptConfig(
    {
      vocabSize: num('vocab_size'),
      maxPositions: num('n_positions', hf.n_ctx as number | undefined),
      numLayers: num('n_layer'),
      numHeads: num('n_head'),
      hiddenSize: num('n_embd'),
      // n_inner null (every released GPT-2) means 4 × n_embd.
      ...(hf.n_inner == null ? {} : { intermediateSize: num('n_inner') }),
      layerNormEps: num('layer_norm_epsilon', 1e-5),
      activation: activationFromHF(hf, 'activation_function', 'gelu_new'),
      tieWeights: hf.tie_word_embeddings !== false,
      bias: true,
      hiddenDropout: 0,
      attentionDropout: 0,
    },
    overrides,
  );
}

/** An HF config.json object for our config. */
export function gptConfigToHF(c: GPTConfig): HFConfig {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.maxPositions,
    n_ctx: c.maxPositions,
    n_embd: c.hiddenSize,
    n_layer: c.numLayers,
    n_head: c.numHeads,
    n_inner: c.intermediateSize === 4 * c.hiddenSize ? null : c.intermediateSize,
    layer_norm_epsilon: c.layerNormEps,
    activation_function: activationToHF(c.activation),
    tie_word_embeddings: c.tieWeights,
    resid_pdrop: c.hiddenDropout,
    embd_pdrop: c.hiddenDropout,
    attn_pdrop: c.attentionDropout,
  };
}

const RULES: HFRule[] = [
  { ours: /^embeddings\.word\.weight$/, hf: 'transformer.wte.weight' },
  { ours: /^embeddings\.position\.weight$/, hf: 'transformer.wpe.weight' },
  { ours: /^layers\.(\d+)\.attnNorm\.(weight|bias)$/, hf: 'transformer.h.$1.ln_1.$2' },
  {
    ours: /^layers\.(\d+)\.attn\.(query|key|value)\.(weight|bias)$/,
    hf: 'transformer.h.$1.attn.c_attn.$3',
    fused: { part: '$2', parts: ['query', 'key', 'value'] },
  },
  { ours: /^layers\.(\d+)\.attn\.output\.(weight|bias)$/, hf: 'transformer.h.$1.attn.c_proj.$2' },
  { ours: /^layers\.(\d+)\.mlp\.hidden\.0\.(weight|bias)$/, hf: 'transformer.h.$1.mlp.c_fc.$2' },
  { ours: /^layers\.(\d+)\.mlp\.out\.(weight|bias)$/, hf: 'transformer.h.$1.mlp.c_proj.$2' },
  { ours: /^layers\.(\d+)\.mlpNorm\.(weight|bias)$/, hf: 'transformer.h.$1.ln_2.$2' },
  { ours: /^norm\.(weight|bias)$/, hf: 'transformer.ln_f.$1' },
  { ours: /^lmHead\.weight$/, hf: 'lm_head.weight', layout: LINEAR_LAYOUT },
];

/** GPT's HF table (GPT2LMHeadModel names and layouts). */
export function gptMapping(model: GPT): HFMapping {
  return {
    architecture: 'GPT2LMHeadModel',
    rules: RULES,
    prefix: { name: 'transformer', roots: ['wte', 'wpe', 'h', 'ln_f'] },
    ignored: [/^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/],
    tied: model.config.tieWeights ? [/^lm_head\.weight$/] : [],
  };
}

/** GPT's parameters for a config, counted without building it. */
export function gptParameterCount(c: GPTConfig): number {
  const h = c.hiddenSize;
  return (
    (c.vocabSize + c.maxPositions) * h +
    blockParameterCount(c, c.bias) +
    2 * h +
    (c.tieWeights ? 0 : h * c.vocabSize)
  );
}

/** Builds a GPT from an HF config object and tensors (names and shapes checked, mismatches in HF names). */
export function gptFromHF(config: HFConfig, tensors: StateDict, overrides: Partial<GPTConfig> = {}): GPT {
  const c = gptConfigFromHF(config, overrides);
  checkParameterBudget('GPT', gptParameterCount(c));
  const model = new GPT(c);
  try {
    loadMapped(model, tensors, gptMapping(model), { config });
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Loads an HF GPT-2 folder (config.json + weights, with or without the `transformer.` prefix) from a path,
 * URL or files. A checkpoint that does not fit names its first differences.
 */
export function loadGPT2LMHeadModel(
  source: CheckpointSource,
  overrides: Partial<GPTConfig> = {},
): Promise<GPT> {
  return loadMappedModel(source, {
    // Sized from config.json and the file's header before any tensor is made.
    check: (hf, entries) => {
      const params = gptParameterCount(gptConfigFromHF(hf, overrides));
      checkParameterBudget('GPT', params);
      checkFileHolds('GPT', params, entries);
    },
    build: (hf) => new GPT(gptConfigFromHF(hf, overrides)),
    mapping: gptMapping,
  });
}

export interface GPTSaveOptions {
  /** The tokenizer whose files (tokenizer.json, vocab.json, merges.txt) go into the folder. */
  tokenizer?: Tokenizer;
  /** The backbone's prefix: 'transformer.' (GPT2LMHeadModel, default) or '' (a bare GPT2Model-style file). */
  prefix?: 'transformer.' | '';
}

const saveOptions = (model: GPT, { tokenizer, prefix }: GPTSaveOptions) => ({
  config: gptConfigToHF(model.config),
  bare: prefix === '',
  ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
});

/**
 * Saves as an HF GPT2LMHeadModel folder (same names and shapes; lm_head omitted when tied), with the
 * tokenizer's files when given. Atomic per file.
 */
export async function savePretrained(model: GPT, dir: string, options: GPTSaveOptions = {}): Promise<void> {
  return saveMappedModel(dir, model, gptMapping(model), saveOptions(model, options));
}

/** The files savePretrained writes, as bytes by file name (a page's downloads; a Map is a checkpoint source). */
export async function encodePretrained(
  model: GPT,
  options: GPTSaveOptions = {},
): Promise<Map<string, Uint8Array>> {
  return encodeMappedModel(model, gptMapping(model), saveOptions(model, options));
}

/**
 * AutoModel + AutoTokenizer for GPT-2 folders (path, URL, files or a Hub id): the model, and the tokenizer
 * from tokenizer.json (or vocab.json + merges.txt) when the folder has one.
 */
export async function loadPretrained(
  from: CheckpointSource,
  overrides: Partial<GPTConfig> = {},
  hub: HubOptions = {},
): Promise<{ model: GPT; tokenizer?: Tokenizer }> {
  const source = await resolveSource(from, hub); // a Hub id ('gpt2', 'org/name') → its files
  const model = await loadGPT2LMHeadModel(source, overrides);
  try {
    const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
    return tokenizer ? { model, tokenizer } : { model };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** @deprecated Use `loadGPT2LMHeadModel` (or `loadPretrained` for the tokenizer too). */
export const loadGPT2 = loadGPT2LMHeadModel;
/** @deprecated Use `gptConfigFromHF`. */
export const configFromHF = gptConfigFromHF;
/** @deprecated Use `gptConfigToHF`. */
export const configToHF = gptConfigToHF;

/** @deprecated Use `saveMapped(model, gptMapping(model))` from core: our parameters as HF tensors (caller disposes). */
export function stateDictToHF(model: GPT, { prefix = 'transformer.' }: { prefix?: string } = {}): StateDict {
  return saveMapped(model, gptMapping(model), { bare: prefix === '' });
}

/** @deprecated Use `gptFromHF`: HF tensors → our state dict, by way of a model built and loaded from them. */
export function stateDictFromHF(hf: StateDict, config: GPTConfig): StateDict {
  const model = gptFromHF(gptConfigToHF(config), hf, config);
  try {
    return Object.fromEntries(model.namedParameters().map(([n, p]) => [n, p.clone()]));
  } finally {
    model.dispose();
  }
}
