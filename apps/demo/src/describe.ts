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
  if (info.wasm)
    parts.push(
      `SIMD ${info.wasm.simd ? 'on' : 'off'}, ${info.wasm.threads ? `${info.wasm.threadsCount} threads` : 'single-threaded'}`,
    );
  parts.push(info.reason);
  return parts.join(' · ');
}
