# Included from the top-level CMakeLists.txt when GGML_CUDA=ON, before any target is created:
# finds nvcc (a configure error if there is none), picks the GPU architectures and enables the
# CUDA language for the whole project.
#
# Architectures: "80;90" (Ampere and Hopper, both with mma.sync tensor cores) unless the user
# sets CMAKE_CUDA_ARCHITECTURES. "native" on a machine without a GPU (a CI runner, a build host)
# would fail inside nvcc, so it falls back to "80;90" with a message.
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR
    "GGML_CUDA=ON but no CUDA compiler was found. Install the CUDA toolkit and put nvcc on "
    "PATH, or point CUDACXX (or -DCMAKE_CUDA_COMPILER) at it, e.g. "
    "CUDACXX=/usr/local/cuda/bin/nvcc; or configure with -DGGML_CUDA=OFF.")
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR "${CMAKE_CUDA_ARCHITECTURES}" STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures" FORCE)
elseif("${CMAKE_CUDA_ARCHITECTURES}" STREQUAL "native")
  set(_ggml_gpu_found FALSE)
  find_program(GGML_NVIDIA_SMI nvidia-smi)
  if(GGML_NVIDIA_SMI)
    execute_process(COMMAND ${GGML_NVIDIA_SMI} --query-gpu=compute_cap --format=csv,noheader
                    RESULT_VARIABLE _ggml_smi_rc OUTPUT_VARIABLE _ggml_smi_out
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_ggml_smi_rc EQUAL 0 AND _ggml_smi_out MATCHES "[0-9]+\\.[0-9]+")
      set(_ggml_gpu_found TRUE)
    endif()
  endif()
  if(NOT _ggml_gpu_found)
    message(STATUS "ggml: CMAKE_CUDA_ARCHITECTURES=native but no GPU was found; using 80;90")
    set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures" FORCE)
  endif()
endif()

enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
message(STATUS "ggml: CUDA backend with ${CMAKE_CUDA_COMPILER} "
               "(${CMAKE_CUDA_COMPILER_VERSION}), architectures ${CMAKE_CUDA_ARCHITECTURES}")
