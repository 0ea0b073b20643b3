#!/usr/bin/env bash
# Tests the CPU backend's AVX-512 instruction sets on a host without AVX-512.
#   1. The real build: simd_avx512.cpp compiled with the library's AVX-512 flags must use zmm
#      registers, and only its VNNI+BF16 copy may (and must) contain vpdpbusd and vdpbf16ps.
#   2. An emulated build (GGML_CPU_AVX512_EMULATE=ON): the same kernel source compiled against
#      SIMDe's portable implementations of the AVX-512 intrinsics (libsimde-dev) on AVX2, so
#      the kernels' logic runs here. test-backend-ops with GGML_CPU_ISA=avx512 (the VNNI+BF16
#      set) and avx512-base must pass every case and report the set they ran; the default set
#      of that build must be avx512; test-ggml must pass on avx512.
# On a CPU with AVX-512 the ordinary `make test` runs these kernels natively as the default.
# Usage: tools/test-avx512.sh [BUILD_DIR]   (default build-avx512; JOBS=N for the build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-avx512}
JOBS=${JOBS:-$(nproc)}
TAG=test-avx512
# shellcheck source=tools/test-lib.sh
source tools/test-lib.sh

if [ "$(uname -m)" != x86_64 ]; then
    echo "test-avx512: skipped: not an x86-64 host"
    exit 0
fi
if ! grep -qw avx2 /proc/cpuinfo; then
    echo "test-avx512: skipped: the emulation needs an AVX2 host"
    exit 0
fi
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake make)
[ -f /usr/include/simde/x86/avx512.h ] || missing+=(libsimde-dev)
[ -f /usr/include/catch2/catch.hpp ] || missing+=(catch2)
install_missing "${missing[@]}"

# 1. What the real build emits.
obj="$BUILD/native-objects"
mkdir -p "$obj"
flags=(-std=c++17 -O2 -Wall -Wextra -Werror -Ibackends/cpu -Iggml/include
    -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512dq -mavx512vl)
${CXX:-g++} "${flags[@]}" -c backends/cpu/simd_avx512.cpp -o "$obj/base.o"
${CXX:-g++} "${flags[@]}" -mavx512vnni -mavx512bf16 -DGGML_AVX512_VNNI_BF16_COPY \
    -c backends/cpu/simd_avx512.cpp -o "$obj/vnni_bf16.o"
count() { objdump -d "$1" | grep -c "$2" || true; }
[ "$(count "$obj/base.o" zmm)" -gt 0 ] || fail "the AVX-512 set uses no zmm register"
[ "$(count "$obj/vnni_bf16.o" vdpbf16ps)" -gt 0 ] || fail "the VNNI+BF16 copy has no vdpbf16ps"
[ "$(count "$obj/vnni_bf16.o" vpdpbusd)" -gt 0 ] || fail "the VNNI+BF16 copy has no vpdpbusd"
[ "$(count "$obj/base.o" 'vdpbf16ps\|vpdpbusd')" -eq 0 ] ||
    fail "the base AVX-512 set uses VNNI/BF16 instructions"
step "native objects: base $(count "$obj/base.o" zmm) zmm uses; copy $(count "$obj/vnni_bf16.o" vdpbf16ps) vdpbf16ps, $(count "$obj/vnni_bf16.o" vpdpbusd) vpdpbusd"

# 2. The kernels on SIMDe.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGGML_VULKAN=OFF -DGGML_CUDA=OFF \
    -DGGML_CPU_AVX512_EMULATE=ON >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" --target test-backend-ops test-ggml
step "emulated build"

harness() {
    local log="$BUILD/harness-$1.log"
    if GGML_CPU_ISA=$1 "$BUILD/bin/test-backend-ops" -b cpu >"$log" 2>&1; then :; else
        fail "test-backend-ops GGML_CPU_ISA=$1 (see $log)"
        grep -E 'FAIL' "$log" | head -20 || true
    fi
    grep -q "ggml cpu: GGML_CPU_ISA=$1: using $2\$" "$log" ||
        fail "GGML_CPU_ISA=$1 did not select $2: $(grep 'ggml cpu' "$log" || echo 'no report')"
    echo "test-avx512: harness GGML_CPU_ISA=$1 ($2): $(tail -1 "$log")"
}
harness avx512 "avx512+vnni+bf16"
harness avx512-base avx512
GGML_CPU_ISA=default "$BUILD/bin/test-backend-ops" -b cpu -o add >"$BUILD/default.log" 2>&1 ||
    fail "test-backend-ops -o add with the default set"
grep -q 'using avx512$' "$BUILD/default.log" ||
    fail "the default set is not avx512: $(grep 'ggml cpu' "$BUILD/default.log")"
step "harness runs"

if GGML_CPU_ISA=avx512 "$BUILD/bin/test-ggml" >"$BUILD/test-ggml.log" 2>&1; then
    echo "test-avx512: test-ggml GGML_CPU_ISA=avx512: $(tail -2 "$BUILD/test-ggml.log" | tr -s '\n' ' ')"
else
    tail -40 "$BUILD/test-ggml.log"
    fail "test-ggml GGML_CPU_ISA=avx512 (see $BUILD/test-ggml.log)"
fi
step "test-ggml"

echo "test-avx512: $((t_last - t_start)) s in all, $failures failure(s)"
[ "$failures" = 0 ]
