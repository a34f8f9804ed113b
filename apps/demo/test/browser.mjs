// Browser test: the built page (dist-web/) in Debian's headless Chromium, driven by playwright-core.
// For webgpu and wasm it trains the BERT classifier and the GPT a few steps (fast sizes), checks that the
// loss drops, that the loss plots and attention heatmaps are drawn (on wasm also: masked-LM pretraining with
// its loss plot and fill-in-the-blank, then fine-tuning from the pretrained encoder), that generation streams text, and that
// a bad checkpoint file shows an error in the page; then it fine-tunes the tiny HF-layout BERT folder
// (test/fixtures/tiny-bert, made by scripts/make_finetune_fixtures.py) on a CSV in section 5: loss falls,
// validation accuracy beats the majority class, stop/resume, heatmaps, the saved folder (zip) reloads with
// identical predictions, bad data / a bad folder are errors that lose nothing; on wasm (`families`) also a
// tiny DistilBERT and RoBERTa, each fine-tuned fully and with LoRA, and LoRA proposed by the memory check on a
// BERT folder (PEFT adapter zips checked by `loraRound`). Screenshots go to test-results/ (a CI artifact).
// Exits non-zero on any failure; bounded in time.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { hubRoute } from './hub-route.mjs';
import { serve } from './serve.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(here, 'test', 'fixtures');
const bertFixtures = join(here, '..', '..', 'packages', 'bert', 'test', 'fixtures');
const dist = join(here, 'dist-web');
const artifacts = process.env.ARTIFACTS_DIR ?? join(here, 'test-results');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const backends = (process.env.BROWSER_BACKENDS ?? 'wasm,webgpu').split(',');
/** Which parts run (all by default): sections (1-4), vision, finetune (5, tiny BERT), families (5: DistilBERT,
 * RoBERTa, LoRA), search (7 and the Hub's browser cache). */
const PARTS = ['sections', 'vision', 'finetune', 'families', 'search'];
const parts = (process.env.BROWSER_PARTS ?? PARTS.join(',')).split(',');
const want = (part) => parts.includes(part);
const TOTAL_MS = 20 * 60_000;
/** GPT steps per backend (the fast BERT schedule is 150 steps: wasm runs it all, webgpu a prefix). */
const GPT_STEPS = 40;
/** BERT steps run on webgpu before Stop: SwiftShader takes seconds per step; they must match wasm's. */
const WEBGPU_BERT_STEPS = 10;

/**
 * What PEFT names for each family: its default LoRA targets (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING),
 * the HF path of a target in layer l, the head trained beside the adapters (modules_to_save) and its Linears,
 * and the classifier's HF class. BERT's base here is a BertForSequenceClassification, so its pooler is frozen.
 */
const PEFT = {
  bert: {
    targets: ['query', 'value'],
    module: (l, t) => `bert.encoder.layer.${l}.attention.self.${t}`,
    head: ['classifier'],
    headLinears: ['classifier'],
    cls: 'BertForSequenceClassification',
  },
  distilbert: {
    targets: ['q_lin', 'v_lin'],
    module: (l, t) => `distilbert.transformer.layer.${l}.attention.${t}`,
    head: ['pre_classifier', 'classifier'],
    headLinears: ['pre_classifier', 'classifier'],
    cls: 'DistilBertForSequenceClassification',
  },
  roberta: {
    targets: ['query', 'value'],
    module: (l, t) => `roberta.encoder.layer.${l}.attention.self.${t}`,
    head: ['classifier'],
    headLinears: ['classifier.dense', 'classifier.out_proj'],
    cls: 'RobertaForSequenceClassification',
  },
};

if (!existsSync(join(dist, 'index.html'))) fail(`no built page at ${dist}: run \`vite build\` first`);
if (!existsSync(chromiumPath))
  fail(`no Chromium at ${chromiumPath}: install Debian's chromium (.ci/system-deps.sh) or set CHROMIUM_PATH`);
mkdirSync(artifacts, { recursive: true });

function fail(msg) {
  console.error(`browser test FAILED: ${msg}`);
  process.exit(1);
}
const watchdog = setTimeout(() => fail(`did not finish within ${TOTAL_MS / 60000} minutes`), TOTAL_MS);

// The stand-in Hub on the page's own origin: the cross-origin-isolated page may fetch it without CORS.
const hub = hubRoute({
  'tk-test/tiny-st': join(bertFixtures, 'st-bert'),
  'tk-test/tiny-distilbert': join(fixtures, 'tiny-distilbert'),
});
const { server, url } = await serve(dist, 0, hub.handle);
const pageUrl = (backend, extra = '') =>
  `${url}?fast&gptSteps=${GPT_STEPS}&backend=${backend}&hubEndpoint=${encodeURIComponent(`${url}hub`)}${extra}`;
const profile = mkdtempSync(join(tmpdir(), 'tk-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1360, height: 900 },
  args: [
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--disable-default-apps',
    '--metrics-recording-only',
    // WebGPU without a GPU: Chromium's SwiftShader (Vulkan on the CPU) provides the adapter.
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
  ],
});

