import { IdOutOfRangeError, initBackend } from '@transformer-kit/core';
import { Tokenizer } from '@transformer-kit/tokenizer';
import { beforeAll, describe, expect, it } from 'vitest';
import { BertForSequenceClassification, bertConfig, fineTune } from '../src/index.js';
import { VOCAB } from './task.js';

// The learning check (fine-tuning beats a bag of words) is in bert.suite.ts, run on every backend.
describe.each(['wasm', 'cpu'] as const)('fine-tuning on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('rejects labels outside [0, numLabels) before training', async () => {
    const tokenizer = Tokenizer.wordPiece(VOCAB);
    const bert = new BertForSequenceClassification(
      bertConfig('tiny', {
        vocabSize: VOCAB.length,
        hiddenSize: 16,
        numLayers: 1,
        numHeads: 2,
        intermediateSize: 32,
        maxPositions: 16,
      }),
      { numLabels: 2 },
    );
    await expect(fineTune(bert, tokenizer, [{ text: 'the film was good', label: 2 }])).rejects.toThrow(
      IdOutOfRangeError,
    );
    await expect(fineTune(bert, tokenizer, [{ text: 'the film was good', label: 2 }])).rejects.toThrow(
      /example 0 has label 2, outside \[0, 2\)/,
    );
    bert.dispose();
  });
});
