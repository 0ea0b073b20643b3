#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (GGML_SANITIZE=ON:
# -fsanitize=address,undefined -fno-sanitize-recover=all) and runs the whole CTest suite; any
# sanitizer report aborts its test, so the script fails.
#
#   tools/sanitize.sh              env: BUILD_ASAN (default build-asan), JOBS (default 2),
#                                       CMAKE_FLAGS (extra configure flags), CTEST_ARGS
# Installs the build dependencies and the sanitizer runtimes when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_ASAN:-build-asan}"
jobs="${JOBS:-2}"

bash tools/install-deps.sh
probe='int main(void) { return 0; }'
if ! echo "$probe" | ${CC:-cc} -x c -fsanitize=address,undefined - -o /dev/null >/dev/null 2>&1
then
    # gcc's runtimes (libasan, libubsan) come with libgcc-N-dev.
    ver="$(${CC:-gcc} -dumpversion | cut -d. -f1)"
    bash tools/install-deps.sh "libgcc-${ver}-dev"
fi

# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGGML_SANITIZE=ON ${CMAKE_FLAGS:-}
cmake --build "$build" -j "$jobs"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# shellcheck disable=SC2086
ctest --test-dir "$build" --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
echo "sanitize: every test passed under ASan + UBSan"
