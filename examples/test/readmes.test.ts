import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

// Every README code block runs as written (scripts/readme-blocks.mjs extracts and runs them); a fragment
// that is not a whole program says so with `<!-- not run: reason -->` and is listed as skipped.
const CHECKED: string[] = []; // every README (root, packages/*, apps/*, examples)

it('the code blocks of every README run as written', () => {
  const root = join(import.meta.dirname, '..', '..');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'readme-blocks.mjs'), ...CHECKED], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(r.stdout).toMatch(/\d+ passed, 0 failed/);
  expect(r.status).toBe(0);
}, 300_000);
