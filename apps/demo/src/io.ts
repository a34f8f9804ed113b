/** Where the demo's commands write, so the CLI and the tests can point them elsewhere. */
export interface Output {
  /** A whole line. */
  log(line: string): void;
  /** A piece of a line (streamed generation). */
  write(chunk: string): void;
  /** Draw progress bars (on stderr). */
  progress: boolean;
}

/** Bad command-line input: reported as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const silent: Output = { log: () => {}, write: () => {}, progress: false };
