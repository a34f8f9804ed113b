// Browser suite: every kernel check of test/checks.ts (the ones the Node WebGPU suite runs on Dawn) in
// Debian's headless Chromium, WebGPU on Chromium's SwiftShader where there is no GPU. Builds test/browser/
// with Vite into a temporary folder, serves it to the page through playwright's request routing, and fails
// on any failed check, on a harness control that did not fail (a buffer the device rejects), and on any
// WebGPU error or warning the page printed.
//   node test/browser.mjs           (from packages/backend-webgpu; `pnpm test:browser` there)
// Env: CHROMIUM_PATH (default /usr/bin/chromium). Exits non-zero on any failure; bounded in time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOTAL_MS = 5 * 60_000;
// A secure context (WebGPU needs one); requests to it never leave playwright.
const ORIGIN = 'http://localhost:4190';

function fail(msg) {
  console.error(`backend-webgpu browser test FAILED: ${msg}`);
  process.exit(1);
}
const watchdog = setTimeout(() => fail(`did not finish within ${TOTAL_MS / 60_000} minutes`), TOTAL_MS);

const started = performance.now();
const dist = mkdtempSync(join(tmpdir(), 'tk-webgpu-kernels-'));
const profile = mkdtempSync(join(tmpdir(), 'tk-chromium-'));
let context;
const logs = [];
let result;
let error;
try {
  await build({
    configFile: false,
    root: join(here, 'browser'),
    base: './',
    logLevel: 'warn',
    build: { outDir: dist, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8000 },
  });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      // WebGPU without a GPU: Chromium's SwiftShader (Vulkan on the CPU) provides the adapter.
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
    ],
  });
  await context.route(`${ORIGIN}/**`, (route) => {
    const path = normalize(join(dist, new URL(route.request().url()).pathname));
    return path.startsWith(dist) ? route.fulfill({ path }) : route.abort();
  });
  const page = await context.newPage();
  page.on('console', (m) => logs.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => logs.push({ type: 'pageerror', text: e.message }));
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(() => window.kernelChecks?.ready, null, { timeout: 60_000 });
  result = await page.evaluate(() => window.kernelChecks.run());
} catch (err) {
  error = `${err?.message ?? err}`.split('\n')[0];
} finally {
  await context?.close();
  rmSync(dist, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}

if (error) fail(`${error}\n${logs.map((l) => `${l.type}: ${l.text}`).join('\n')}`);
const { adapter, control, checks } = result;
console.log(`adapter: ${adapter.vendor} ${adapter.architecture} ${adapter.description}`.trim());
const failures = [];
if (control.ok) failures.push(`${control.name}: passed, so a device error would go unseen`);
else console.log(`  ok   ${control.name} (failed as it must: ${control.error.slice(0, 100)})`);
for (const c of checks) {
  const worst = c.worst > 0 ? `, max rel. error ${c.worst.toExponential(1)}` : '';
  console.log(
    `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name} (${Math.round(c.ms)} ms${worst})${c.ok ? '' : `: ${c.error}`}`,
  );
  if (!c.ok) failures.push(`${c.name}: ${c.error}`);
}
// Chromium prints a device error no scope caught as a console warning ("Buffer usages ... is invalid",
// "[Invalid CommandBuffer] ..."); the page prints nothing else, and the control's error was caught by its
// scope. So any warning or error fails.
const printed = logs.filter((l) => l.type === 'pageerror' || l.type === 'error' || l.type === 'warning');
for (const l of printed) failures.push(`the page printed ${l.type}: ${l.text.slice(0, 300)}`);
if (checks.length === 0) failures.push('no checks ran');
clearTimeout(watchdog);
const seconds = ((performance.now() - started) / 1000).toFixed(0);
const passed = checks.filter((c) => c.ok).length;
console.log(`${passed} of ${checks.length} kernel checks passed in Chromium (${seconds} s)`);
if (failures.length) fail(failures.join('\n'));