const results = [];
/** Losses per backend: the same seeded runs must give the same numbers on webgpu and wasm. */
const gptLosses = {};
const ftLosses = {};
const bertLosses = {};
function sameLosses(what, mine, backend, all) {
  all[backend] = mine;
  const [other] = Object.keys(all).filter((b) => b !== backend);
  if (!other) return;
  const diff = Math.max(...mine.map((l, i) => Math.abs(l - (all[other][i] ?? Number.NaN))));
  check(
    diff < 2e-2,
    `${backend}: ${what} losses match ${other} step for step over ${mine.length} steps (max |Δ| ${diff.toExponential(1)})`,
  );
}
let failed = false;
const check = (ok, what) => {
  results.push(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  console.log(`${ok ? '  ok  ' : '  FAIL'} ${what}`);
  if (!ok) failed = true;
};

try {
  for (const backend of backends) {
    console.log(`[${backend}]`);
    const page = await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    try {
      await runBackend(page, backend);
      if (backend === 'wasm' && want('search')) await search(context, backend);
    } catch (e) {
      check(false, `${backend}: ${e.message.split('\n')[0]}`);
      console.log(logs.slice(-20).join('\n'));
    } finally {
      await page
        .screenshot({ path: join(artifacts, `browser-${backend}.png`), fullPage: true })
        .catch(() => {});
      await page.close();
    }
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
}
console.log(`screenshots in ${artifacts}`);
if (failed) fail(results.filter((r) => r.startsWith('FAIL')).join('; '));
console.log('browser test passed');

async function runBackend(page, backend) {
  const state = () => page.evaluate(() => window.demo.state);
  await page.goto(pageUrl(backend));
  await page.waitForFunction(() => window.demo?.ready, null, { timeout: 30_000 });
  await page.evaluate(() => window.demo.ready);
  const s = await state();
  check(
    s.errors.length === 0,
    `${backend}: page started without errors ${s.errors.length ? JSON.stringify(s.errors) : ''}`,
  );
  check(
    s.backend === backend,
    `${backend}: backend in use is '${s.backend}' (${JSON.stringify(s.backendInfo)})`,
  );
  if (backend === 'wasm') {
    // Served cross-origin isolated: TF.js's threaded build, and both pools (XNNPACK's, core's kernels on
    // Web Workers) on every core by default (TF.js caps XNNPACK's at 8).
    const page0 = await page.evaluate(() => ({
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
      overridden: Object.hasOwn(navigator, 'hardwareConcurrency'),
    }));
    const w = s.backendInfo.wasm;
    const line = await page.textContent('#backend-info');
    check(page0.isolated && w?.threads === true, `${backend}: page isolated, threaded build (${line})`);
    check(
      w?.threadsCount === Math.min(page0.cores, 8) && w?.kernelThreads === page0.cores && !page0.overridden,
      `${backend}: XNNPACK on ${w?.threadsCount} and core's kernels on ${w?.kernelThreads} threads, ${page0.cores} cores (navigator restored: ${!page0.overridden})`,
    );
    check(
      line.includes(`XNNPACK on ${w?.threadsCount} thread`) &&
        line.includes(`core's kernels: ${w?.kernels} on ${page0.cores} thread`),
      `${backend}: the backend line says both thread counts`,
    );
    await wasmThreads(page.context(), page0.cores);
  }

  if (want('sections')) await sections(page, backend);
  // Vision before fine-tuning: the fine-tune section's bad-input checks add errors on purpose.
  if (backend === 'wasm' && want('vision')) await vision(page, backend);
  if (want('finetune')) await fineTune(page, backend);
  if (backend === 'wasm' && want('families')) await families(page, backend);
}

/** Sections 1-4: sentiment (pretraining on wasm), classify with heatmaps, GPT, a bad checkpoint. */
async function sections(page, backend) {
  const state = () => page.evaluate(() => window.demo.state);
  let s;
  // 1. sentiment. wasm: the whole fast schedule, the loss must fall and accuracy beat chance. webgpu: a
  // prefix of the same schedule, stopped with the Stop button (then resumed and stopped again).
  await page.click('#s-train');
  if (backend === 'webgpu') {
    await page.waitForFunction((n) => window.demo.state.sentiment.losses.length >= n, WEBGPU_BERT_STEPS, {
      timeout: 300_000,
    });
    await page.click('#s-stop');
    await page.waitForFunction(() => !window.demo.state.sentiment.running, null, { timeout: 300_000 });
    const stoppedAt = (await state()).sentiment.losses.length;
    check(
      (await page.textContent('#s-train')) === 'Resume',
      `${backend}: Stop after ${stoppedAt} steps offers Resume`,
    );
    await page.click('#s-train');
    await page.waitForFunction((n) => window.demo.state.sentiment.losses.length > n, stoppedAt, {
      timeout: 120_000,
    });
    await page.click('#s-stop');
    await page.waitForFunction(() => !window.demo.state.sentiment.running, null, { timeout: 300_000 });
    const step = await page.textContent('#s-step');
    check(
      step.startsWith(`${(await state()).sentiment.losses.length} / 150`),
      `${backend}: resumed where it stopped (step ${step})`,
    );
  } else {
    await page.waitForFunction(
      () => window.demo.state.sentiment.losses.length > 0 && !window.demo.state.sentiment.running,
      null,
      { timeout: 300_000 },
    );
  }
  s = await state();
  const sl = s.sentiment.losses;
  if (backend === 'webgpu') {
    check(
      sl.every(Number.isFinite),
      `${backend}: BERT losses finite (${sl.map((l) => l.toFixed(3)).join(' ')})`,
    );
  } else {
    check(
      sl.length >= 100 && mean(sl.slice(-10)) < mean(sl.slice(0, 10)) - 0.1,
      `${backend}: BERT loss drops over ${sl.length} steps (${mean(sl.slice(0, 10)).toFixed(3)} → ${mean(sl.slice(-10)).toFixed(3)})`,
    );
    check(
      s.sentiment.accuracy > 0.65,
      `${backend}: test accuracy ${(s.sentiment.accuracy * 100).toFixed(1)}% beats chance`,
    );
  }
  sameLosses('BERT', sl.slice(0, WEBGPU_BERT_STEPS), backend, bertLosses);
  check(
    typeof s.sentiment.accuracy === 'number',
    `${backend}: test accuracy shown (${s.sentiment.accuracy})`,
  );
  check(await page.evaluate(() => window.demo.inked('s-plot')), `${backend}: sentiment loss plot drawn`);

  if (backend === 'wasm') {
    // 1b. BERT's first step: the blank filled before pretraining, masked-LM pretraining (the fast schedule)
    // with its live loss, the blank after, then the classifier fine-tuned from the pretrained encoder.
    await page.fill('#p-text', 'the [MASK] of the union');
    await page.click('#p-form button');
    await page.waitForFunction(() => window.demo.pretraining.guesses !== null, null, { timeout: 60_000 });
    const before = await page.textContent('#p-result');
    await page.click('#p-train');
    await page.waitForFunction(
      () => window.demo.pretraining.steps > 0 && !window.demo.pretraining.running,
      null,
      { timeout: 300_000 },
    );
    const p = await page.evaluate(() => window.demo.pretraining);
    const after = await page.textContent('#p-result');
    check(
      p.losses.length === 60 && mean(p.losses.slice(-10)) < mean(p.losses.slice(0, 10)) - 0.3,
      `${backend}: masked-LM loss drops over ${p.losses.length} steps (${mean(p.losses.slice(0, 10)).toFixed(3)} → ${mean(p.losses.slice(-10)).toFixed(3)})`,
    );
    check(await page.evaluate(() => window.demo.inked('p-plot')), `${backend}: masked-LM loss plot drawn`);
    check(
      before.startsWith('before pretraining: ') &&
        after.startsWith('after 60 pretraining steps: ') &&
        p.guesses.length === 1 &&
        p.guesses[0].length === 5,
      `${backend}: fill-in-the-blank, top 5 before and after ("${before}" / "${after}")`,
    );
    await page.selectOption('#s-from', 'pretrained');
    await page.click('#s-train');
    // 50 steps show the start works (Stop evaluates); the whole schedule ran from scratch above.
    await page.waitForFunction(() => window.demo.state.sentiment.losses.length >= 50, null, {
      timeout: 300_000,
    });
    await page.click('#s-stop');
    await page.waitForFunction(
      () =>
        window.demo.state.sentiment.results.pretrained !== undefined && !window.demo.state.sentiment.running,
      null,
      { timeout: 300_000 },
    );
    s = await state();
    const compare = await page.textContent('#s-compare');
    check(
      s.sentiment.from === 'pretrained' &&
        s.sentiment.results.pretrained > 0.55 &&
        typeof s.sentiment.results.scratch === 'number' &&
        compare.includes('from the pretrained encoder: ') &&
        compare.includes('from scratch: '),
      `${backend}: fine-tuned from the pretrained encoder too (${compare})`,
    );
  }

  // 2. classify + heatmaps.
  await page.fill('#c-text', 'attention is not too shabby');
  await page.click('#c-form button');
  await page.waitForFunction(() => window.demo.state.classified !== null, null, { timeout: 60_000 });
  s = await state();
  check(
    s.classified.probs.length === 2 && Math.abs(s.classified.probs[0] + s.classified.probs[1] - 1) < 1e-4,
    `${backend}: classified (${JSON.stringify(s.classified.probs.map((p) => +p.toFixed(3)))})`,
  );
  check(await page.evaluate(() => window.demo.inked('h-cls')), `${backend}: [CLS] attention row drawn`);
  check(await page.evaluate(() => window.demo.inked('h-full')), `${backend}: full attention matrix drawn`);
  if ((await page.$$('#h-layer option')).length > 1) {
    await page.selectOption('#h-layer', '1');
    check(await page.evaluate(() => window.demo.inked('h-full')), `${backend}: layer 1 heatmap drawn`);
  }

  // 3. GPT: train, then stream a sample.
  await page.click('#g-train');
  await page.waitForFunction(
    () => window.demo.state.gpt.losses.length > 0 && !window.demo.state.gpt.running,
    null,
    { timeout: 240_000 },
  );
  s = await state();
  const gl = s.gpt.losses;
  check(
    gl.length >= 10 && mean(gl.slice(-5)) < mean(gl.slice(0, 5)),
    `${backend}: GPT loss drops over ${gl.length} steps (${mean(gl.slice(0, 5)).toFixed(3)} → ${mean(gl.slice(-5)).toFixed(3)})`,
  );
  check(await page.evaluate(() => window.demo.inked('g-plot')), `${backend}: GPT loss plot drawn`);
  sameLosses('GPT', gl, backend, gptLosses);
  await page.fill('#g-n', '40');
  await page.click('#g-form button');
  await page.waitForFunction(() => window.demo.state.gpt.generated.length >= 40, null, { timeout: 60_000 });
  s = await state();
  check(s.gpt.generated.length >= 40, `${backend}: generated ${JSON.stringify(s.gpt.generated)}`);

  // 4. A bad checkpoint folder is an error in the page, not a blank screen.
  const before = (await state()).errors.length;
  const bad = mkdtempSync(join(tmpdir(), 'tk-bad-checkpoint-'));
  writeFileSync(join(bad, 'config.json'), '{"model_type": "bert", ');
  writeFileSync(join(bad, 'model.safetensors'), Buffer.from([1, 2, 3]));
  await page.setInputFiles('#hf-files', bad);
  // The page reads the files asynchronously: keep them until it has answered.
  await page
    .waitForFunction((n) => window.demo.state.errors.length > n, before, { timeout: 20_000 })
    .finally(() => rmSync(bad, { recursive: true, force: true }));
  s = await state();
  check(
    /config\.json: not valid JSON/.test(s.errors.at(-1)) && (await page.isVisible('#errors .error')),
    `${backend}: bad checkpoint shown as an error: ${JSON.stringify(s.errors.at(-1))}`,
  );
  check(s.errors.length === before + 1, `${backend}: no other errors (${JSON.stringify(s.errors)})`);
}

/**
 * The bare threads page (threads.html) on every core and on one (`?threads=1`): core's kernels on the
 * Web Worker pool are bitwise those of one thread, training losses are the same step for step, and a step
 * that throws after the pool ran leaves it working.
 */
async function wasmThreads(context, cores) {
  const open = async (query) => {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}threads.html${query}`);
    await page.waitForFunction(() => window.threads?.ready, null, { timeout: 30_000 });
    await page.evaluate(() => window.threads.ready);
    // Before any pool restarts: TF.js's pre-started pthread workers, plus core's kernel workers.
    return { page, errors, workers: page.workers().length };
  };
  const run = (page) =>
    page.evaluate(async () => {
      const t = window.threads;
      return {
        info: t.info.wasm,
        products: await t.products(),
        // 6 steps; a step that throws before the 4th.
        training: await t.losses(6, 3),
      };
    });
  const many = await open('');
  const one = await open('?threads=1');
  try {
    const [m, o] = [await run(many.page), await run(one.page)];
    check(
      m.info.threadsCount === Math.min(cores, 8) &&
        m.info.kernelThreads === cores &&
        o.info.threadsCount === 1 &&
        o.info.kernelThreads === 1,
      `wasm threads page: ${cores} and 1 threads as asked (XNNPACK ${m.info.threadsCount}/${o.info.threadsCount}, core ${m.info.kernelThreads}/${o.info.kernelThreads})`,
    );
    check(
      many.workers - one.workers === cores - 1,
      `wasm threads page: ${cores - 1} kernel worker(s) beside TF.js's (${many.workers} workers vs ${one.workers})`,
    );
    check(
      m.products.digest === m.products.oneThread && m.products.digest === o.products.digest,
      `wasm threads page: products on ${m.products.threads} threads bitwise those of one (${m.products.digest}, ${m.products.oneThread}, ?threads=1 ${o.products.digest})`,
    );
    const [lm, lo] = [m.training.losses, o.training.losses];
    check(
      lm.length === 6 && lm.every((l, i) => Object.is(l, lo[i])) && lm[5] < lm[0],
      `wasm threads page: losses step for step the same on ${cores} threads and one (${lm.map((l) => l.toPrecision(4)).join(' ')})`,
    );
    check(
      m.training.failed === 'bad batch' && o.training.failed === 'bad batch',
      `wasm threads page: a step that throws is an error (${m.training.failed}) and training goes on`,
    );
    check(
      many.errors.length === 0 && one.errors.length === 0,
      `wasm threads page: no page errors ${JSON.stringify([...many.errors, ...one.errors])}`,
    );
  } finally {
    await many.page.close();
    await one.page.close();
  }
}

