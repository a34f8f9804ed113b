#!/usr/bin/env node
// Runs every package's tests and says plainly what it ran, what it skipped and why.
//
//   node scripts/test.mjs                              normal suites (cpu/wasm), then the WebGPU suite if an
//                                                      adapter exists (else: "no WebGPU adapter (...): N skipped")
//   node scripts/test.mjs --webgpu-only --require-webgpu   only the WebGPU suite; no adapter is a failure
//   node scripts/test.mjs core gpt                     only these packages (directory names)
//   --no-install-alone                                 skip scripts/install-alone.mjs (pack + npm install into a
//                                                      blank project, ~20 s with a warm npm cache)
//
// Env: TK_PACKAGE_TIMEOUT_MIN (per-package limit, default 20); the runner sets TK_WEBGPU_SUITE for vitest.
// Packages must be built first (root `pnpm test` does `turbo run build` before this). The last line is
// always `N passed, N failed, N skipped`; the exit code is non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const webgpuOnly = args.has('--webgpu-only');
const requireWebgpu = args.has('--require-webgpu');
const installAlone = !args.has('--no-install-alone');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const PACKAGE_TIMEOUT_MIN = Number(process.env.TK_PACKAGE_TIMEOUT_MIN ?? 20);
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

/** Workspace packages with a vitest setup, in dependency order (so core's failures show first). */
function packages() {
  const order = [
    'backend-webgpu',
    'core',
    'tokenizer',
    'attention',
    'heads',
    'gpt',
    'bert',
    'vit',
    'llama',
    'lora',
    'examples',
    'demo',
  ];
  const dirs = ['packages', 'apps'].flatMap((group) =>
    existsSync(join(root, group)) ? readdirSync(join(root, group)).map((d) => join(root, group, d)) : [],
  );
  // The runnable examples (examples/*.mjs) are a package of their own, tested after the packages they use.
  dirs.push(join(root, 'examples'));
  const rank = (d) => {
    const i = order.indexOf(d.split('/').pop());
    return i < 0 ? order.length : i;
  };
  return dirs
    .filter((d) => existsSync(join(d, 'vitest.config.ts')))
    .filter((d) => only.length === 0 || only.includes(d.split('/').pop()))
    .sort((a, b) => rank(a) - rank(b));
}

function testFiles(dir, webgpu) {
  const out = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'node_modules') walk(join(d, e.name));
      else if (e.name.endsWith('.test.ts') && e.name.endsWith('.webgpu.test.ts') === webgpu)
        out.push(join(d, e.name));
    }
  };
  walk(join(dir, 'test'));
  return out;
}

/** Runs one package's vitest suite, streaming its output; adds its counts to the totals. */
function runVitest(dir, webgpu) {
  const label = `${relative(root, dir)}${webgpu ? ' (webgpu)' : ''}`;
  console.log(`\n── ${label} ${'─'.repeat(Math.max(0, 60 - label.length))}`);
  const tmp = mkdtempSync(join(tmpdir(), 'tk-test-'));
  const report = join(tmp, 'report.json');
  const env = {
    ...process.env,
    TK_WEBGPU_SUITE: webgpu ? '1' : '0',
    ...(process.env.FORCE_COLOR ? {} : { NO_COLOR: '1' }),
  };
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
      { cwd: dir, env, stdio: 'inherit' },
    );
    // A hung suite must not eat CI's 90 minutes: one package gets at most PACKAGE_TIMEOUT_MIN.
    const timer = setTimeout(() => child.kill('SIGKILL'), PACKAGE_TIMEOUT_MIN * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let r;
      try {
        r = JSON.parse(readFileSync(report, 'utf8'));
      } catch {
        r = undefined;
      }
      rmSync(tmp, { recursive: true, force: true });
      const passed = r?.numPassedTests ?? 0;
      let failed = r?.numFailedTests ?? 0;
      const skipped = (r?.numPendingTests ?? 0) + (r?.numTodoTests ?? 0);
      // A file that fails to load, or vitest itself failing, has no failing test to count: count the files.
      if (code !== 0 && failed === 0) failed = Math.max(1, r?.numFailedTestSuites ?? 0);
      totals.passed += passed;
      totals.failed += failed;
      totals.skipped += skipped;
      if (failed > 0) failures.push(`${label}: ${failed} failed${signal ? ` (killed by ${signal})` : ''}`);
      resolve();
    });
  });
}

/** Asks core (built) for a WebGPU adapter, in a child process so Dawn stays out of this one. */
function probeWebGPU() {
  const core = pathToFileURL(join(root, 'packages', 'core', 'dist', 'index.js')).href;
  const code = `const { probeWebGPU } = await import(${JSON.stringify(core)}); console.log(JSON.stringify(await probeWebGPU()));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = r.stdout?.trim().split('\n').pop();
  try {
    return JSON.parse(line ?? '');
  } catch {
    const why =
      r.error?.message ?? (r.stderr?.trim().split('\n').slice(-1)[0] || `probe exited with ${r.status}`);
    return { available: false, software: false, reason: `probe failed: ${why} (is packages/core built?)` };
  }
}

/** Number of tests in the WebGPU files, without running them. */
function countWebgpuTests(dirs) {
  let n = 0;
  for (const dir of dirs) {
    const r = spawnSync(process.execPath, [vitest, 'list', '--json'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, TK_WEBGPU_SUITE: '1' },
    });
    try {
      n += JSON.parse(r.stdout).length;
    } catch {
      return undefined;
    }
  }
  return n;
}

function runInstallAlone() {
  console.log(`\n── install-alone ${'─'.repeat(44)}`);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'install-alone.mjs')], { stdio: 'inherit' });
  if (r.status === 0) totals.passed += 1;
  else {
    totals.failed += 1;
    failures.push('install-alone: failed');
  }
}

const all = packages();
if (!webgpuOnly) {
  // Every package with a vitest setup runs, so one whose tests vanished fails (passWithNoTests is off).
  for (const dir of all) await runVitest(dir, false);
  if (installAlone && only.length === 0) runInstallAlone();
}

const webgpuDirs = all.filter((d) => testFiles(d, true).length > 0);
const webgpuFileCount = webgpuDirs.reduce((n, d) => n + testFiles(d, true).length, 0);
const probe = probeWebGPU();
let skipNote = '';
if (probe.available) {
  console.log(`\nWebGPU suite: ${webgpuFileCount} files on ${probe.reason}`);
  for (const dir of webgpuDirs) await runVitest(dir, true);
} else {
  const tests = countWebgpuTests(webgpuDirs);
  const what =
    tests === undefined
      ? `${webgpuFileCount} webgpu test files`
      : `${tests} webgpu tests in ${webgpuFileCount} files`;
  skipNote = `no WebGPU adapter (${probe.reason}): ${what} skipped`;
  if (requireWebgpu) {
    totals.failed += Math.max(1, tests ?? webgpuFileCount);
    failures.push(`WebGPU suite required (--require-webgpu): ${skipNote}`);
    skipNote = '';
  } else {
    totals.skipped += tests ?? 0;
  }
}

console.log('');
for (const f of failures) console.log(`FAILED ${f}`);
if (skipNote) console.log(skipNote);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
