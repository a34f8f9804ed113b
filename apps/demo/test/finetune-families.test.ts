import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  DistilBertForSequenceClassification,
  loadDistilBertPretrained,
  loadRobertaPretrained,
  loadSequenceClassifier,
  RobertaForSequenceClassification,
} from '@transformer-kit/bert';
import { initBackend } from '@transformer-kit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeHub, startFakeHub } from '../../../packages/core/test/hub-server.js';
import { main, parseOptions } from '../src/cli.js';
import { DEFAULT_SETTINGS, FineTuneExperiment, predictProbs } from '../src/finetune.js';
import { runFineTune } from '../src/finetune-cli.js';
import type { Output } from '../src/io.js';
import { readLabelledTable, splitData } from '../src/table.js';

// `pnpm demo finetune` on DistilBERT and RoBERTa folders (tiny MLM checkpoints from the bert package's
// fixtures, with a WordPiece / byte-level BPE tokenizer) and on a Hub id served from 127.0.0.1: config.json's
// model_type picks the family; each trains, saves an HF folder of its family and reloads identically.

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tk-finetune-families-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Two-word rows the tiny vocabularies spell (RoBERTa's is byte-level letters: short rows stay under its
// 24 usable positions).
const POS = ['good', 'great', 'fine', 'nice', 'fun', 'best'];
const NEG = ['bad', 'awful', 'poor', 'sad', 'dull', 'worst'];
const LEAD = ['so', 'very', 'a', 'it', 'the', 'and', 'is', 'was'];
const rows: string[] = ['text,label'];
for (const lead of LEAD)
  for (let i = 0; i < POS.length; i++) {
    rows.push(`${lead} ${POS[i]},positive`);
    rows.push(`${lead} ${NEG[i]},negative`);
  }
const csv = join(dir, 'words.csv');
writeFileSync(csv, `${rows.join('\n')}\n`);

const FAST = ['--lr', '3e-3', '--batch-size', '8', '--epochs', '8', '--backend', 'wasm'];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function capture(): Output & { text: () => string } {
  const lines: string[] = [];
  return {
    log: (l) => void lines.push(l),
    write: (c) => void lines.push(c),
    progress: false,
    text: () => lines.join('\n'),
  };
}

const FAMILIES = [
  {
    name: 'DistilBERT',
    from: join(fixtures, 'tiny-distilbert'),
    type: 'distilbert',
    architecture: 'DistilBertForSequenceClassification',
    load: loadDistilBertPretrained,
    cls: DistilBertForSequenceClassification,
    files: ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt'],
  },
  {
    name: 'RoBERTa',
    from: join(fixtures, 'tiny-roberta'),
    type: 'roberta',
    architecture: 'RobertaForSequenceClassification',
    load: loadRobertaPretrained,
    cls: RobertaForSequenceClassification,
    files: ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json', 'merges.txt'],
  },
] as const;

describe('pnpm demo finetune: the folder decides the family (wasm)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(
    FAMILIES,
  )('$name: loss falls, the saved $architecture folder reloads with identical predictions, nothing leaks', async (f) => {
    const out = join(dir, `out-${f.type}`);
    const opts = parseOptions(['finetune', '--from', f.from, '--data', csv, '--out', out, ...FAST]);
    if (opts === 'help') throw new Error('unexpected');
    const before = tf.memory().numTensors;
    const log = capture();
    const r = await runFineTune(opts, log);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.labels).toEqual(['negative', 'positive']);
    expect(r.newHead).toBe(true);
    expect(r.losses).toHaveLength(80);
    expect(mean(r.losses.slice(-10))).toBeLessThan(mean(r.losses.slice(0, 10)) - 0.15);
    expect(r.final.accuracy).toBeGreaterThan(r.majority.accuracy + 0.3);
    expect(r.reloadIdentical).toBe(true);
    expect(log.text()).toContain(`${f.name}: 2 layers, hidden 32, 4 heads, vocabulary 64`);
    expect(log.text()).toMatch(/reloaded: identical predictions on all \d+ validation rows/);
    for (const file of f.files) expect(existsSync(join(out, file)), file).toBe(true);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(saved.model_type).toBe(f.type);
    expect(saved.architectures).toEqual([f.architecture]);
    expect(saved.id2label).toEqual({ 0: 'negative', 1: 'positive' });

    // The family's own AutoModel reads the folder back as its classifier, with the tokenizer.
    const back = await f.load(out);
    expect(back.model).toBeInstanceOf(f.cls);
    expect(back.tokenizer).toBeDefined();
    back.model.dispose();

    // Fine-tuning the saved classifier again keeps its head (same labels).
    const again = capture();
    const opts2 = parseOptions([
      'finetune',
      '--from',
      out,
      '--data',
      csv,
      '--out',
      join(dir, `again-${f.type}`),
      ...FAST,
      '--epochs',
      '1',
    ]);
    if (opts2 === 'help') throw new Error('unexpected');
    const r2 = await runFineTune(opts2, again);
    expect(r2.newHead).toBe(false);
    expect(r2.reloadIdentical).toBe(true);
  });

  it("the page's calls: a RoBERTa experiment classifies with attention maps and its download reloads identically", async () => {
    const split = splitData(readLabelledTable(readFileSync(csv, 'utf8'), 'words.csv'), 0.2, 0);
    const before = tf.memory().numTensors;
    const exp = await FineTuneExperiment.create(FAMILIES[1].from, split, {
      ...DEFAULT_SETTINGS,
      maxLength: 64,
    });
    try {
      expect(exp.maxLength).toBe(24); // 26 position rows less RoBERTa's padding offset
      const c = await exp.classify('so good');
      expect(c.labels).toEqual(['negative', 'positive']);
      expect(c.attention.layers).toHaveLength(2);
      expect(c.attention.numHeads).toBe(4);
      expect(c.tokens[0]).toBe('<s>');
      const back = await loadSequenceClassifier(await exp.encode(), { labels: split.labels });
      expect(back.modelType).toBe('roberta');
      expect(back.newHead).toBe(false);
      const rows = split.validation.slice(0, 5);
      expect(await predictProbs(back.model, back.tokenizer!, rows, exp.maxLength)).toEqual(
        await exp.predict(rows),
      );
      back.model.dispose();
    } finally {
      exp.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  // LoRA on each family with PEFT's default targets for it (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING)
  // and the family's classification head in modules_to_save.
  const LORA = {
    distilbert: {
      targets: ['q_lin', 'v_lin'],
      head: ['pre_classifier', 'classifier'],
      key: 'distilbert.transformer.layer.1.attention.v_lin',
      headKey: 'pre_classifier.weight',
    },
    roberta: {
      targets: ['query', 'value'],
      head: ['classifier'],
      key: 'roberta.encoder.layer.1.attention.self.value',
      headKey: 'classifier.out_proj.weight',
    },
  } as const;

  it.each(
    FAMILIES,
  )('$name --lora 4: loss falls, the PEFT adapter reloads onto the base with identical predictions; --save merged too', async (f) => {
    const want = LORA[f.type];
    const adapterDir = join(dir, `lora-${f.type}`);
    // Frozen random features (the fixtures are random-initialised): LoRA needs more steps than the full run.
    // Seed 1: with seed 0's dropout masks and shuffle the tiny RoBERTa's loss stalls (seeds 1-3 learn it).
    const lora = ['--lora', '4', '--lr', '1e-2', '--epochs', '16', '--seed', '1'];
    const opts = parseOptions([
      'finetune',
      '--from',
      f.from,
      '--data',
      csv,
      '--out',
      adapterDir,
      ...FAST,
      ...lora,
    ]);
    if (opts === 'help') throw new Error('unexpected');
    const before = tf.memory().numTensors;
    const log = capture();
    const r = await runFineTune(opts, log);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.losses).toHaveLength(160);
    expect(mean(r.losses.slice(-10))).toBeLessThan(mean(r.losses.slice(0, 10)) - 0.08);
    expect(r.final.accuracy).toBeGreaterThan(r.majority.accuracy + 0.2);
    // The reloaded base + adapter gives the trained model's probabilities exactly (max |Δp| = 0).
    expect(r.reloadIdentical).toBe(true);
    expect(log.text()).toMatch(/reloaded: identical predictions .*\(max \|Δp\| = 0\)/);
    expect(log.text()).toContain(`LoRA r 4 on ${want.targets.join('/')}`);
    const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'SEQ_CLS',
      r: 4,
      lora_alpha: 8,
      target_modules: want.targets,
      modules_to_save: want.head,
      base_model_name_or_path: f.from,
    });
    // PEFT's tensor names under the family's HF module names.
    const st = readFileSync(join(adapterDir, 'adapter_model.safetensors'));
    const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8'));
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names).toContain(`base_model.model.${want.key}.lora_A.weight`);
    expect(header[`base_model.model.${want.key}.lora_B.weight`].shape).toEqual([32, 4]);
    expect(names).toContain(`base_model.model.${want.headKey}`);
    // 2 layers × 2 targets × (A, B), plus the head's weights and biases.
    expect(names.filter((k) => k.includes('.lora_'))).toHaveLength(8);

    const mergedDir = join(dir, `lora-merged-${f.type}`);
    const merged = parseOptions([
      'finetune',
      '--from',
      f.from,
      '--data',
      csv,
      '--out',
      mergedDir,
      ...FAST,
      ...lora,
      '--epochs',
      '1',
      '--save',
      'merged',
    ]);
    if (merged === 'help') throw new Error('unexpected');
    const m = await runFineTune(merged, capture());
    expect(m.reloadIdentical).toBe(true);
    expect(JSON.parse(readFileSync(join(mergedDir, 'config.json'), 'utf8')).model_type).toBe(f.type);
    expect(existsSync(join(mergedDir, 'adapter_config.json'))).toBe(false);
  });
});

