import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadSequenceClassifier } from '@transformer-kit/bert';
import { initBackend } from '@transformer-kit/core';
import { loraState } from '@transformer-kit/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FineTuneExperiment, type FineTuneSettings, loraTargets, predictProbs } from '../src/finetune.js';
import { readLabelledTable, splitData } from '../src/table.js';

// FineTuneExperiment's two sinks, save (the CLI: a folder on disk) and encode (the page: files in memory),
// write the same files by one decision: with LoRA a PEFT adapter folder, or the merged model as an HF
// folder; without LoRA the HF folder. The page calls encode, so this is the page's save, checked in Node.

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tk-finetune-save-'));
const split = splitData(
  readLabelledTable(readFileSync(join(fixtures, 'sentiment-small.csv'), 'utf8'), 'sentiment-small.csv'),
  0.2,
  0,
);
const settings: FineTuneSettings = {
  epochs: 1,
  batchSize: 16,
  lr: 5e-3,
  maxLength: 32,
  accumulationSteps: 1,
  recompute: false,
  seed: 0,
};
const files = (d: string) =>
  Object.fromEntries(readdirSync(d).map((f) => [f, new Uint8Array(readFileSync(join(d, f)))]));

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FineTuneExperiment: save and encode write the same folder', () => {
  it("LoRA: 'adapter' is the PEFT folder in both; 'merged' folds the adapters and gives the HF folder", async () => {
    const before = tf.memory().numTensors;
    const exp = await FineTuneExperiment.create(join(fixtures, 'tiny-bert'), split, { ...settings, lora: 2 });
    try {
      expect(loraState(exp.model)?.config.targetModules).toEqual(loraTargets('bert'));
      await exp.loop.run();
      const encoded = await exp.encode({ as: 'adapter', baseModel: 'tiny-bert' });
      await exp.save(join(dir, 'adapter'), { as: 'adapter', baseModel: 'tiny-bert' });
      expect([...encoded.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      expect(Object.fromEntries(encoded)).toEqual(files(join(dir, 'adapter')));
      expect(JSON.parse(new TextDecoder().decode(encoded.get('adapter_config.json')))).toMatchObject({
        peft_type: 'LORA',
        r: 2,
        base_model_name_or_path: 'tiny-bert',
        target_modules: ['query', 'value'],
      });
      expect(loraState(exp.model)).toBeDefined();

      const probs = await exp.predict(split.validation);
      const merged = await exp.encode({ as: 'merged' });
      expect(loraState(exp.model)).toBeUndefined();
      expect([...merged.keys()].sort()).toEqual([
        'config.json',
        'model.safetensors',
        'tokenizer.json',
        'vocab.txt',
      ]);
      await exp.save(join(dir, 'merged'));
      expect(Object.fromEntries(merged)).toEqual(files(join(dir, 'merged')));
      const back = await loadSequenceClassifier(merged, { labels: split.labels });
      try {
        const again = await predictProbs(back.model, back.tokenizer!, split.validation, exp.maxLength);
        let maxDiff = 0;
        for (let i = 0; i < probs.length; i++)
          for (let j = 0; j < probs[i]!.length; j++)
            maxDiff = Math.max(maxDiff, Math.abs(probs[i]![j]! - again[i]![j]!));
        // Merging changes the float order of the sums: equal within float32 rounding.
        expect(maxDiff).toBeLessThan(1e-5);
        expect(back.newHead).toBe(false);
      } finally {
        back.model.dispose();
      }
    } finally {
      exp.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  it("without LoRA 'adapter' has nothing to write: the HF folder either way", async () => {
    const exp = await FineTuneExperiment.create(join(fixtures, 'tiny-bert'), split, settings);
    try {
      const a = await exp.encode({ as: 'adapter' });
      const b = await exp.encode();
      expect([...a.keys()].sort()).toEqual([
        'config.json',
        'model.safetensors',
        'tokenizer.json',
        'vocab.txt',
      ]);
      expect(Object.fromEntries(a)).toEqual(Object.fromEntries(b));
    } finally {
      exp.dispose();
    }
  }, 60_000);
});
