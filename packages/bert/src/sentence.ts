import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  CheckpointMismatchError,
  type CheckpointSource,
  CONFIG_FILE,
  type HubOptions,
  InvalidArgumentError,
  parseConfig,
  readCheckpointFile,
  readOptionalFiles,
  resolveSource,
  ShapeError,
} from '@transformer-kit/core';
import { meanPool } from '@transformer-kit/heads';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import { loadBertModel } from './checkpoint.js';
import { loadDistilBertModel } from './distilbert-checkpoint.js';
import { familyTokenizer } from './family-checkpoint.js';
import { encodeTexts } from './finetune.js';
import { type BertModel, rowsTensor } from './model.js';
import { loadRobertaModel } from './roberta-checkpoint.js';

/*
 * Sentence embeddings as sentence-transformers computes them: a folder's modules.json names a Transformer
 * (the encoder at the folder's root), a Pooling module (1_Pooling/config.json: mean, CLS or max over the
 * real tokens) and optionally Normalize (L2). `embed(texts)` tokenizes with the folder's tokenizer cut to
 * sentence_bert_config.json's max_seq_length, runs the encoder in batches and pools with padding excluded.
 */

export type Pooling = 'mean' | 'cls' | 'max';

export interface SentenceEncoderOptions {
  pooling: Pooling;
  /** L2-normalise each vector (the folder's Normalize module). */
  normalize: boolean;
  /** Tokens per text, special tokens included (sentence_bert_config.json max_seq_length). */
  maxSeqLength: number;
}

export class SentenceEncoder {
  constructor(
    readonly model: BertModel,
    readonly tokenizer: Tokenizer,
    readonly options: SentenceEncoderOptions,
  ) {
    if (!['mean', 'cls', 'max'].includes(options.pooling))
      throw new InvalidArgumentError(
        `pooling must be 'mean', 'cls' or 'max', got ${JSON.stringify(options.pooling)}`,
      );
    model.eval();
  }

  /** Pooled (and normalised, when configured) vectors (B, D) for token ids; call inside tf.tidy. */
  pool(inputIds: tf.Tensor | number[][], attentionMask: tf.Tensor | number[][]): tf.Tensor2D {
    const mask = rowsTensor(attentionMask, 'attentionMask');
    const hidden = this.model.forward({ inputIds, attentionMask: mask }).lastHiddenState;
    let v: tf.Tensor;
    if (this.options.pooling === 'cls') v = hidden.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]);
    else if (this.options.pooling === 'mean') v = meanPool(hidden, mask);
    else {
      // sentence-transformers: padding set to -1e9, then the max over positions.
      const keep = mask.notEqual(0).expandDims(2);
      v = tf.where(keep.tile([1, 1, hidden.shape[2]!]), hidden, tf.fill(hidden.shape, -1e9)).max(1);
    }
    return (this.options.normalize ? l2Normalize(v) : v) as tf.Tensor2D;
  }

  /** One vector per text (Float32Array of the hidden size), `batchSize` texts per forward pass. */
  async embed(
    texts: readonly string[],
    { batchSize = 32 }: { batchSize?: number } = {},
  ): Promise<Float32Array[]> {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string'))
      throw new InvalidArgumentError('embed takes an array of strings');
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InvalidArgumentError(`batchSize must be an integer >= 1, got ${batchSize}`);
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += batchSize) {
      const batch = encodeTexts(this.tokenizer, texts.slice(i, i + batchSize), this.options.maxSeqLength);
      const vectors = tf.tidy(() => this.pool(batch.inputIds, batch.attentionMask));
      const data = (await vectors.data()) as Float32Array;
      vectors.dispose();
      const d = vectors.shape[1];
      for (let r = 0; r < vectors.shape[0]; r++) out.push(data.slice(r * d, (r + 1) * d));
    }
    return out;
  }
}

function l2Normalize(v: tf.Tensor): tf.Tensor {
  // torch.nn.functional.normalize: x / max(||x||, 1e-12).
  return v.div(v.square().sum(-1, true).sqrt().maximum(1e-12));
}

/** Cosine similarity of two vectors (1 for the same direction); lengths must match. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new ShapeError(`vectors of length ${a.length} and ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-12);
}

/** The `corpus` entries most similar to `query` by cosine similarity, best first: { index, score }. */
export function semanticSearch(
  query: ArrayLike<number>,
  corpus: readonly ArrayLike<number>[],
  topK = 5,
): Array<{ index: number; score: number }> {
  return corpus
    .map((v, index) => ({ index, score: cosineSimilarity(query, v) }))
    .sort((x, y) => y.score - x.score)
    .slice(0, topK);
}

