/**
 * The demo's checkpoints: HuggingFace-style folders (model.safetensors + config.json + tokenizer files),
 * written atomically by core's saveCheckpoint. The GPT is saved in GPT-2's names and layout, so any GPT-2
 * loader reads it. Loading takes a path (Node) or the files the page's picker hands over.
 */
import type * as tf from '@tensorflow/tfjs';
import type { BertConfig } from '@transformer-kit/bert';
import { type CheckpointSource, CheckpointError, loadCheckpoint, readCheckpointFile, saveCheckpoint } from '@transformer-kit/core';
import { configToHF, gptFromHF, stateDictToHF } from '@transformer-kit/gpt';
import type { LabelledSentence } from './data.js';
import { GptExperiment, type GptSizes } from './generate.js';
import { type Head, SentimentExperiment, type SentimentSizes, buildSentimentModel } from './sentiment.js';
import { charTokenizerFromVocab, wordPieceFromVocab } from './text.js';

const disposeAll = (ts: Record<string, tf.Tensor>) => {
  for (const t of Object.values(ts)) t.dispose();
};

/** BERT config in HF's config.json keys. */
export function bertConfigToHF(c: BertConfig): Record<string, unknown> {
  return {
    model_type: 'bert',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositions,
    type_vocab_size: c.typeVocabSize,
    hidden_dropout_prob: c.hiddenDropout,
    attention_probs_dropout_prob: c.attentionDropout,
    layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padTokenId,
    hidden_act: 'gelu',
  };
}

export function bertConfigFromHF(hf: Record<string, unknown>): BertConfig {
  const num = (k: string, fallback?: number) => {
    const v = hf[k] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`config.json: '${k}' is missing or not a number`);
    return v;
  };
  return {
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    maxPositions: num('max_position_embeddings'),
    typeVocabSize: num('type_vocab_size', 2),
    hiddenDropout: num('hidden_dropout_prob', 0.1),
    attentionDropout: num('attention_probs_dropout_prob', 0.1),
    layerNormEps: num('layer_norm_eps', 1e-12),
    padTokenId: num('pad_token_id', 0),
  };
}

export async function saveSentimentCheckpoint(dir: string, exp: SentimentExperiment): Promise<void> {
  const head: Head = 'pooler' in exp.model.classifier ? 'cls' : 'mean';
  await saveCheckpoint(dir, {
    config: {
      ...bertConfigToHF(exp.model.config),
      architectures: [head === 'cls' ? 'BertForSequenceClassification' : 'BertMeanPoolClassifier'],
      id2label: { 0: 'negative', 1: 'positive' },
      label2id: { negative: 0, positive: 1 },
      transformer_kit: { task: 'sentiment', head },
    },
    tensors: exp.model.stateDict(),
    extraFiles: exp.tokenizer.files(),
  });
}

export async function loadSentimentCheckpoint(
  source: CheckpointSource,
  sizes: SentimentSizes,
  split: { train: LabelledSentence[]; test: LabelledSentence[] },
): Promise<SentimentExperiment> {
  const { config, tensors } = await loadCheckpoint(source);
  try {
    const tk = config.transformer_kit as { head?: Head } | undefined;
    const head = tk?.head ?? 'cls';
    const tokenizer = wordPieceFromVocab(new TextDecoder().decode(await readCheckpointFile(source, 'vocab.txt')));
    const model = buildSentimentModel(head, bertConfigFromHF(config), 0);
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return SentimentExperiment.fromModel(tokenizer, model, { ...sizes, seed: 0, head }, split);
  } finally {
    disposeAll(tensors);
  }
}

export async function saveGptCheckpoint(dir: string, exp: GptExperiment): Promise<void> {
  const tensors = stateDictToHF(exp.model);
  try {
    await saveCheckpoint(dir, {
      config: { ...configToHF(exp.model.config), transformer_kit: { task: 'generate', tokenizer: 'char' } },
      tensors,
      extraFiles: exp.tokenizer.files(),
    });
  } finally {
    disposeAll(tensors);
  }
}

export async function loadGptCheckpoint(source: CheckpointSource, sizes: GptSizes): Promise<GptExperiment> {
  const { config, tensors } = await loadCheckpoint(source);
  try {
    const tokenizer = charTokenizerFromVocab(new TextDecoder().decode(await readCheckpointFile(source, 'vocab.json')));
    const model = gptFromHF(config, tensors);
    return GptExperiment.fromModel(tokenizer, model, { ...sizes, seed: 0 });
  } finally {
    disposeAll(tensors);
  }
}
