// Internal interface of the CUDA backend: what a kernel launcher receives, the device-side
// error word, and the per-op {run, supports, work_size} declarations expanded from ops.def.
//
// Launchers are host functions (defined next to their kernels in the .cu files). They only
// enqueue work on ctx.stream and never synchronise: compute() enqueues a whole plan segment on
// the one stream and waits once at the end.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "ggml/backend.h"
#include "ggml/tensor.h"

namespace ggml {
namespace cuda {

// Properties of the device a backend runs on, read once at creation.
struct DeviceInfo {
    int id = 0;
    int cc_major = 0, cc_minor = 0;  // compute capability
    int sm_count = 1;
    size_t smem_optin = 48 * 1024;  // largest dynamic shared memory a block may opt into
    size_t total_mem = 0;
    char name[256] = {};
};

// The first run-time error met by any kernel of a segment (atomicCAS on `code`).
struct DeviceError {
    int code;  // 0: none, else one of ErrorCode
    int node;  // index of the node in the segment
    long long value;
    long long limit;
};
enum ErrorCode : int { kErrNone = 0, kErrGetRowsId = 1, kErrSetRowsId = 2 };

struct RunCtx {
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    void* work = nullptr;  // the node's scratch, work_size bytes (device memory)
    size_t work_size = 0;
    DeviceError* dev_err = nullptr;  // device address
    int node_index = 0;
    const DeviceInfo* dev = nullptr;
};

using RunFn = void (*)(const Tensor* node, const RunCtx& ctx);
using SupportsFn = bool (*)(const Tensor* node, const DeviceInfo& dev);
using WorkSizeFn = size_t (*)(const Tensor* node, const DeviceInfo& dev);

struct Kernel {
    RunFn run;
    SupportsFn supports;
    WorkSizeFn work_size;
};

#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) \
    void run_##id(const Tensor* node, const RunCtx& ctx);              \
    bool supports_##id(const Tensor* node, const DeviceInfo& dev);     \
    size_t work_size_##id(const Tensor* node, const DeviceInfo& dev);
#include "ggml/ops.def"
#undef GGML_OP

const Kernel& kernel(Op op);

#define GGML_CUDA_NO_WORK(ID)                                 \
    size_t work_size_##ID(const Tensor*, const DeviceInfo&) { \
        return 0;                                             \
    }

// Throws ggml::Error naming `what` when a launch failed (bad configuration, not a device
// fault: those surface at the final synchronisation).
void check_launch(const char* what);

}  // namespace cuda
}  // namespace ggml
