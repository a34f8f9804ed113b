#!/usr/bin/env bash
# System packages the test suites need (Debian bookworm, run as root). Idempotent.
#   WebGPU in Node: Dawn (inside the `webgpu` npm package) + Mesa's software Vulkan driver (lavapipe);
#     bookworm's Mesa is too old for Dawn, so libvulkan1 + mesa-vulkan-drivers come from bookworm-backports.
#   Browser suite: Debian's chromium, driven by playwright-core.
#   Parity fixtures / benchmarks (optional, --torch): python3-torch + OpenBLAS.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /etc/apt/sources.list.d/backports.list ]; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list
fi
apt-get update -qq
apt-get install -y -qq -t bookworm-backports libvulkan1 mesa-vulkan-drivers >/dev/null
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
if [ "${1:-}" = "--torch" ]; then
  apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
