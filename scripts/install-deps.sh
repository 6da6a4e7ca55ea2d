#!/usr/bin/env bash
# Installs what syncbridge needs from Debian 12's own suites (no extra sources).
#   scripts/install-deps.sh build   compilers, CMake, GoogleTest, Benchmark, libdrm, Vulkan, glslc
#   scripts/install-deps.sh test    the above plus QEMU, the kernel source and patch for the VM tests,
#                                   and clang-format and shfmt for the format checks
set -euo pipefail

what=${1:-test}
packages=(
  g++ make cmake ninja-build pkg-config git ca-certificates
  libgtest-dev libgmock-dev libbenchmark-dev
  libdrm-dev libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers glslc vulkan-tools
  libegl1 python3
)
if [[ $what == test ]]; then
  packages+=(qemu-system-x86 linux-source-6.12 flex bison bc libelf-dev libssl-dev xz-utils cpio patch clang-format shfmt)
elif [[ $what != build ]]; then
  echo "usage: $0 build|test" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: everything for '$what' is installed"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || {
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  }
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
