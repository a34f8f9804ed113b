/**
 * Every error transformer-kit raises on purpose is a TransformerKitError with a stable `code`, so callers
 * can branch on the kind of fault and users read a message that names the problem and, where there is one,
 * the fix.
 */
export type ErrorCode =
  | 'SHAPE'
  | 'ID_OUT_OF_RANGE'
  | 'SEQUENCE_TOO_LONG'
  | 'INVALID_ARGUMENT'
  | 'UNKNOWN_BACKEND'
  | 'BACKEND_UNAVAILABLE'
  | 'CHECKPOINT'
  | 'CHECKPOINT_MISMATCH'
  | 'NON_FINITE_LOSS'
  | 'OUT_OF_MEMORY'
  | 'GRADIENT'
  | 'KERNEL'
  // @transformer-kit/tokenizer's TokenizerError codes (it stands alone, so it cannot import this type).
  | 'INVALID_INPUT'
  | 'MALFORMED_FILE'
  | 'DUPLICATE_TOKEN'
  | 'MISSING_SPECIAL_TOKEN'
  | 'MAX_LENGTH_TOO_SMALL'
  | 'UNSUPPORTED'
  | 'WRITE_FAILED'
  | 'DOWNLOAD'
  | 'HUB_NOT_FOUND'
  | 'HUB_AUTH'
  | 'HUB_OFFLINE'
  | 'DEVICE';

/**
 * The brand every transformer-kit error carries, as a registered symbol: packages that stand alone (the
 * tokenizer does not depend on core) set the same one on their own error class, and `instanceof
 * TransformerKitError` recognises it, so one `catch` handles every typed error from every package.
 */
export const ERROR_BRAND: unique symbol = Symbol.for('transformer-kit.error') as never;

export class TransformerKitError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
(TransformerKitError.prototype as unknown as Record<symbol, unknown>)[ERROR_BRAND] = true;
// `x instanceof TransformerKitError` is also true for branded errors (TokenizerError); for subclasses
// (`this` is then ShapeError, say) instanceof is the ordinary prototype-chain test.
Object.defineProperty(TransformerKitError, Symbol.hasInstance, {
  value(this: abstract new (...args: never[]) => unknown, x: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    return (
      this === TransformerKitError &&
      x instanceof Error &&
      (x as unknown as Record<symbol, unknown>)[ERROR_BRAND] === true
    );
  },
});

/** A tensor or array has the wrong rank or shape for the operation. */
export class ShapeError extends TransformerKitError {
  constructor(message: string) {
    super('SHAPE', message);
  }
}

/** A token id (or label, or token type id) is not an integer in [0, limit). */
export class IdOutOfRangeError extends TransformerKitError {
  constructor(message: string) {
    super('ID_OUT_OF_RANGE', message);
  }
}

/** A sequence is longer than the model's position table / block size. */
export class SequenceTooLongError extends TransformerKitError {
  constructor(message: string) {
    super('SEQUENCE_TOO_LONG', message);
  }
}

/** An argument is outside its valid range (temperature <= 0, top-p outside (0,1], ...). */
export class InvalidArgumentError extends TransformerKitError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A backend name that transformer-kit does not know. */
export class UnknownBackendError extends TransformerKitError {
  constructor(message: string) {
    super('UNKNOWN_BACKEND', message);
  }
}

/** A backend that was asked for explicitly but cannot run here; the message names the reason and fix. */
export class BackendUnavailableError extends TransformerKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
  }
}

/** A checkpoint file is corrupt or malformed (safetensors header, byte ranges, dtype, config.json). */
export class CheckpointError extends TransformerKitError {
  constructor(message: string, options?: { cause?: unknown }, code: ErrorCode = 'CHECKPOINT') {
    super(code, message, options);
  }
}

/**
 * A well-formed checkpoint that does not fit the model (another model_type, missing/unexpected names, wrong
 * shapes). A kind of CheckpointError, with its own code.
 */
export class CheckpointMismatchError extends CheckpointError {
  constructor(message: string) {
    super(message, undefined, 'CHECKPOINT_MISMATCH');
  }
}

/** The "first N (+k more)" list every mismatch message uses. */
export function listFirst(items: readonly string[], n = 5): string {
  const head = items.slice(0, n).join(', ');
  return items.length > n ? `${head} (+${items.length - n} more)` : head;
}

