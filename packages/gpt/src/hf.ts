import * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  blockParameterCount,
  CheckpointError,
  type CheckpointSource,
  checkFileHolds,
  checkModelType,
  checkParameterBudget,
  type HubOptions,
  loadCheckpoint,
  readOptionalFiles,
  resolveSource,
  type StateDict,
  saveCheckpoint,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { GPT, type GPTConfig, gptConfig } from './model.js';

/*
 * HuggingFace GPT-2 <-> transformer-kit names and layouts.
 *  - HF's Conv1D stores weights [in, out], the same as our Linear: no transposes.
 *  - c_attn fuses query|key|value along `out`: split in three on load, concatenated on save.
 *  - attn.bias / attn.masked_bias are causal-mask buffers, not parameters: ignored.
 *  - lm_head.weight is the tied wte: ignored on load when tied, not written on save (as save_pretrained).
 *  - the `transformer.` prefix (GPT2LMHeadModel) is optional.
 */

/** Our config from an HF GPT-2 config.json object. */
export function configFromHF(hf: Record<string, unknown>, overrides: Partial<GPTConfig> = {}): GPTConfig {
  checkModelType(hf, 'gpt2');
  const num = (key: string, fallback?: number): number => {
    const v = hf[key] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
    return v;
  };
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
export function configToHF(c: GPTConfig): Record<string, unknown> {
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

const RENAMES: Array<[RegExp, string]> = [
  [/^wte\./, 'embeddings.word.'],
  [/^wpe\./, 'embeddings.position.'],
  [/^h\.(\d+)\.ln_1\./, 'layers.$1.attnNorm.'],
  [/^h\.(\d+)\.ln_2\./, 'layers.$1.mlpNorm.'],
  [/^h\.(\d+)\.attn\.c_proj\./, 'layers.$1.attn.output.'],
  [/^h\.(\d+)\.mlp\.c_fc\./, 'layers.$1.mlp.hidden.0.'],
  [/^h\.(\d+)\.mlp\.c_proj\./, 'layers.$1.mlp.out.'],
  [/^ln_f\./, 'norm.'],
  // Anything else under a layer (an unexpected tensor) keeps its HF tail under our layer name.
  [/^h\.(\d+)\./, 'layers.$1.'],
];

/**
 * HF GPT-2 tensors → our state dict (new tensors; the caller keeps ownership of `hf`). Unknown names pass
 * through unchanged so `loadStateDict` reports them as unexpected.
 */
export function stateDictFromHF(hf: StateDict, config: GPTConfig): StateDict {
  const out: StateDict = {};
  try {
    convertInto(out, hf, config);
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}

function convertInto(out: StateDict, hf: StateDict, config: GPTConfig): void {
  for (const [rawName, t] of Object.entries(hf)) {
    const name = rawName.startsWith('transformer.') ? rawName.slice('transformer.'.length) : rawName;
    if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) continue;
    if (name === 'lm_head.weight') {
      // (vocab, hiddenSize) in HF; ours is (hiddenSize, vocab) when untied.
      if (!config.tieWeights) out['lmHead.weight'] = tf.transpose(t);
      continue;
    }
    const fused = /^h\.(\d+)\.attn\.c_attn\.(weight|bias)$/.exec(name);
    if (fused) {
      const [, layer, kind] = fused;
      const axis = t.rank - 1;
      if (t.shape[axis] !== 3 * config.hiddenSize) {
        throw new CheckpointError(`${rawName}: expected last dim 3 × ${config.hiddenSize}, got [${t.shape}]`);
      }
      const [q, k, v] = tf.split(t, 3, axis);
      out[`layers.${layer}.attn.query.${kind}`] = q!;
      out[`layers.${layer}.attn.key.${kind}`] = k!;
      out[`layers.${layer}.attn.value.${kind}`] = v!;
      continue;
    }
    const renamed = RENAMES.reduce((n, [re, to]) => n.replace(re, to), name);
    out[renamed] = t.clone();
  }
}

/** Our parameters → HF GPT2LMHeadModel names and layouts (new tensors the caller must dispose). */
export function stateDictToHF(model: GPT, { prefix = 'transformer.' }: { prefix?: string } = {}): StateDict {
  const sd = model.stateDict();
  const out: StateDict = {};
  out[`${prefix}wte.weight`] = sd['embeddings.word.weight']!.clone();
  out[`${prefix}wpe.weight`] = sd['embeddings.position.weight']!.clone();
  for (let i = 0; i < model.config.numLayers; i++) {
    const p = `h.${i}.`;
    const get = (n: string) => sd[`layers.${i}.${n}`]!;
    out[`${prefix}${p}ln_1.weight`] = get('attnNorm.weight').clone();
    out[`${prefix}${p}ln_1.bias`] = get('attnNorm.bias').clone();
    for (const kind of ['weight', 'bias'] as const) {
      if (!sd[`layers.${i}.attn.query.${kind}`]) continue;
      const parts = ['query', 'key', 'value'].map((n) => get(`attn.${n}.${kind}`));
      out[`${prefix}${p}attn.c_attn.${kind}`] = tf.concat(parts, kind === 'weight' ? 1 : 0);
      out[`${prefix}${p}attn.c_proj.${kind}`] = get(`attn.output.${kind}`).clone();
      out[`${prefix}${p}mlp.c_fc.${kind}`] = get(`mlp.hidden.0.${kind}`).clone();
      out[`${prefix}${p}mlp.c_proj.${kind}`] = get(`mlp.out.${kind}`).clone();
    }
    out[`${prefix}${p}ln_2.weight`] = get('mlpNorm.weight').clone();
    out[`${prefix}${p}ln_2.bias`] = get('mlpNorm.bias').clone();
  }
  out[`${prefix}ln_f.weight`] = sd['norm.weight']!.clone();
  out[`${prefix}ln_f.bias`] = sd['norm.bias']!.clone();
  if (!model.config.tieWeights) out['lm_head.weight'] = tf.transpose(sd['lmHead.weight']!);
  return out;
}

/** Builds a GPT from an HF config object and tensors (names checked; mismatches list their first differences). */
export function gptFromHF(
  config: Record<string, unknown>,
  tensors: StateDict,
  overrides: Partial<GPTConfig> = {},
): GPT {
  const c = configFromHF(config, overrides);
  checkParameterBudget('GPT', gptParameterCount(c));
  // The file's tensors are converted first: a bad one (c_attn's shape) throws before the model exists.
  const sd = stateDictFromHF(tensors, c);
  let model: GPT | undefined;
  try {
    model = new GPT(c);
    model.loadStateDict(sd);
    return model;
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(sd));
  }
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

/**
 * Loads an HF GPT-2 folder (config.json + model.safetensors, with or without the `transformer.` prefix)
 * from a path, URL or files. A checkpoint that does not fit names its first differences.
 */
export async function loadGPT2(source: CheckpointSource, overrides: Partial<GPTConfig> = {}): Promise<GPT> {
  // Sized from config.json and the file's header before any tensor is made.
  const { config, tensors } = await loadCheckpoint(source, {
    check: (hf, entries) => {
      const c = configFromHF(hf, overrides);
      const params = gptParameterCount(c);
      checkParameterBudget('GPT', params);
      checkFileHolds('GPT', params, entries);
    },
  });
  try {
    return gptFromHF(config, tensors, overrides);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * Saves as an HF GPT2LMHeadModel folder (same names and shapes; lm_head omitted when tied), with the
 * tokenizer's files (tokenizer.json, vocab.json, merges.txt) when given. Atomic per file.
 */
export async function savePretrained(
  model: GPT,
  dir: string,
  { prefix = 'transformer.', tokenizer }: { prefix?: string; tokenizer?: Tokenizer } = {},
): Promise<void> {
  const tensors = stateDictToHF(model, { prefix });
  try {
    await saveCheckpoint(dir, {
      config: configToHF(model.config),
      tensors,
      ...(tokenizer ? { extraFiles: tokenizerFiles(tokenizer) } : {}),
    });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * AutoModel + AutoTokenizer for GPT-2 folders (path, URL or files): the model, and the tokenizer from
 * tokenizer.json (or vocab.json + merges.txt) when the folder has one.
 */
export async function loadPretrained(
  from: CheckpointSource,
  overrides: Partial<GPTConfig> = {},
  hub: HubOptions = {},
): Promise<{ model: GPT; tokenizer?: Tokenizer }> {
  const source = await resolveSource(from, hub); // a Hub id ('gpt2', 'org/name') → its files
  const model = await loadGPT2(source, overrides);
  try {
    const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
    return tokenizer ? { model, tokenizer } : { model };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
