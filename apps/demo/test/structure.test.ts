import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The demo's shape (issue #23): no import circle among its modules (the CLI's options live in
// src/options.ts, not in cli.ts); its code throws only TransformerKitErrors (what the page shows is
// the message; the CLI's exit-code-2 branch is `instanceof TransformerKitError`); and no page module keeps
// mutable state at module level (each section keeps its own in its setup closure; what they share is the
// one Page object main.ts passes them).

const app = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) for (const f of sources(p)) out.push(f);
    else if (/\.ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a file (type-only ones too: a circle of types is still a circle to a reader). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)].map((m) =>
    resolve(dirname(file), `${m[1]}.ts`),
  );
}

/** The import graph of `files` (edges within them). */
const importGraph = (files: string[]) =>
  new Map(files.map((f) => [f, imports(f).filter((g) => files.includes(g))]));

/** One cycle in a graph, as the path that closes it, or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    if (state.get(f) === 'done') return null;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      const c = visit(g);
      if (c) return c;
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

const files = [...sources(join(app, 'src')), ...sources(join(app, 'web'))];
const web = sources(join(app, 'web'));

describe('the demo is shaped as one thing per module', () => {
  it('the cycle finder finds a planted circle, and reads imports', () => {
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toBeNull();
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual(['a', 'b', 'c', 'a']);
    expect(imports(join(app, 'src', 'cli.ts'))).toContain(join(app, 'src', 'options.ts'));
  });

  it('no import circle in src/ and web/ (cli.ts and the *-cli.ts commands share src/options.ts)', () => {
    expect(findCycle(importGraph(files))?.map((f) => relative(app, f)) ?? null).toBeNull();
    for (const f of sources(join(app, 'src')))
      if (/-cli\.ts$/.test(f)) expect(imports(f), relative(app, f)).not.toContain(join(app, 'src', 'cli.ts'));
  });

  it('the CLI and the page throw no plain Error: every error is a TransformerKitError', () => {
    const plain = files.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/new (Error|TypeError|RangeError)\(/g)].map(
        (m) => `${relative(app, f)}: ${m[0]}`,
      ),
    );
    expect(plain).toEqual([]);
  });

  it('no module-level mutable state in the page (sections keep theirs in their setup closure)', () => {
    const lets = web.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => [line, i + 1] as const)
        .filter(([line]) => /^(export\s+)?(let|var)\s/.test(line))
        .map(([, i]) => `${relative(app, f)}:${i}`),
    );
    expect(lets).toEqual([]);
    // main.ts is wiring: every section is its own module.
    const sections = readdirSync(join(app, 'web', 'sections')).filter((f) => f.endsWith('.ts'));
    expect(sections.sort()).toEqual(
      ['checkpoint', 'classify', 'finetune', 'generate', 'pretrain', 'search', 'sentiment', 'vit'].map(
        (s) => `${s}.ts`,
      ),
    );
  });
});
