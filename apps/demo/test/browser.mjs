// Browser test: the built page (dist-web/) in Debian's headless Chromium, driven by playwright-core.
// For webgpu and wasm it trains the BERT classifier and the GPT a few steps (fast sizes), checks that the
// loss drops, that the loss plots and attention heatmaps are drawn, that generation streams text, and that
// a bad checkpoint file shows an error in the page. Screenshots go to test-results/ (a CI artifact).
// Exits non-zero on any failure; bounded in time.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));
const dist = join(here, 'dist-web');
const artifacts = process.env.ARTIFACTS_DIR ?? join(here, 'test-results');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const backends = (process.env.BROWSER_BACKENDS ?? 'webgpu,wasm').split(',');
const TOTAL_MS = 10 * 60_000;

if (!existsSync(join(dist, 'index.html'))) fail(`no built page at ${dist}: run \`vite build\` first`);
if (!existsSync(chromiumPath)) fail(`no Chromium at ${chromiumPath}: install Debian's chromium (.ci/system-deps.sh) or set CHROMIUM_PATH`);
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
/** GPT losses per backend: the same seeded run must give the same numbers on webgpu and wasm. */
const gptLosses = {};
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
      await page.screenshot({ path: join(artifacts, `browser-${backend}.png`), fullPage: true }).catch(() => {});
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
  await page.goto(`${url}?fast&backend=${backend}`);
  await page.waitForFunction(() => window.demo && window.demo.ready, null, { timeout: 30_000 });
  await page.evaluate(() => window.demo.ready);
  let s = await state();
  check(s.errors.length === 0, `${backend}: page started without errors ${s.errors.length ? JSON.stringify(s.errors) : ''}`);
  check(s.backend === backend, `${backend}: backend in use is '${s.backend}' (${JSON.stringify(s.backendInfo)})`);

  // 1. sentiment: train to the end of the fast schedule.
  await page.click('#s-train');
  await page.waitForFunction(() => window.demo.state.sentiment.losses.length > 0 && !window.demo.state.sentiment.running, null, { timeout: 240_000 });
  s = await state();
  const sl = s.sentiment.losses;
  check(sl.length >= 10 && mean(sl.slice(-5)) < mean(sl.slice(0, 5)), `${backend}: BERT loss drops over ${sl.length} steps (${mean(sl.slice(0, 5)).toFixed(3)} → ${mean(sl.slice(-5)).toFixed(3)})`);
  check(typeof s.sentiment.accuracy === 'number', `${backend}: test accuracy shown (${s.sentiment.accuracy})`);
  check(await page.evaluate(() => window.demo.inked('s-plot')), `${backend}: sentiment loss plot drawn`);

  // 2. classify + heatmaps.
  await page.fill('#c-text', 'attention is not too shabby');
  await page.click('#c-form button');
  await page.waitForFunction(() => window.demo.state.classified !== null, null, { timeout: 60_000 });
  s = await state();
  check(s.classified.probs.length === 2 && Math.abs(s.classified.probs[0] + s.classified.probs[1] - 1) < 1e-4, `${backend}: classified (${JSON.stringify(s.classified.probs.map((p) => +p.toFixed(3)))})`);
  check(await page.evaluate(() => window.demo.inked('h-cls')), `${backend}: [CLS] attention row drawn`);
  check(await page.evaluate(() => window.demo.inked('h-full')), `${backend}: full attention matrix drawn`);
  if ((await page.$$('#h-layer option')).length > 1) {
    await page.selectOption('#h-layer', '1');
    check(await page.evaluate(() => window.demo.inked('h-full')), `${backend}: layer 1 heatmap drawn`);
  }

  // 3. GPT: train, then stream a sample.
  await page.click('#g-train');
  await page.waitForFunction(() => window.demo.state.gpt.losses.length > 0 && !window.demo.state.gpt.running, null, { timeout: 240_000 });
  s = await state();
  const gl = s.gpt.losses;
  check(gl.length >= 10 && mean(gl.slice(-5)) < mean(gl.slice(0, 5)), `${backend}: GPT loss drops over ${gl.length} steps (${mean(gl.slice(0, 5)).toFixed(3)} → ${mean(gl.slice(-5)).toFixed(3)})`);
  check(await page.evaluate(() => window.demo.inked('g-plot')), `${backend}: GPT loss plot drawn`);
  gptLosses[backend] = gl;
  const [other] = Object.keys(gptLosses).filter((b) => b !== backend);
  if (other) {
    const diff = Math.max(...gl.map((l, i) => Math.abs(l - (gptLosses[other][i] ?? Number.NaN))));
    check(diff < 2e-2, `${backend}: GPT losses match ${other} step for step (max |Δ| ${diff.toExponential(1)})`);
  }
  await page.fill('#g-n', '40');
  await page.click('#g-form button');
  await page.waitForFunction(() => window.demo.state.gpt.generated.length >= 40, null, { timeout: 60_000 });
  s = await state();
  check(s.gpt.generated.length >= 40, `${backend}: generated ${JSON.stringify(s.gpt.generated)}`);

  // 4. A bad checkpoint folder is an error in the page, not a blank screen.
  const before = (await state()).errors.length;
  await page.setInputFiles('#hf-files', [
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from('{"model_type": "bert", ') },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from([1, 2, 3]) },
  ]);
  await page.waitForFunction((n) => window.demo.state.errors.length > n, before, { timeout: 20_000 });
  s = await state();
  check(s.errors.length > before && (await page.isVisible('#errors .error')), `${backend}: bad checkpoint shown as an error: ${JSON.stringify(s.errors.at(-1))}`);
  check(s.errors.length === before + 1, `${backend}: no other errors (${JSON.stringify(s.errors)})`);
}

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
