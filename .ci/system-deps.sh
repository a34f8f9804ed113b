#!/usr/bin/env bash
# System packages the test suites need (Debian bookworm, run as root). Idempotent; fast when already done.
#   WebGPU in Node: Dawn (inside the `webgpu` npm package) + Mesa's software Vulkan driver (lavapipe);
#     bookworm's Mesa is too old for Dawn, so libvulkan1 + mesa-vulkan-drivers come from bookworm-backports.
#   Browser suite: Debian's chromium, driven by playwright-core.
#   Parity fixtures / benchmarks (optional, --torch): python3-torch + OpenBLAS.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(libvulkan1 mesa-vulkan-drivers chromium fonts-dejavu-core)
[ "${1:-}" = "--torch" ] && PKGS+=(python3-torch libopenblas0-pthread)

installed() {
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || return 1
  done
  # Mesa must be the backports one (Dawn rejects bookworm's 22.x lavapipe).
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers | grep -q bpo
}
if installed "${PKGS[@]}"; then
  echo "system packages present: ${PKGS[*]} (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
  exit 0
fi

if [ ! -f /etc/apt/sources.list.d/backports.list ]; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list
fi
apt-get update -qq
apt-get install -y -qq -t bookworm-backports libvulkan1 mesa-vulkan-drivers >/dev/null
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
if [ "${1:-}" = "--torch" ]; then
  apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
