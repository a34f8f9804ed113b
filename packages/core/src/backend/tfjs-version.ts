import * as tf from '@tensorflow/tfjs';

/*
 * core's wasm hooks (its kernels on TF.js's heap, the shared heap, the heap guard, the swapped Identity
 * kernel) read TF.js internals that only the tested minor is known to have. A TF.js of another minor still
 * runs; it just runs without the hooks.
 */

/** The TF.js minor core's hooks into its internals were written and tested against. */
export const TESTED_TFJS_MINOR = '4.22';

/** Why the hooks must stay off for TF.js `version` (default the running one); undefined when it is tested. */
export function tfjsVersionMismatch(version: string = tf.version_core): string | undefined {
  const minor = /^(\d+)\.(\d+)\./.exec(version);
  if (minor && `${minor[1]}.${minor[2]}` === TESTED_TFJS_MINOR) return undefined;
  return `TF.js ${version} is not the tested ${TESTED_TFJS_MINOR}.x`;
}
