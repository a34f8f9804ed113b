import type { BackendInfo } from '@transformer-kit/core';

/** One line: the backend, the adapter or wasm features, and why it was chosen. */
export function describeBackend(info: BackendInfo): string {
  const parts: string[] = [info.backend];
  if (info.adapter) {
    const a = info.adapter;
    parts.push(
      `adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unnamed'}${info.softwareAdapter ? ' (software)' : ''}`,
    );
  }
  if (info.wasm) {
    // Two thread pools: XNNPACK's (TF.js's threaded build, pages only) and core's kernels (kernels/pool.ts).
    const w = info.wasm;
    const threads = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
    const xnnpack = w.threads ? `XNNPACK on ${threads(w.threadsCount)}` : 'XNNPACK single-threaded build';
    const kernels = w.kernels === 'none' ? 'none' : `${w.kernels} on ${threads(w.kernelThreads)}`;
    parts.push(`SIMD ${w.simd ? 'on' : 'off'}, ${xnnpack}, core's kernels: ${kernels}`);
  }
  parts.push(info.reason);
  return parts.join(' · ');
}
