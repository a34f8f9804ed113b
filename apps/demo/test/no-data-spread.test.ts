import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Spreading an array into a call (`Math.max(...xs)`, `push(...xs)`, `f.apply(null, xs)`) puts every element
// on the stack: past ~100k elements it is a RangeError. Arrays that grow with the data (tokens, rows, labels,
// predictions) must use loops. This scans every package's and app's sources; a spread that is bounded by
// construction is allowed when a `bounded-spread:` comment on the line above says why.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const CALL_SPREAD =
  /(?:Math\.(?:max|min)|\.push|\.unshift|\.splice|String\.fromCharCode|String\.fromCodePoint|\.set)\s*\(\s*(?:[^(){}]*,\s*)?\.\.\.|\.apply\s*\(/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) for (const f of sources(p)) out.push(f);
    else if (/\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every call spread in `text` not excused by a `bounded-spread:` comment on the line above. */
function callSpreads(text: string): number[] {
  const lines = text.split('\n');
  const found: number[] = [];
  for (const m of text.matchAll(CALL_SPREAD)) {
    const line = text.slice(0, m.index).split('\n').length;
    if (!/bounded-spread:/.test(lines[line - 2] ?? '')) found.push(line);
  }
  return found;
}

describe('no data-sized spreads into calls', () => {
  it('the scanner finds each form and honours the excuse', () => {
    expect(callSpreads('const m = Math.max(...xs);')).toEqual([1]);
    expect(callSpreads('a\nout.push(\n  ...rows);')).toEqual([2]);
    expect(callSpreads('x = Math.min(0, ...lengths)')).toEqual([1]);
    expect(callSpreads('s += String.fromCharCode.apply(null, units)')).toEqual([1]);
    expect(callSpreads('// bounded-spread: 3 items\nout.push(...three)')).toEqual([]);
    expect(callSpreads('const all = [...xs]; f({ ...o }); Math.max(a, b)')).toEqual([]);
    expect(callSpreads('out.push({ a, ...(b ? { c } : {}) })')).toEqual([]);
  });

  it('packages/*/src and apps/*/src have none', () => {
    const dirs = ['packages', 'apps'].flatMap((g) =>
      readdirSync(join(root, g)).map((d) => join(root, g, d, 'src')),
    );
    const hits: string[] = [];
    for (const d of dirs) {
      let files: string[] = [];
      try {
        files = sources(d);
      } catch {
        continue; // a package without src/
      }
      for (const f of files)
        for (const line of callSpreads(readFileSync(f, 'utf8'))) hits.push(`${relative(root, f)}:${line}`);
    }
    expect(hits).toEqual([]);
  });
});
