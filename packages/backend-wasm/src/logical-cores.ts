/**
 * Runs `start` (TF.js's wasm module starting) with navigator.hardwareConcurrency reading at least 2·threads.
 * TF.js 4.22's src/cc/backend.cc sets `num_cores = emscripten_num_logical_cores() / 2` (it assumes two
 * hyperthreads per core; the function reads hardwareConcurrency) in a static initializer, and
 * init_with_threads_count caps XNNPACK's pool at min(asked, 8, num_cores): on 2 logical cores every request
 * gets one thread. An own property on navigator shadows the getter while the module starts; it is removed
 * again after, also when the start fails.
 */
export async function withLogicalCores<T>(threads: number | undefined, start: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  // Only where TF.js would cap the pool below `threads`, and never over an override already there.
  const capped = threads !== undefined && 2 * threads > (nav?.hardwareConcurrency ?? 0);
  if (!nav || !capped || Object.hasOwn(nav, 'hardwareConcurrency')) return start();
  Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * threads, configurable: true });
  try {
    return await start();
  } finally {
    delete nav.hardwareConcurrency;
  }
}
