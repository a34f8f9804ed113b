/**
 * `pnpm demo`: trains a small BERT sentiment classifier and a small GPT on this machine, then uses them.
 * Bad input (an unknown flag, a missing checkpoint, empty text) is one line on stderr and a non-zero exit.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BACKEND_CHOICES,
  BACKEND_ENV_VAR,
  type BackendChoice,
  initBackend,
  TransformerKitError,
} from '@transformer-kit/core';
import { describeBackend } from './describe.js';
import { DEFAULT_SETTINGS } from './finetune.js';
import { checkFineTuneInputs, type FineTuneCliOptions, runFineTune } from './finetune-cli.js';
import { checkFineTuneGptInputs, type FineTuneGptCliOptions, runFineTuneGpt } from './finetune-gpt-cli.js';
import { runGenerate, runSample } from './generate-cli.js';
import { type Output, UsageError } from './io.js';
import { runPretrain } from './pretrain-cli.js';
import { enableRelaxedSimd, runWithDawnFilter, useOwnStderr, wantsDawnFilter } from './runtime.js';
import { runClassify, runSentiment } from './sentiment-cli.js';
import { runVit } from './vit-cli.js';

const USAGE = `transformer-kit demo: train and use small transformers on this machine, offline.

Usage: pnpm demo [command] [options]

Commands:
  all                 the whole story: sentiment (pretraining included), generate, vit (default)
  pretrain            masked-word pretraining of the small BERT on State of the Union addresses + Moby Dick
                      (cached in <checkpoint-dir>/pretrained-bert), with fill-in-the-blank guesses
  sentiment           fine-tune the small BERT on 3,000 labelled sentences from the pretrained encoder and
                      from scratch (3 seeds each), [CLS] head and mean-pool; pretrains first unless cached
  generate            train a small character-level GPT on Moby Dick and stream a sample
  classify <text>     classify a sentence with the saved sentiment checkpoint
  sample [prompt]     continue a prompt with the saved GPT checkpoint
  vit                 MAE-pretrain a small ViT on the UCI digits, then fine-tune it vs from scratch
  finetune            fine-tune a HuggingFace BERT, DistilBERT or RoBERTa folder or Hub id on a CSV/TSV of your labels (text[,text_pair],label)
  finetune-gpt        fine-tune a HuggingFace GPT-2 folder on a plain-text file (held-out perplexity before/after)

Options:
  --backend <name>        ${BACKEND_CHOICES.join(' | ')} (default: auto, or $${BACKEND_ENV_VAR})
  --steps <n>             training steps per model (default: sentiment 150, generate 1000, vit MAE 800)
  --pretrain-steps <n>    masked-LM pretraining steps (default: 1000)
  --checkpoint-dir <dir>  where checkpoints are written and read (default: ./checkpoints)
  --tokens <n>            characters to generate (default: 400)
  --seed <n>              seed for data split, initialisation and sampling (default: 0)
  --fast                  tiny models, fewer steps: a smoke test (under a minute)

Fine-tuning (pnpm demo finetune --from DIR|HUB_ID --data FILE.csv; config.json's model_type picks the family):
  --from <dir|id>         HF folder or Hub id (cached as huggingface_hub does; HF_ENDPOINT honoured):
                          config.json + weights + tokenizer.json, vocab.txt or vocab.json + merges.txt
                          (Bert/DistilBert/Roberta Model, ForMaskedLM or ForSequenceClassification)
  --data <file>           CSV or TSV with a header text[,text_pair],label (or 2-3 columns in that order)
  --label-column <name>   the label column's header name (default: label)
  --epochs <n>            passes over the training split (default: ${DEFAULT_SETTINGS.epochs})
  --batch-size <n>        examples per micro-batch (default: ${DEFAULT_SETTINGS.batchSize})
  --lr <x>                peak learning rate, linear warmup then cosine decay (default: ${DEFAULT_SETTINGS.lr})
  --max-length <n>        tokens per example (default: ${DEFAULT_SETTINGS.maxLength})
  --accumulation-steps <n> micro-batches per optimizer step (default: 1)
  --recompute             recompute activations in the backward pass (less memory)
  --eval-every <n>        validation accuracy/F1 every n steps (default: once per epoch)
  --out <dir>             where the fine-tuned HF folder goes (default: <checkpoint-dir>/finetuned-bert)
  --lora <r>              train LoRA adapters of rank r (PEFT's semantics: query/value, alpha 2r) instead of
                          every weight; saves a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)
  --save <adapter|merged> with --lora: the PEFT adapter folder (default) or the merged model as an HF folder

Fine-tuning GPT-2 (pnpm demo finetune-gpt --from DIR --text FILE [--lora R]):
  --from <dir>            HF GPT-2 folder with its tokenizer (vocab.json + merges.txt or tokenizer.json)
  --text <file>           plain text; the last tenth is held out for perplexity
  --lora, --save, --out, --lr, --batch-size (default 4), --max-length (default 128), --steps (default 200)
  --verbose               also show what the runtimes print (TF.js's tfjs-node banner, Dawn's GPU probe)
  -h, --help              this text`;

const COMMANDS = [
  'all',
  'pretrain',
  'sentiment',
  'generate',
  'classify',
  'sample',
  'vit',
  'finetune',
  'finetune-gpt',
] as const;
type Command = (typeof COMMANDS)[number];

export interface DemoOptions {
  command: Command;
  positionals: string[];
  backend: BackendChoice | undefined;
  steps: number | undefined;
  /** Masked-LM pretraining steps (default: pretrainSizes'). */
  pretrainSteps: number | undefined;
  checkpointDir: string;
  tokens: number;
  seed: number;
  fast: boolean;
  verbose: boolean;
  /** `finetune`'s options (unset ones take DEFAULT_SETTINGS). */
  finetune: FineTuneCliOptions;
  /** `finetune-gpt`'s options. */
  finetuneGpt: FineTuneGptCliOptions;
}

function intOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** Parses argv (without node and the script) into options; throws UsageError with a one-line message. */
export function parseOptions(argv: string[]): DemoOptions | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    // node's messages are long and multi-line; keep the first sentence and point at --help.
    const first = String((e as Error).message).split(/\.\s|\n/)[0];
    throw new UsageError(`${first} (see --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [first, ...rest] = positionals;
  const command = (first ?? 'all') as Command;
  if (!COMMANDS.includes(command))
    throw new UsageError(`unknown command '${first}'; valid: ${COMMANDS.join(', ')} (see --help)`);
  const backend = values.backend as BackendChoice | undefined;
  if (backend !== undefined && !BACKEND_CHOICES.includes(backend)) {
    throw new UsageError(`unknown backend '${backend}'; valid: ${BACKEND_CHOICES.join(', ')}`);
  }
  if (
    ['all', 'pretrain', 'sentiment', 'generate', 'vit', 'finetune', 'finetune-gpt'].includes(command) &&
    rest.length > 0
  ) {
    throw new UsageError(`'${command}' takes no arguments, got '${rest.join(' ')}' (see --help)`);
  }
  return {
    command,
    positionals: rest,
    backend,
    steps: intOption('steps', values.steps, 1),
    pretrainSteps: intOption('pretrain-steps', values['pretrain-steps'], 1),
    checkpointDir: resolve(values['checkpoint-dir'] ?? 'checkpoints'),
    tokens: intOption('tokens', values.tokens, 1) ?? 400,
    seed: intOption('seed', values.seed, 0) ?? 0,
    fast: values.fast ?? false,
    verbose: values.verbose ?? false,
    finetune: {
      from: values.from,
      data: values.data,
      labelColumn: values['label-column'],
      out: values.out,
      epochs: intOption('epochs', values.epochs, 1),
      batchSize: intOption('batch-size', values['batch-size'], 1),
      lr: numberOption('lr', values.lr),
      maxLength: intOption('max-length', values['max-length'], 8),
      accumulationSteps: intOption('accumulation-steps', values['accumulation-steps'], 1),
      evalEvery: intOption('eval-every', values['eval-every'], 1),
      recompute: values.recompute ?? false,
      lora: intOption('lora', values.lora, 1),
      save: values.save,
    },
    finetuneGpt: {
      from: values.from,
      text: values.text,
      lora: intOption('lora', values.lora, 1),
      save: values.save,
      out: values.out,
      batchSize: intOption('batch-size', values['batch-size'], 1),
      maxLength: intOption('max-length', values['max-length'], 8),
      lr: numberOption('lr', values.lr),
    },
  };
}

function numberOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${name} must be a number > 0, got '${value}'`);
  return n;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      backend: { type: 'string' },
      steps: { type: 'string' },
      'pretrain-steps': { type: 'string' },
      'checkpoint-dir': { type: 'string' },
      tokens: { type: 'string' },
      seed: { type: 'string' },
      fast: { type: 'boolean' },
      verbose: { type: 'boolean' },
      from: { type: 'string' },
      data: { type: 'string' },
      'label-column': { type: 'string' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'max-length': { type: 'string' },
      'accumulation-steps': { type: 'string' },
      'eval-every': { type: 'string' },
      recompute: { type: 'boolean' },
      lora: { type: 'string' },
      save: { type: 'string' },
      text: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const stdio: Output = {
  log: (line) => process.stdout.write(`${line}\n`),
  write: (chunk) => process.stdout.write(chunk),
  progress: true,
};

/** The whole CLI; returns the exit code. Errors are reported here as one line, never a stack trace. */
export async function main(
  argv: string[],
  out: Output = stdio,
  err: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  try {
    const opts = parseOptions(argv);
    if (opts === 'help') {
      out.log(USAGE);
      return 0;
    }
    // Validate cheap inputs before paying for backend start-up.
    if (opts.command === 'classify' && opts.positionals.join(' ').trim() === '') {
      throw new UsageError(
        'classify needs a non-empty sentence, e.g. pnpm demo classify "attention is not too shabby"',
      );
    }
    if (opts.command === 'finetune') checkFineTuneInputs(opts);
    if (opts.command === 'finetune-gpt') checkFineTuneGptInputs(opts);
    // Quiet unless --verbose: runtime banners and Dawn's native probe output stay out of the demo's output.
    const info = await initBackend(opts.backend, { quiet: !opts.verbose });
    if (opts.verbose) for (const l of info.quietLog) err(l);
    out.log(`backend: ${describeBackend(info)}`);
    switch (opts.command) {
      case 'all':
        await runSentiment(opts, out);
        await runGenerate(opts, out);
        await runVit(opts, out);
        break;
      case 'pretrain':
        await runPretrain(opts, out);
        break;
      case 'sentiment':
        await runSentiment(opts, out);
        break;
      case 'generate':
        await runGenerate(opts, out);
        break;
      case 'classify':
        await runClassify(opts, out);
        break;
      case 'sample':
        await runSample(opts, out);
        break;
      case 'vit':
        await runVit(opts, out);
        break;
      case 'finetune':
        await runFineTune(opts, out);
        break;
      case 'finetune-gpt':
        await runFineTuneGpt(opts, out);
        break;
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof TransformerKitError) {
      err(`error: ${oneLine(e.message)}`);
      return 2;
    }
    err(`error: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    if (process.env.DEBUG) console.error(e);
    return 1;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

const isEntry =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  const argv = process.argv.slice(2);
  enableRelaxedSimd();
  useOwnStderr();
  process.exitCode = filtersDawn(argv) ? await runWithDawnFilter() : await main(argv);
}

/** Whether to rerun with Dawn's notices filtered; arguments that do not parse are main's to report. */
function filtersDawn(argv: string[]): boolean {
  try {
    const opts = parseOptions(argv);
    return opts !== 'help' && wantsDawnFilter(opts);
  } catch {
    return false;
  }
}
