import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
// @ts-expect-error: plain .mjs build script, no types
import { compileKernel } from '../scripts/build-kernels.mjs';
import { WASM_RELAXED, WASM_RELAXED_SHARED, WASM_SIMD, WASM_SIMD_SHARED } from '../src/kernels.wasm.js';

const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

it('committed builds match kernels.wat (scripts/build-kernels.mjs)', async () => {
  const committed = readFileSync(new URL('../src/kernels.wasm.ts', import.meta.url), 'utf8');
  expect(await compileKernel('kernels.wat')).toBe(committed);
});

it('imports its memory (plain or shared) and defines none; the shared builds need a shared memory', () => {
  const plain = new WebAssembly.Module(bytes(WASM_SIMD));
  const shared = new WebAssembly.Module(bytes(WASM_SIMD_SHARED));
  for (const mod of [plain, shared]) {
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(mod).some((e) => e.kind === 'memory')).toBe(false);
  }
  const unshared = new WebAssembly.Memory({ initial: 32, maximum: 65536 });
  const sharedMemory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  expect(() => new WebAssembly.Instance(plain, { env: { memory: unshared } })).not.toThrow();
  expect(() => new WebAssembly.Instance(shared, { env: { memory: sharedMemory } })).not.toThrow();
  // A mismatch is refused at instantiation: the runtime must pick the build by the heap it binds to.
  expect(() => new WebAssembly.Instance(plain, { env: { memory: sharedMemory } })).toThrow(
    WebAssembly.LinkError,
  );
  expect(() => new WebAssembly.Instance(shared, { env: { memory: unshared } })).toThrow(
    WebAssembly.LinkError,
  );
});

it('the relaxed and shared builds are the same code: same size, the shared ones one flag byte apart', () => {
  const [simd, relaxed, simdShared, relaxedShared] = [
    WASM_SIMD,
    WASM_RELAXED,
    WASM_SIMD_SHARED,
    WASM_RELAXED_SHARED,
  ].map(bytes);
  const diff = (a: Uint8Array, b: Uint8Array) => a.reduce((n, x, i) => n + (x === b[i] ? 0 : 1), 0);
  expect(simdShared!.length).toBe(simd!.length);
  expect(diff(simd!, simdShared!)).toBe(1);
  expect(relaxedShared!.length).toBe(relaxed!.length);
  expect(diff(relaxed!, relaxedShared!)).toBe(1);
  expect(diff(simd!, relaxed!)).toBeGreaterThan(0);
});

it('bundles for the browser importing only @tensorflow/tfjs statically (Node built-ins load on demand)', async () => {
  const { build } = await import('tsup');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const out = mkdtempSync(join(tmpdir(), 'tk-backend-wasm-bundle-'));
  try {
    await build({
      entry: { index: new URL('../src/index.ts', import.meta.url).pathname },
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
    expect(new Set(staticImports)).toEqual(new Set(['@tensorflow/tfjs']));
    const dynamicImports = [...code.matchAll(/\bimport\(\s*(?:\/\*.*?\*\/\s*)*["']([^"']+)["']\s*\)/g)].map(
      (m) => m[1],
    );
    // esbuild drops the `node:` prefix of a built-in.
    expect(dynamicImports).toContain('worker_threads');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
