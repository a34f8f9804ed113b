import { InvalidArgumentError } from '@transformer-kit/core';

/** Where the demo's commands write, so the CLI and the tests can point them elsewhere. */
export interface Output {
  /** A whole line. */
  log(line: string): void;
  /** A piece of a line (streamed generation). */
  write(chunk: string): void;
  /** Draw progress bars (on stderr). */
  progress: boolean;
}

/**
 * Bad input from the user (a flag, a path, a button pressed before its step): a TransformerKitError, so
 * the CLI reports it as one line with exit code 2 and the page shows its message.
 */
export class UsageError extends InvalidArgumentError {}

export const silent: Output = { log: () => {}, write: () => {}, progress: false };
