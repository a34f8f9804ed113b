import { IdOutOfRangeError } from './errors.js';

export interface CheckIdsOptions {
  /** What the values are, for the message (default 'token id'). */
  what?: string;
  /** The fix, appended to the message. */
  fix?: string;
  /** A value that is skipped (e.g. IGNORE_INDEX for labels). */
  ignore?: number;
}

/**
 * The one id check (token ids, token type ids, labels): every value an integer in [0, limit), else an
 * IdOutOfRangeError naming the first bad value and its flat index.
 */
export function checkIds(values: ArrayLike<number>, limit: number, options: CheckIdsOptions = {}): void {
  const { what = 'token id', fix, ignore } = options;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === ignore) continue;
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      const why = Number.isInteger(v) ? `is outside [0, ${limit})` : `is not an integer in [0, ${limit})`;
      const also = ignore === undefined ? '' : ` (and is not the ignore index ${ignore})`;
      throw new IdOutOfRangeError(`${what} ${v} at index ${i} ${why}${also}${fix ? `: ${fix}` : ''}`);
    }
  }
}
