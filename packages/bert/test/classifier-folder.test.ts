import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointMismatchError, initBackend } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BertForSequenceClassification,
  type BertModel,
  bertConfig,
  encodePretrained,
  encodeSequenceClassifier,
  encodeTexts,
  estimateTrainingBytes,
  fineTuneLoop,
  loadBertForSequenceClassification,
  loadBertModel,
  loadDistilBertForSequenceClassification,
  loadDistilBertModel,
  loadPretrained,
  loadRobertaForSequenceClassification,
  loadRobertaModel,
  loadSequenceClassifier,
  saveSequenceClassifier,
} from '../src/index.js';
import { VOCAB } from './task.js';

// Fine-tuning's starting point from any BERT folder, the page's save (bytes), the vocabulary check, and
// the memory estimate.

const fixtures = join(import.meta.dirname, 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'tk-bert-clsfolder-'));
const ids = { inputIds: [[2, 10, 11, 3, 0]], attentionMask: [[1, 1, 1, 1, 0]] };

beforeAll(() => initBackend('cpu'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const same = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
/** Eval mode (no dropout) for the comparisons. */
const ev = <M extends { eval(): M }>(m: M): M => m.eval();
/** A BERT folder gives a BertForSequenceClassification. */
const asBert = (m: unknown): BertForSequenceClassification => {
  expect(m).toBeInstanceOf(BertForSequenceClassification);
  return m as BertForSequenceClassification;
};

describe('loadSequenceClassifier', () => {
  it("a BertForMaskedLM folder: the backbone's weights under a new head for the labels (pooler initialised, with a warning)", async () => {
    const warnings: string[] = [];
    const r = await loadSequenceClassifier(join(fixtures, 'bert-mlm'), {
      labels: ['no', 'yes'],
      onWarning: (w) => warnings.push(w),
    });
    expect(r.newHead).toBe(true);
    expect(r.architecture).toBe('BertForMaskedLM');
    expect(r.tokenizer).toBeUndefined();
    expect(r.model.id2label).toEqual({ 0: 'no', 1: 'yes' });
    expect(warnings.join()).toMatch(/pooler\.dense\.weight/);
    const backbone = await loadBertModel(join(fixtures, 'bert-mlm'), { pooler: false });
    expect(
      same(ev(asBert(r.model)).bert.run(ids).lastHiddenState, ev(backbone).run(ids).lastHiddenState),
    ).toBe(0);
    r.model.dispose();
    backbone.dispose();
  });

  it('a classifier folder with the same labels keeps its head; other labels keep its backbone and pooler', async () => {
    const dir = join(fixtures, 'bert-cls');
    const own = await loadSequenceClassifier(dir, { labels: ['negative', 'neutral', 'positive'] });
    const ref = await loadBertForSequenceClassification(dir);
    expect(own.newHead).toBe(false);
    expect(same(ev(own.model).forward(ids), ev(ref).forward(ids))).toBe(0);
    const other = await loadSequenceClassifier(dir, { labels: ['a', 'b'] });
    expect(other.newHead).toBe(true);
    expect(other.model.numLabels).toBe(2);
    const pooler = (m: BertForSequenceClassification) =>
      m.namedParameters().find(([n]) => n === 'classifier.pooler.weight')![1];
    expect(same(pooler(asBert(other.model)), pooler(ref))).toBe(0);
    // Labels in another order are other labels.
    const reordered = await loadSequenceClassifier(dir, { labels: ['positive', 'neutral', 'negative'] });
    expect(reordered.newHead).toBe(true);
    for (const m of [own.model, ref, other.model, reordered.model]) m.dispose();
  });

  it('a vocabulary larger than the embedding table is a CheckpointMismatchError before weights load', async () => {
    const dir = join(tmp, 'bigvocab');
    cpSync(join(fixtures, 'bert-mlm'), dir, { recursive: true });
    const vocab = [
      '[PAD]',
      '[UNK]',
      '[CLS]',
      '[SEP]',
      '[MASK]',
      ...Array.from({ length: 70 }, (_, i) => `w${i}`),
    ];
    writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
    writeFileSync(join(dir, 'model.safetensors'), 'not read');
    for (const load of [
      () => loadPretrained(dir),
      () => loadSequenceClassifier(dir, { labels: ['a', 'b'] }),
    ]) {
      const e = await load().catch((x) => x);
      expect(e).toBeInstanceOf(CheckpointMismatchError);
      expect(e.message).toMatch(/the vocabulary has 75 tokens but the embedding table has 64 rows/);
    }
  });
});

describe('encodePretrained', () => {
  it("savePretrained's files as bytes; loadPretrained reads them back (a Map is a source) with identical logits", async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const model = new BertForSequenceClassification(
      bertConfig('tiny', {
        vocabSize: VOCAB.length,
        hiddenSize: 16,
        numLayers: 1,
        numHeads: 2,
        intermediateSize: 32,
      }),
      { numLabels: 2, id2label: { 0: 'neg', 1: 'pos' }, seed: 3 },
    );
    const files = await encodePretrained(model, { tokenizer });
    expect([...files.keys()].sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'vocab.txt',
    ]);
    const back = await loadPretrained(files);
    expect(back.model).toBeInstanceOf(BertForSequenceClassification);
    expect(back.tokenizer!.vocabSize).toBe(VOCAB.length);
    const x = { inputIds: [[2, 5, 6, 3]] };
    model.eval();
    expect(same(ev(back.model as BertForSequenceClassification).forward(x), model.forward(x))).toBe(0);
    model.dispose();
    back.model.dispose();
  });
});

