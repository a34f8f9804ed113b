import { beforeAll, describe, expect, it } from 'vitest';
import { kernelChecks } from './checks.js';
import { invalidBuffer, runCheck } from './harness.js';
import { startWebGPU } from './webgpu.js';

// Every kernel against its float64 reference on Dawn (lavapipe in CI): the checks in checks.ts, each under
// the device's error scopes and a leak check. test/browser.mjs runs the same checks in Chromium (SwiftShader).

beforeAll(startWebGPU);

const groups = [...new Set(kernelChecks.map((c) => c.group))];
for (const group of groups) {
  describe(group, () => {
    for (const c of kernelChecks.filter((c) => c.group === group)) it(c.name, () => runCheck(c.run));
  });
}

it('a check whose work the device rejects fails (the error TF.js would only print)', async () => {
  await expect(runCheck(invalidBuffer)).rejects.toThrow(/WebGPU errors: .*usage/i);
});
