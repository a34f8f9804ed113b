/**
 * `pnpm demo`: trains a small BERT sentiment classifier and a small GPT on this machine, then uses them.
 * Bad input (an unknown flag, a missing checkpoint, empty text) is one line on stderr and a non-zero exit.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BACKEND_CHOICES, BACKEND_ENV_VAR, initBackend, TransformerKitError } from '@transformer-kit/core';
import { describeBackend } from './describe.js';
import { DEFAULT_SETTINGS } from './finetune.js';
import { checkFineTuneInputs, runFineTune } from './finetune-cli.js';
import { checkFineTuneGptInputs, runFineTuneGpt } from './finetune-gpt-cli.js';
import { runGenerate, runSample } from './generate-cli.js';
import { type Output, UsageError } from './io.js';
import { parseOptions } from './options.js';
import { runPretrain } from './pretrain-cli.js';
import { enableRelaxedSimd, runWithDawnFilter, useOwnStderr, wantsDawnFilter } from './runtime.js';
import { runClassify, runSentiment } from './sentiment-cli.js';
import { runVit } from './vit-cli.js';

export { type DemoOptions, parseOptions } from './options.js';

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
    // Every error the demo and the packages raise on purpose (UsageError and the tokenizer's included).
    if (e instanceof TransformerKitError) {
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
