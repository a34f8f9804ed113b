import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointError, CheckpointMismatchError, initBackend, saveCheckpoint } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BertForMaskedLM,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  loadBertModel,
  loadPretrained,
  savePretrained,
} from '../src/index.js';
import { VOCAB } from './task.js';

// Complete checkpoint folders: model + config + tokenizer together; loadPretrained picks the class.

const fixtures = join(import.meta.dirname, 'fixtures');
const small = {
  vocabSize: VOCAB.length,
  hiddenSize: 16,
  numLayers: 1,
  numHeads: 2,
  intermediateSize: 32,
  maxPositions: 16,
};
let tmp: string;

beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'tk-bert-pretrained-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('savePretrained / loadPretrained', () => {
  it('writes model, config and tokenizer together; loadPretrained returns the task class and the tokenizer', async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const text = 'the plot was not bad';
    const cases = [
      [
        new BertForSequenceClassification(small, { numLabels: 2, id2label: { 0: 'neg', 1: 'pos' } }),
        BertForSequenceClassification,
      ],
      [
        new BertForSequenceClassification(small, { numLabels: 2, pooling: 'mean' }),
        BertForSequenceClassification,
      ],
      [new BertForTokenClassification(small, { numLabels: 3 }), BertForTokenClassification],
      [new BertForMaskedLM(small), BertForMaskedLM],
      [new BertModel(small), BertModel],
    ] as const;
    for (const [i, [model, cls]] of cases.entries()) {
      const dir = join(tmp, `m${i}`);
      await savePretrained(model, dir, { tokenizer });
      expect((await readdir(dir)).sort()).toEqual([
        'config.json',
        'model.safetensors',
        'tokenizer.json',
        'vocab.txt',
      ]);
      const back = await loadPretrained(dir);
      expect(back.model).toBeInstanceOf(cls);
      expect(back.tokenizer!.encode(text).ids).toEqual(tokenizer.encode(text).ids);
      if (back.model instanceof BertForSequenceClassification)
        expect(back.model.pooling).toBe((model as BertForSequenceClassification).pooling);
      const inputs = { inputIds: [tokenizer.encode(text).ids] };
      model.eval();
      back.model.eval();
      tf.tidy(() => {
        const out = (m: typeof back.model) =>
          m instanceof BertModel ? m.forward(inputs).lastHiddenState : m.forward(inputs);
        expect(out(back.model).sub(out(model)).abs().max().dataSync()[0]).toBe(0);
      });
      model.dispose();
      back.model.dispose();
    }
  });

  it('a folder without tokenizer files gives no tokenizer; another model_type is a CheckpointMismatchError', async () => {
    const r = await loadPretrained(join(fixtures, 'bert-cls'));
    expect(r.model).toBeInstanceOf(BertForSequenceClassification);
    expect(r.tokenizer).toBeUndefined();
    r.model.dispose();
    const dir = join(tmp, 'gpt');
    await saveCheckpoint(dir, { config: { model_type: 'gpt2' }, tensors: { x: tf.zeros([1]) } });
    const err = await loadPretrained(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointMismatchError).code).toBe('CHECKPOINT_MISMATCH');
  });

  it('the backbone loads from a masked-LM folder: the missing pooler starts fresh, with a warning', async () => {
    const warnings: string[] = [];
    const model = await loadBertModel(join(fixtures, 'bert-mlm'), { onWarning: (w) => warnings.push(w) });
    expect(model.pooler).toBeDefined();
    expect(warnings).toEqual([
      expect.stringMatching(/BertModel.*newly initialised: pooler\.dense\.weight, pooler\.dense\.bias/),
    ]);
    model.dispose();
  });
});
