#!/usr/bin/env node
// Writes an npm-installable tarball of every publishable package (packages/*, not private) into a folder:
// `pnpm pack` resolves the workspace:* and catalog: ranges to real versions (`npm pack` would leave them,
// and npm then fails with EUNSUPPORTEDPROTOCOL). Needs the packages built (dist/).
//
//   node scripts/pack.mjs [dest]     default dest: ./tarballs; prints the npm install line
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM = 'pnpm@10.34.9';

/** Names of the publishable packages, in folder order. */
export function publishableNames() {
  return readdirSync(join(root, 'packages'))
    .map((d) => join(root, 'packages', d, 'package.json'))
    .flatMap((f) => {
      try {
        const pkg = JSON.parse(readFileSync(f, 'utf8'));
        return pkg.private === true ? [] : [pkg.name];
      } catch {
        return [];
      }
    });
}

/** Packs every publishable package into `dest`; returns the tarball paths. */
export function packTarballs(dest) {
  mkdirSync(dest, { recursive: true });
  const filters = publishableNames().flatMap((n) => ['--filter', n]);
  execFileSync('npx', ['-y', PNPM, '-r', ...filters, 'pack', '--pack-destination', dest], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return readdirSync(dest)
    .filter((f) => f.startsWith('transformer-kit-') && f.endsWith('.tgz'))
    .map((f) => join(dest, f));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dest = resolve(process.argv[2] ?? join(root, 'tarballs'));
  const files = packTarballs(dest);
  console.log(`${files.length} tarballs in ${dest}:`);
  for (const f of files) console.log(`  ${f}`);
  console.log(`install in any npm project:\n  npm install @tensorflow/tfjs@4.22.0 ${files.join(' ')}`);
}
