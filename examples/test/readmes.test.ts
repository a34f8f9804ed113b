import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

// The README code blocks that must run as written (scripts/readme-blocks.mjs extracts and runs them). The
// folders listed here pass; the other READMEs still hold fragments that are not whole programs.
const CHECKED = ['.', 'packages/attention', 'packages/llama', 'examples'];

it(`the code blocks of ${CHECKED.join(', ')} READMEs run as written`, () => {
  const root = join(import.meta.dirname, '..', '..');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'readme-blocks.mjs'), ...CHECKED], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(r.stdout).toMatch(/\d+ passed, 0 failed/);
  expect(r.status).toBe(0);
}, 300_000);
