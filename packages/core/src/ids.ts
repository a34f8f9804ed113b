import * as tf from '@tensorflow/tfjs';
import { canReadSync } from './env.js';
import { IdOutOfRangeError, ShapeError } from './errors.js';

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

/** Ids as a (B, T) tensor or host rows; a flat array is one sequence where `allowFlat` (GPT, Llama). */
export type IdsInput = tf.Tensor | number[] | number[][];

export interface IdsTensorOptions extends CheckIdsOptions {
  /** Checked range [0, limit); undefined: shape and dtype only (targets with an ignore index, masks). */
  limit?: number;
  /** The argument's name in messages (default 'ids'). */
  name?: string;
  /** A flat array is one sequence (default true); false: a ShapeError (BERT's batches are always rows). */
  allowFlat?: boolean;
  /** At least one position per row (default true). */
  nonEmpty?: boolean;
}

/**
 * The one ids-to-tensor input check of the text models (GPT, BERT and its families, Llama): rows of equal
 * length (B, T), else a ShapeError naming the fix; with `limit`, every value an integer in [0, limit), else an
 * IdOutOfRangeError (host arrays always, before upload; tensors where a sync read is cheap, cpu and wasm,
 * not on GPUs where it stalls). Returns int32 ids: a new tensor unless `ids` already was one, so call it
 * inside the caller's tidy.
 */
export function idsTensor(ids: IdsInput, options: IdsTensorOptions = {}): tf.Tensor2D {
  const { limit, name = 'ids', allowFlat = true, nonEmpty = true } = options;
  const check = (values: ArrayLike<number>) => {
    if (limit !== undefined) checkIds(values, limit, options);
  };
  let x: tf.Tensor;
  if (ids instanceof tf.Tensor) {
    if (ids.dtype !== 'int32' && ids.dtype !== 'float32')
      throw new ShapeError(`${name} must be an int32 (or integral float32) tensor, got ${ids.dtype}`);
    x = ids;
  } else {
    if (!Array.isArray(ids))
      throw new ShapeError(`${name} must be a (batch, seq) tensor or an array of rows of ids`);
    const nested = ids.length > 0 && ids.every(Array.isArray);
    if (!nested && (!allowFlat || ids.some(Array.isArray)))
      throw new ShapeError(
        `${name} must be (batch, seq): an array of equal-length rows of ids${allowFlat ? ' (or one flat row)' : ''}`,
      );
    const rows = nested ? (ids as number[][]) : [ids as number[]];
    const width = rows[0]!.length;
    if (rows.some((r) => r.length !== width))
      throw new ShapeError(
        `${name}: all sequences in a batch must have the same length (pad them and pass attentionMask)`,
      );
    const flat = rows.flat();
    check(flat);
    // Without a range, still no silent truncation: ids, targets and masks are integers.
    const bad = flat.findIndex((v) => !Number.isInteger(v));
    if (bad >= 0)
      throw new IdOutOfRangeError(
        `${options.what ?? 'token id'} ${flat[bad]} at index ${bad} is not an integer`,
      );
    x = tf.tensor2d(flat, [rows.length, width], 'int32');
  }
  if (x.rank !== 2) throw new ShapeError(`${name} must be (batch, seq), got shape [${x.shape}]`);
  if (nonEmpty && x.shape[1] === 0)
    throw new ShapeError(`${name} must contain at least one token per sequence`);
  if (ids instanceof tf.Tensor && canReadSync()) check(x.dataSync());
  return (x.dtype === 'int32' ? x : x.cast('int32')) as tf.Tensor2D;
}
