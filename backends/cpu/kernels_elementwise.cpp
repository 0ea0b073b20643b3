// Element-wise f32 kernels.
//
//   add/sub/mul/div: y[i] = a[i] op b[i mod b.ne] (b repeats along every dimension it divides)
//   scale:  y = s * a + bias
//   sqr:    y = a^2
//   tanh:   y = tanh(a)
//   silu:   y = a * sigmoid(a) = a / (1 + exp(-a))        (Elfwing et al. 2018, "SiLU")
//   gelu:   y = 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))
//           (Hendrycks & Gimpel 2016, "Gaussian Error Linear Units", tanh approximation)
//   swiglu: y = silu(a) * b                                (Shazeer 2020, "GLU Variants
//           Improve Transformer")
//
// Sources may have any byte strides; the result is the node's own (contiguous) layout. Work is
// split by rows (i1, i2, i3) across threads. When the result shares memory with src[0] (in
// place), each element is read before the same element is written, so aliasing is safe.
#include <array>
#include <cmath>

#include "cpu_kernels.h"

namespace ggml {
namespace cpu {

namespace {

bool broadcasts(const Tensor* a, const Tensor* b) {
    for (int i = 0; i < kMaxDims; ++i)
        if (b->ne[i] <= 0 || a->ne[i] % b->ne[i] != 0) return false;
    return true;
}

bool supports_binary(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    return all_type(node, DType::F32) && all_type(a, DType::F32) && all_type(b, DType::F32) &&
           same_shape(node, a) && broadcasts(a, b);
}

bool supports_unary(const Tensor* node) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::F32) && all_type(a, DType::F32) && same_shape(node, a);
}

template <typename F>
void run_binary(const Tensor* node, const KernelArgs& args, F f) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const int64_t ne0 = node->ne[0];
    int64_t r0, r1;
    thread_range(node->nrows(), args.ith, args.nth, &r0, &r1);
    const bool packed = a->nb[0] == 4 && b->nb[0] == 4 && node->nb[0] == 4;
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(node, r, &i1, &i2, &i3);
        const uint8_t* pa = a->ptr(0, i1, i2, i3);
        const uint8_t* pb = b->ptr(0, i1 % b->ne[1], i2 % b->ne[2], i3 % b->ne[3]);
        uint8_t* pd = node->ptr(0, i1, i2, i3);
        if (packed && b->ne[0] == ne0) {
            const float* xa = (const float*)pa;
            const float* xb = (const float*)pb;
            float* y = (float*)pd;
            for (int64_t i = 0; i < ne0; ++i) y[i] = f(xa[i], xb[i]);
        } else if (packed && b->ne[0] == 1) {
            const float* xa = (const float*)pa;
            const float xb = *(const float*)pb;
            float* y = (float*)pd;
            for (int64_t i = 0; i < ne0; ++i) y[i] = f(xa[i], xb);
        } else {
            const int64_t nb0 = b->ne[0];
            for (int64_t i = 0; i < ne0; ++i) {
                const float x = *(const float*)(pa + i * a->nb[0]);
                const float z = *(const float*)(pb + (i % nb0) * b->nb[0]);
                *(float*)(pd + i * node->nb[0]) = f(x, z);
            }
        }
    }
}

template <typename F>
void run_unary(const Tensor* node, const KernelArgs& args, F f) {
    const Tensor* a = node->src[0];
    const int64_t ne0 = node->ne[0];
    int64_t r0, r1;
    thread_range(node->nrows(), args.ith, args.nth, &r0, &r1);
    const bool packed = a->nb[0] == 4 && node->nb[0] == 4;
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(node, r, &i1, &i2, &i3);
        const uint8_t* pa = a->ptr(0, i1, i2, i3);
        uint8_t* pd = node->ptr(0, i1, i2, i3);
        if (packed) {
            const float* x = (const float*)pa;
            float* y = (float*)pd;
            for (int64_t i = 0; i < ne0; ++i) y[i] = f(x[i]);
        } else {
            for (int64_t i = 0; i < ne0; ++i)
                *(float*)(pd + i * node->nb[0]) = f(*(const float*)(pa + i * a->nb[0]));
        }
    }
}

inline float silu_f(float x) {
    return x / (1.0f + std::exp(-x));
}

inline float gelu_f(float x) {
    const float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

}  // namespace

// ---- binary ------------------------------------------------------------------------------------

bool supports_ADD(const Tensor* node) {
    return supports_binary(node);
}
bool supports_SUB(const Tensor* node) {
    return supports_binary(node);
}
bool supports_MUL(const Tensor* node) {
    return supports_binary(node);
}
bool supports_DIV(const Tensor* node) {
    return supports_binary(node);
}
GGML_CPU_NO_WORK(ADD)
GGML_CPU_NO_WORK(SUB)
GGML_CPU_NO_WORK(MUL)
GGML_CPU_NO_WORK(DIV)

void run_ADD(const Tensor* node, const KernelArgs& args) {
    run_binary(node, args, [](float x, float y) { return x + y; });
}
void run_SUB(const Tensor* node, const KernelArgs& args) {
    run_binary(node, args, [](float x, float y) { return x - y; });
}
void run_MUL(const Tensor* node, const KernelArgs& args) {
    run_binary(node, args, [](float x, float y) { return x * y; });
}
void run_DIV(const Tensor* node, const KernelArgs& args) {
    run_binary(node, args, [](float x, float y) { return x / y; });
}

// swiglu's builder requires equal shapes; the broadcast path costs nothing extra here.
bool supports_SWIGLU(const Tensor* node) {
    return supports_binary(node);
}
GGML_CPU_NO_WORK(SWIGLU)
void run_SWIGLU(const Tensor* node, const KernelArgs& args) {
    run_binary(node, args, [](float g, float u) { return silu_f(g) * u; });
}

// ---- unary -------------------------------------------------------------------------------------

bool supports_SCALE(const Tensor* node) {
    return supports_unary(node);
}
GGML_CPU_NO_WORK(SCALE)
void run_SCALE(const Tensor* node, const KernelArgs& args) {
    const auto p = node->params<std::array<float, 2>>();  // {s, bias}
    const float s = p[0], bias = p[1];
    run_unary(node, args, [s, bias](float x) { return x * s + bias; });
}

bool supports_SQR(const Tensor* node) {
    return supports_unary(node);
}
GGML_CPU_NO_WORK(SQR)
void run_SQR(const Tensor* node, const KernelArgs& args) {
    run_unary(node, args, [](float x) { return x * x; });
}

bool supports_TANH(const Tensor* node) {
    return supports_unary(node);
}
GGML_CPU_NO_WORK(TANH)
void run_TANH(const Tensor* node, const KernelArgs& args) {
    run_unary(node, args, [](float x) { return std::tanh(x); });
}

bool supports_SILU(const Tensor* node) {
    return supports_unary(node);
}
GGML_CPU_NO_WORK(SILU)
void run_SILU(const Tensor* node, const KernelArgs& args) {
    run_unary(node, args, silu_f);
}

bool supports_GELU(const Tensor* node) {
    return supports_unary(node);
}
GGML_CPU_NO_WORK(GELU)
void run_GELU(const Tensor* node, const KernelArgs& args) {
    run_unary(node, args, gelu_f);
}

}  // namespace cpu
}  // namespace ggml
