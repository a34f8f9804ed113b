import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, ShapeError } from '@transformer-kit/core';

/*
 * One mask convention for every model: 1 / true = "this query may attend to this key".
 *  - A boolean or integer mask is a keep-mask (nonzero = attend).
 *  - A float mask is an additive bias (0 = attend, large negative = blocked), as HF passes them.
 * Either may have any shape that broadcasts to (B, H, T, S): (T, S) causal, (B, 1, 1, S) padding,
 * (B, 1, T, S) or (B, H, T, S) custom. A (B, S) padding mask must go through `paddingMask` first, because
 * (B, S) would broadcast as (T, S).
 *
 * Build the mask once per forward pass, turn it into an `AttentionBias` once with `attentionBias`, and
 * pass that to every layer.
 */

/** A keep-mask (bool/int, nonzero = attend) or an additive float bias. */
export type Mask = tf.Tensor;

/** A mask prepared for the attention kernels; shared by all layers of one forward pass. */
export interface AttentionBias {
  /** Additive bias (0 or BLOCKED), broadcastable to (B, H, T, S). */
  readonly bias: tf.Tensor;
  /**
   * 1 where a query row has at least one key to attend to, else 0; broadcastable to (B, H, T, 1).
   * Absent when no row can be empty (a causal mask with offset >= 0), which saves a multiply per layer.
   */
  readonly rowHasKeys?: tf.Tensor;
}

/**
 * Rank-2 masks known to be (T, S): built by causalMask / causalBias (or derived from one by attentionBias or
 * combineMasks). Any other rank-2 mask is checked against the batch size, so a (B, S) padding mask is never
 * read as (T, S).
 */
const QUERY_KEY_MASKS = new WeakSet<tf.Tensor>();

/** The bias given to blocked positions: finite, so a fully blocked row cannot produce NaN. */
export const BLOCKED = -1e9;

/**
 * Causal keep-mask (T, S): query i (at absolute position i + offset) may attend to keys 0..i + offset.
 * The default offset S - T places the T queries at the end of the S keys, as with a KV cache.
 */
export function causalMask(T: number, S = T, offset = S - T): tf.Tensor2D {
  for (const [name, v] of [
    ['T', T],
    ['S', S],
    ['offset', offset],
  ] as const) {
    if (!Number.isInteger(v))
      throw new InvalidArgumentError(`causalMask: ${name} must be an integer, got ${v}`);
  }
  if (T < 1 || S < 1) throw new InvalidArgumentError(`causalMask: T and S must be >= 1, got T=${T}, S=${S}`);
  // Filled on the host: one upload instead of range/compare kernels (slow with broadcasting on wasm).
  const data = new Uint8Array(T * S);
  for (let i = 0; i < T; i++) data.fill(1, i * S, i * S + Math.max(0, Math.min(S, i + offset + 1)));
  const m = tf.tensor2d(data, [T, S], 'bool');
  QUERY_KEY_MASKS.add(m);
  return m;
}

/** `attentionBias(causalMask(T, S, offset))`, built directly: no empty rows when offset >= 0. */
export function causalBias(T: number, S = T, offset = S - T): AttentionBias {
  const mask = causalMask(T, S, offset);
  if (offset < 0) {
    const b = attentionBias(mask);
    mask.dispose();
    return b;
  }
  const bias = tf.tidy(() => toBias(mask));
  QUERY_KEY_MASKS.add(bias);
  mask.dispose();
  return { bias };
}

/**
 * Padding keep-mask from a tokenizer-style attention mask (B, S) of 1 (token) / 0 (padding), returned as
 * (B, 1, 1, S) so it broadcasts over heads and queries.
 */
export function paddingMask(attentionMask: tf.Tensor | number[][]): tf.Tensor4D {
  return tf.tidy(() => {
    const m =
      attentionMask instanceof tf.Tensor ? attentionMask : tf.tensor2d(attentionMask, undefined, 'int32');
    if (m.rank !== 2)
      throw new ShapeError(`paddingMask: expected an attention mask of shape (B, S), got [${m.shape}]`);
    const [b, s] = m.shape as [number, number];
    return tf.notEqual(m, 0).reshape([b, 1, 1, s]) as tf.Tensor4D;
  });
}

/**
 * Combines masks (all must hold for a position to be attended). Keep-masks combine with logical AND;
 * if any mask is an additive bias, the result is an additive bias (sum). `undefined` entries are skipped.
 */
export function combineMasks(...masks: Array<Mask | undefined>): Mask | undefined {
  const given = masks.filter((m): m is Mask => m !== undefined);
  if (given.length <= 1) return given[0];
  for (let i = 1; i < given.length; i++) checkBroadcast(given[0]!.shape, given[i]!.shape, 'combineMasks');
  const out = tf.tidy(() => {
    if (given.every((m) => !isAdditive(m))) {
      return given.slice(1).reduce<tf.Tensor>((acc, m) => tf.logicalAnd(acc, toBool(m)), toBool(given[0]!));
    }
    return given.slice(1).reduce<tf.Tensor>((acc, m) => acc.add(toBias(m)), toBias(given[0]!));
  });
  if (given.every((m) => m.rank < 2 || QUERY_KEY_MASKS.has(m))) QUERY_KEY_MASKS.add(out);
  return out;
}

/**
 * Converts a mask into the additive bias every layer adds to its scores, plus the per-row indicator that
 * zeroes rows with nothing to attend to. Call once per forward pass and share the result.
 */