describe('pnpm demo finetune --from a Hub id (a stand-in Hub on 127.0.0.1)', () => {
  let hub: FakeHub;
  const saved = { endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE };
  beforeAll(async () => {
    await initBackend('wasm');
    hub = await startFakeHub({
      'tiny/distilbert-mlm': { dir: FAMILIES[0].from, commit: 'd15711be000000000000000000000000000000a1' },
    });
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_HUB_CACHE = join(dir, 'hub-cache');
  });
  afterAll(async () => {
    for (const [k, v] of [
      ['HF_ENDPOINT', saved.endpoint],
      ['HF_HUB_CACHE', saved.cache],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    await hub.close();
  });

  it('downloads into the huggingface_hub cache, fine-tunes the family config.json names, saves and reloads identically', async () => {
    const out = join(dir, 'out-hub');
    const log = capture();
    const opts = parseOptions([
      'finetune',
      '--from',
      'tiny/distilbert-mlm',
      '--data',
      csv,
      '--out',
      out,
      ...FAST,
    ]);
    if (opts === 'help') throw new Error('unexpected');
    const r = await runFineTune(opts, log);
    expect(r.reloadIdentical).toBe(true);
    expect(log.text()).toContain('DistilBERT: 2 layers');
    expect(log.text()).toMatch(/downloaded: tiny\/distilbert-mlm\/model\.safetensors/);
    const snapshot = join(
      dir,
      'hub-cache',
      'models--tiny--distilbert-mlm',
      'snapshots',
      'd15711be000000000000000000000000000000a1',
    );
    expect(existsSync(join(snapshot, 'model.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).architectures).toEqual([
      'DistilBertForSequenceClassification',
    ]);
    // The same run from the folder trains the same model: the Hub id is only where the files come from.
    const local = await runFineTune(
      parseOptions([
        'finetune',
        '--from',
        FAMILIES[0].from,
        '--data',
        csv,
        '--out',
        join(dir, 'out-local'),
        ...FAST,
      ]) as Exclude<ReturnType<typeof parseOptions>, 'help'>,
      capture(),
    );
    expect(local.losses).toEqual(r.losses);
  });

  it('an unknown repository is one line and exit 2', async () => {
    const err: string[] = [];
    const code = await main(
      ['finetune', '--from', 'tiny/no-such-model', '--data', csv, '--out', join(dir, 'none'), ...FAST],
      capture(),
      (l) => err.push(l),
    );
    expect(code).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^error: .*tiny\/no-such-model/)]);
  });
});
