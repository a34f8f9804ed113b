/**
 * The CLI's options: the commands, every flag, and argv parsed into one object that each command reads.
 * Its own module so that cli.ts (which dispatches) and the *-cli.ts commands (which read the options) both
 * import it, and not each other.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '@transformer-kit/core';
import { UsageError } from './io.js';

export const COMMANDS = [
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
export type Command = (typeof COMMANDS)[number];

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

export interface FineTuneCliOptions {
  from?: string | undefined;
  data?: string | undefined;
  labelColumn?: string | undefined;
  out?: string | undefined;
  epochs?: number | undefined;
  batchSize?: number | undefined;
  lr?: number | undefined;
  maxLength?: number | undefined;
  accumulationSteps?: number | undefined;
  evalEvery?: number | undefined;
  recompute: boolean;
  /** LoRA rank (undefined: full fine-tuning). */
  lora?: number | undefined;
  /** With LoRA: 'adapter' (a PEFT folder, the default) or 'merged' (an HF folder). */
  save?: string | undefined;
}

export interface FineTuneGptCliOptions {
  from?: string | undefined;
  text?: string | undefined;
  /** LoRA rank; undefined: full fine-tuning. */
  lora?: number | undefined;
  /** 'adapter' (PEFT folder, the default with --lora) or 'merged' (an HF GPT-2 folder). */
  save?: string | undefined;
  out?: string | undefined;
  batchSize?: number | undefined;
  maxLength?: number | undefined;
  lr?: number | undefined;
}
