import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  type CheckpointSource,
  encodeCheckpoint,
  initBackend,
  loadCheckpoint,
  parseConfig,
  readCheckpointFile,
  saveCheckpoint,
  writeSafetensors,
} from '../src/index.js';

const config = {
  model_type: 'gpt2',
  n_embd: 4,
  n_layer: 1,
  layer_norm_epsilon: 1e-5,
  architectures: ['GPT2LMHeadModel'],
};
const tmp = mkdtempSync(join(tmpdir(), 'tk-ckpt-'));
let tensors: Record<string, tf.Tensor>;

function expectSameTensors(got: Record<string, tf.Tensor>, want: Record<string, tf.Tensor>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [name, t] of Object.entries(want)) {
    expect(got[name]!.shape, name).toEqual(t.shape);
    expect(Array.from(got[name]!.dataSync()), name).toEqual(Array.from(t.dataSync()));
  }
}

beforeAll(async () => {
  await initBackend('cpu');
  tensors = {
    'wte.weight': tf.randomNormal([5, 4], 0, 1, 'float32', 1),
    'h.0.ln_1.bias': tf.tensor1d([0.5, -1, 2, 0]),
  };
});

afterAll(() => {
  tf.dispose(tensors);
  rmSync(tmp, { recursive: true, force: true });
});

