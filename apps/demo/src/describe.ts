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
    const w = info.wasm;
    const products = w.kernelThreads > 1 ? `${w.kernels} on ${w.kernelThreads} threads` : w.kernels;
    parts.push(
      `SIMD ${w.simd ? 'on' : 'off'}, ${w.threads ? `${w.threadsCount} threads` : 'single-threaded'}, core's products: ${products}`,
    );
  }
  parts.push(info.reason);
  return parts.join(' · ');
}