describe("encodeTexts pads with the tokenizer's pad token", () => {
  it('<pad> (id 1) for a RoBERTa vocabulary without [PAD]; [PAD] for WordPiece', () => {
    const letters = [...'abcdefghijklmnopqrstuvwxyz'];
    const vocab = Object.fromEntries(
      ['<s>', '<pad>', '</s>', '<unk>', '<mask>', 'Ġ', ...letters].map((t, i) => [t, i]),
    );
    const r = encodeTexts(Tokenizer.roberta(vocab, []), ['ab', 'abcd'], 16);
    expect(r.inputIds).toEqual([
      [0, 6, 7, 2, 1, 1],
      [0, 6, 7, 8, 9, 2],
    ]);
    expect(r.attentionMask[0]).toEqual([1, 1, 1, 1, 0, 0]);
    const w = encodeTexts(Tokenizer.wordPiece(VOCAB), ['a', 'a b'], 16, 8);
    expect(w.inputIds[0]!.length).toBe(8);
    expect(w.inputIds[0]!.slice(3)).toEqual(Array(5).fill(VOCAB.indexOf('[PAD]')));
  });
});

describe('fineTuneLoop', () => {
  it('a loop that stops and resumes; onBatch sees every encoded batch', async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const model = new BertForSequenceClassification(
      bertConfig('tiny', {
        vocabSize: VOCAB.length,
        hiddenSize: 16,
        numLayers: 1,
        numHeads: 2,
        intermediateSize: 32,
      }),
      { numLabels: 2 },
    );
    const words = VOCAB.filter((w) => /^[a-z]+$/.test(w));
    const examples = words.slice(0, 8).map((w, i) => ({ text: w, label: i % 2 }));
    let batches = 0;
    const loop = fineTuneLoop(model, tokenizer, examples, {
      epochs: 2,
      batchSize: 4,
      onBatch: () => batches++,
    });
    expect(loop.totalSteps).toBe(4);
    loop.on({ onStep: (s) => void (s.step === 2 && loop.stop()) });
    expect((await loop.run()).reason).toBe('stopped');
    expect(loop.step).toBe(2);
    expect((await loop.run()).reason).toBe('steps');
    expect(loop.step).toBe(4);
    expect(batches).toBe(4);
    loop.trainer.dispose();
    model.dispose();
  });
});

describe('estimateTrainingBytes', () => {
  it("counts the classifier's parameters exactly and grows with batch and length; recompute keeps less", () => {
    const c = bertConfig('tiny', { vocabSize: 100 });
    const model = new BertForSequenceClassification(c, { numLabels: 3 });
    const e = estimateTrainingBytes(c, { batchSize: 4, seqLength: 32, numLabels: 3 });
    expect(e.parameters).toBe(model.numParameters());
    expect(e.stateBytes).toBe(16 * e.parameters);
    expect(
      estimateTrainingBytes(c, { batchSize: 8, seqLength: 32, numLabels: 3 }).activationBytes,
    ).toBeGreaterThan(e.activationBytes);
    expect(
      estimateTrainingBytes(c, { batchSize: 4, seqLength: 64, numLabels: 3 }).totalBytes,
    ).toBeGreaterThan(e.totalBytes);
    expect(
      estimateTrainingBytes(c, { batchSize: 4, seqLength: 32, numLabels: 3, recompute: true })
        .activationBytes,
    ).toBeLessThan(e.activationBytes);
    // BERT-base at 8 × 128 fits the wasm heap (issue 9's target); at 64 × 512 it does not.
    const gb = (batchSize: number, seqLength: number) =>
      estimateTrainingBytes(bertConfig('base'), { batchSize, seqLength }).totalBytes / 1024 ** 3;
    expect(gb(8, 128)).toBeGreaterThan(1.8);
    expect(gb(8, 128)).toBeLessThan(3);
    expect(gb(64, 512)).toBeGreaterThan(4);
    model.dispose();
  });
});

