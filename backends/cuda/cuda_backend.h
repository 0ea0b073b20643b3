// The CUDA backend's entry points for the registry. This header carries no CUDA types, so the
// registry compiles with the plain C++ compiler.
#pragma once

#include <memory>
#include <string>

#include "ggml/backend.h"

namespace ggml {

// Number of usable CUDA devices; 0 when there is none or no driver, with the reason (the CUDA
// runtime's error string) in *why. The answer is computed once per process.
int cuda_device_count(std::string* why);

// A backend on device `device` (one stream, one cuBLAS handle). Throws ggml::Error when the
// device cannot be used.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);

}  // namespace ggml
