import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, expect, it } from 'vitest';

// The checkpoint and training code must bundle for the browser without pulling Node's fs: esbuild (what
// Vite and tsup use) fails on a static `node:` import when the platform is 'browser'.
const out = mkdtempSync(join(tmpdir(), 'tk-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('checkpoint IO and training utilities bundle for the browser with no static fs import', async () => {
  const src = (f: string) => fileURLToPath(new URL(`../src/${f}`, import.meta.url));
  const entry = join(out, 'entry.ts');
  writeFileSync(
    entry,
    ['checkpoint.ts', 'hub.ts', 'download.ts', 'safetensors.ts', 'train.ts', 'optim.ts']
      .map((f) => `export * from ${JSON.stringify(src(f))};`)
      .join('\n'),
  );
  await build({
    entry: { bundle: entry },
    outDir: out,
    format: ['esm'],
    platform: 'browser',
    external: [/^@tensorflow\//],
    dts: false,
    silent: true,
    config: false,
  });
  const code = readFileSync(join(out, 'bundle.js'), 'utf8');
  expect(code).toContain('loadCheckpoint');
  // esbuild keeps Node builtins external (and drops the `node:` prefix): every static import must be TF.js,
  // or backend-wasm (AdamW's host views on wasm), whose own browser bundle imports only TF.js statically.
  const imported = [...code.matchAll(/(?:\bfrom|^import)\s*["']([^"']+)["']/gm)].map((m) => m[1]);
  expect(imported.length).toBeGreaterThan(0);
  expect(
    imported.filter((s) => !s!.startsWith('@tensorflow/') && s !== '@transformer-kit/backend-wasm'),
  ).toEqual([]);
  expect(code).not.toMatch(/\brequire\(/);
});