describe("loadSequenceClassifier: the folder's model_type picks the family", () => {
  const families = [
    {
      type: 'distilbert',
      mlm: 'distilbert-mlm',
      cls: 'distilbert-cls',
      labels: ['negative', 'neutral', 'positive'],
      backbone: (dir: string) => loadDistilBertModel(join(fixtures, dir)),
      loadCls: (dir: string) => loadDistilBertForSequenceClassification(dir),
      inner: (m: unknown) => (m as { distilbert: BertModel }).distilbert,
    },
    {
      type: 'roberta',
      mlm: 'roberta-mlm',
      cls: 'roberta-cls',
      labels: ['negative', 'positive'],
      backbone: (dir: string) => loadRobertaModel(join(fixtures, dir), { pooler: false }),
      loadCls: (dir: string) => loadRobertaForSequenceClassification(dir),
      inner: (m: unknown) => (m as { roberta: BertModel }).roberta,
    },
  ] as const;

  it.each(
    families,
  )('$type: an MLM folder gives its backbone under a new head; a classifier with the same labels keeps its head; both save and reload identically', async (f) => {
    const before = tf.memory().numTensors;
    const fresh = await loadSequenceClassifier(join(fixtures, f.mlm), { labels: ['no', 'yes'] });
    expect(fresh.modelType).toBe(f.type);
    expect(fresh.newHead).toBe(true);
    expect(fresh.model.id2label).toEqual({ 0: 'no', 1: 'yes' });
    const backbone = await f.backbone(f.mlm);
    expect(
      tf.tidy(() =>
        same(ev(f.inner(fresh.model)).run(ids).lastHiddenState, ev(backbone).run(ids).lastHiddenState),
      ),
    ).toBe(0);
    backbone.dispose();

    const own = await loadSequenceClassifier(join(fixtures, f.cls), { labels: f.labels });
    const ref = await f.loadCls(join(fixtures, f.cls));
    expect(own.newHead).toBe(false);
    expect(own.model.constructor).toBe(ref.constructor);
    expect(tf.tidy(() => same(ev(own.model).forward(ids), ev(ref).forward(ids)))).toBe(0);
    ref.dispose();

    for (const [name, m] of [
      ['fresh', fresh.model],
      ['own', own.model],
    ] as const) {
      const dir = join(tmp, `${f.type}-${name}`);
      await saveSequenceClassifier(m, dir);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(config.model_type).toBe(f.type);
      const labels = Object.values(m.id2label);
      const back = await loadSequenceClassifier(dir, { labels });
      expect(back.newHead).toBe(false);
      expect(tf.tidy(() => same(ev(back.model).forward(ids), ev(m).forward(ids)))).toBe(0);
      back.model.dispose();
      // The same files as bytes (the page's download): a Map reloads to the same model.
      const bytes = await encodeSequenceClassifier(m);
      expect(JSON.parse(new TextDecoder().decode(bytes.get('config.json')!)).model_type).toBe(f.type);
      const fromBytes = await loadSequenceClassifier(bytes, { labels });
      expect(fromBytes.model.constructor).toBe(m.constructor);
      expect(tf.tidy(() => same(ev(fromBytes.model).forward(ids), ev(m).forward(ids)))).toBe(0);
      fromBytes.model.dispose();
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('another model_type is a CheckpointMismatchError naming it', async () => {
    const dir = join(tmp, 'gpt2-config');
    cpSync(join(fixtures, 'bert-mlm'), dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 64 }));
    await expect(loadSequenceClassifier(dir, { labels: ['a', 'b'] })).rejects.toThrow(
      expect.objectContaining({
        name: CheckpointMismatchError.name,
        message: expect.stringMatching(/'gpt2'.*'bert' or 'distilbert' or 'roberta'/),
      }),
    );
  });
});
