// Shared by every benchmark: time a function robustly, run one measurement per child process (ours or
// PyTorch's), print a table, write JSON to bench/results/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
// TK_BENCH_CHILD_MINUTES: a longer limit for software-adapter runs at real size.
const CHILD_TIMEOUT_MS = Number(process.env.TK_BENCH_CHILD_MINUTES ?? 15) * 60_000;
const lastLines = (text, n) => (text ?? '').trim().split('\n').slice(-n).join(' | ');

/** In a benchmark's child process: the one line its parent reads (see runChild). */
export function reportChild(result) {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/**
 * Runs `node <file> --child ...args` (a fresh process per backend: backends keep per-process state) and
 * returns what it reported, or `{ error }` with the end of its stderr.
 */
export function runChild(fileUrl, args, { timeout = CHILD_TIMEOUT_MS } = {}) {
  const r = spawnSync(process.execPath, [fileURLToPath(fileUrl), '--child', ...args], {
    cwd: here,
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 2 ** 20,
  });
  const line = (r.stdout ?? '').split('\n').findLast((l) => l.startsWith('RESULT '));
  if (line) return JSON.parse(line.slice('RESULT '.length));
  return { error: lastLines(r.stderr || r.error?.message, 2) || `exit ${r.status}` };
}

/**
 * Runs one of bench/'s PyTorch scripts with the system python3 and a JSON config (OpenMP waits passively, or
 * OpenMP and OpenBLAS spin against each other on 2 threads); its last stdout line parsed, or `{ error }`.
 */
export function runTorch(script, config, { timeout = CHILD_TIMEOUT_MS } = {}) {
  const r = spawnSync('/usr/bin/python3', [join(here, script), JSON.stringify(config)], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
  });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status === 0 && line?.startsWith('{')) return JSON.parse(line);
  return { error: lastLines(r.stderr || r.error?.message, 1) || `exit ${r.status}` };
}

/** Several runs of one measurement → the first, with the fastest of each `keys` field (other load only slows a run). */
export function fastestOf(runs, keys) {
  const best = Object.fromEntries(keys.map((k) => [k, Math.min(...runs.map((r) => r[k]))]));
  return { ...runs[0], ...best, runs };
}

/** Median wall time (ms) of `fn` over `iters` runs after `warmup` runs. `fn` may be async. */
export async function timeIt(fn, { warmup = 2, iters = 5 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Prints rows (objects with the same keys) as an aligned table. */
export function printTable(title, rows) {
  if (!rows.length) return;
  const keys = Object.keys(rows[0]);
  const cell = (v) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v ?? '');
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(r[k]).length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join('  ');
  console.log(`\n${title}`);
  console.log(line(keys));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(keys.map((k) => cell(r[k]))));
}

/** Writes `{ name, date, machine, ...data }` to bench/results/<name>.json and returns the path. */
export function writeResults(name, data) {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${name}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version };
  writeFileSync(
    path,
    JSON.stringify({ name, date: new Date().toISOString(), machine, ...data }, null, 2) + '\n',
  );
  console.log(`\nwrote ${path}`);
  return path;
}
