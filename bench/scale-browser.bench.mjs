// The scale benchmark's WebGPU rows in Chromium: bench/scale-workloads.mjs in a page (bench/scale-page/,
// built with apps/demo's Vite) in Debian's headless Chromium driven by playwright-core, WebGPU on
// Chromium's SwiftShader where there is no GPU (marked `software`). Each workload gets a fresh page; its
// losses are compared with wasm's in Node for the same seed (first 3 steps; set TK_BENCH_NO_DROPOUT=1, as
// each backend draws its dropout masks its own way). Same environment overrides as scale.bench.mjs.
//   node bench/scale-browser.bench.mjs [webgpu | webgpu:limits=default ...] [--only workload,...]
// A spec ending in :tfjs runs TF.js's kernels only (core's fused kernels unregistered): the dispatch baseline.
// Skips (exit 0) without Chromium.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, runChild, writeResults } from './lib.mjs';
import { buildPage } from './scale-page/build.mjs';

const env = process.env;
const demo = fileURLToPath(new URL('../apps/demo/', import.meta.url));
const chromiumPath = env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const cfg = {
  BATCH: Number(env.TK_BENCH_BATCH ?? 8),
  BERT_SIZE: env.TK_BENCH_BERT ?? 'base',
  NO_DROPOUT: env.TK_BENCH_NO_DROPOUT === '1',
  POSITIONS: (env.TK_BENCH_POSITIONS ?? '16,512').split(',').map(Number),
  steps: env.TK_BENCH_STEPS ? Number(env.TK_BENCH_STEPS) : 2,
};
const STEP_LIMIT_MS = Number(env.TK_BENCH_CHILD_MINUTES ?? 15) * 60_000;

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1].split(',') : ['bert-finetune', 'gpt2-train'];
const specs = args.length ? args : ['webgpu', 'webgpu:limits=default'];

if (!existsSync(chromiumPath)) {
  console.log(`skipped: no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`);
  process.exit(0);
}
const dist = await buildPage();
const { chromium } = createRequire(join(demo, 'package.json'))('playwright-core');
const { serve } = await import(join(demo, 'test', 'serve.mjs'));
const { server, url } = await serve(dist);
const profile = mkdtempSync(join(os.tmpdir(), 'tk-bench-scale-'));
const context = await chromium.launchPersistentContext(profile, {
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

async function inPage(spec, workload) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_LIMIT_MS);
  try {
    await page.goto(`${url}index.html`);
    await page.waitForFunction(() => window.scale?.ready, null, { timeout: 60_000 });
    return await page.evaluate(({ cfg, spec, workload }) => window.scale.run(cfg, spec, workload), {
      cfg,
      spec,
      workload,
    });
  } catch (err) {
    return { error: String(err?.message ?? err).split('\n')[0] };
  } finally {
    await page.close();
  }
}

const rows = [];
const runs = [];
try {
  for (const workload of only) {
    const wasm = runChild(new URL('./scale.bench.mjs', import.meta.url), ['wasm', workload]);
    runs.push({ where: 'node', backend: 'wasm', workload, ...wasm });
    for (const spec of specs) {
      const r = await inPage(spec, workload);
      runs.push({ where: 'chromium', backend: spec, workload, ...r });
      const n = Math.min(3, r.losses?.length ?? 0, wasm.losses?.length ?? 0);
      let worst;
      for (let i = 0; i < n; i++) {
        const rel = Math.abs(r.losses[i] - wasm.losses[i]) / Math.abs(wasm.losses[i]);
        worst = Math.max(worst ?? 0, rel);
      }
      rows.push({
        workload,
        backend: `chromium ${spec}`,
        software: r.softwareAdapter ? 'yes' : r.error ? '' : 'no',
        ms: r.ms ?? (r.msPerToken ? Object.values(r.msPerToken).join(' / ') : undefined),
        'dispatches/step': r.dispatchesPerStep,
        'GPU MB': r.gpuMB,
        losses: r.losses?.map((l) => l.toFixed(5)).join(' '),
        'wasm (node) losses': wasm.losses?.map((l) => l.toFixed(5)).join(' '),
        'Δloss vs wasm': worst,
        tensors:
          r.tensorsLeaked !== undefined
            ? r.tensorsLeaked === 0
              ? 'flat'
              : `+${r.tensorsLeaked}`
            : r.tensorsAfterFirstStep === r.tensorsAfterLastStep
              ? 'flat'
              : `${r.tensorsAfterFirstStep}→${r.tensorsAfterLastStep}`,
        note: r.error ?? wasm.error,
      });
    }
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
printTable(
  `Chromium WebGPU, batch ${cfg.BATCH} × 128 (BERT ${cfg.BERT_SIZE}; ms per step, best of runs)`,
  rows,
);
writeResults(env.TK_BENCH_RESULTS ?? 'scale-browser', { config: cfg, runs, rows, cpu: os.cpus()[0]?.model });
