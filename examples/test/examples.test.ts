import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

// Each example's main() is what `node examples/<name>.mjs` runs; here with assertions on what it prints.
describe('examples', () => {
  it('reverse-digits: the encoder-decoder learns to reverse, greedy cached decoding is exact', async () => {
    const lines: string[] = [];
    // @ts-expect-error plain ESM example without types
    const { main } = await import('../reverse-digits.mjs');
    const before = tf.memory().numTensors;
    const { loss, exact } = await main({ log: (s: string) => lines.push(s) });
    expect(loss).toBeLessThan(0.05);
    expect(exact).toBeGreaterThan(0.95);
    expect(lines.some((l) => l.startsWith('exact-match accuracy'))).toBe(true);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  }, 120_000);

  it('encoder-classifier: order-dependent labels are learned (> 85% held out)', async () => {
    // @ts-expect-error plain ESM example without types
    const { main } = await import('../encoder-classifier.mjs');
    const { accuracy } = await main({ log: () => {} });
    expect(accuracy).toBeGreaterThan(0.85);
  }, 120_000);

  it('custom-block: a RoPE + RMSNorm + SwiGLU block of its own trains and generates with the cache', async () => {
    // @ts-expect-error plain ESM example without types
    const { main } = await import('../custom-block.mjs');
    const { first, loss, text } = await main({ log: () => {} });
    expect(loss).toBeLessThan(first / 10);
    expect(text.startsWith('the quick brown fox')).toBe(true);
  }, 120_000);
});
