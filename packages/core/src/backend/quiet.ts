import * as tf from '@tensorflow/tfjs';
import type { ModuleLoader } from './load.js';
import { adapterProbe, type GPUAdapterLike, type WebGPUProbe } from './webgpu.js';

/*
 * A quiet start for CLIs: TF.js's "install tfjs-node" banner (printed by the cpu backend on its first write
 * in Node) and Dawn's native warnings (printed to the process's stderr when the `webgpu` package looks for
 * Vulkan/adapters: "Couldn't load Vulkan", lavapipe's conformance notice, limit notices) are kept out of the
 * output. Dawn's can only be caught from outside the process, so in quiet mode the adapter is first looked
 * for in a short-lived child process whose stderr is captured; Dawn is loaded here only when that finds a
 * hardware adapter to use.
 */

/** Marks the cpu backend as used, so it never prints its tfjs-node banner. */
export function silenceTfjsBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

const CHILD = `
const [url] = process.argv.slice(1);
const out = (o) => process.stdout.write(JSON.stringify(o));
try {
  const m = await import(url);
  const gpu = m.create([]);
  const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  const i = a?.info ?? {};
  const info = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter };
  out({ adapter: a ? { info, isFallbackAdapter: a.isFallbackAdapter } : null });
} catch (e) {
  out({ error: String(e?.message ?? e) });
}
process.exit(0);
`;

/**
 * Looks for a WebGPU adapter in a child Node process, Dawn's native stderr captured (returned for
 * --verbose). Undefined when the child could not tell (then probe in-process as usual). Never throws.
 */
export async function probeInChild(
  load: ModuleLoader,
): Promise<{ probe: WebGPUProbe; stderr: string } | undefined> {
  try {
    const { spawnSync } = (await load('node:child_process')) as typeof import('node:child_process');
    const { createRequire } = (await load('node:module')) as typeof import('node:module');
    const { pathToFileURL } = (await load('node:url')) as typeof import('node:url');
    const path = createRequire(import.meta.url).resolve('webgpu');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(path).href], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const found = JSON.parse(r.stdout) as { adapter?: GPUAdapterLike | null; error?: string };
    if (found.error !== undefined || found.adapter === undefined) return undefined;
    return { probe: adapterProbe(found.adapter), stderr: r.stderr };
  } catch {
    return undefined;
  }
}