/** Section 6, the vision section: MAE pretraining and the two classifiers. */
async function vision(page, backend) {
  const before = (await page.evaluate(() => window.demo.state)).errors.length;
  // 6. Vision, wasm only (the fast schedule is 160 steps; SwiftShader takes seconds per step): MAE loss
  // curve, original / masked / reconstructed grid, both accuracies, [CLS] attention on the digits.
  await page.click('#v-train');
  await page.waitForFunction(
    () => window.demo.vit.accuracy.scratch !== null && !window.demo.vit.running,
    null,
    {
      timeout: 300_000,
    },
  );
  const v = await page.evaluate(() => window.demo.vit);
  check(
    mean(v.maeLosses.slice(-10)) < mean(v.maeLosses.slice(0, 10)),
    `${backend}: MAE loss falls (${mean(v.maeLosses.slice(0, 10)).toFixed(3)} → ${mean(v.maeLosses.slice(-10)).toFixed(3)})`,
  );
  check(
    v.pictures > 0 && (await page.evaluate(() => window.demo.inked('v-grid'))),
    `${backend}: MAE pictures drawn`,
  );
  check(await page.evaluate(() => window.demo.inked('v-plot')), `${backend}: MAE loss plot drawn`);
  check(
    await page.evaluate(() => window.demo.inked('v-att')),
    `${backend}: [CLS] attention drawn on the digits`,
  );
  check(
    v.accuracy.mae >= 0 && v.accuracy.scratch >= 0,
    `${backend}: accuracy from MAE ${v.accuracy.mae}, from scratch ${v.accuracy.scratch}`,
  );
  const s = await page.evaluate(() => window.demo.state);
  check(
    s.errors.length === before,
    `${backend}: no errors from the vision section (${JSON.stringify(s.errors)})`,
  );
}

