import * as tf from '@tensorflow/tfjs';
import {
  activationFromHF,
  activationToHF,
  type CheckpointEntry,
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  checkModelType,
  type HFConfig,
  loadCheckpoint,
  loadEntries,
  readOptionalFiles,
  saveCheckpoint,
} from '@transformer-kit/core';
import {
  TOKENIZER_FILES,
  type Tokenizer,
  tokenizerFiles,
  tokenizerFromFiles,
} from '@transformer-kit/tokenizer';
import { type LlamaConfig, LlamaForCausalLM, llamaConfig } from './model.js';

/*
 * HuggingFace LlamaForCausalLM <-> transformer-kit names and layouts.
 *  - nn.Linear stores weights (out, in); our Linear (in, out): every projection is transposed at the boundary.
 *  - q/k/v/o_proj → attn.query/key/value/output; gate/up/down_proj → mlp.gate/up/down;
 *    input_layernorm → attnNorm; post_attention_layernorm → mlpNorm; embed_tokens → embeddings.
 *  - lm_head.weight is absent when tied (save_pretrained drops it); ignored on load when tied.
 *  - rotary_emb.inv_freq buffers (older checkpoints) are recomputed, not loaded.
 */

/** Our config from an HF Llama config.json object. */
export function configFromHF(hf: HFConfig, overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  checkModelType(hf, 'llama');
  const num = (key: string, fallback?: number): number => {
    const v = hf[key] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`config.json: '${key}' is missing or not a number`);
    return v;
  };
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
export function configToHF(c: LlamaConfig): HFConfig {
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

/** Every parameter of `model` with its HF name and shape (the one table load and save both read). */
export function hfEntries(model: LlamaForCausalLM): CheckpointEntry[] {
  const params = new Map(model.namedParameters());
  const entries: CheckpointEntry[] = [];
  const linear = (ours: string, hf: string) => {
    for (const kind of ['weight', 'bias'] as const) {
      const p = params.get(`${ours}.${kind}`);
      if (!p) continue;
      const shape = kind === 'weight' ? [p.shape[1]!, p.shape[0]!] : p.shape;
      entries.push({
        ours: `${ours}.${kind}`,
        hf: `${hf}.${kind}`,
        hfShape: shape,
        ...(kind === 'weight' ? { fromHF: (t: tf.Tensor) => tf.transpose(t) } : {}),
      });
    }
  };
  const same = (ours: string, hf: string) => entries.push({ ours, hf, hfShape: params.get(ours)!.shape });
  same('model.embeddings.weight', 'model.embed_tokens.weight');
  for (let i = 0; i < model.config.numLayers; i++) {
    const o = `model.layers.${i}.`;
    const h = `model.layers.${i}.`;
    same(`${o}attnNorm.weight`, `${h}input_layernorm.weight`);
    for (const [ours, hf] of [
      ['query', 'q_proj'],
      ['key', 'k_proj'],
      ['value', 'v_proj'],
      ['output', 'o_proj'],
    ] as const)
      linear(`${o}attn.${ours}`, `${h}self_attn.${hf}`);
    same(`${o}mlpNorm.weight`, `${h}post_attention_layernorm.weight`);
    for (const part of ['gate', 'up', 'down'] as const) linear(`${o}mlp.${part}`, `${h}mlp.${part}_proj`);
  }
  same('model.norm.weight', 'model.norm.weight');
  if (!model.config.tieWeights) linear('lmHead', 'lm_head');
  return entries;
}

/** Builds a LlamaForCausalLM from an HF config object and tensors (names and shapes checked). */
export function llamaFromHF(
  config: HFConfig,
  tensors: Record<string, tf.Tensor>,
  overrides: Partial<LlamaConfig> = {},
): LlamaForCausalLM {
  const model = new LlamaForCausalLM(configFromHF(config, overrides));
  try {
    loadEntries(model, tensors, hfEntries(model), {
      config,
      what: 'LlamaForCausalLM',
      // A tied checkpoint may still carry lm_head.weight (a copy of embed_tokens); so may old inv_freq buffers.
      ignored: [/\.rotary_emb\.inv_freq$/, ...(model.config.tieWeights ? [/^lm_head\.weight$/] : [])],
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Loads an HF LlamaForCausalLM folder (config.json + model.safetensors or shards) from a path, URL or files. */
export async function loadLlama(
  source: CheckpointSource,
  overrides: Partial<LlamaConfig> = {},
): Promise<LlamaForCausalLM> {
  const { config, tensors } = await loadCheckpoint(source);
  try {
    return llamaFromHF(config, tensors, overrides);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** The model and, when the folder has one, its tokenizer (tokenizer.json: byte-level BPE for SmolLM2/Llama 3). */
export async function loadPretrained(
  source: CheckpointSource,
  overrides: Partial<LlamaConfig> = {},
): Promise<{ model: LlamaForCausalLM; tokenizer?: Tokenizer }> {
  const model = await loadLlama(source, overrides);
  try {
    const tokenizer = tokenizerFromFiles(await readOptionalFiles(source, TOKENIZER_FILES));
    return tokenizer ? { model, tokenizer } : { model };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Our parameters under HF names and layouts (new tensors for the transposed ones; see `disposeHF`). */
export function stateDictToHF(model: LlamaForCausalLM): Record<string, tf.Tensor> {
  const params = new Map(model.namedParameters());
  const out: Record<string, tf.Tensor> = {};
  for (const e of hfEntries(model)) {
    const p = params.get(e.ours)!;
    out[e.hf] = e.fromHF ? tf.transpose(p) : p.clone();
  }
  return out;
}

/**
 * Saves as an HF LlamaForCausalLM folder (lm_head omitted when tied, as save_pretrained), with the
 * tokenizer's files when given. Atomic per file.
 */
export async function savePretrained(
  model: LlamaForCausalLM,
  dir: string,
  { tokenizer }: { tokenizer?: Tokenizer } = {},
): Promise<void> {
  const tensors = stateDictToHF(model);
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
