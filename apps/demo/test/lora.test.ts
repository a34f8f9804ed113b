import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setWasmHeapBudget, wasmHeapStats } from '@transformer-kit/core';
import { GPT, pretrain, savePretrained } from '@transformer-kit/gpt';
import { trainByteLevelBPE } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, parseOptions } from '../src/cli.js';
import { runFineTune } from '../src/finetune-cli.js';
import { runFineTuneGpt } from '../src/finetune-gpt-cli.js';
import type { Output } from '../src/io.js';

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const tinyBert = join(fixtures, 'tiny-bert');
const csv = join(fixtures, 'sentiment-small.csv');
const dir = mkdtempSync(join(tmpdir(), 'tk-lora-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): Output & { text: () => string } {
  const lines: string[] = [];
  return {
    log: (l) => void lines.push(l),
    write: (c) => void lines.push(c),
    progress: false,
    text: () => lines.join('\n'),
  };
}
const options = (argv: string[]) => {
  const o = parseOptions(argv);
  if (o === 'help') throw new Error('unexpected');
  return o;
};

// LoRA adapts a pretrained model: the base GPT is pretrained (every weight) on text A in beforeAll, then
// finetune-gpt adapts it to text B, whose held-out last tenth it has not seen.
const A = [
  'the whale swam under the grey sea and the sailors watched it go.',
  'a ship sailed east at dawn with the wind behind it.',
  'the captain kept a log of every whale the crew had seen.',
  'at night the sea was calm and the stars were bright above the ship.',
];
const B = [
  'the crew sang as the ship turned west into the wind.',
  'every sailor saw the whale rise from the calm grey sea.',
  'at dawn the captain watched the stars fade above the sea.',
];
const text = (s: string[], n: number) => Array.from({ length: n }, (_, i) => s[(i * 7) % s.length]).join(' ');
const TEXT_A = text(A, 160);
const TEXT_B = text(B, 120);

describe('demo --lora (wasm)', () => {
  let gptDir: string;
  let textFile: string;
  beforeAll(async () => {
    await initBackend('wasm');
    gptDir = join(dir, 'tiny-gpt2');
    textFile = join(dir, 'text.txt');
    writeFileSync(textFile, TEXT_B);
    const tokenizer = trainByteLevelBPE([TEXT_A, TEXT_B], { vocabSize: 300 });
    const gpt = new GPT({
      vocabSize: tokenizer.vocabSize,
      maxPositions: 64,
      numLayers: 2,
      numHeads: 2,
      hiddenSize: 32,
    });
    const ids = tokenizer.encode(TEXT_A, null, { addSpecialTokens: false }).ids;
    const steps = 150;
    await pretrain(
      gpt,
      { train: ids },
      {
        steps,
        batchSize: 8,
        sequenceLength: 32,
        lr: 3e-3,
        warmupSteps: 10,
        totalSteps: steps,
        weightDecay: 0,
        clipNorm: 1,
      },
    );
    await savePretrained(gpt, gptDir, { tokenizer });
    gpt.dispose();
  });

  it('bad --lora / --save input is one line and exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['finetune', '--from', tinyBert, '--data', csv, '--lora', '0'],
        /--lora must be an integer >= 1, got '0'/,
      ],
      [
        ['finetune', '--from', tinyBert, '--data', csv, '--save', 'merged'],
        /--save takes 'adapter' or 'merged' with --lora R/,
      ],
      [['finetune-gpt', '--from', tinyBert], /finetune-gpt needs --text FILE/],
      [['finetune-gpt', '--text', csv], /finetune-gpt needs --from DIR/],
      [
        ['finetune-gpt', '--from', tinyBert, '--text', csv, '--save', 'adapter'],
        /--save adapter needs --lora R/,
      ],
    ];
    for (const [argv, message] of cases) {
      const err: string[] = [];
      const code = await main([...argv, '--backend', 'wasm'], capture(), (l) => err.push(l));
      expect(err, argv.join(' ')).toEqual([expect.stringMatching(message)]);
      expect(code).toBe(2);
    }
  });

  it('finetune --lora 4: adapters train, the PEFT folder reloads onto the base with identical predictions', async () => {
    const out = join(dir, 'bert-lora');
    const opts = options([
      'finetune',
      '--from',
      tinyBert,
      '--data',
      csv,
      '--out',
      out,
      '--lora',
      '4',
      '--lr',
      '1e-2',
      '--batch-size',
      '16',
      '--epochs',
      '3',
    ]);
    const before = tf.memory().numTensors;
    const log = capture();
    const r = await runFineTune(opts, log);
    expect(tf.memory().numTensors).toBe(before);
    // tiny-bert is random-initialised: frozen random features leave LoRA little to adapt (the full
    // fine-tune in finetune.test.ts learns); here every step ran with a finite loss.
    expect(r.losses).toHaveLength(60);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(r.reloadIdentical).toBe(true);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    // tiny-bert is a BertForMaskedLM folder: its new pooler trains and is saved beside the classifier.
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'SEQ_CLS',
      r: 4,
      lora_alpha: 8,
      target_modules: ['query', 'value'],
      modules_to_save: ['classifier', 'pooler.dense'],
      base_model_name_or_path: tinyBert,
    });
    expect(log.text()).toMatch(/LoRA r 4 on query\/value: 0\.\d+M train/);
    expect(log.text()).toMatch(/saved: .*PEFT adapter/);
  });

  it('finetune --lora 4 --save merged writes an HF folder that reloads with identical predictions', async () => {
    const out = join(dir, 'bert-merged');
    const opts = options([
      'finetune',
      '--from',
      tinyBert,
      '--data',
      csv,
      '--out',
      out,
      '--lora',
      '4',
      '--save',
      'merged',
      '--lr',
      '1e-2',
      '--batch-size',
      '16',
      '--epochs',
      '1',
    ]);
    const r = await runFineTune(opts, capture());
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'adapter_config.json'))).toBe(false);
    expect(r.reloadIdentical).toBe(true);
  });

  it('finetune-gpt: a full fine-tune the heap cannot hold is refused before any step (exit 2, names --lora)', async () => {
    // A heap with room for the tiny GPT's weights (loading them takes up to three copies' worth) and 256 KB:
    // its full step's gradients and activations (~1.2 MB; the real case is GPT-2 medium on wasm) do not fit.
    const weights = statSync(join(gptDir, 'model.safetensors')).size;
    const args = ['finetune-gpt', '--from', gptDir, '--text', textFile, '--steps', '2', '--max-length', '32'];
    setWasmHeapBudget(wasmHeapStats()!.liveBytes + 3 * weights + 2 ** 18);
    try {
      const before = tf.memory().numTensors;
      const err: string[] = [];
      const code = await main(
        [...args, '--out', join(dir, 'gpt-refused'), '--backend', 'wasm'],
        capture(),
        (l) => err.push(l),
      );
      expect(code).toBe(2);
      expect(err).toEqual([
        expect.stringMatching(/GPT training at 4 × 32: .* do not fit the .* wasm heap .*\(here: --lora 8\)$/),
      ]);
      expect(existsSync(join(dir, 'gpt-refused'))).toBe(false);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      setWasmHeapBudget();
    }
  });

  it('finetune-gpt --lora 4: held-out perplexity falls; the adapter reloads to the same perplexity; --save merged too', async () => {
    for (const save of ['adapter', 'merged'] as const) {
      const out = join(dir, `gpt-${save}`);
      const opts = options([
        'finetune-gpt',
        '--from',
        gptDir,
        '--text',
        textFile,
        '--lora',
        '4',
        '--save',
        save,
        '--out',
        out,
        '--steps',
        '40',
        '--max-length',
        '32',
        '--lr',
        '1e-2',
      ]);
      const before = tf.memory().numTensors;
      const log = capture();
      const r = await runFineTuneGpt(opts, log);
      expect(tf.memory().numTensors).toBe(before);
      expect(r.perplexityAfter).toBeLessThan(0.75 * r.perplexityBefore);
      expect(r.trainable).toBe(2 * (32 * 4 + 4 * 96));
      expect(Math.abs(r.perplexityReloaded - r.perplexityAfter) / r.perplexityAfter).toBeLessThan(1e-4);
      expect(existsSync(join(out, save === 'adapter' ? 'adapter_config.json' : 'model.safetensors'))).toBe(
        true,
      );
      expect(log.text()).toMatch(/held-out perplexity after: +[\d.]+ \(before [\d.]+\)/);
    }
  });
});
