#!/usr/bin/env bash
# Tests the CPU backend's NEON instruction set on an x86-64 host: cross-compiles for AArch64
# (cmake/aarch64-linux-gnu.cmake) and runs under qemu-user.
#   1. tools/neon_vt_check.cpp: every member of the NEON vector interface against plain C++,
#      built for armv8-a and for armv8.2-a+dotprod (the SDOT copies, here and in the library,
#      must contain sdot, the plain ones must not).
#   2. test-backend-ops with GGML_CPU_ISA=neon on `-cpu max` (has dotprod: neon+dotprod must be
#      selected) and on `-cpu cortex-a72` (no dotprod: plain neon), and with GGML_CPU_ISA=scalar;
#      every case must pass, and the backend's confirmation line must name the expected set.
#   3. test-ggml with GGML_CPU_ISA=neon on `-cpu max` (NEON_TEST_GGML=0 skips it).
# Usage: tools/test-neon.sh [BUILD_DIR]   (default build-neon; JOBS=N for the build)
# Installs g++-aarch64-linux-gnu, qemu-user (and cmake, catch2) when missing: as root with
# apt-get, otherwise it prints the command.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-neon}
JOBS=${JOBS:-$(nproc)}
TEST_GGML=${NEON_TEST_GGML:-1}
TRIPLE=aarch64-linux-gnu
SYSROOT=/usr/$TRIPLE
TAG=test-neon
# shellcheck source=tools/test-lib.sh
source tools/test-lib.sh

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake make)
command -v $TRIPLE-g++ >/dev/null 2>&1 || missing+=("g++-$TRIPLE")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
[ -f /usr/include/catch2/catch.hpp ] || missing+=(catch2)
install_missing "${missing[@]}"
step "toolchain ready: $($TRIPLE-g++ --version | head -1); $(qemu-aarch64 --version | head -1)"

targets=(test-backend-ops)
[ "$TEST_GGML" = 1 ] && targets+=(test-ggml)
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/$TRIPLE.cmake -DCMAKE_BUILD_TYPE=Release \
    -DGGML_VULKAN=OFF -DGGML_CUDA=OFF >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}"
step "cross build of ${targets[*]}"

# 1. The vector interface, member by member.
vt="$BUILD/neon-vt"
mkdir -p "$vt"
vt_flags=(-std=c++17 -O2 -Wall -Wextra -Wshadow=local -Wno-unused-parameter -Werror
    -Ibackends/cpu -Iggml/include)
$TRIPLE-g++ "${vt_flags[@]}" tools/neon_vt_check.cpp -o "$vt/plain"
$TRIPLE-g++ "${vt_flags[@]}" -march=armv8.2-a+dotprod -DGGML_NEON_DOTPROD_COPY \
    tools/neon_vt_check.cpp -o "$vt/dotprod"
sdots() { $TRIPLE-objdump -d "$1" | grep -cw sdot || true; }
[ "$(sdots "$vt/dotprod")" -gt 0 ] || fail "the dotprod copy has no sdot"
[ "$(sdots "$vt/plain")" -eq 0 ] || fail "the plain armv8-a copy uses sdot"
# The same for the library's two copies (sdot comes from the q8_0/q4_0 dot products).
lib_obj=$(find "$BUILD/backends/cpu" -name 'simd_neon.cpp.o' | head -1)
lib_dp=$(find "$BUILD/backends/cpu" -name 'simd_neon_dotprod.cpp.o' | head -1)
if [ -z "$lib_obj" ] || [ -z "$lib_dp" ]; then
    fail "no simd_neon.cpp.o / simd_neon_dotprod.cpp.o under $BUILD/backends/cpu"
else
    [ "$(sdots "$lib_dp")" -gt 0 ] || fail "the library's dotprod copy has no sdot"
    [ "$(sdots "$lib_obj")" -eq 0 ] || fail "the library's armv8-a copy uses sdot"
fi
qemu() {
    local cpu=$1
    shift
    qemu-aarch64 -cpu "$cpu" -L "$SYSROOT" "$@"
}
qemu max "$vt/dotprod" || fail "VT check, dotprod copy, -cpu max"
qemu max "$vt/plain" || fail "VT check, plain copy, -cpu max"
qemu cortex-a72 "$vt/plain" || fail "VT check, plain copy, -cpu cortex-a72"
# The dotprod copy must trap on a CPU without it, or the cortex-a72 runs prove nothing.
if (ulimit -c 0 && qemu cortex-a72 "$vt/dotprod") >/dev/null 2>&1; then
    fail "-cpu cortex-a72 ran SDOT; it cannot stand for a CPU without dotprod"
fi
step "vector interface checks"

# 2. The harness. $1 GGML_CPU_ISA, $2 qemu cpu, $3 the set the backend must report.
harness() {
    local log="$BUILD/harness-$1-$2.log"
    if GGML_CPU_ISA=$1 qemu "$2" "$BUILD/bin/test-backend-ops" -b cpu >"$log" 2>&1; then :; else
        fail "test-backend-ops GGML_CPU_ISA=$1 -cpu $2 (see $log)"
        grep -E 'FAIL' "$log" | head -20 || true
    fi
    grep -q "ggml cpu: GGML_CPU_ISA=$1: using $3\$" "$log" ||
        fail "GGML_CPU_ISA=$1 -cpu $2 did not select $3: $(grep 'ggml cpu' "$log" || echo 'no report')"
    echo "test-neon: harness GGML_CPU_ISA=$1 -cpu $2 ($3): $(tail -1 "$log")"
}
harness neon max neon+dotprod
harness neon cortex-a72 neon
harness scalar max scalar
# Without a request the best set must be NEON: an unknown name reports the default.
GGML_CPU_ISA=default qemu cortex-a72 "$BUILD/bin/test-backend-ops" -b cpu -o add >"$BUILD/default.log" 2>&1 ||
    fail "test-backend-ops -o add with the default set"
grep -q 'using neon$' "$BUILD/default.log" || fail "the default set is not neon: $(grep 'ggml cpu' "$BUILD/default.log")"
step "harness runs"

# 3. The unit/model tests on the best set.
if [ "$TEST_GGML" = 1 ]; then
    if GGML_CPU_ISA=neon qemu max "$BUILD/bin/test-ggml" >"$BUILD/test-ggml.log" 2>&1; then
        echo "test-neon: test-ggml GGML_CPU_ISA=neon -cpu max: $(tail -2 "$BUILD/test-ggml.log" | tr -s '\n' ' ')"
    else
        tail -40 "$BUILD/test-ggml.log"
        fail "test-ggml GGML_CPU_ISA=neon -cpu max (see $BUILD/test-ggml.log)"
    fi
    step "test-ggml"
fi

echo "test-neon: $((t_last - t_start)) s in all, $failures failure(s)"
[ "$failures" = 0 ]
