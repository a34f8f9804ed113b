#!/usr/bin/env bash
# One command on an NVIDIA machine: the scale benchmark (BERT-base fine-tune and forward, GPT-2 small
# training and ms/token) on WebGPU (Dawn in Node, on the NVIDIA Vulkan driver) next to PyTorch CUDA in the
# same run, plus TF.js's matmul peak on the device (MFU is against it). Results: bench/results/scale-gpu.json.
#
#   bash bench/gpu.sh            # needs: node >= 20, an NVIDIA driver with Vulkan (libvulkan1 + the
#                                # driver's ICD), and for the PyTorch column a CUDA build of torch in python3
#
# Reported per row: TF.js's matmul peak on that backend ('peak GF/s'), step time and MFU against it
# (bert-finetune, bert-mlm, gpt2-train), ms/token (gpt2-generate), dispatches per step, GPU MB, and the
# PyTorch CUDA times beside them.
#
# Nothing here is needed by the tests; without a GPU it says so and stops.
#   TK_GPU_DRY_RUN=1 bash bench/gpu.sh   # no GPU needed: the same steps at BERT-mini, batch 1, wasm + torch cpu
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=${TK_GPU_DRY_RUN:-0}

if [ "$DRY" != 1 ]; then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
    echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi failed); nothing to run" >&2
    exit 1
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

# A machine without the registry (an offline GPU box) uses the node_modules that came with the tree.
[ -d node_modules/.pnpm ] || npx -y pnpm@10.34.9 install --frozen-lockfile
npx -y pnpm@10.34.9 build

# The adapter Dawn sees must be the NVIDIA one, not a software fallback.
(cd packages/core && node --input-type=module -e "
import { probeWebGPU } from './dist/index.js';
const p = await probeWebGPU();
console.log('WebGPU:', p.reason);
if (!p.available || p.software) { console.error('no hardware WebGPU adapter: install libvulkan1 and the NVIDIA Vulkan ICD'); process.exit(process.env.TK_GPU_DRY_RUN === '1' ? 0 : 1); }
")

TORCH_DEVICE=cpu
if /usr/bin/env python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  TORCH_DEVICE=cuda
else
  echo "bench/gpu.sh: python3's torch has no CUDA; the PyTorch columns are on the CPU" >&2
fi

if [ "$DRY" = 1 ]; then
  TK_BENCH_TORCH_DEVICE=$TORCH_DEVICE TK_BENCH_RESULTS=scale-gpu-dry TK_BENCH_BERT=mini TK_BENCH_BATCH=1 \
    TK_BENCH_STEPS=1 node bench/scale.bench.mjs wasm --only bert-finetune
  exit 0
fi

# WebGPU with the adapter's limits and with the spec defaults (what a mobile browser gets), wasm for scale.
# Dropout 0, so each WebGPU row's first losses can be checked against wasm's ('Δloss vs wasm').
TK_BENCH_TORCH_DEVICE=$TORCH_DEVICE TK_BENCH_RESULTS=scale-gpu TK_BENCH_NO_DROPOUT=1 \
  node bench/scale.bench.mjs webgpu webgpu:limits=default wasm
