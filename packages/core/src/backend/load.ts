/**
 * Loads an optional module by name. The default is a plain dynamic import whose specifier bundlers do
 * not follow (native Node packages must stay out of browser bundles); tests pass a stand-in.
 */
export type ModuleLoader = (specifier: string) => Promise<unknown>;

export const importModule: ModuleLoader = (specifier) =>
  import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);

export function isModuleNotFound(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return (
    e?.code === 'ERR_MODULE_NOT_FOUND' ||
    e?.code === 'MODULE_NOT_FOUND' ||
    // Node says "Cannot find package"; bundlers/vite-node say "Could not resolve" / "Failed to resolve".
    /Cannot find (module|package)|Could not resolve|Failed to resolve/.test(e?.message ?? '')
  );
}