const MODULE = 'sentence_transformers.models.';

/** Pooling from a sentence-transformers 1_Pooling/config.json; modes we cannot compute are refused by name. */
export function poolingFromConfig(config: Record<string, unknown>, file = '1_Pooling/config.json'): Pooling {
  const unsupported = [
    'pooling_mode_mean_sqrt_len_tokens',
    'pooling_mode_weightedmean_tokens',
    'pooling_mode_lasttoken',
  ];
  const bad = unsupported.filter((k) => config[k] === true);
  if (bad.length)
    throw new CheckpointMismatchError(`${file}: ${bad.join(', ')} is not supported (mean, CLS or max)`);
  const modes = (
    [
      ['pooling_mode_mean_tokens', 'mean'],
      ['pooling_mode_cls_token', 'cls'],
      ['pooling_mode_max_tokens', 'max'],
    ] as const
  )
    .filter(([k]) => config[k] === true)
    .map(([, m]) => m);
  if (modes.length !== 1)
    throw new CheckpointMismatchError(
      `${file}: exactly one of mean / CLS / max pooling must be on, found ${modes.length ? modes.join(' + ') : 'none'}`,
    );
  return modes[0]!;
}

/**
 * A sentence-transformers folder, URL, files or Hub id ('sentence-transformers/all-MiniLM-L6-v2') as a
 * SentenceEncoder: BERT, DistilBERT or RoBERTa encoders. `pooling` / `normalize` override the folder's.
 */
export async function loadSentenceEncoder(
  from: CheckpointSource,
  options: Partial<Pick<SentenceEncoderOptions, 'pooling' | 'normalize'>> & HubOptions = {},
): Promise<SentenceEncoder> {
  const source = await resolveSource(from, options);
  const text = await readOptionalFiles(source, ['modules.json', 'sentence_bert_config.json']);
  if (!text['modules.json'])
    throw new CheckpointError(
      'no modules.json: not a sentence-transformers folder (load the encoder with loadPretrained)',
    );
  const modules = JSON.parse(text['modules.json']) as Array<{ path?: string; type?: string }>;
  if (!Array.isArray(modules)) throw new CheckpointError('modules.json: expected a list of modules');
  const kinds = modules.map((m) => String(m.type ?? '').replace(MODULE, ''));
  const known = ['Transformer', 'Pooling', 'Normalize'];
  const other = kinds.filter((k) => !known.includes(k));
  if (other.length)
    throw new CheckpointMismatchError(`modules.json: modules ${other.join(', ')} are not supported`);
  const transformer = modules[kinds.indexOf('Transformer')];
  if (!transformer || (transformer.path ?? '') !== '')
    throw new CheckpointMismatchError('modules.json: the Transformer module must be at the folder root');
  const poolingModule = modules[kinds.indexOf('Pooling')];
  if (!poolingModule?.path) throw new CheckpointMismatchError('modules.json: no Pooling module');
  const poolingFile = `${poolingModule.path}/config.json`;
  const pooling =
    options.pooling ??
    poolingFromConfig(parseConfig(await readCheckpointFile(source, poolingFile), poolingFile), poolingFile);
  const stConfig = text['sentence_bert_config.json'] ? JSON.parse(text['sentence_bert_config.json']) : {};
  const hf = parseConfig(await readCheckpointFile(source, CONFIG_FILE));
  const maxSeqLength = Number(stConfig.max_seq_length ?? hf.max_position_embeddings ?? 512);
  const tokenizer = await familyTokenizer(source, hf);
  if (!tokenizer) throw new CheckpointError('the sentence-transformers folder has no tokenizer files');
  const type = hf.model_type;
  const model: BertModel =
    type === 'distilbert'
      ? await loadDistilBertModel(source)
      : type === 'roberta' || type === 'xlm-roberta'
        ? await loadRobertaModel(source, { pooler: false })
        : await loadBertModel(source, { pooler: false });
  return new SentenceEncoder(model, tokenizer, {
    pooling,
    normalize: options.normalize ?? kinds.includes('Normalize'),
    maxSeqLength,
  });
}
