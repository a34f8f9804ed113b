/**
 * The demo's checkpoints: complete HuggingFace-style folders (model.safetensors + config.json + the
 * tokenizer's files) that the packages' savePretrained writes atomically and loadPretrained reads back as
 * { model, tokenizer } (BertForSequenceClassification, GPT2LMHeadModel: HF loaders read them too). This file
 * only wraps them into the demo's experiments. Loading takes a path (Node) or the files the page's picker hands over.
 */
import {
  BertForSequenceClassification,
  loadPretrained as loadBert,
  savePretrained as saveBert,
} from '@transformer-kit/bert';
import { CheckpointMismatchError, type CheckpointSource } from '@transformer-kit/core';
import { loadPretrained as loadGpt, savePretrained as saveGpt } from '@transformer-kit/gpt';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import type { LabelledSentence } from './data.js';
import { GptExperiment, type GptSizes } from './generate.js';
import { SentimentExperiment, type SentimentSizes } from './sentiment.js';

/** The tokenizer the folder came with; without one the model is disposed and it is an error. */
function need(loaded: { model: { dispose(): void }; tokenizer?: Tokenizer }): Tokenizer {
  if (loaded.tokenizer) return loaded.tokenizer;
  loaded.model.dispose();
  throw new CheckpointMismatchError(
    'the checkpoint has no tokenizer files (tokenizer.json, vocab.txt, or vocab.json + merges.txt)',
  );
}

export function saveSentimentCheckpoint(dir: string, exp: SentimentExperiment): Promise<void> {
  return saveBert(exp.model, dir, { tokenizer: exp.tokenizer });
}

export async function loadSentimentCheckpoint(
  source: CheckpointSource,
  sizes: SentimentSizes,
  split: { train: LabelledSentence[]; test: LabelledSentence[] },
): Promise<SentimentExperiment> {
  const loaded = await loadBert(source);
  const { model } = loaded;
  if (!(model instanceof BertForSequenceClassification)) {
    model.dispose();
    throw new CheckpointMismatchError(
      'this demo classifies with sequence-classification checkpoints (architectures: BertForSequenceClassification)',
    );
  }
  const tokenizer = need(loaded);
  return SentimentExperiment.fromModel(tokenizer, model, { ...sizes, seed: 0, head: model.pooling }, split);
}

export function saveGptCheckpoint(dir: string, exp: GptExperiment): Promise<void> {
  return saveGpt(exp.model, dir, { tokenizer: exp.tokenizer });
}

export async function loadGptCheckpoint(source: CheckpointSource, sizes: GptSizes): Promise<GptExperiment> {
  const loaded = await loadGpt(source);
  return GptExperiment.fromModel(need(loaded), loaded.model, { ...sizes, seed: 0 });
}

/** The largest |a − b| over two tables of predictions (a reload check); a loop, as tables can be 200k rows. */
export function maxAbsDiff(a: readonly number[][], b: readonly number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a[i]!.length; j++) {
      const d = Math.abs(a[i]![j]! - b[i]![j]!);
      if (d > m || Number.isNaN(d)) m = d;
    }
  return m;
}
