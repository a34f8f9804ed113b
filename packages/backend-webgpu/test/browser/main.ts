import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { kernelChecks } from '../checks.js';
import { instrument, invalidBuffer, runCheck } from '../harness.js';
import { takeWorstError } from '../reference.js';

/*
 * The kernel checks (test/checks.ts, the ones Node runs on Dawn) in this page's WebGPU: Chromium's
 * SwiftShader where there is no GPU. test/browser.mjs calls window.kernelChecks.run() and asserts.
 */

interface Outcome {
  name: string;
  ok: boolean;
  ms: number;
  /** The largest relative error against the float64 references (each within 1e-5 when ok). */
  worst: number;
  error?: string;
}

async function run(): Promise<{ adapter: Record<string, string>; control: Outcome; checks: Outcome[] }> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } })
    .gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) throw new Error('this page has no WebGPU adapter (navigator.gpu.requestAdapter gave none)');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its webgpu backend');
  await tf.ready();
  instrument();
  const attempt = async (name: string, fn: () => Promise<void>): Promise<Outcome> => {
    const t0 = performance.now();
    takeWorstError();
    const done = (error?: unknown): Outcome => ({
      name,
      ok: error === undefined,
      ms: performance.now() - t0,
      worst: takeWorstError(),
      ...(error === undefined ? {} : { error: String((error as Error)?.message ?? error) }),
    });
    try {
      await runCheck(fn);
      return done();
    } catch (err) {
      return done(err);
    }
  };
  // The harness must see an error the device reports (TF.js only prints them): this one has to fail.
  const control = await attempt('control: a buffer the device rejects', invalidBuffer);
  const checks: Outcome[] = [];
  for (const c of kernelChecks) checks.push(await attempt(`${c.group}: ${c.name}`, c.run));
  const info = adapter.info ?? {};
  return {
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
    },
    control,
    checks,
  };
}

(globalThis as unknown as { kernelChecks: object }).kernelChecks = { run, ready: true };
