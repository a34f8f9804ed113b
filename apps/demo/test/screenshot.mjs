// Dev helper: serves dist-web and saves a full-page screenshot (test-results/page.png) of `?<query>`.
//   node test/screenshot.mjs "fast&backend=wasm"
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));
const { server, url } = await serve(join(here, 'dist-web'));
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'tk-shot-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1360, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
  ],
});
const page = await ctx.newPage();
page.on('console', (m) => console.log(`console.${m.type()}: ${m.text()}`));
await page.goto(`${url}?${process.argv[2] ?? 'fast'}`);
await page.waitForTimeout(Number(process.argv[3] ?? 3000));
mkdirSync(join(here, 'test-results'), { recursive: true });
await page.screenshot({ path: join(here, 'test-results', 'page.png'), fullPage: true });
await ctx.close();
server.close();
