#!/usr/bin/env bash
# Installs the Debian packages the build and tests need. As root it runs apt-get itself;
# otherwise it prints the exact command to run.
set -eu
pkgs=()
command -v cmake >/dev/null 2>&1 || pkgs+=(cmake)
command -v g++ >/dev/null 2>&1 || pkgs+=(g++)
command -v make >/dev/null 2>&1 || pkgs+=(make)
[ -f /usr/include/catch2/catch.hpp ] || pkgs+=(catch2)
command -v pkg-config >/dev/null 2>&1 || pkgs+=(pkg-config)
# Extra packages requested by the caller (e.g. Vulkan: libvulkan-dev mesa-vulkan-drivers glslc).
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p"); done
# gguf-py (GGUF's Python reference) for tests/CMakeLists.txt's quantize-vs-gguf-py check.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import gguf, numpy" 2>/dev/null; then
    python3 -m pip install -q gguf numpy 2>&1 | grep -v "WARNING: Running pip as" || true
fi
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
else
    echo "missing packages; run:  sudo apt-get install -y ${pkgs[*]}" >&2
    exit 1
fi
