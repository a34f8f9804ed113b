// Core's training and checkpoint machinery next to PyTorch (system torch 1.13, CPU) in the same run:
// one AdamW step over a GPT-2-shaped parameter set (6 layers, d=512, vocab 16384: 27.6M parameters), and
// reading / writing the same tensors as safetensors (F32, and F16 read). TF.js's own Adam (tf.train.adam,
// no weight decay) runs the same update as elementwise kernels: the baseline our fused host loop replaces.
// Run: node bench/core-training.bench.mjs (after `turbo run build`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, initBackend, readSafetensors, saveCheckpoint, writeSafetensors } from '@transformer-kit/core';
import { printTable, timeIt, writeResults } from './lib.mjs';

const LAYERS = 6;
const D = 512;
const VOCAB = 16384;
const CTX = 512;
const shapes = [
  ['wte.weight', [VOCAB, D]],
  ['wpe.weight', [CTX, D]],
];
for (let i = 0; i < LAYERS; i++) {
  const h = `h.${i}.`;
  shapes.push(
    [`${h}ln_1.weight`, [D]],
    [`${h}ln_1.bias`, [D]],
    [`${h}attn.c_attn.weight`, [D, 3 * D]],
    [`${h}attn.c_attn.bias`, [3 * D]],
    [`${h}attn.c_proj.weight`, [D, D]],
    [`${h}attn.c_proj.bias`, [D]],
    [`${h}ln_2.weight`, [D]],
    [`${h}ln_2.bias`, [D]],
    [`${h}mlp.c_fc.weight`, [D, 4 * D]],
    [`${h}mlp.c_fc.bias`, [4 * D]],
    [`${h}mlp.c_proj.weight`, [4 * D, D]],
    [`${h}mlp.c_proj.bias`, [D]],
  );
}
const numParams = shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
const dir = mkdtempSync(join(tmpdir(), 'tk-bench-core-'));

// PyTorch first: it also writes the F32 and F16 files both sides then read.
const py = `
import json, struct, time, torch
torch.manual_seed(0)
shapes = json.loads(${JSON.stringify(JSON.stringify(shapes))})
def med(f, iters=5):
    f(); f()
    ts = []
    for _ in range(iters):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2] * 1000
params = [torch.nn.Parameter(torch.randn(s) * 0.02) for _, s in shapes]
for p in params: p.grad = torch.randn(p.shape) * 1e-3
groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
          {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
out = {"threads": torch.get_num_threads()}
for foreach in (False, True):
    opt = torch.optim.AdamW(groups, lr=1e-4, foreach=foreach)
    out["adamw foreach" if foreach else "adamw"] = med(lambda: opt.step())

def layout(tensors, dtype_name):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in sorted(tensors.items()):
        raw = t.contiguous().view(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)

def read(path, dtype):
    # What safetensors.torch.load does: parse the header, then a tensor per byte range.
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    return {k: torch.frombuffer(bytearray(data[base + v["data_offsets"][0]:base + v["data_offsets"][1]]), dtype=dtype).float().view(v["shape"])
            for k, v in header.items() if k != "__metadata__"}

tensors = {name: p.detach() for (name, _), p in zip(shapes, params)}
out["write f32"] = med(lambda: open("${dir}/f32.safetensors", "wb").write(layout(tensors, "F32")), 3)
open("${dir}/f16.safetensors", "wb").write(layout({k: v.half() for k, v in tensors.items()}, "F16"))
out["read f32"] = med(lambda: read("${dir}/f32.safetensors", torch.float32), 3)
out["read f16"] = med(lambda: read("${dir}/f16.safetensors", torch.float16), 3)
print(json.dumps(out))
`;
const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
if (r.status !== 0) {
  console.error(r.stderr);
  process.exit(1);
}
const torch = JSON.parse(r.stdout.trim().split('\n').pop());

function makeParams() {
  const params = shapes.map(([name, s], i) => [name, tf.variable(tf.randomNormal(s, 0, 0.02, 'float32', i))]);
  const grads = Object.fromEntries(
    params.map(([, p], i) => [p.name, tf.randomNormal(p.shape, 0, 1e-3, 'float32', 1000 + i)]),
  );
  return { params, grads };
}

const results = { numParams, torch };
const rows = [];
for (const backend of ['cpu', 'wasm']) {
  await initBackend(backend);
  const { params, grads } = makeParams();
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.1 });
  const ours = await timeIt(async () => {
    opt.step(grads);
    await params[0][1].data();
  });
  opt.dispose();
  const tfAdam = tf.train.adam(1e-4);
  const varGrads = params.map(([, p]) => ({ name: p.name, tensor: grads[p.name] }));
  const builtin = await timeIt(async () => {
    tfAdam.applyGradients(varGrads);
    await params[0][1].data();
  });
  tfAdam.dispose();
  rows.push({
    what: `AdamW step, ${(numParams / 1e6).toFixed(1)}M params`,
    backend,
    'ours ms': ours,
    'tf.train.adam ms': builtin,
    'torch ms': torch.adamw,
    'torch foreach ms': torch['adamw foreach'],
    'ours / torch': ours / torch.adamw,
  });
  results[`adamw ${backend}`] = { ours, tfTrainAdam: builtin };
  tf.dispose([params.map(([, p]) => p), grads]);
}

// Checkpoint IO (wasm: bytes → tf tensors in the wasm heap, as a model load does).
const f32 = readFileSync(join(dir, 'f32.safetensors'));
const f16 = readFileSync(join(dir, 'f16.safetensors'));
const toTensors = (bytes) => {
  const ts = [...readSafetensors(bytes).tensors.values()].map((t) => tf.tensor(t.data, t.shape));
  tf.dispose(ts);
};
const readF32 = await timeIt(() => toTensors(f32), { warmup: 1, iters: 3 });
const readF16 = await timeIt(() => toTensors(f16), { warmup: 1, iters: 3 });
const { params } = makeParams();
const sd = Object.fromEntries(params.map(([n, p]) => [n, p]));
const write = await timeIt(() => writeSafetensors(sd), { warmup: 1, iters: 3 });
const save = await timeIt(
  () => saveCheckpoint(join(dir, 'ckpt'), { config: { n_layer: LAYERS }, tensors: sd }),
  {
    warmup: 1,
    iters: 3,
  },
);
tf.dispose(params.map(([, p]) => p));
const mb = (f32.length / 1e6).toFixed(0);
rows.push(
  {
    what: `read F32 safetensors (${mb} MB)`,
    backend: 'wasm',
    'ours ms': readF32,
    'torch ms': torch['read f32'],
    'ours / torch': readF32 / torch['read f32'],
  },
  {
    what: 'read F16 safetensors → float32',
    backend: 'wasm',
    'ours ms': readF16,
    'torch ms': torch['read f16'],
    'ours / torch': readF16 / torch['read f16'],
  },
  {
    what: 'write F32 safetensors',
    backend: 'wasm',
    'ours ms': write,
    'torch ms': torch['write f32'],
    'ours / torch': write / torch['write f32'],
  },
  { what: 'saveCheckpoint (atomic, fsync)', backend: 'wasm', 'ours ms': save },
);
Object.assign(results, { readF32, readF16, write, save });
rmSync(dir, { recursive: true, force: true });

printTable(`core training + checkpoint IO (torch ${torch.threads} threads, median ms)`, rows);
writeResults('core-training', { rows, results });
