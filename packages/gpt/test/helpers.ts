import { join } from 'node:path';

/** The HF GPT-2 folder written by scripts/make_fixtures.py. */
export const FIXTURE = join(import.meta.dirname, 'fixtures', 'tiny-gpt2');

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
