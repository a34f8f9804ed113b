import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend } from '@transformer-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { main, parseOptions } from '../src/cli.js';
import {
  FineTuning,
  imagesTensor,
  loadDigits,
  MaePretraining,
  parseDigits,
  splitDigits,
  vitSizes,
} from '../src/vit.js';
import { runVit } from '../src/vit-cli.js';

const quiet = { log: () => {}, write: () => {}, progress: false };

describe('pnpm demo vit', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('the checked-in digits: 1,797 8×8 images in [0, 1], every class present', async () => {
    const d = await loadDigits();
    expect(d.n).toBe(1797);
    expect(d.pixels.length).toBe(1797 * 64);
    expect(Math.min(...d.pixels)).toBe(0);
    expect(Math.max(...d.pixels)).toBe(1);
    expect(new Set(d.labels).size).toBe(10);
    // The first image of scikit-learn's digits.csv.gz: a 0 whose first row is 0 0 5 13 9 1 0 0.
    expect(d.labels[0]).toBe(0);
    expect(Array.from(d.pixels.subarray(0, 8), (p) => p * 16)).toEqual([0, 0, 5, 13, 9, 1, 0, 0]);
    const s = splitDigits(d, { test: 400, labelled: 300, seed: 0 });
    expect([s.train.n, s.labelled.n, s.test.n]).toEqual([1397, 300, 400]);
  });

  it('a malformed digits line is a typed error naming the line', () => {
    const good = `3${'a'.repeat(64)}`;
    expect(parseDigits(`${good}\n${good}`).n).toBe(2);
    expect(() => parseDigits(`${good}\n3${'a'.repeat(63)}z`)).toThrow(InvalidArgumentError);
    expect(() => parseDigits(`${good}\nx${'a'.repeat(64)}`)).toThrow(/digits: line 2 is not a label digit/);
  });

  it('--fast: MAE loss falls, both classifiers report accuracy, nothing leaks', async () => {
    const parsed = parseOptions(['vit', '--fast']);
    if (parsed === 'help') throw new Error('unexpected');
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const r = await runVit(parsed, { ...quiet, log: (l) => lines.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(r.maeLosses.slice(-10))).toBeLessThan(0.8 * mean(r.maeLosses.slice(0, 10)));
    for (const acc of [r.accuracy.mae, r.accuracy.scratch]) expect(acc).toBeGreaterThanOrEqual(0);
    const text = lines.join('\n');
    expect(text).toMatch(/Test accuracy on 400 held-out digits/);
    expect(text).toMatch(/encoder from MAE/);
    expect(text).toMatch(/from scratch/);
  });

  it('pictures and [CLS] attention for the page: shapes, ranges, no leaks', async () => {
    const sizes = vitSizes(true);
    const split = splitDigits(await loadDigits(), { test: 20, labelled: 50, seed: 1 });
    const mae = new MaePretraining(sizes, split.train, 1);
    const ft = new FineTuning(sizes, split.labelled, { encoder: mae.model });
    const x = imagesTensor(split.test, [0, 1, 2]);
    const before = tf.memory().numTensors;
    const p = await mae.pictures(x);
    expect(p.original.length).toBe(3 * 64);
    expect(Math.min(...p.original)).toBeGreaterThanOrEqual(0);
    // 75% of each image's 16 patches are masked: 48 of 64 pixels drawn as masked (-1).
    expect(p.masked.filter((v) => v === -1).length).toBe(3 * 48);
    const att = await ft.clsAttention(imagesTensor(split.test, [0]));
    expect(att.weights.length).toBe(16);
    expect(att.predicted).toBeGreaterThanOrEqual(0);
    expect(tf.memory().numTensors).toBe(before + 1); // the image made for clsAttention above
    tf.dispose(x);
    mae.dispose();
    ft.dispose();
  });

  it("'vit' takes no arguments", async () => {
    const err: string[] = [];
    expect(await main(['vit', 'extra'], quiet, (l) => err.push(l))).toBe(2);
    expect(err[0]).toMatch(/'vit' takes no arguments/);
  });
});