/** Training produced a NaN/Inf loss; `step` says where. */
export class NonFiniteLossError extends TransformerKitError {
  readonly step: number;
  constructor(step: number, loss: number) {
    super('NON_FINITE_LOSS', `loss is ${loss} at step ${step}: lower the learning rate or check the inputs`);
    this.step = step;
  }
}

/** A step needs more memory than the backend has (the 4 GB wasm heap); the message names the fix. */
export class OutOfMemoryError extends TransformerKitError {
  /** Bytes asked for, bytes of live tensors then, and the cap they were held to. */
  readonly requested: number;
  readonly inUse: number;
  readonly budget: number;
  constructor(message: string, sizes: { requested: number; inUse: number; budget: number }) {
    super('OUT_OF_MEMORY', message);
    this.requested = sizes.requested;
    this.inUse = sizes.inUse;
    this.budget = sizes.budget;
  }
}

/** A gradient cannot be computed: an op without a gradient, or a gradient of the wrong shape or dtype. */
export class GradientError extends TransformerKitError {
  constructor(message: string) {
    super('GRADIENT', message);
  }
}

/** One of core's wasm kernels (or a worker thread running one) failed. */
export class KernelError extends TransformerKitError {
  constructor(message: string) {
    super('KERNEL', message);
  }
}

/**
 * A remote file could not be fetched whole: network failure, timeout (connect or idle), an HTTP error, a
 * body cut short, longer than announced or failing its hash. A kind of CheckpointError.
 */
export class DownloadError extends CheckpointError {
  readonly url: string | undefined;
  readonly status: number | undefined;
  constructor(
    message: string,
    { url, status, cause }: { url?: string; status?: number; cause?: unknown } = {},
    code: ErrorCode = 'DOWNLOAD',
  ) {
    super(message, cause === undefined ? undefined : { cause }, code);
    this.url = url;
    this.status = status;
  }
}

/** Where on the Hub a failed file lives. */
export interface HubFileRef {
  repoId: string;
  revision: string;
  file: string;
}

/** The Hub has no such repository, revision or file (HTTP 404, or the Hub's RepoNotFound). */
export class HubNotFoundError extends DownloadError {
  readonly repoId: string;
  readonly revision: string;
  readonly file: string;
  constructor(message: string, ref: HubFileRef & { url?: string; status?: number }) {
    super(message, ref, 'HUB_NOT_FOUND');
    ({ repoId: this.repoId, revision: this.revision, file: this.file } = ref);
  }
}

/** HTTP 401/403: a gated or private repository, or a token without access; the message says how to pass one. */
export class HubAuthError extends DownloadError {
  readonly repoId: string;
  readonly revision: string;
  readonly file: string;
  constructor(message: string, ref: HubFileRef & { url?: string; status?: number }) {
    super(message, ref, 'HUB_AUTH');
    ({ repoId: this.repoId, revision: this.revision, file: this.file } = ref);
  }
}

/** Offline (HF_HUB_OFFLINE=1 or `offline: true`, or the Hub unreachable) and the file is not in the cache. */
export class HubOfflineError extends DownloadError {
  readonly repoId: string;
  readonly revision: string;
  readonly file: string;
  constructor(message: string, ref: HubFileRef & { cause?: unknown }) {
    super(message, ref, 'HUB_OFFLINE');
    ({ repoId: this.repoId, revision: this.revision, file: this.file } = ref);
  }
}

/** What went wrong on a GPU device: a validation error, an allocation it could not make, or a lost device. */
export type DeviceErrorKind = 'validation' | 'out-of-memory' | 'internal' | 'lost' | 'limit';

/**
 * The WebGPU device reported an error for work TF.js submitted (TF.js itself only prints these and carries
 * on with zeros). Raised at the read-back (`data()`) of the step that caused it.
 */
export class DeviceError extends TransformerKitError {
  readonly kind: DeviceErrorKind;
  constructor(kind: DeviceErrorKind, message: string, options?: { cause?: unknown }) {
    super('DEVICE', message, options);
    this.kind = kind;
  }
}

/** An op would bind or allocate more than the device allows; raised before anything is dispatched. */
export class DeviceLimitError extends DeviceError {
  /** The WebGPU limit, e.g. 'maxStorageBufferBindingSize', its value, and the bytes asked for. */
  readonly limit: string;
  readonly max: number;
  readonly requested: number;
  constructor(message: string, sizes: { limit: string; max: number; requested: number }) {
    super('limit', message);
    this.limit = sizes.limit;
    this.max = sizes.max;
    this.requested = sizes.requested;
  }
}
