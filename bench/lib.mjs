// Shared by every benchmark: time a function robustly, print a table, write JSON to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

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
