#!/usr/bin/env bash
# Installs what tools/train needs on Debian 12 (bookworm): Debian's PyTorch (CPU),
# SentencePiece and NumPy for /usr/bin/python3, and OpenBLAS (without it Debian's
# torch falls back to the reference BLAS and trains ~15x slower). As root it runs
# apt-get itself; otherwise it prints the command to run.
set -eu
pkgs=(python3-torch python3-sentencepiece python3-numpy libopenblas0-pthread)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
    echo "tools/train: all packages present (${pkgs[*]})"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "missing packages; run:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
