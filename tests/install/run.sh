#!/usr/bin/env bash
# Install test: installs ggml into a temporary prefix and builds and runs consumer projects
# against the installed tree only:
#   consumer/            the programs both builds compile (C++ and C99)
#   cmake-consumer/      find_package(ggml CONFIG): C++ (static), C (static), C++ (shared)
#   (pkg-config)         plain `c++ ... $(pkg-config --cflags --libs ggml)` and the same for C
#
#   tests/install/run.sh                      configure, build and install a fresh tree (slow)
#   tests/install/run.sh --build-dir DIR      install an already-built tree (what CTest runs)
#   --flags "F"                               extra compile/link flags for the consumers
#                                             (e.g. -fsanitize=address,undefined)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build_dir=""
flags=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build_dir="$2"; shift 2 ;;
        --flags) flags="$2"; shift 2 ;;
        *) echo "usage: $0 [--build-dir DIR] [--flags FLAGS]" >&2; exit 2 ;;
    esac
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ggml-install-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
jobs="${JOBS:-2}"

if [ -z "$build_dir" ]; then
    build_dir="$work/build"
    cmake -S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DGGML_BUILD_TESTS=OFF \
        -DGGML_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build "$build_dir" -j "$jobs" >/dev/null
fi
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
echo "installed into $prefix:"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /' | grep -v '/include/ggml/' ; \
 echo "  ./include/ggml/: $(ls include/ggml | tr '\n' ' ')")

# Everything below sees only the installed tree.
libdir="$(dirname "$(find "$prefix" -name ggml.pc | head -1)")/.."
libdir="$(cd "$libdir" && pwd)"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "--- CMake consumer (find_package)"
cmake -S "$here/cmake-consumer" -B "$work/cmake-consumer" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/cmake-consumer" -j "$jobs" >/dev/null
"$work/cmake-consumer/consumer_cpp"
"$work/cmake-consumer/consumer_c"
if [ -x "$work/cmake-consumer/consumer_shared" ]; then
    "$work/cmake-consumer/consumer_shared"
    deps="$(ldd "$work/cmake-consumer/consumer_shared")"  # no pipe: grep -q would SIGPIPE ldd
    case "$deps" in
        *libggml.so*) ;;
        *) echo "consumer_shared does not load libggml.so:" >&2; echo "$deps" >&2; exit 1 ;;
    esac
fi

echo "--- pkg-config consumer"
if ! command -v pkg-config >/dev/null 2>&1; then
    # Installs it when run as root; otherwise prints the command and fails.
    bash "$src/tools/install-deps.sh" pkg-config
fi
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --modversion ggml
if [ -e "$libdir/libggml.so" ]; then
    pc="$(pkg-config --cflags --libs ggml)"
else
    pc="$(pkg-config --static --cflags --libs ggml)"  # static-only install
fi
echo "pkg-config --cflags --libs ggml: $pc"
# shellcheck disable=SC2086
c++ -std=c++17 $flags "$here/consumer/main.cpp" -o "$work/pc_cpp" $pc
"$work/pc_cpp"
# shellcheck disable=SC2086
cc -std=c99 $flags "$here/consumer/main.c" -o "$work/pc_c" $pc
"$work/pc_c"
echo "install test: all consumers built and ran"
