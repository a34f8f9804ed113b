import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@transformer-kit/core';
import { trainChar } from '@transformer-kit/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT, loadPretrained, savePretrained } from '../src/index.js';

let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'tk-gpt-pretrained-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('savePretrained / loadPretrained', () => {
  it('writes model, config and tokenizer together and reads both back', async () => {
    const text = 'Call me Ishmael. Some years ago, never mind how long precisely';
    const tokenizer = trainChar(text);
    const model = new GPT({ vocabSize: tokenizer.vocabSize }, { seed: 1 });
    const dir = join(tmp, 'char');
    await savePretrained(model, dir, { tokenizer });
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'vocab.json',
    ]);
    const back = await loadPretrained(dir);
    expect(back.tokenizer!.encode(text).ids).toEqual(tokenizer.encode(text).ids);
    const ids = [tokenizer.encode('Call me').ids];
    tf.tidy(() => {
      expect(back.model.forward(ids).sub(model.forward(ids)).abs().max().dataSync()[0]).toBe(0);
    });
    model.dispose();
    back.model.dispose();
    const bare = join(tmp, 'bare');
    const m2 = new GPT('tiny');
    await savePretrained(m2, bare);
    const r = await loadPretrained(bare);
    expect(r.tokenizer).toBeUndefined();
    m2.dispose();
    r.model.dispose();
  });
});
