import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseOptions } from '../src/cli.js';
import { dawnNoticeFilter, wantsDawnFilter } from '../src/runtime.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const empty = mkdtempSync(join(tmpdir(), 'tk-demo-runtime-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('the demo process', () => {
  it("drops Dawn's native notices (what lavapipe and a missing Vulkan print) and nothing else", () => {
    const keep = dawnNoticeFilter();
    const stderr = [
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory",
      '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)',
      '',
      'error: no GPT checkpoint in /tmp/x: run `pnpm demo generate` first',
      '(node:123) Warning: something from Node itself',
      '    at a stack line that is not after a notice',
    ];
    expect(stderr.filter(keep)).toEqual(stderr.slice(5));
  });

  it('filters only an explicit webgpu choice without --verbose', () => {
    const wants = (argv: string[], env: NodeJS.ProcessEnv) => {
      const opts = parseOptions(argv);
      return opts !== 'help' && wantsDawnFilter(opts, env);
    };
    expect(wants(['--backend', 'webgpu'], {})).toBe(true);
    expect(wants(['sample', '--backend=webgpu'], {})).toBe(true);
    expect(wants([], { TK_BACKEND: 'webgpu' })).toBe(true);
    expect(wants(['--backend', 'wasm'], { TK_BACKEND: 'webgpu' })).toBe(false);
    expect(wants(['--backend', 'webgpu', '--verbose'], {})).toBe(false);
    expect(wants(['--backend', 'auto'], {})).toBe(false);
    // Inside the filtered child: never again.
    expect(wants(['--backend', 'webgpu'], { TK_DEMO_OWN_STDERR_FD: '3' })).toBe(false);
  });

  it("the built CLI runs core's fused multiply-add kernels on wasm (Node 20 needs the flag it sets)", () => {
    expect(existsSync(cli), 'build the demo first (pnpm build)').toBe(true);
    const r = spawnSync(
      process.execPath,
      [cli, 'sample', 'x', '--backend', 'wasm', '--checkpoint-dir', empty],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^backend: wasm · .*core's kernels: relaxed-simd/);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: no GPT checkpoint/)]);
  });
});
