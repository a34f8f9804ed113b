// The wasm backend's threads in a page: apps/demo's bare threads page (dist-web/threads.html, served
// cross-origin isolated by apps/demo/test/serve.mjs) in Debian's headless Chromium. A BERT fine-tuning step
// (sequence classification, batch 8 × 128; `mini` by default, `node bench/page-threads.bench.mjs small` for
// BERT-small) with XNNPACK's pool (TF.js's threaded build: element-wise ops, plain products) and core's
// product pool (Web Workers, backend-wasm's pool.ts) each on 1 or 2 threads. Each setting gets a fresh page (the
// XNNPACK pool is fixed when TF.js's module starts); settings alternate over rounds, best round kept.
// MFU is against XNNPACK's single-thread 2-D tf.matMul peak, measured in the one-thread page.
// Needs `pnpm build` and `vite build` in apps/demo first; skips (exit 0) without the page or Chromium.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, writeResults } from './lib.mjs';

const demo = fileURLToPath(new URL('../apps/demo/', import.meta.url));
const dist = join(demo, 'dist-web');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SIZE = process.argv[2] ?? 'mini';
const BERT = {
  mini: { dim: 256, layers: 4, inter: 1024 },
  small: { dim: 512, layers: 4, inter: 2048 },
}[SIZE];
const BATCH = 8;
const SEQ = 128;
const ROUNDS = 3;
/** [XNNPACK threads (the page's ?threads), core's product threads] */
const SETTINGS = [
  [1, 1],
  [2, 2],
  [1, 2],
  [2, 1],
];
// Training = 3 × forward; matmul FLOPs per token through L blocks of width d, MLP width i, over s keys.
const blockFlops = (layers, d, i, s) => layers * (2 * (4 * d * d + 2 * d * i) + 4 * s * d);

if (!BERT) {
  console.error(`unknown size '${SIZE}': mini or small`);
  process.exit(1);
}
if (!existsSync(join(dist, 'threads.html')) || !existsSync(chromiumPath)) {
  console.log(
    `skipped: needs ${join(dist, 'threads.html')} (vite build in apps/demo) and Chromium at ${chromiumPath}`,
  );
  process.exit(0);
}
const { chromium } = createRequire(join(demo, 'package.json'))('playwright-core');
const { serve } = await import(join(demo, 'test', 'serve.mjs'));

const flops = 3 * BATCH * SEQ * blockFlops(BERT.layers, BERT.dim, BERT.inter, SEQ);
const { server, url } = await serve(dist);
const profile = mkdtempSync(join(os.tmpdir(), 'tk-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
});

/** One fresh page: its backend info, the median step of a few, and (asked) XNNPACK's matmul peak. */
async function measure([xnnpack, kernel], withPeak) {
  const page = await context.newPage();
  try {
    await page.goto(`${url}threads.html?threads=${xnnpack}`);
    await page.waitForFunction(() => window.threads?.ready, null, { timeout: 60_000 });
    return await page.evaluate(
      async ({ kernel, size, withPeak }) => {
        const t = window.threads;
        await t.ready;
        const kernelThreads = await t.setKernelThreads(kernel);
        const peak = withPeak ? await t.matmulGflops() : undefined;
        const ms = await t.bertStepMs(size, { warmup: 1, iters: 4 });
        return { xnnpack: t.info.wasm.threadsCount, kernelThreads, peak, ms };
      },
      { kernel, size: SIZE, withPeak },
    );
  } finally {
    await page.close();
  }
}

const runs = [];
let peak;
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const setting of SETTINGS) {
      const r = await measure(setting, round === 0 && setting[0] === 1 && setting[1] === 1);
      peak ??= r.peak;
      runs.push({ round, xnnpack: r.xnnpack, kernel: r.kernelThreads, ms: r.ms });
      console.log(`  round ${round}: XNNPACK ${r.xnnpack}, core ${r.kernelThreads}: ${r.ms.toFixed(0)} ms`);
    }
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

const best = (x, k) => Math.min(...runs.filter((r) => r.xnnpack === x && r.kernel === k).map((r) => r.ms));
const base = best(1, 1);
const rows = SETTINGS.map(([x, k]) => {
  const ms = best(x, k);
  const gflops = flops / ms / 1e6;
  return {
    'XNNPACK threads': x,
    'core threads': k,
    'ms/step': ms,
    'tok/s': (BATCH * SEQ * 1000) / ms,
    'GFLOP/s': gflops,
    MFU: `${Math.round((100 * gflops) / peak)}%`,
    speedup: base / ms,
  };
});
printTable(
  `BERT-${SIZE} fine-tuning step in a page, batch ${BATCH} × ${SEQ} (best of ${ROUNDS} rounds; XNNPACK 1-thread peak ${peak.toFixed(1)} GF/s)`,
  rows,
);
writeResults(SIZE === 'mini' ? 'page-threads' : `page-threads-${SIZE}`, {
  config: { model: `bert-${SIZE}`, ...BERT, batch: BATCH, seq: SEQ, rounds: ROUNDS, flopsPerStep: flops },
  browser: chromiumPath,
  peakGflops: peak,
  runs,
  rows,
});
