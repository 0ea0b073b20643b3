# Sanitizers for the whole build (every target, C and C++ alike; never nvcc).
#   GGML_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer, and any report aborts the
#                     program (-fno-sanitize-recover=all), so a sanitizer finding fails its test.
#   GGML_FUZZ=ON:     the same plus libFuzzer coverage instrumentation (clang only); the fuzz
#                     targets in tests/fuzz link the fuzzer's main.
if(GGML_SANITIZE OR GGML_FUZZ)
  set(GGML_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                          -fno-omit-frame-pointer)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${GGML_SANITIZE_FLAGS}>")
  add_link_options(-fsanitize=address,undefined)
endif()

if(GGML_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "GGML_FUZZ=ON needs clang (libFuzzer): "
                        "configure with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>")
endif()