/** Section 5: fine-tune the tiny HF folder on a CSV, as a user would with the pickers and buttons. */
async function fineTune(page, backend) {
  const ft = () => page.evaluate(() => window.demo.state.ft);
  const errors = () => page.evaluate(() => window.demo.state.errors.length);
  await page.setInputFiles('#ft-folder', join(fixtures, 'tiny-bert'));
  await page.waitForFunction(() => window.demo.state.ft.model !== null, null, { timeout: 30_000 });
  let f = await ft();
  check(
    /^BertForMaskedLM \(BERT\): 2 layers, hidden 32/.test(f.model),
    `${backend}: fine-tune folder read: ${f.model}`,
  );
  await page.setInputFiles('#ft-data-file', join(fixtures, 'sentiment-small.csv'));
  await page.waitForFunction(() => window.demo.state.ft.data?.train === 320, null, { timeout: 30_000 });
  f = await ft();
  check(
    JSON.stringify(f.data.labels) === '["negative","positive"]' && f.data.validation === 80,
    `${backend}: labels found ${JSON.stringify(f.data.labels)} ${JSON.stringify(f.data.counts)}, split ${f.data.train}/${f.data.validation}`,
  );
  for (const [id, v] of [
    ['#ft-epochs', '3'],
    ['#ft-batch', '16'],
    ['#ft-lr', '0.005'],
    ['#ft-maxlen', '64'],
  ])
    await page.fill(id, v);
  // Train, stop after a few steps, resume to the end.
  await page.click('#ft-train');
  await page.waitForFunction(() => window.demo.state.ft.losses.length >= 5, null, { timeout: 300_000 });
  await page.click('#ft-stop');
  await page.waitForFunction(() => !window.demo.state.ft.running, null, { timeout: 300_000 });
  const stoppedAt = (await ft()).losses.length;
  check(
    (await page.textContent('#ft-train')) === 'Resume' && stoppedAt < 60,
    `${backend}: fine-tune stopped at step ${stoppedAt}, offers Resume`,
  );
  await page.click('#ft-train');
  await page.waitForFunction(
    () => window.demo.state.ft.losses.length >= 60 && !window.demo.state.ft.running,
    null,
    { timeout: 600_000 },
  );
  f = await ft();
  const l = f.losses;
  check(
    l.length === 60 && mean(l.slice(-10)) < mean(l.slice(0, 10)) - 0.2,
    `${backend}: fine-tune loss falls over ${l.length} steps (${mean(l.slice(0, 10)).toFixed(3)} → ${mean(l.slice(-10)).toFixed(3)})`,
  );
  check(
    f.metrics && f.metrics.accuracy > f.data.majority + 0.15,
    `${backend}: validation accuracy ${(f.metrics?.accuracy * 100).toFixed(1)}% (F1 ${f.metrics?.f1.toFixed(3)}) beats the majority class ${(f.data.majority * 100).toFixed(1)}%`,
  );
  check(f.newHead === true, `${backend}: a new [CLS] head on the BertForMaskedLM backbone`);
  check(/wasm heap|per step/.test(f.plan ?? ''), `${backend}: memory checked before training: ${f.plan}`);
  check(await page.evaluate(() => window.demo.inked('ft-plot')), `${backend}: fine-tune loss plot drawn`);
  const stats = await page.evaluate(() =>
    ['ft-tps', 'ft-eta', 'ft-acc', 'ft-f1'].map((id) => document.getElementById(id).textContent),
  );
  check(
    stats.every((t) => t !== '–'),
    `${backend}: tokens/s, ETA, accuracy, F1 shown (${stats.join(', ')})`,
  );
  sameLosses('fine-tune', l.slice(0, 10), backend, ftLosses);

  // Classify a typed sentence, with heatmaps.
  await page.fill('#ft-c-text', 'the food was great and the staff were friendly');
  await page.click('#ft-c-form button');
  await page.waitForFunction(() => window.demo.state.ft.classified !== null, null, { timeout: 60_000 });
  f = await ft();
  check(
    f.classified.labels.join() === 'negative,positive' &&
      Math.abs(f.classified.probs[0] + f.classified.probs[1] - 1) < 1e-4,
    `${backend}: fine-tuned model classifies (${f.classified.labels[f.classified.probs.indexOf(Math.max(...f.classified.probs))]} ${JSON.stringify(f.classified.probs.map((p) => +p.toFixed(3)))})`,
  );
  check(
    (await page.evaluate(() => window.demo.inked('ft-h-cls'))) &&
      (await page.evaluate(() => window.demo.inked('ft-h-full'))),
    `${backend}: fine-tune attention heatmaps drawn`,
  );

  // Save as a zip (an HF folder inside), then load the saved folder back in the page.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#ft-save')]);
  const zipPath = join(artifacts, `finetuned-bert-${backend}.zip`);
  await download.saveAs(zipPath);
  const zip = readFileSync(zipPath).toString('latin1');
  check(
    download.suggestedFilename() === 'finetuned-bert.zip' &&
      ['model.safetensors', 'config.json', 'tokenizer.json', 'vocab.txt'].every((n) =>
        zip.includes(`finetuned-bert/${n}`),
      ) &&
      zip.includes('"BertForSequenceClassification"'),
    `${backend}: saved as ${download.suggestedFilename()} (${zip.length} bytes, an HF folder)`,
  );
  await page.click('#ft-reload');
  await page.waitForFunction(() => window.demo.state.ft.reloadIdentical !== null, null, { timeout: 60_000 });
  check(
    (await ft()).reloadIdentical === true,
    `${backend}: the saved folder reloads with identical predictions`,
  );

  // Bad data and a bad folder: a message in the page, and the fine-tuned model is still there.
  const bad = mkdtempSync(join(tmpdir(), 'tk-bad-finetune-'));
  try {
    let n = await errors();
    writeFileSync(join(bad, 'one-label.csv'), 'text,label\ngood,pos\nfine,pos\n');
    await page.setInputFiles('#ft-data-file', join(bad, 'one-label.csv'));
    await page.waitForFunction((k) => window.demo.state.errors.length > k, n, { timeout: 20_000 });
    let s = await page.evaluate(() => window.demo.state);
    check(
      /every one of the 2 rows has the label 'pos'/.test(s.errors.at(-1)) &&
        s.ft.losses.length === 60 &&
        s.ft.metrics !== null,
      `${backend}: single-label CSV is an error, nothing lost: ${JSON.stringify(s.errors.at(-1))}`,
    );
    n = await errors();
    const gpt = join(bad, 'gpt2');
    cpSync(join(fixtures, 'tiny-bert'), gpt, { recursive: true });
    const config = JSON.parse(readFileSync(join(gpt, 'config.json'), 'utf8'));
    writeFileSync(join(gpt, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
    await page.setInputFiles('#ft-folder', gpt);
    await page.waitForFunction((k) => window.demo.state.errors.length > k, n, { timeout: 20_000 });
    s = await page.evaluate(() => window.demo.state);
    check(
      /model_type 'gpt2'/.test(s.errors.at(-1)) &&
        s.ft.losses.length === 60 &&
        /^BertForMaskedLM/.test(s.ft.model),
      `${backend}: another architecture is an error, nothing lost: ${JSON.stringify(s.errors.at(-1))}`,
    );
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
  await page.click('#ft-c-form button');
  check(
    (await ft()).classified !== null,
    `${backend}: the fine-tuned model still classifies after the bad inputs`,
  );
}

/** Fills section 5's settings and trains to the end; returns the section's state. */
async function trainFt(page, settings) {
  for (const [id, v] of Object.entries(settings)) await page.fill(id, v);
  await page.click('#ft-train');
  await page.waitForFunction(
    () =>
      window.demo.state.ft.losses.length > 0 && !window.demo.state.ft.running && window.demo.state.ft.metrics,
    null,
    { timeout: 300_000 },
  );
  return page.evaluate(() => window.demo.state.ft);
}

/**
 * Saves section 5's model as a zip (the save-as choice set first); returns its name, the zip as latin1 text
 * and its files (path inside the zip → bytes).
 */
async function saveZip(page, backend, as) {
  await page.selectOption('#ft-save-as', as);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#ft-save')]);
  const path = join(artifacts, `${backend}-${download.suggestedFilename()}`);
  await download.saveAs(path);
  const bytes = readFileSync(path);
  return { name: download.suggestedFilename(), zip: bytes.toString('latin1'), files: unzipStored(bytes) };
}

/** The files of a stored (uncompressed) zip, as web/zip.ts writes it: path → bytes, from the local headers. */
function unzipStored(buf) {
  const files = new Map();
  let o = 0;
  while (o + 30 <= buf.length && buf.readUInt32LE(o) === 0x04034b50) {
    if (buf.readUInt16LE(o + 8) !== 0) throw new Error(`zip entry at ${o} is compressed`);
    const size = buf.readUInt32LE(o + 18);
    const nameEnd = o + 30 + buf.readUInt16LE(o + 26);
    const start = nameEnd + buf.readUInt16LE(o + 28);
    files.set(buf.toString('utf8', o + 30, nameEnd), buf.subarray(start, start + size));
    o = start + size;
  }
  return files;
}

async function reloadSame(page) {
  await page.evaluate(() => {
    window.demo.state.ft.reloadIdentical = null;
  });
  await page.click('#ft-reload');
  await page.waitForFunction(() => window.demo.state.ft.reloadIdentical !== null, null, { timeout: 60_000 });
  return (await page.evaluate(() => window.demo.state.ft)).reloadIdentical;
}

/**
 * Section 5 with the other families and LoRA: a DistilBERT and a RoBERTa folder (config.json's model_type
 * decides) fine-tune fully, save as their family's HF folder and reload identically, then train LoRA on the
 * same folder (the checkbox, PEFT's default targets for the family); on the BERT folder, a heap budget that a
 * full fine-tune exceeds and LoRA does not makes the memory check propose LoRA. Each LoRA run is checked by
 * `loraRound`: the adapter's parameters trained, PEFT's names and config in the adapter zip, reloaded onto
 * the base identically (merged too).
 */
async function families(page, backend) {
  // The CLI test's seed (test/finetune-families.test.ts): with seed 0's dropout masks and shuffle the tiny
  // RoBERTa's LoRA stalls at chance; seeds 1-3 learn it. A fresh page, as a user opening ?seed=1.
  await page.goto(pageUrl(backend, '&seed=1'));
  await page.waitForFunction(() => window.demo?.ready, null, { timeout: 30_000 });
  await page.evaluate(() => window.demo.ready);
  // Two-word rows the tiny DistilBERT / RoBERTa vocabularies spell (test/finetune-families.test.ts's data).
  const POS = ['good', 'great', 'fine', 'nice', 'fun', 'best'];
  const NEG = ['bad', 'awful', 'poor', 'sad', 'dull', 'worst'];
  const rows = ['text,label'];
  for (const lead of ['so', 'very', 'a', 'it', 'the', 'and', 'is', 'was'])
    for (let i = 0; i < POS.length; i++)
      rows.push(`${lead} ${POS[i]},positive`, `${lead} ${NEG[i]},negative`);
  const tmp = mkdtempSync(join(tmpdir(), 'tk-families-'));
  writeFileSync(join(tmp, 'words.csv'), `${rows.join('\n')}\n`);
  await page.setInputFiles('#ft-data-file', join(tmp, 'words.csv'));
  // The page reads the file after the change event: remove it only once the data is in.
  await page.waitForFunction(() => window.demo.state.ft.data?.train === 77, null, { timeout: 30_000 });
  rmSync(tmp, { recursive: true, force: true });
  // DistilBERT by Hub id (from the stand-in Hub), RoBERTa as a picked folder.
  for (const [from, family] of [
    ['hub:tk-test/tiny-distilbert', 'distilbert'],
    ['tiny-roberta', 'roberta'],
  ]) {
    const cls = PEFT[family].cls;
    // The previous family's LoRA run leaves the box as it was: this family's first run is a full fine-tune.
    await page.setChecked('#ft-lora', false);
    if (from.startsWith('hub:')) {
      await page.fill('#ft-hub', from.slice(4));
      await page.click('#ft-hub-form button');
    } else await page.setInputFiles('#ft-folder', join(fixtures, from));
    await page.waitForFunction((f) => window.demo.state.ft.family === f, family, { timeout: 30_000 });
    const f = await trainFt(page, { '#ft-epochs': '8', '#ft-batch': '8', '#ft-lr': '0.003' });
    const l = f.losses;
    check(
      l.length === 80 &&
        mean(l.slice(-10)) < mean(l.slice(0, 10)) - 0.1 &&
        f.metrics.accuracy > f.data.majority,
      `${backend}: ${family} (${f.model}) fine-tunes in the page: loss ${mean(l.slice(0, 10)).toFixed(3)} → ${mean(l.slice(-10)).toFixed(3)} over ${l.length} steps, validation accuracy ${(f.metrics.accuracy * 100).toFixed(1)}% (majority ${(f.data.majority * 100).toFixed(1)}%)`,
    );
    const { name, zip } = await saveZip(page, backend, 'merged');
    check(
      name === `finetuned-${family}.zip` && zip.includes(`"${cls}"`) && zip.includes('model.safetensors'),
      `${backend}: ${family} saved as ${name} (${cls})`,
    );
    check(
      await reloadSame(page),
      `${backend}: the saved ${family} folder reloads with identical predictions`,
    );
    if (from.startsWith('hub:'))
      check(
        /^tk-test\/tiny-distilbert\/model\.safetensors: /.test(await page.textContent('#ft-hub-status')) &&
          hub.requests.some((r) => r.startsWith('GET /hub/tk-test/tiny-distilbert/resolve/main/config.json')),
        `${backend}: ${family} loaded by Hub id with its download shown (${await page.textContent('#ft-hub-status')})`,
      );
    // LoRA on the same folder; turning it on starts again from the folder. The encoder is random, so the
    // head and adapters learn on frozen random features: the CLI test's recipe (lr 1e-2, 16 epochs).
    await page.check('#ft-lora');
    await loraRound(page, backend, {
      family,
      base: from.replace(/^hub:/, ''),
      r: 4,
      settings: { '#ft-epochs': '16', '#ft-lr': '0.01' },
      minDrop: 0.08,
    });
  }

  // LoRA, proposed by the memory check. It adapts a trained base (a random encoder's frozen features leave
  // the adapters little to learn): the tiny BERT fine-tuned fully here, saved as files, is the base folder,
  // and LoRA fits a new head for other label names on it.
  await page.setChecked('#ft-lora', false);
  await page.setInputFiles('#ft-data-file', join(fixtures, 'sentiment-small.csv'));
  await page.waitForFunction(() => window.demo.state.ft.data?.train === 320, null, { timeout: 30_000 });
  await page.setInputFiles('#ft-folder', join(fixtures, 'tiny-bert'));
  await page.waitForFunction(() => window.demo.state.ft.family === 'bert', null, { timeout: 30_000 });
  await trainFt(page, { '#ft-epochs': '3', '#ft-batch': '16', '#ft-lr': '0.005', '#ft-maxlen': '64' });
  const base = join(mkdtempSync(join(tmpdir(), 'tk-lora-base-')), 'tiny-bert-sentiment');
  mkdirSync(base);
  const downloads = [];
  const onDownload = (d) => downloads.push(d);
  page.on('download', onDownload);
  await page.click('#ft-save-files');
  await page.waitForFunction(() => window.demo.state.ft.saved !== null, null, { timeout: 30_000 });
  const files = await page.evaluate(() => window.demo.state.ft.saved);
  while (downloads.length < files.length) await new Promise((r) => setTimeout(r, 100));
  page.off('download', onDownload);
  for (const d of downloads) await d.saveAs(join(base, d.suggestedFilename()));
  const relabelled = join(base, '..', 'relabelled.csv');
  writeFileSync(
    relabelled,
    readFileSync(join(fixtures, 'sentiment-small.csv'), 'utf8')
      .replace(/,negative$/gm, ',bad')
      .replace(/,positive$/gm, ',good'),
  );
  await page.setInputFiles('#ft-data-file', relabelled);
  await page.waitForFunction(() => window.demo.state.ft.data?.labels.join() === 'bad,good', null, {
    timeout: 30_000,
  });
  await page.setInputFiles('#ft-folder', base);
  await page.waitForFunction(() => /^BertForSequenceClassification/.test(window.demo.state.ft.model), null, {
    timeout: 30_000,
  });
  for (const [id, v] of Object.entries({
    '#ft-epochs': '4',
    '#ft-batch': '16',
    '#ft-lr': '0.01',
    '#ft-maxlen': '64',
    '#ft-lora-r': '4',
  }))
    await page.fill(id, v);
  const est = await page.evaluate(() => window.demo.ftEstimates());
  const previous = await page.evaluate((b) => window.demo.setWasmHeapBudget(b), (est.full + est.lora) / 2);
  await page.click('#ft-train');
  await page.waitForSelector('#ft-use-lora', { timeout: 30_000 });
  const memory = await page.textContent('#ft-memory');
  await page.evaluate((b) => window.demo.setWasmHeapBudget(b), previous);
  const f = await page.evaluate(() => window.demo.state.ft);
  check(
    f.loraProposed && f.losses.length === 0 && /^Not started: /.test(memory) && est.lora < est.full,
    `${backend}: a full fine-tune over the heap budget (${est.full} bytes > ${(est.full + est.lora) / 2}) is not started and LoRA is proposed (${est.lora} bytes): ${memory}`,
  );
  await page.click('#ft-use-lora');
  check(await page.isChecked('#ft-lora'), `${backend}: the proposal turns LoRA on`);
  await loraRound(page, backend, { family: 'bert', base: 'tiny-bert-sentiment', r: 4, minDrop: 0.05 });
  rmSync(join(base, '..'), { recursive: true, force: true });
}

/**
 * One LoRA run in section 5 on the picked `base` folder (LoRA already turned on): the target modules are
 * PEFT's default for the family, training runs to the end and the loss falls by `minDrop`; the parameters
 * trained are exactly those of the saved adapter (lora_A/B of every target plus the head), a small part of
 * the model; the PEFT adapter zip holds PEFT's tensor names and adapter_config.json; it reloads onto the base
 * with identical predictions, and so does the merged HF folder.
 */
async function loraRound(page, backend, { family, base, r, settings = {}, minDrop }) {
  const peft = PEFT[family];
  const targets = await page.inputValue('#ft-lora-targets');
  check(
    targets === peft.targets.join(', '),
    `${backend}: ${family}: LoRA targets PEFT's default for the family (${targets})`,
  );
  const f = await trainFt(page, { '#ft-lora-r': String(r), ...settings });
  const [layers, hidden] = (f.model.match(/(\d+) layers, hidden (\d+)/) ?? []).slice(1).map(Number);
  const epochs = Number(await page.inputValue('#ft-epochs'));
  const batch = Number(await page.inputValue('#ft-batch'));
  const l = f.losses;
  check(
    f.lora?.r === r &&
      String(f.lora.targetModules) === String(peft.targets) &&
      l.length === epochs * Math.ceil(f.data.train / batch) &&
      mean(l.slice(-10)) < mean(l.slice(0, 10)) - minDrop &&
      f.metrics.accuracy > f.data.majority,
    `${backend}: ${family} LoRA rank ${f.lora?.r} on ${f.lora?.targetModules} trains in the page: loss ${mean(l.slice(0, 10)).toFixed(3)} → ${mean(l.slice(-10)).toFixed(3)} over ${l.length} steps, validation accuracy ${(f.metrics.accuracy * 100).toFixed(1)}% (majority ${(f.data.majority * 100).toFixed(1)}%)`,
  );

  const { name, files } = await saveZip(page, backend, 'adapter');
  const folder = `${base.split('/').at(-1)}-lora`;
  const configBytes = files.get(`${folder}/adapter_config.json`);
  const weights = files.get(`${folder}/adapter_model.safetensors`);
  check(
    name === `${folder}.zip` && configBytes !== undefined && weights !== undefined,
    `${backend}: ${family} LoRA saved as a PEFT adapter folder ${name}: ${[...files.keys()].join(', ')}`,
  );
  if (!configBytes || !weights) return;
  const config = JSON.parse(configBytes.toString('utf8'));
  check(
    config.peft_type === 'LORA' &&
      config.task_type === 'SEQ_CLS' &&
      config.r === r &&
      config.lora_alpha === 2 * r &&
      JSON.stringify(config.target_modules) === JSON.stringify(peft.targets) &&
      JSON.stringify(config.modules_to_save) === JSON.stringify(peft.head) &&
      config.base_model_name_or_path === base,
    `${backend}: ${family} adapter_config.json is PEFT's: ${JSON.stringify(config)}`,
  );
  const header = safetensorsHeader(weights);
  const tensors = Object.keys(header)
    .filter((k) => k !== '__metadata__')
    .sort();
  const wantLora = [];
  for (let i = 0; i < layers; i++)
    for (const t of peft.targets)
      for (const ab of ['A', 'B']) wantLora.push(`base_model.model.${peft.module(i, t)}.lora_${ab}.weight`);
  const wantHead = peft.headLinears.flatMap((m) => [
    `base_model.model.${m}.bias`,
    `base_model.model.${m}.weight`,
  ]);
  const want = [...wantLora, ...wantHead].sort();
  const shapesOk = wantLora.every(
    (k) =>
      JSON.stringify(header[k]?.shape) === JSON.stringify(k.includes('lora_A') ? [r, hidden] : [hidden, r]),
  );
  check(
    JSON.stringify(tensors) === JSON.stringify(want) && shapesOk,
    `${backend}: ${family} adapter tensors have PEFT's names and shapes [${r}, ${hidden}] / [${hidden}, ${r}]: ${tensors.join(', ')}`,
  );
  // What trains is what the adapter holds: lora_A/B (layers × targets × r × (in + out)) and the head.
  const numel = (k) => header[k].shape.reduce((a, b) => a * b, 1);
  const saved = tensors.reduce((a, k) => a + numel(k), 0);
  const loraNumel = wantLora.filter((k) => header[k]).reduce((a, k) => a + numel(k), 0);
  const shown = await page.textContent('#ft-params');
  check(
    f.lora.trainable === saved &&
      loraNumel === layers * peft.targets.length * r * 2 * hidden &&
      f.lora.trainable < f.lora.total / 5 &&
      shown.includes(`${(f.lora.trainable / 1e3).toFixed(1)}k trained`),
    `${backend}: ${family} LoRA trains the adapter's ${f.lora.trainable} parameters (${loraNumel} in lora_A/B, the rest the head; the saved tensors hold ${saved}) of the model's ${f.lora.total}: "${shown}"`,
  );
  check(
    await reloadSame(page),
    `${backend}: ${family}'s adapter reloads onto the base folder with identical predictions`,
  );
  const merged = await saveZip(page, backend, 'merged');
  check(
    merged.name === `finetuned-${family}.zip` &&
      merged.zip.includes(`"${peft.cls}"`) &&
      !merged.zip.includes('lora_A'),
    `${backend}: ${family} LoRA saved merged as an HF folder (${merged.name})`,
  );
  check(await reloadSame(page), `${backend}: ${family}'s merged folder reloads with identical predictions`);
}

/** A safetensors file's header: tensor name → { dtype, shape, data_offsets }, and `__metadata__`. */
function safetensorsHeader(b) {
  const n = Number(b.readBigUInt64LE(0));
  return JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
}

/** float32 tensors of a safetensors file, and its metadata. */
function readSafetensors(path) {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = safetensorsHeader(b);
  const tensors = {};
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const [from, to] = v.data_offsets;
    const bytes = b.subarray(8 + n + from, 8 + n + to);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    tensors[k] = { shape: v.shape, data };
  }
  return { tensors, metadata: header.__metadata__ ?? {} };
}

/**
 * Section 7 and the Hub's browser cache: a sentence-transformers folder loaded by Hub id from the stand-in
 * Hub, a query ranked against the texts with the scores sentence-transformers' vectors give (PyTorch,
 * packages/bert/scripts/make_sentence_fixtures.py); then a new visit loads it again with no request to the
 * Hub: every file, and the files the repo lacks, come from the Cache API.
 */
async function search(context, backend) {
  const { tensors, metadata } = readSafetensors(join(bertFixtures, 'expected-sentence.safetensors'));
  const texts = JSON.parse(metadata.texts);
  const mean_ = tensors.mean;
  const d = mean_.shape[1];
  const vec = (i) => mean_.data.subarray(i * d, (i + 1) * d);
  const cos = (a, b) => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  };
  const want = texts
    .slice(1)
    .map((text, i) => ({ text, score: cos(vec(0), vec(i + 1)) }))
    .sort((a, b) => b.score - a.score);
  const visit = async () => {
    const page = await context.newPage();
    try {
      await page.goto(pageUrl(backend));
      await page.waitForFunction(() => window.demo?.ready, null, { timeout: 30_000 });
      await page.evaluate(() => window.demo.ready);
      const n0 = hub.requests.length;
      await page.fill('#se-hub', 'tk-test/tiny-st');
      await page.click('#se-hub-form button');
      await page.waitForFunction(
        () => window.demo.state.search.model !== null || window.demo.state.errors.length,
        null,
        {
          timeout: 60_000,
        },
      );
      await page.fill('#se-texts', texts.slice(1).join('\n'));
      await page.fill('#se-query', texts[0]);
      await page.click('#se-form button');
      await page.waitForFunction(
        () => window.demo.state.search.results !== null || window.demo.state.errors.length,
        null,
        {
          timeout: 60_000,
        },
      );
      const s = await page.evaluate(() => window.demo.state);
      const inked = await page.textContent('#se-results');
      return { search: s.search, errors: s.errors, requests: hub.requests.slice(n0), inked };
    } finally {
      await page.close();
    }
  };
  const first = await visit();
  const got = first.search.results ?? [];
  const maxDiff = Math.max(...want.map((w, i) => Math.abs(w.score - (got[i]?.score ?? Number.NaN))));
  check(
    first.errors.length === 0 &&
      got.length === want.length &&
      got.every((r, i) => r.text === want[i].text) &&
      maxDiff < 1e-4 &&
      first.inked.includes(got[0].score.toFixed(3)),
    `${backend}: semantic search by Hub id ranks ${got.map((r) => `"${r.text}" ${r.score.toFixed(4)}`).join(', ')} as sentence-transformers' vectors do (max |Δ| ${maxDiff.toExponential(1)}) ${JSON.stringify(first.errors)}`,
  );
  check(
    first.requests.length > 0 && first.search.files.length > 0 && first.search.files.every((f) => !f.cached),
    `${backend}: first visit downloads from the Hub (${first.requests.length} requests: ${first.requests.join(', ')})`,
  );
  const second = await visit();
  check(
    second.requests.length === 0 &&
      second.search.files.length === first.search.files.length &&
      second.search.files.every((f) => f.cached) &&
      JSON.stringify(second.search.results) === JSON.stringify(first.search.results),
    `${backend}: second visit loads from the browser's Cache API: ${second.requests.length} requests to the Hub, ${second.search.files.map((f) => f.file).join(', ')} cached, same ranking`,
  );
}

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
