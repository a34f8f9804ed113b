/** The main entry bundles for a browser: no Node built-ins reachable from src/index.ts. */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

test('src/index.ts bundles with platform=browser and imports nothing from Node', async () => {
  const fromTsup = createRequire(createRequire(import.meta.url).resolve('tsup'));
  // esbuild comes with tsup (no direct dependency needed).
  const esbuild = fromTsup('esbuild') as {
    build(
      o: object,
    ): Promise<{ metafile?: { inputs: Record<string, unknown> }; outputFiles?: { text: string }[] }>;
  };
  const r = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(r.metafile!.inputs);
  expect(inputs.some((p) => p.includes('node:') || /(^|\/)(fs|path)$/.test(p))).toBe(false);
  expect(r.outputFiles![0]!.text).not.toMatch(/from\s+["'](node:)?(fs|path|os)["']/);
  expect(r.outputFiles![0]!.text.length).toBeGreaterThan(10_000);
});
