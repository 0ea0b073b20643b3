// Element-wise f32 kernels.
//
//   add/sub/mul/div: y[i] = a[i] op b[i mod b.ne] (b repeats along every dimension it divides)
//   scale:  y = s * a + bias
//   sqr:    y = a^2
//   tanh:   y = tanh(a)
//   silu:   y = a * sigmoid(a) = a / (1 + exp(-a))        (Elfwing et al. 2018)
//   gelu:   y = 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))   (Hendrycks & Gimpel 2016)
//   swiglu: y = silu(a) * b                                (Shazeer 2020)
//
// One thread per element over a grid-stride loop; sources and result use their own strides, so
// permuted views need no copy. In place (result sharing src[0]'s memory) is safe: each thread
// reads its element before writing the same element. The math uses the accurate expf/tanhf
// (no --use_fast_math), so results stay within a few ulp of the CPU backend.
#include <array>

#include "common.cuh"

namespace ggml {
namespace cuda {

namespace {

constexpr int kThreads = 256;

enum BinOp { kAdd, kSub, kMul, kDiv, kSwiglu };
enum UnOp { kScale, kSqr, kTanh, kSilu, kGelu };

__device__ __forceinline__ float silu_f(float x) {
    return x / (1.0f + expf(-x));
}

__device__ __forceinline__ float gelu_f(float x) {
    const float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

template <int OP>
__global__ void binary_kernel(TensorView a, TensorView b, TensorView y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, y.ne, &i0, &i1, &i2, &i3);
        const float x = *(const float*)elem_ptr(a, i0, i1, i2, i3);
        const float z =
            *(const float*)elem_ptr(b, i0 % b.ne[0], i1 % b.ne[1], i2 % b.ne[2], i3 % b.ne[3]);
        float r;
        if (OP == kAdd)
            r = x + z;
        else if (OP == kSub)
            r = x - z;
        else if (OP == kMul)
            r = x * z;
        else if (OP == kDiv)
            r = x / z;
        else
            r = silu_f(x) * z;
        *(float*)elem_ptr(y, i0, i1, i2, i3) = r;
    }
}

template <int OP>
__global__ void unary_kernel(TensorView a, TensorView y, int64_t n, float s, float bias) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, y.ne, &i0, &i1, &i2, &i3);
        const float x = *(const float*)elem_ptr(a, i0, i1, i2, i3);
        float r;
        if (OP == kScale)
            r = x * s + bias;
        else if (OP == kSqr)
            r = x * x;
        else if (OP == kTanh)
            r = tanhf(x);
        else if (OP == kSilu)
            r = silu_f(x);
        else
            r = gelu_f(x);
        *(float*)elem_ptr(y, i0, i1, i2, i3) = r;
    }
}

bool supports_binary(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (!has_type(node, DType::F32) || !has_type(a, DType::F32) || !has_type(b, DType::F32) ||
        !same_shape(node, a))
        return false;
    for (int i = 0; i < kMaxDims; ++i)
        if (b->ne[i] <= 0 || a->ne[i] % b->ne[i] != 0) return false;
    return true;
}

bool supports_unary(const Tensor* node) {
    const Tensor* a = node->src[0];
    return has_type(node, DType::F32) && has_type(a, DType::F32) && same_shape(node, a);
}

template <int OP>
void run_binary(const Tensor* node, const RunCtx& ctx) {
    const int64_t n = node->nelements();
    if (n == 0) return;
    binary_kernel<OP><<<grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(
        view_of(node->src[0]), view_of(node->src[1]), view_of(node), n);
    check_launch(op_name(node->op));
}

template <int OP>
void run_unary(const Tensor* node, const RunCtx& ctx, float s = 1.0f, float bias = 0.0f) {
    const int64_t n = node->nelements();
    if (n == 0) return;
    unary_kernel<OP><<<grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(view_of(node->src[0]),
                                                                         view_of(node), n, s, bias);
    check_launch(op_name(node->op));
}

}  // namespace

bool supports_ADD(const Tensor* node, const DeviceInfo&) {
    return supports_binary(node);
}
bool supports_SUB(const Tensor* node, const DeviceInfo&) {
    return supports_binary(node);
}
bool supports_MUL(const Tensor* node, const DeviceInfo&) {
    return supports_binary(node);
}
bool supports_DIV(const Tensor* node, const DeviceInfo&) {
    return supports_binary(node);
}
bool supports_SWIGLU(const Tensor* node, const DeviceInfo&) {
    return supports_binary(node);
}
GGML_CUDA_NO_WORK(ADD)
GGML_CUDA_NO_WORK(SUB)
GGML_CUDA_NO_WORK(MUL)
GGML_CUDA_NO_WORK(DIV)
GGML_CUDA_NO_WORK(SWIGLU)
void run_ADD(const Tensor* node, const RunCtx& ctx) {
    run_binary<kAdd>(node, ctx);
}
void run_SUB(const Tensor* node, const RunCtx& ctx) {
    run_binary<kSub>(node, ctx);
}
void run_MUL(const Tensor* node, const RunCtx& ctx) {
    run_binary<kMul>(node, ctx);
}
void run_DIV(const Tensor* node, const RunCtx& ctx) {
    run_binary<kDiv>(node, ctx);
}
void run_SWIGLU(const Tensor* node, const RunCtx& ctx) {
    run_binary<kSwiglu>(node, ctx);
}

bool supports_SCALE(const Tensor* node, const DeviceInfo&) {
    return supports_unary(node);
}
bool supports_SQR(const Tensor* node, const DeviceInfo&) {
    return supports_unary(node);
}
bool supports_TANH(const Tensor* node, const DeviceInfo&) {
    return supports_unary(node);
}
bool supports_SILU(const Tensor* node, const DeviceInfo&) {
    return supports_unary(node);
}
bool supports_GELU(const Tensor* node, const DeviceInfo&) {
    return supports_unary(node);
}
GGML_CUDA_NO_WORK(SCALE)
GGML_CUDA_NO_WORK(SQR)
GGML_CUDA_NO_WORK(TANH)
GGML_CUDA_NO_WORK(SILU)
GGML_CUDA_NO_WORK(GELU)
void run_SCALE(const Tensor* node, const RunCtx& ctx) {
    const auto p = node->params<std::array<float, 2>>();  // {s, bias}
    run_unary<kScale>(node, ctx, p[0], p[1]);
}
void run_SQR(const Tensor* node, const RunCtx& ctx) {
    run_unary<kSqr>(node, ctx);
}
void run_TANH(const Tensor* node, const RunCtx& ctx) {
    run_unary<kTanh>(node, ctx);
}
void run_SILU(const Tensor* node, const RunCtx& ctx) {
    run_unary<kSilu>(node, ctx);
}
void run_GELU(const Tensor* node, const RunCtx& ctx) {
    run_unary<kGelu>(node, ctx);
}

}  // namespace cuda
}  // namespace ggml
