#!/usr/bin/env node
// Install-alone test: do the published packages work outside this workspace?
//   1. `pnpm pack` every publishable package (workspace:* and catalog: become real versions);
//   2. install all tarballs together into a blank temp project with plain npm, with the peer
//      @tensorflow/tfjs@4.22.0;
//   3. import them from an .mjs script and from a .ts file type-checked by tsc (NodeNext resolution, so
//      the exports maps and .d.ts files are what a user gets); run both: a tiny forward pass on cpu for the
//      model packages (and on wasm, which must find its .wasm files in the installed package), an import
//      for the rest;
//   4. install the tokenizer tarball alone, without TF.js, and import it (it must not need TF.js).
// Needs the packages built (dist/). Exits non-zero on any failure. Keeps the temp dir with --keep.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packTarballs, publishableNames } from './pack.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TFJS = '@tensorflow/tfjs@4.22.0';
const keep = process.argv.includes('--keep');
const t0 = Date.now();
const log = (msg) => console.log(`[install-alone ${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}`);
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

const names = publishableNames();

const work = mkdtempSync(join(tmpdir(), 'tk-install-alone-'));
let ok = false;
try {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  // The documented command (scripts/pack.mjs, `pnpm pack:all`): what a user installs is what is tested.
  const files = packTarballs(tarballs);
  log(`packed ${files.length}: ${readdirSync(tarballs).join(', ')}`);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'blank', private: true, type: 'module' }, null, 2),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', TFJS, ...files], app);
  log(`npm installed ${names.join(', ')} + ${TFJS}`);

  writeFileSync(join(app, 'smoke.mjs'), smokeMjs(names));
  writeFileSync(join(app, 'smoke.ts'), smokeTs(names));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        types: [],
        lib: ['ES2022', 'DOM'],
        outDir: 'out',
      },
      files: ['smoke.ts'],
    }),
  );
  process.stdout.write(run(process.execPath, ['smoke.mjs'], app));
  // The repo's TypeScript, pointed at the blank project: it sees only what npm installed there.
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
  log('smoke.ts type-checks against the installed .d.ts files');
  process.stdout.write(run(process.execPath, ['out/smoke.js'], app));

  // The tokenizer stands alone: installed by itself, without TF.js, it must still import.
  const tokenizer = files.find((f) => /transformer-kit-tokenizer-[^/]*\.tgz$/.test(f));
  if (tokenizer) {
    const solo = join(work, 'tokenizer-alone');
    mkdirSync(solo);
    writeFileSync(
      join(solo, 'package.json'),
      JSON.stringify({ name: 'solo', private: true, type: 'module' }),
    );
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tokenizer], solo);
    const probe = `import * as t from '@transformer-kit/tokenizer';
import { existsSync } from 'node:fs';
if (existsSync('node_modules/@tensorflow')) throw new Error('the tokenizer pulled in TF.js');
console.log('tokenizer alone: imported without TF.js (' + Object.keys(t).length + ' exports)');`;
    writeFileSync(join(solo, 'probe.mjs'), probe);
    process.stdout.write(run(process.execPath, ['probe.mjs'], solo));
  }
  ok = true;
} catch (err) {
  console.error(`install-alone FAILED: ${err.message.split('\n')[0]}`);
  if (err.stdout) console.error(err.stdout);
} finally {
  if (keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
log(ok ? 'passed' : 'failed');
process.exit(ok ? 0 : 1);

/** Plain ESM: import every package, run what can run. */
function smokeMjs(pkgs) {
  return `import * as tf from '@tensorflow/tfjs';
${pkgs.map((n, i) => `import * as p${i} from '${n}';`).join('\n')}
const pkgs = { ${pkgs.map((n, i) => `'${n}': p${i}`).join(', ')} };
for (const [name, mod] of Object.entries(pkgs)) {
  if (Object.keys(mod).length === 0 && name !== '@transformer-kit/tokenizer') throw new Error(name + ' exports nothing');
}
${forwardChecks('mjs')}
// wasm must find its .wasm files inside the installed package.
const wasm = await initBackend('wasm');
expectShape('core Linear on wasm', tf.tidy(() => new Linear(4, 3).forward(tf.ones([2, 4]))), [2, 3]);
console.log('smoke.mjs: imported ' + Object.keys(pkgs).length + ' packages; forward passes ok on cpu and ' + wasm.backend + ' (simd ' + wasm.wasm.simd + ')');
`;
}

/** Typed use of the public APIs; tsc checks it against the packed .d.ts files, then node runs it. */
function smokeTs(pkgs) {
  return `import * as tf from '@tensorflow/tfjs';
${pkgs.map((n, i) => `import * as p${i} from '${n}';`).join('\n')}
const count: number = [${pkgs.map((_, i) => `p${i}`).join(', ')}].length;
${forwardChecks('ts')}
console.log('smoke.ts: ' + count + ' packages type-checked and ran on ' + info.backend);
`;
}

/** A tiny forward on cpu for each model package that is installed. */
function forwardChecks(kind) {
  const has = (n) => names.includes(n);
  const ts = kind === 'ts';
  const lines = [
    `import { initBackend, Linear${ts ? ', type BackendInfo' : ''} } from '@transformer-kit/core';`,
    `const info${ts ? ': BackendInfo' : ''} = await initBackend('cpu');`,
    `const expectShape = (what${ts ? ': string' : ''}, t${ts ? ': tf.Tensor' : ''}, shape${ts ? ': number[]' : ''}) => {`,
    `  if (!tf.util.arraysEqual(t.shape, shape)) throw new Error(what + ': shape ' + t.shape + ', want ' + shape);`,
    '};',
    `expectShape('core Linear', tf.tidy(() => new Linear(4, 3).forward(tf.ones([2, 4]))), [2, 3]);`,
  ];
  if (has('@transformer-kit/gpt')) {
    lines.unshift(`import { GPT } from '@transformer-kit/gpt';`);
    lines.push(
      `{ const gpt = new GPT('tiny'); const logits = gpt.forward([[1, 2, 3]]); expectShape('gpt', logits, [1, 3, gpt.config.vocabSize]); logits.dispose(); gpt.dispose(); }`,
    );
  }
  if (has('@transformer-kit/bert')) {
    lines.unshift(`import { BertModel, bertConfig } from '@transformer-kit/bert';`);
    lines.push(
      `{ const bert = new BertModel(bertConfig('tiny')); const out = bert.forward({ inputIds: [[1, 2, 3]] }); expectShape('bert', out.lastHiddenState, [1, 3, bert.config.hiddenSize]); bert.dispose(); }`,
    );
  }
  if (has('@transformer-kit/llama')) {
    lines.unshift(`import { LlamaForCausalLM } from '@transformer-kit/llama';`);
    lines.push(
      `{ const llama = new LlamaForCausalLM('tiny'); const logits = llama.forward([[1, 2, 3]]); expectShape('llama', logits, [1, 3, llama.config.vocabSize]); logits.dispose(); llama.dispose(); }`,
    );
  }
  if (has('@transformer-kit/vit')) {
    lines.unshift(`import { ViTModel, vitConfig } from '@transformer-kit/vit';`);
    lines.push(
      `{ const vit = new ViTModel(vitConfig('nano')); const out = vit.forward(tf.zeros([1, 8, 8, 1])); expectShape('vit', out.lastHiddenState, [1, 17, vit.config.hiddenSize]); out.lastHiddenState.dispose(); vit.dispose(); }`,
    );
  }
  // Imports must come first in a module.
  const imports = lines.filter((l) => l.startsWith('import '));
  return [...imports.map((l) => l), ...lines.filter((l) => !l.startsWith('import '))].join('\n');
}
