#!/usr/bin/env bash
# Fuzzes the GGUF reader: builds tests/fuzz/fuzz_gguf.cpp with clang (libFuzzer + ASan + UBSan,
# the library instrumented too) and runs it for SECONDS (default 60) from the seed corpus in
# tests/fuzz/corpus. New inputs go to BUILD/fuzz-corpus, crashes to BUILD/fuzz-artifacts/; the
# script fails when the fuzzer finds one and prints the reproducer command.
#
#   tools/fuzz.sh [SECONDS]        env: BUILD_FUZZ (default build-fuzz), JOBS (default 2),
#                                       FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2)
# Installs clang and the clang runtime libraries when run as root and they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
build="${BUILD_FUZZ:-build-fuzz}"
jobs="${JOBS:-2}"

probe='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
can_fuzz() {
    command -v clang++ >/dev/null 2>&1 &&
        echo "$probe" | clang++ -x c++ -fsanitize=fuzzer,address,undefined - \
            -o /dev/null >/dev/null 2>&1
}
if ! can_fuzz; then
    command -v clang++ >/dev/null 2>&1 || bash tools/install-deps.sh clang
    ver="$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)"
    # Debian/Ubuntu ship libFuzzer and the sanitizer runtimes in libclang-rt-N-dev.
    bash tools/install-deps.sh "libclang-rt-${ver}-dev"
    can_fuzz || { echo "fuzz: clang cannot link -fsanitize=fuzzer" >&2; exit 1; }
fi

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGGML_FUZZ=ON -DGGML_OPENMP=OFF \
    -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF -DGGML_BUILD_SHARED=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target fuzz-gguf

mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "fuzz: running fuzz-gguf for ${secs} s"
set +e
# shellcheck disable=SC2086
"$build/bin/fuzz-gguf" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/" ${FUZZ_ARGS:-} \
    "$build/fuzz-corpus" tests/fuzz/corpus
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "fuzz: FAILED (exit $rc). Reproducers:" >&2
    ls -1 "$build/fuzz-artifacts/" >&2
    echo "reproduce with: $build/bin/fuzz-gguf $build/fuzz-artifacts/<file>" >&2
    exit $rc
fi
echo "fuzz: no crash in ${secs} s; corpus $(ls "$build/fuzz-corpus" | wc -l) new inputs"
