import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// WebGPU suite (an adapter is required): `--backend webgpu` loads Dawn in the CLI's own process, whose
// native notices must stay out of the output unless --verbose.
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const empty = mkdtempSync(join(tmpdir(), 'tk-demo-webgpu-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

const run = (...extra: string[]) =>
  spawnSync(
    process.execPath,
    [cli, 'sample', 'x', '--backend', 'webgpu', '--checkpoint-dir', empty, ...extra],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );

describe('demo CLI on webgpu', () => {
  it("prints the backend and its one error line, without Dawn's notices; --verbose shows them", () => {
    expect(existsSync(cli), 'build the demo first (pnpm build)').toBe(true);
    const quiet = run();
    expect(quiet.status).toBe(2);
    expect(quiet.stdout).toMatch(/^backend: webgpu · adapter: /);
    expect(quiet.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: no GPT checkpoint/)]);
    const verbose = run('--verbose');
    expect(verbose.status).toBe(2);
    expect(verbose.stdout).toBe(quiet.stdout);
    expect(verbose.stderr).toContain('error: no GPT checkpoint');
    // lavapipe (CI's adapter) makes Dawn print its limit notices: proof the quiet run filtered something.
    if (quiet.stdout.includes('llvmpipe'))
      expect(verbose.stderr).toMatch(/^Warning: .*artificially reduced/m);
  });
});
