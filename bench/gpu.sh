#!/usr/bin/env bash
# One command on an NVIDIA machine: the scale benchmark (BERT-base fine-tune and forward, GPT-2 small
# training and ms/token) on WebGPU (Dawn in Node, on the NVIDIA Vulkan driver) next to PyTorch CUDA in the
# same run, plus TF.js's matmul peak on the device (MFU is against it). Results: bench/results/scale-gpu.json.
#
#   bash bench/gpu.sh            # needs: node >= 20, an NVIDIA driver with Vulkan (libvulkan1 + the
#                                # driver's ICD), and for the PyTorch column a CUDA build of torch in python3
#
# Nothing here is needed by the tests; without a GPU it says so and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
  echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi failed); nothing to run" >&2
  exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

npx -y pnpm@10.34.9 install --frozen-lockfile
npx -y pnpm@10.34.9 build

# The adapter Dawn sees must be the NVIDIA one, not a software fallback.
(cd packages/core && node --input-type=module -e "
import { probeWebGPU } from './dist/index.js';
const p = await probeWebGPU();
console.log('WebGPU:', p.reason);
if (!p.available || p.software) { console.error('no hardware WebGPU adapter: install libvulkan1 and the NVIDIA Vulkan ICD'); process.exit(1); }
")

TORCH_DEVICE=cpu
if /usr/bin/env python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  TORCH_DEVICE=cuda
else
  echo "bench/gpu.sh: python3's torch has no CUDA; the PyTorch columns are on the CPU" >&2
fi

# WebGPU with the adapter's limits and with the spec defaults (what a mobile browser gets), wasm for scale.
TK_BENCH_TORCH_DEVICE=$TORCH_DEVICE TK_BENCH_RESULTS=scale-gpu \
  node bench/scale.bench.mjs webgpu webgpu:limits=default wasm
