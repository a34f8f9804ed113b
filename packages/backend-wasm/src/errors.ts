/**
 * The errors the runtime raises. It stands alone (it knows only TF.js), so whoever owns an error hierarchy
 * passes its constructors in: @transformer-kit/core gives its KernelError and OutOfMemoryError, and users
 * catch those as before. Used alone, the runtime raises WasmRuntimeError, which carries the registered brand
 * `Symbol.for('transformer-kit.error')` that core's `instanceof TransformerKitError` recognises.
 */
export interface RuntimeErrors {
  /** A kernel or a kernel worker failed (or could not start). */
  kernel(message: string): Error;
  /** An allocation would not fit the heap (or its budget); thrown before anything is written. */
  outOfMemory(message: string, details: OutOfMemoryDetails): Error;
}

export interface OutOfMemoryDetails {
  /** Bytes asked for. */
  requested: number;
  /** Bytes allocated from JS and not yet freed when asked. */
  inUse: number;
  /** The cap they were held to. */
  budget: number;
}

export type WasmRuntimeErrorCode = 'KERNEL' | 'OUT_OF_MEMORY';

export class WasmRuntimeError extends Error {
  readonly code: WasmRuntimeErrorCode;
  readonly details: OutOfMemoryDetails | undefined;
  constructor(code: WasmRuntimeErrorCode, message: string, details?: OutOfMemoryDetails) {
    super(message);
    this.code = code;
    this.details = details;
    this.name = 'WasmRuntimeError';
  }
}
(WasmRuntimeError.prototype as unknown as Record<symbol, unknown>)[Symbol.for('transformer-kit.error')] =
  true;

export const DEFAULT_ERRORS: RuntimeErrors = {
  kernel: (message) => new WasmRuntimeError('KERNEL', message),
  outOfMemory: (message, details) => new WasmRuntimeError('OUT_OF_MEMORY', message, details),
};
