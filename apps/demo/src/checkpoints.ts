/**
 * The demo's checkpoints: HuggingFace-style folders (model.safetensors + config.json + tokenizer files),
 * written atomically by core's saveCheckpoint, in HF's names and layouts (BertForSequenceClassification,
 * GPT2LMHeadModel), so HF loaders read them. Loading takes a path (Node) or the files the page's picker hands over.
 */
import * as tf from '@tensorflow/tfjs';
import {
  BertForSequenceClassification,
  bertConfigToHF,
  hfParameterNames,
  loadBertForSequenceClassification,
} from '@transformer-kit/bert';
import {
  type CheckpointSource,
  InvalidArgumentError,
  loadCheckpoint,
  readCheckpointFile,
  saveCheckpoint,
} from '@transformer-kit/core';
import { configToHF, gptFromHF, stateDictToHF } from '@transformer-kit/gpt';
import type { LabelledSentence } from './data.js';
import { GptExperiment, type GptSizes } from './generate.js';
import { LABELS, SentimentExperiment, type SentimentSizes } from './sentiment.js';
import { bpeFromFiles, charTokenizerFromVocab, wordPieceFromVocab } from './text.js';

const disposeAll = (ts: Record<string, tf.Tensor>) => {
  for (const t of Object.values(ts)) t.dispose();
};

/**
 * The [CLS] sentiment model as a HuggingFace BertForSequenceClassification folder (bert's names and
 * layouts, id2label), plus vocab.txt, all written atomically together.
 */
export async function saveSentimentCheckpoint(dir: string, exp: SentimentExperiment): Promise<void> {
  const model = exp.model;
  if (!(model instanceof BertForSequenceClassification))
    throw new InvalidArgumentError(
      'only the [CLS] model is saved as a checkpoint (BertForSequenceClassification)',
    );
  const entries = hfParameterNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  for (const e of entries) tensors[e.hf] = e.transpose ? tf.transpose(e.param) : e.param;
  try {
    await saveCheckpoint(dir, {
      config: {
        architectures: ['BertForSequenceClassification'],
        ...bertConfigToHF(model.config),
        id2label: { 0: LABELS[0], 1: LABELS[1] },
        label2id: { [LABELS[0]]: 0, [LABELS[1]]: 1 },
      },
      tensors,
      metadata: { format: 'pt' },
      extraFiles: exp.tokenizer.files(),
    });
  } finally {
    for (const e of entries) if (e.transpose) tensors[e.hf]!.dispose();
  }
}

export async function loadSentimentCheckpoint(
  source: CheckpointSource,
  sizes: SentimentSizes,
  split: { train: LabelledSentence[]; test: LabelledSentence[] },
): Promise<SentimentExperiment> {
  const tokenizer = wordPieceFromVocab(
    new TextDecoder().decode(await readCheckpointFile(source, 'vocab.txt')),
  );
  const model = await loadBertForSequenceClassification(source);
  return SentimentExperiment.fromModel(tokenizer, model, { ...sizes, seed: 0, head: 'cls' }, split);
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
    // The demo's own GPT is char-level (marked in config.json); a real GPT-2 folder has merges.txt.
    const read = async (name: string) => new TextDecoder().decode(await readCheckpointFile(source, name));
    const isChar = (config.transformer_kit as { tokenizer?: string } | undefined)?.tokenizer === 'char';
    const tokenizer = isChar
      ? charTokenizerFromVocab(await read('vocab.json'))
      : bpeFromFiles(await read('vocab.json'), await read('merges.txt'));
    const model = gptFromHF(config, tensors);
    return GptExperiment.fromModel(tokenizer, model, { ...sizes, seed: 0 });
  } finally {
    disposeAll(tensors);
  }
}