export function attentionBias(mask: Mask | AttentionBias): AttentionBias {
  if (isAttentionBias(mask)) return mask;
  if (mask.rank > 4)
    throw new ShapeError(`attention mask must have rank <= 4 (broadcast to (B,H,T,S)), got [${mask.shape}]`);
  const prepared = tf.tidy(() => {
    const bias = toBias(mask);
    const rowHasKeys = bias
      .max(-1, true)
      .greater(BLOCKED / 2)
      .cast('float32');
    return { bias, rowHasKeys };
  });
  if (QUERY_KEY_MASKS.has(mask)) QUERY_KEY_MASKS.add(prepared.bias);
  return prepared;
}

const MASK_HELP =
  'a (B, S) attention mask of 1 = token / 0 = padding goes through paddingMask(mask) → (B, 1, 1, S); a causal mask is causalMask(T, S) → (T, S); other masks are (B, 1, T, S) or (B, H, T, S)';

/**
 * A decoder's mask (GPT, Llama): T new queries after `past` cached keys see the keys up to their own
 * position, and with a (B, past + T) tokenizer mask (1 = token) no padding; one bias shared by every layer.
 * Undefined when nothing is masked (a single new query and no padding).
 */
export function decoderBias(
  batch: number,
  t: number,
  past: number,
  attentionMask?: tf.Tensor2D,
): AttentionBias | undefined {
  const s = past + t;
  if (attentionMask === undefined) return t > 1 ? causalBias(t, s) : undefined;
  if (attentionMask.shape[0] !== batch || attentionMask.shape[1] !== s)
    throw new ShapeError(`attentionMask must be (batch=${batch}, past+T=${s}), got [${attentionMask.shape}]`);
  return attentionBias(combineMasks(t > 1 ? causalMask(t, s) : undefined, paddingMask(attentionMask))!);
}

/**
 * The shape check of a mask given to attention of scores (B, H, T, S), in the user's words: a mask that
 * cannot broadcast names paddingMask()/causalMask() and the shapes expected, and a rank-2 mask that is not
 * known to be (T, S) and has the batch size as rows (a raw (B, S) padding mask) is refused, not read as (T, S).
 */
export function checkMaskShape(
  mask: Mask | AttentionBias,
  scores: readonly [number, number, number, number],
): void {
  const m = isAttentionBias(mask) ? mask.bias : mask;
  const [b, h, t, s] = scores;
  const got = `[${m.shape}]`;
  if (m.rank > 4) throw new ShapeError(`attention mask of shape ${got} has rank ${m.rank} > 4: ${MASK_HELP}`);
  if (m.rank === 2 && !QUERY_KEY_MASKS.has(m) && m.shape[0] === b && b > 1 && m.shape[1] === s) {
    const why =
      b === t
        ? 'is ambiguous: with B = T it would be read as a (T, S) mask'
        : 'does not broadcast to (B, H, T, S) as a (T, S) mask';
    throw new ShapeError(
      `attention mask of shape ${got} looks like a (B=${b}, S=${s}) padding mask and ${why}; ${MASK_HELP} (reshape your own (T, S) mask to (1, 1, T, S))`,
    );
  }
  try {
    checkBroadcast([b, h, t, s], m.shape, 'attention mask', { to: true });
  } catch {
    throw new ShapeError(
      `attention mask of shape ${got} does not broadcast to the scores (B=${b}, H=${h}, T=${t}, S=${s}): ${MASK_HELP}`,
    );
  }
}

export function isAttentionBias(m: unknown): m is AttentionBias {
  return typeof m === 'object' && m !== null && !(m instanceof tf.Tensor) && 'bias' in m;
}

/** Frees the tensors of an `AttentionBias` (or a mask) built outside a tidy. */
export function disposeMask(m: Mask | AttentionBias | undefined): void {
  if (!m) return;
  if (isAttentionBias(m)) tf.dispose(m.rowHasKeys ? [m.bias, m.rowHasKeys] : [m.bias]);
  else m.dispose();
}

function isAdditive(m: tf.Tensor): boolean {
  return m.dtype === 'float32';
}

function toBool(m: tf.Tensor): tf.Tensor {
  return m.dtype === 'bool' ? m : tf.notEqual(m, 0);
}

function toBias(m: tf.Tensor): tf.Tensor {
  // Additive masks may use -inf or finfo.min; clamp so a fully blocked row stays finite.
  if (isAdditive(m)) return m.maximum(BLOCKED);
  // (keep − 1) · 1e9: 0 where kept, BLOCKED elsewhere, without broadcasting a where().
  return toBool(m).cast('float32').sub(1).mul(-BLOCKED);
}

/**
 * Throws a ShapeError unless `b` broadcasts against `a` (numpy rules, aligned at the right); with `to`,
 * unless `b` broadcasts to `a` itself (no longer, and only 1s where they differ). The one broadcast check
 * of the masks and of attention.
 */
export function checkBroadcast(
  a: readonly number[],
  b: readonly number[],
  what: string,
  { to = false }: { to?: boolean } = {},
): void {
  const n = Math.max(a.length, b.length);
  let ok = !to || b.length <= a.length;
  for (let i = 1; ok && i <= n; i++) {
    const x = a[a.length - i] ?? 1;
    const y = b[b.length - i] ?? 1;
    ok = x === y || y === 1 || (!to && x === 1);
  }
  if (!ok) throw new ShapeError(`${what}: shape [${b}] does not broadcast to [${a}]`);
}
