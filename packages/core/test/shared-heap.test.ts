import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// backend-wasm shares TF.js's heap only while its module starts (its shared-heap tests); here, what core
// reports when the caller started TF.js's wasm backend first.
describe("TF.js's wasm heap in Node", () => {
  it('is not shared when TF.js started before initBackend: one thread, with a warning that says why', () => {
    const script = fileURLToPath(new URL('./fixtures/started-before.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.kernelThreads).toBe(1);
    expect(out.warning).toMatch(/not shared memory.*first to start/);
  });
});
