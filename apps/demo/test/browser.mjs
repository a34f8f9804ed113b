// Browser test: the built page (dist-web/) in Debian's headless Chromium, driven by playwright-core.
// For webgpu and wasm it trains the BERT classifier and the GPT a few steps (fast sizes), checks that the
// loss drops, that the loss plots and attention heatmaps are drawn (on wasm also: masked-LM pretraining with
// its loss plot and fill-in-the-blank, then fine-tuning from the pretrained encoder), that generation streams text, and that
// a bad checkpoint file shows an error in the page; then it fine-tunes the tiny HF-layout BERT folder
// (test/fixtures/tiny-bert, made by scripts/make_finetune_fixtures.py) on a CSV in section 5: loss falls,
// validation accuracy beats the majority class, stop/resume, heatmaps, the saved folder (zip) reloads with
// identical predictions, bad data / a bad folder are errors that lose nothing. Screenshots go to
// test-results/ (a CI artifact).
// Exits non-zero on any failure; bounded in time.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(here, 'test', 'fixtures');
const dist = join(here, 'dist-web');
const artifacts = process.env.ARTIFACTS_DIR ?? join(here, 'test-results');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const backends = (process.env.BROWSER_BACKENDS ?? 'wasm,webgpu').split(',');
const TOTAL_MS = 20 * 60_000;
/** GPT steps per backend (the fast BERT schedule is 150 steps: wasm runs it all, webgpu a prefix). */
const GPT_STEPS = 40;
/** BERT steps run on webgpu before Stop: SwiftShader takes seconds per step; they must match wasm's. */
const WEBGPU_BERT_STEPS = 10;

if (!existsSync(join(dist, 'index.html'))) fail(`no built page at ${dist}: run \`vite build\` first`);
if (!existsSync(chromiumPath))
  fail(`no Chromium at ${chromiumPath}: install Debian's chromium (.ci/system-deps.sh) or set CHROMIUM_PATH`);
mkdirSync(artifacts, { recursive: true });

function fail(msg) {
  console.error(`browser test FAILED: ${msg}`);
  process.exit(1);
}
const watchdog = setTimeout(() => fail(`did not finish within ${TOTAL_MS / 60000} minutes`), TOTAL_MS);

const { server, url } = await serve(dist);
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
  await page.goto(`${url}?fast&gptSteps=${GPT_STEPS}&backend=${backend}`);
  await page.waitForFunction(() => window.demo?.ready, null, { timeout: 30_000 });
  await page.evaluate(() => window.demo.ready);
  let s = await state();
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

  // Vision before fine-tuning: the fine-tune section's bad-input checks add errors on purpose.
  if (backend === 'wasm') await vision(page, backend, before);
  await fineTune(page, backend);
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
async function vision(page, backend, before) {
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
    s.errors.length === before + 1,
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
    /^BertForMaskedLM: 2 layers, hidden 32/.test(f.model),
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

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
