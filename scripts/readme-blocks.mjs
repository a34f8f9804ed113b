#!/usr/bin/env node
// Extracts every ```ts / ```js code block of the READMEs and runs it as written (TypeScript types stripped
// by the TypeScript compiler, nothing else changed), from the README's own folder so its package imports
// resolve. A block preceded by `<!-- not run: reason -->` is skipped and the reason printed.
//
//   node scripts/readme-blocks.mjs                   every README (root, packages/*, examples)
//   node scripts/readme-blocks.mjs packages/llama     only these folders
//
// Exit code non-zero if any block fails. Packages must be built first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ts = createRequire(import.meta.url)('typescript');
const only = process.argv.slice(2);

function readmes() {
  const dirs = only.length
    ? only.map((d) => join(root, d))
    : [
        root,
        ...['packages', 'apps'].flatMap((g) => readdirSync(join(root, g)).map((d) => join(root, g, d))),
        join(root, 'examples'),
      ];
  return dirs.map((d) => join(d, 'README.md')).filter((f) => existsSync(f));
}

/** [{ line, code, skip? }] for the ts/js blocks of one README. */
export function blocks(text) {
  const out = [];
  const re = /(<!--\s*not run:([^>]*)-->\s*\n[ \t]*)?```(ts|js|mjs|typescript)\n([\s\S]*?)```/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ line: text.slice(0, m.index).split('\n').length, code: m[4], skip: m[2]?.trim() });
  }
  return out;
}

let failed = 0;
let passed = 0;
for (const readme of readmes()) {
  // The root README's imports resolve from the examples package (it depends on the packages).
  const dir = dirname(readme) === root ? join(root, 'examples') : dirname(readme);
  for (const b of blocks(readFileSync(readme, 'utf8'))) {
    const where = `${relative(root, readme)}:${b.line}`;
    if (b.skip) {
      console.log(`skip ${where} (${b.skip})`);
      continue;
    }
    const js = ts.transpileModule(b.code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const file = join(dir, `.readme-block-${process.pid}.mjs`);
    const work = mkdtempSync(join(tmpdir(), 'tk-readme-'));
    writeFileSync(file, js);
    // Offline: a block that names a Hub id must read the cache or fail, never reach the network.
    const env = { ...process.env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' };
    const r = spawnSync(process.execPath, [file], { cwd: work, env, encoding: 'utf8', timeout: 300_000 });
    rmSync(file, { force: true });
    rmSync(work, { recursive: true, force: true });
    if (r.status === 0) {
      passed++;
      console.log(`ok   ${where}`);
    } else {
      failed++;
      console.log(
        `FAIL ${where}\n${(r.stderr || r.stdout || String(r.error)).split('\n').slice(0, 8).join('\n')}`,
      );
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
