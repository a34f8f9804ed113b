import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, expect, it } from 'vitest';

// Plain cpu users and the browser bundle must not pay for TF.js's wasm, WebGPU or native backends: in a
// browser build of the whole package, those are reached only through dynamic imports (their own chunks), and
// the Node-only packages (Dawn, tfjs-node) only through the loader, whose specifier bundlers do not follow.
// @transformer-kit/backend-wasm (core's kernels for TF.js's wasm backend, ~40 KB of base64, compiled only
// when wasm starts) is static, as the kernels were when they lived in core: core re-exports its constants
// and heap functions. Its own bundle imports only TF.js (its build test).
const out = mkdtempSync(join(tmpdir(), 'tk-backend-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the browser bundle imports only @tensorflow/tfjs statically; backends load on demand', async () => {
  await build({
    entry: { index: fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
    outDir: out,
    format: ['esm'],
    platform: 'browser',
    external: [/^@tensorflow\//],
    dts: false,
    silent: true,
    config: false,
  });
  const code = readFileSync(join(out, 'index.js'), 'utf8');
  const staticImports = [...code.matchAll(/(?:\bfrom|^import)\s*["']([^"']+)["']/gm)].map((m) => m[1]);
  expect(new Set(staticImports)).toEqual(new Set(['@tensorflow/tfjs', '@transformer-kit/backend-wasm']));
  const dynamicImports = [...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
  expect(dynamicImports).toContain('@tensorflow/tfjs-backend-wasm');
  expect(dynamicImports).toContain('@tensorflow/tfjs-backend-webgpu');
  for (const nodeOnly of ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    expect(dynamicImports).not.toContain(nodeOnly);
    expect(staticImports).not.toContain(nodeOnly);
  }
});