describe('checkpoint folders', () => {
  it('saves config.json + model.safetensors (+ extra files) and loads them back from a path', async () => {
    const dir = join(tmp, 'round-trip');
    await saveCheckpoint(dir, { config, tensors, extraFiles: { 'vocab.json': '{"a":0}' } });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'vocab.json']);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(config);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.config).toEqual(config);
    expect(loaded.metadata).toEqual({ format: 'pt' });
    expectSameTensors(loaded.tensors, tensors);
    tf.dispose(loaded.tensors);
    expect(new TextDecoder().decode(await readCheckpointFile(dir, 'vocab.json'))).toBe('{"a":0}');
    // A trailing slash and a file:// URL name the same folder.
    const again = await loadCheckpoint(pathToFileURL(`${dir}/`));
    expectSameTensors(again.tensors, tensors);
    tf.dispose(again.tensors);
  });

  it('overwrites an existing checkpoint in place', async () => {
    const dir = join(tmp, 'overwrite');
    await saveCheckpoint(dir, { config, tensors });
    const doubled = {
      'wte.weight': tensors['wte.weight']!.mul(2),
      'h.0.ln_1.bias': tensors['h.0.ln_1.bias']!,
    };
    await saveCheckpoint(dir, { config: { ...config, n_layer: 2 }, tensors: doubled });
    const loaded = await loadCheckpoint(dir);
    expect(loaded.config.n_layer).toBe(2);
    expectSameTensors(loaded.tensors, doubled);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    tf.dispose([loaded.tensors, doubled['wte.weight']]);
  });

  it('loads from in-memory files: Map of bytes, record of ArrayBuffers, Blobs, a File list, fetch Responses', async () => {
    const dir = join(tmp, 'memory');
    await saveCheckpoint(dir, { config, tensors });
    const cfg = readFileSync(join(dir, 'config.json'));
    const weights = readFileSync(join(dir, 'model.safetensors'));
    const ab = (b: Buffer) => new Uint8Array(b).buffer;
    const sources: CheckpointSource[] = [
      new Map<string, Uint8Array>([
        ['config.json', cfg],
        ['model.safetensors', weights],
      ]),
      { 'config.json': ab(cfg), 'model.safetensors': ab(weights) },
      { 'gpt2/config.json': new Blob([cfg]), 'gpt2/model.safetensors': new Blob([weights]) },
      [new File([cfg], 'config.json'), new File([weights], 'model.safetensors')],
      { 'config.json': new Response(cfg), 'model.safetensors': new Response(weights) },
    ];
    for (const source of sources) {
      const loaded = await loadCheckpoint(source);
      expect(loaded.config).toEqual(config);
      expectSameTensors(loaded.tensors, tensors);
      tf.dispose(loaded.tensors);
    }
  });

  it('encodeCheckpoint gives the folder as bytes (for browser downloads), loadable as files', async () => {
    const files = await encodeCheckpoint({ config, tensors, extraFiles: { 'merges.txt': 'a b' } });
    expect([...files.keys()]).toEqual(['model.safetensors', 'config.json', 'merges.txt']);
    const loaded = await loadCheckpoint(files);
    expect(loaded.config).toEqual(config);
    expectSameTensors(loaded.tensors, tensors);
    tf.dispose(loaded.tensors);
  });

  it('loads sharded weights listed in model.safetensors.index.json', async () => {
    const dir = join(tmp, 'sharded');
    await saveCheckpoint(dir, { config, tensors: { 'wte.weight': tensors['wte.weight']! } });
    rmSync(join(dir, 'model.safetensors'));
    writeFileSync(
      join(dir, 'a.safetensors'),
      await writeSafetensors({ 'wte.weight': tensors['wte.weight']! }),
    );
    writeFileSync(
      join(dir, 'b.safetensors'),
      await writeSafetensors({ 'h.0.ln_1.bias': tensors['h.0.ln_1.bias']! }),
    );
    const weight_map = { 'wte.weight': 'a.safetensors', 'h.0.ln_1.bias': 'b.safetensors' };
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map }));
    const loaded = await loadCheckpoint(dir);
    expectSameTensors(loaded.tensors, tensors);
    tf.dispose(loaded.tensors);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { x: '../a.safetensors' } }),
    );
    await expect(loadCheckpoint(dir)).rejects.toThrow(/shard "..\/a.safetensors" is not a plain file name/);
  });

  it('names what is missing or broken', async () => {
    const dir = join(tmp, 'no-weights');
    await saveCheckpoint(dir, { config, tensors });
    rmSync(join(dir, 'model.safetensors'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      new RegExp(
        `checkpoint ${dir} has no model.safetensors \\(or model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json\\) \\(found: config.json\\)`,
      ),
    );
    await expect(loadCheckpoint(join(tmp, 'nowhere'))).rejects.toThrow(
      /has no config.json \(it is empty or does not exist\)/,
    );
    await expect(loadCheckpoint(new Map([['model.safetensors', new Uint8Array(8)]]))).rejects.toThrow(
      /checkpoint from the given files has no config.json \(found: model.safetensors\)/,
    );
    writeFileSync(join(dir, 'model.safetensors'), new Uint8Array([1, 2, 3]));
    const err = await loadCheckpoint(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toBe(
      `${dir}/model.safetensors: file is 3 bytes, too short for the 8-byte header length`,
    );
    writeFileSync(join(dir, 'config.json'), '{"n_embd": 4,');
    await expect(loadCheckpoint(dir)).rejects.toThrow(/config.json: not valid JSON/);
    expect(() => parseConfig('[1]')).toThrow(/expected a JSON object, got an array/);
    await expect(saveCheckpoint(dir, { config, tensors, extraFiles: { '../x': 'y' } })).rejects.toThrow(
      /plain file name/,
    );
  });
});

describe('checkpoints over HTTP (fetch)', () => {
  let server: Server;
  let base: string;
  let dir: string;
  beforeAll(async () => {
    dir = join(tmp, 'served');
    await saveCheckpoint(dir, { config, tensors });
    server = createServer((req, res) => {
      try {
        const body = readFileSync(join(dir, decodeURIComponent(req.url!.replace(/^\/models\/tiny\//, ''))));
        res.writeHead(200).end(body);
      } catch {
        res.writeHead(req.url?.includes('forbidden') ? 403 : 404).end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}/models/tiny`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('fetches config.json and model.safetensors from a base URL', async () => {
    for (const source of [base, `${base}/`, new URL(base)]) {
      const loaded = await loadCheckpoint(source);
      expect(loaded.config).toEqual(config);
      expectSameTensors(loaded.tensors, tensors);
      tf.dispose(loaded.tensors);
    }
  });

  it('reports a missing file and an HTTP error', async () => {
    await expect(loadCheckpoint(`${base}/nested`)).rejects.toThrow(
      `checkpoint ${base}/nested has no config.json`,
    );
    await expect(readCheckpointFile(`${base}/forbidden`, 'x')).rejects.toThrow(/HTTP 403/);
  });
});
