// Builds this page to bench/scale-page/dist with apps/demo's Vite (bench has no bundler of its own).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const demo = fileURLToPath(new URL('../../apps/demo/', import.meta.url));

export async function buildPage() {
  const viteDir = dirname(createRequire(join(demo, 'package.json')).resolve('vite/package.json'));
  const { build } = await import(pathToFileURL(join(viteDir, 'dist', 'node', 'index.js')).href);
  const outDir = join(here, 'dist');
  await build({
    configFile: false,
    root: here,
    base: './',
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8000 },
  });
  return outDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await buildPage());
