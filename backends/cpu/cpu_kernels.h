// Internal interface of the CPU backend: the kernel signature, the per-op kernel declarations
// expanded from ops.def, and small helpers shared by the kernel files (thread partitioning,
// dtype loads/stores, a dot product the compiler can vectorise).
//
// Every kernel runs inside the backend's single OpenMP region: it is called once per thread
// with (ith, nth) and must touch only its own share of the output, so no locking is needed.
// Kernels never throw (an exception cannot leave an OpenMP region); run-time errors go to
// KernelErrors.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ggml/backend.h"
#include "ggml/tensor.h"
#include "ggml/types.h"
#include "isa.h"

namespace ggml {
namespace cpu {

struct KernelArgs {
    int ith = 0;           // this thread's index in [0, nth)
    int nth = 1;           // threads running the node
    void* work = nullptr;  // the node's scratch (work_size bytes, 64-byte aligned)
    size_t work_size = 0;  // bytes of scratch available
    KernelErrors* errors = nullptr;
    const IsaKernels* isa = nullptr;  // the instruction set chosen for this backend
    // Waits until all nth threads of the team have called it (nullptr when nth == 1).
    void (*barrier)(void* ctx, int nth) = nullptr;
    void* barrier_ctx = nullptr;
    // Hands out 0, 1, 2, ... across the team, one number per call, starting from 0 at each
    // node (nullptr when nth == 1). Kernels whose jobs are independent take them in this
    // order, so a thread slowed by the machine does fewer jobs instead of holding up the node;
    // each job's result does not depend on which thread runs it.
    int64_t (*claim)(void* ctx) = nullptr;
    void* claim_ctx = nullptr;
};

using RunFn = void (*)(const Tensor* node, const KernelArgs& args);
using SupportsFn = bool (*)(const Tensor* node);
// Scratch bytes for `node` when run by up to n_threads threads.
using WorkSizeFn = size_t (*)(const Tensor* node, int n_threads);

struct Kernel {
    RunFn run;
    SupportsFn supports;
    WorkSizeFn work_size;
};

// One {run, supports, work_size} triple per op; a missing definition is a link error.
#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) \
    void run_##id(const Tensor* node, const KernelArgs& args);         \
    bool supports_##id(const Tensor* node);                            \
    size_t work_size_##id(const Tensor* node, int n_threads);
#include "ggml/ops.def"
#undef GGML_OP

// The flat table, indexed by (int)op.
const Kernel& kernel(Op op);

// Defines work_size_<ID> as "no scratch".
#define GGML_CPU_NO_WORK(ID)                    \
    size_t work_size_##ID(const Tensor*, int) { \
        return 0;                               \
    }

// ---- helpers ---------------------------------------------------------------------------------

// [begin, end) of n items for thread ith of nth, in contiguous, nearly equal chunks.
inline void thread_range(int64_t n, int ith, int nth, int64_t* begin, int64_t* end) {
    const int64_t per = n / nth, rem = n % nth;
    *begin = ith * per + (ith < rem ? ith : rem);
    *end = *begin + per + (ith < rem ? 1 : 0);
}

// Scratch sizes are rounded to cache lines so every per-thread slice starts aligned.
inline size_t align_up(size_t n, size_t a = 64) {
    return (n + a - 1) / a * a;
}

inline bool is_float_type(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

inline float load_float(DType t, const uint8_t* p) {
    switch (t) {
        case DType::F32: {
            float v;
            std::memcpy(&v, p, 4);
            return v;
        }
        case DType::F16: {
            f16_t h;
            std::memcpy(&h, p, 2);
            return f16_to_f32(h);
        }
        case DType::BF16: {
            bf16_t h;
            std::memcpy(&h, p, 2);
            return bf16_to_f32(h);
        }
        default:
            return 0.0f;
    }
}

inline void store_float(DType t, uint8_t* p, float v) {
    switch (t) {
        case DType::F32:
            std::memcpy(p, &v, 4);
            break;
        case DType::F16: {
            const f16_t h = f32_to_f16(v);
            std::memcpy(p, &h, 2);
            break;
        }
        case DType::BF16: {
            const bf16_t h = f32_to_bf16(v);
            std::memcpy(p, &h, 2);
            break;
        }
        default:
            break;
    }
}

// binary16 -> binary32, exact for every input like f16_to_f32, but branch-free so that row
// loops vectorise (normal, subnormal and inf/nan results are all computed, then selected).
// A subnormal mant * 2^-24 is formed exactly as (2^-14 + mant * 2^-24) - 2^-14.
inline float f16_to_f32_fast(f16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t em = h & 0x7fff;
    const uint32_t is_sub = 0u - (uint32_t)(em < 0x400);    // all ones for zero/subnormal
    const uint32_t is_inf = 0u - (uint32_t)(em >= 0x7c00);  // all ones for inf/nan
    const uint32_t normal = (em << 13) + (112u << 23) + (is_inf & (112u << 23));
    const uint32_t sub = f32_bits(bits_f32((em << 13) + (113u << 23)) - bits_f32(113u << 23));
    return bits_f32((sub & is_sub) | (normal & ~is_sub) | sign);
}

// n elements of a float-typed row (byte stride `stride` between elements) -> f32.
void row_to_f32(DType t, const uint8_t* src, size_t stride, float* dst, int64_t n);
// n f32 values -> a float-typed row with byte stride `stride`.
void row_from_f32(DType t, const float* src, uint8_t* dst, size_t stride, int64_t n);

// Dot product of two packed f32 rows. Eight independent partial sums let the compiler
// vectorise without -ffast-math and keep the rounding error growth at about n/8.
inline float dot_f32(const float* a, const float* b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

// y += a * x over n packed floats.
inline void axpy_f32(float* y, float a, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Row r of a [ne0, ne1, ne2, ne3] tensor as indices (i1, i2, i3).
inline void row_index(const Tensor* t, int64_t r, int64_t* i1, int64_t* i2, int64_t* i3) {
    *i1 = r % t->ne[1];
    *i2 = (r / t->ne[1]) % t->ne[2];
    *i3 = r / (t->ne[1] * t->ne[2]);
}

inline bool all_type(const Tensor* t, DType d) {
    return t && t->type == d;
}

}  // namespace cpu
}  // namespace ggml
