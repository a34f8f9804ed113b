/**
 * Every error this package raises on purpose is a TokenizerError with a stable `code`, so callers can
 * branch on the kind of fault. The tokenizer stands alone (it does not depend on @transformer-kit/core), so
 * TokenizerError joins core's TransformerKitError hierarchy by a brand instead of a base class: its
 * prototype carries the registered symbol `Symbol.for('transformer-kit.error')`, which core's
 * `instanceof TransformerKitError` recognises. One `catch` then handles every typed error of every package,
 * and neither package imports the other.
 */
export type TokenizerErrorCode =
  | 'INVALID_INPUT' // non-string text, bad option values, unknown ids
  | 'MALFORMED_FILE' // vocab / merges / tokenizer.json that cannot be parsed
  | 'DUPLICATE_TOKEN' // the same token twice in a vocabulary
  | 'MISSING_SPECIAL_TOKEN' // a template or model needs a token the vocabulary lacks
  | 'MAX_LENGTH_TOO_SMALL' // truncation cannot fit even the special tokens
  | 'UNSUPPORTED' // a tokenizer.json part this package does not implement
  | 'WRITE_FAILED'; // saving tokenizer files failed (the previous files are untouched)

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  constructor(code: TokenizerErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'TokenizerError';
  }
}
/** The brand core's TransformerKitError checks (core exports the same symbol as ERROR_BRAND). */
(TokenizerError.prototype as unknown as Record<symbol, unknown>)[Symbol.for('transformer-kit.error')] = true;

/** A file could not be parsed; the message names the file and, where there is one, the 1-based line. */
export function malformed(file: string, line: number | null, what: string): TokenizerError {
  return new TokenizerError('MALFORMED_FILE', `${file}${line === null ? '' : `:${line}`}: ${what}`);
}

export function invalidInput(message: string): TokenizerError {
  return new TokenizerError('INVALID_INPUT', message);
}

export function assertText(text: unknown, what = 'text'): asserts text is string {
  if (typeof text !== 'string') {
    throw invalidInput(`${what} must be a string, got ${text === null ? 'null' : typeof text}`);
  }
}
