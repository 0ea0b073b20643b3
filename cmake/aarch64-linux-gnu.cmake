# Cross-compiling for AArch64 Linux with Debian's cross toolchain (g++-aarch64-linux-gnu):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# The binaries run on x86-64 under qemu-user: qemu-aarch64 -L /usr/aarch64-linux-gnu BINARY
# (tools/test-neon.sh does this). CMAKE_CROSSCOMPILING_EMULATOR lets CTest run them too.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(GGML_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${GGML_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${GGML_CROSS_TRIPLE}-g++)

set(CMAKE_FIND_ROOT_PATH /usr/${GGML_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Header-only host packages (Catch2) are usable as they are.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

find_program(GGML_QEMU_AARCH64 qemu-aarch64)
if(GGML_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${GGML_QEMU_AARCH64};-L;/usr/${GGML_CROSS_TRIPLE})
endif()
