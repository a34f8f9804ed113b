import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { CheckpointError, initBackend, loadCheckpoint, saveCheckpoint } from '../src/index.js';

// Simulated crash: while armed, writing a temp file stores only its first half and then fails, as when
// the process dies or the disk fills mid-write.
const crash = vi.hoisted(() => ({ armed: false, partialBytes: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof fsp>();
  const open = async (...args: Parameters<typeof real.open>) => {
    const handle = await real.open(...args);
    if (!crash.armed || !String(args[0]).includes('.tmp-')) return handle;
    return {
      writeFile: async (data: Uint8Array) => {
        const half = data.subarray(0, data.length >> 1);
        await handle.write(half);
        crash.partialBytes = half.length;
        throw new Error('simulated crash mid-write');
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  };
  return { ...real, default: { ...real, open }, open };
});

const tmp = mkdtempSync(join(tmpdir(), 'tk-crash-'));
beforeAll(async () => {
  await initBackend('cpu');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('a save that dies mid-write leaves the previous checkpoint loadable and unchanged', async () => {
  const dir = join(tmp, 'ckpt');
  const v1 = {
    w: tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
  };
  await saveCheckpoint(dir, { config: { version: 1 }, tensors: v1 });
  const sizeBefore = statSync(join(dir, 'model.safetensors')).size;

  const v2 = { w: tf.randomNormal([256, 256], 0, 1, 'float32', 7) };
  crash.armed = true;
  const err = await saveCheckpoint(dir, { config: { version: 2 }, tensors: v2 }).catch((e: unknown) => e);
  crash.armed = false;
  expect(crash.partialBytes).toBeGreaterThan(100_000); // the new weights really were half written
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as Error).message).toMatch(/simulated crash mid-write; the previous checkpoint is untouched/);

  expect(statSync(join(dir, 'model.safetensors')).size).toBe(sizeBefore);
  expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']); // temp file cleaned up
  const loaded = await loadCheckpoint(dir);
  expect(loaded.config).toEqual({ version: 1 });
  expect(Array.from(loaded.tensors.w!.dataSync())).toEqual([1, 2, 3, 4]);
  tf.dispose([loaded.tensors, v1]);

  // A hard kill leaves its temp file behind: loading ignores it and the next save succeeds.
  writeFileSync(join(dir, '.model.safetensors.tmp-dead'), new Uint8Array(1000));
  await saveCheckpoint(dir, { config: { version: 2 }, tensors: v2 });
  const after = await loadCheckpoint(dir);
  expect(after.config).toEqual({ version: 2 });
  expect(Array.from(after.tensors.w!.dataSync())).toEqual(Array.from(v2.w.dataSync()));
  tf.dispose([after.tensors, v2]);
});
