// Row-wise f32 kernels (reductions run over ne[0]) and the rotary embedding.
//
//   rms_norm:   y = x / sqrt(mean(x^2) + eps)            (Zhang & Sennrich 2019)
//   layer_norm: y = (x - mean) / sqrt(var + eps)          (Ba et al. 2016); population variance
//               from a second pass over (x - mean), which is stabler than E[x^2] - mean^2
//   sum_rows:   y = sum_i x[i]
//   argmax:     index of the first maximum (a NaN at index 0 gives 0; other NaNs are ignored,
//               exactly like a sequential "v > best" scan)
//   soft_max:   y = softmax_j(scale * x[j] + mask[j]), key j at -inf when causal and
//               j > i + causal_offset; the max is subtracted before exp; an all -inf row gives 0
//   steer:      y = x + bias[j] on the query heads in the set (PASTA, Zhang et al. 2023: adding
//               log(alpha) to the scores of keys outside the emphasised spans equals scaling
//               their attention by alpha and renormalising)
//   rope:       pair (x0, x1) rotates by theta_p = pos * base^(-2p / n_dims)
//               (Su et al. 2021, RoFormer); interleaved pairs (2p, 2p+1), neox pairs
//               (p, p + n_dims/2); dims >= n_dims pass through. theta and its sine/cosine are
//               computed in double: positions reach thousands of radians, where a float angle
//               would already be off by ~1e-4.
//
// One block per row; partial sums are combined by warp shuffles then across warps.
#include <cmath>

#include "common.cuh"
#include "ggml/ops.h"

namespace ggml {
namespace cuda {

namespace {

// Threads per row: enough to cover short rows without idle warps, at most 256.
int row_threads(int64_t n) {
    int t = 32;
    while (t < 256 && t < n) t *= 2;
    return t;
}

__device__ __forceinline__ void row_of(const TensorView& t, int64_t* i1, int64_t* i2, int64_t* i3) {
    const int64_t r = blockIdx.x;
    *i1 = r % t.ne[1];
    *i2 = (r / t.ne[1]) % t.ne[2];
    *i3 = r / (t.ne[1] * t.ne[2]);
}

__device__ __forceinline__ float at(const TensorView& t, int64_t i0, int64_t i1, int64_t i2,
                                    int64_t i3) {
    return *(const float*)elem_ptr(t, i0, i1, i2, i3);
}

__global__ void rms_norm_kernel(TensorView a, TensorView y, float eps) {
    __shared__ float scratch[32];
    int64_t i1, i2, i3;
    row_of(a, &i1, &i2, &i3);
    const int64_t n = a.ne[0];
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = at(a, i, i1, i2, i3);
        ss += v * v;
    }
    ss = block_sum(ss, scratch);
    const float s = rsqrtf(ss / (float)n + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        *(float*)elem_ptr(y, i, i1, i2, i3) = at(a, i, i1, i2, i3) * s;
}

__global__ void layer_norm_kernel(TensorView a, TensorView y, float eps) {
    __shared__ float scratch[32];
    int64_t i1, i2, i3;
    row_of(a, &i1, &i2, &i3);
    const int64_t n = a.ne[0];
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += at(a, i, i1, i2, i3);
    const float mean = block_sum(sum, scratch) / (float)n;
    float sq = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float d = at(a, i, i1, i2, i3) - mean;
        sq += d * d;
    }
    const float inv = rsqrtf(block_sum(sq, scratch) / (float)n + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        *(float*)elem_ptr(y, i, i1, i2, i3) = (at(a, i, i1, i2, i3) - mean) * inv;
}

__global__ void sum_rows_kernel(TensorView a, TensorView y) {
    __shared__ float scratch[32];
    int64_t i1, i2, i3;
    row_of(a, &i1, &i2, &i3);
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < a.ne[0]; i += blockDim.x) s += at(a, i, i1, i2, i3);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) *(float*)elem_ptr(y, 0, i1, i2, i3) = s;
}

__global__ void argmax_kernel(TensorView a, TensorView y) {
    __shared__ float sv[32];
    __shared__ int si[32];
    int64_t i1, i2, i3;
    row_of(a, &i1, &i2, &i3);
    const int64_t n = a.ne[0];
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = at(a, i, i1, i2, i3);
        if (v > bv || (v == bv && (int)i < bi)) {
            bv = v;
            bi = (int)i;
        }
    }
    // (value, index) max with ties to the lower index; NaN never wins a comparison.
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) {
            bv = ov;
            bi = oi;
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); ++w)
            if (sv[w] > bv || (sv[w] == bv && si[w] < bi)) {
                bv = sv[w];
                bi = si[w];
            }
        const float x0 = at(a, 0, i1, i2, i3);
        if (x0 != x0 || bi == 0x7fffffff) bi = 0;  // NaN first element, or nothing comparable
        *(int32_t*)elem_ptr(y, i1, i2, i3, 0) = bi;
    }
}

__global__ void soft_max_kernel(TensorView a, TensorView mask, bool has_mask, TensorView y,
                                float scale, int causal, int causal_offset) {
    __shared__ float scratch[32];
    int64_t i1, i2, i3;
    row_of(a, &i1, &i2, &i3);
    const int64_t n = a.ne[0];
    const int64_t limit = causal ? min(n, i1 + (int64_t)causal_offset + 1) : n;
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        float v = -INFINITY;
        if (j < limit) {
            v = scale * at(a, j, i1, i2, i3);
            if (has_mask) v += at(mask, j, i1, i2 % mask.ne[2], i3 % mask.ne[3]);
        }
        *(float*)elem_ptr(y, j, i1, i2, i3) = v;
        mx = fmaxf(mx, v);
    }
    mx = block_max(mx, scratch);
    if (mx == -INFINITY) {
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            *(float*)elem_ptr(y, j, i1, i2, i3) = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        float* p = (float*)elem_ptr(y, j, i1, i2, i3);
        const float e = expf(*p - mx);
        *p = e;
        sum += e;
    }
    const float inv = 1.0f / block_sum(sum, scratch);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
        *(float*)elem_ptr(y, j, i1, i2, i3) *= inv;
}

__global__ void steer_kernel(TensorView s, TensorView b, TensorView y, SteerParams sp) {
    int64_t i1, i2, i3;
    row_of(s, &i1, &i2, &i3);
    const bool steered = i2 < 256 && ((sp.heads[i2 / 64] >> (i2 % 64)) & 1);
    for (int64_t j = threadIdx.x; j < s.ne[0]; j += blockDim.x) {
        float v = at(s, j, i1, i2, i3);
        if (steered) v += at(b, j, 0, 0, i3 % b.ne[3]);
        *(float*)elem_ptr(y, j, i1, i2, i3) = v;
    }
}

__global__ void rope_kernel(TensorView a, TensorView pos, TensorView y, int n_dims, int neox,
                            float freq_base) {
    int64_t i1, i2, i3;
    row_of(a, &i1, &i2, &i3);
    const int half = n_dims / 2;
    const double p = (double)*(const int32_t*)elem_ptr(pos, i2, 0, 0, 0);
    for (int k = threadIdx.x; k < half; k += blockDim.x) {
        const double theta = p * pow((double)freq_base, -2.0 * (double)k / (double)n_dims);
        double sn, cs;
        sincos(theta, &sn, &cs);
        const int64_t j0 = neox ? k : 2 * k;
        const int64_t j1 = neox ? k + half : 2 * k + 1;
        const float x0 = at(a, j0, i1, i2, i3), x1 = at(a, j1, i1, i2, i3);
        const float c = (float)cs, s = (float)sn;
        *(float*)elem_ptr(y, j0, i1, i2, i3) = x0 * c - x1 * s;
        *(float*)elem_ptr(y, j1, i1, i2, i3) = x0 * s + x1 * c;
    }
    for (int64_t k = n_dims + threadIdx.x; k < a.ne[0]; k += blockDim.x)
        *(float*)elem_ptr(y, k, i1, i2, i3) = at(a, k, i1, i2, i3);
}

bool supports_rowwise(const Tensor* node) {
    const Tensor* a = node->src[0];
    return has_type(node, DType::F32) && has_type(a, DType::F32) && same_shape(node, a) &&
           a->nrows() <= 0x7fffffffLL;
}

unsigned rows_of(const Tensor* t) {
    return (unsigned)t->nrows();
}

}  // namespace

// ---- norms -------------------------------------------------------------------------------------

bool supports_RMS_NORM(const Tensor* node, const DeviceInfo&) {
    return supports_rowwise(node);
}
GGML_CUDA_NO_WORK(RMS_NORM)
void run_RMS_NORM(const Tensor* node, const RunCtx& ctx) {
    if (node->nelements() == 0) return;
    rms_norm_kernel<<<rows_of(node), row_threads(node->ne[0]), 0, ctx.stream>>>(
        view_of(node->src[0]), view_of(node), node->params<float>());
    check_launch("rms_norm");
}

bool supports_LAYER_NORM(const Tensor* node, const DeviceInfo&) {
    return supports_rowwise(node);
}
GGML_CUDA_NO_WORK(LAYER_NORM)
void run_LAYER_NORM(const Tensor* node, const RunCtx& ctx) {
    if (node->nelements() == 0) return;
    layer_norm_kernel<<<rows_of(node), row_threads(node->ne[0]), 0, ctx.stream>>>(
        view_of(node->src[0]), view_of(node), node->params<float>());
    check_launch("layer_norm");
}

// ---- reductions to one value per row
// -------------------------------------------------------------

bool supports_SUM_ROWS(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    return has_type(node, DType::F32) && has_type(a, DType::F32) && node->ne[0] == 1 &&
           node->ne[1] == a->ne[1] && node->ne[2] == a->ne[2] && node->ne[3] == a->ne[3] &&
           a->nrows() <= 0x7fffffffLL;
}
GGML_CUDA_NO_WORK(SUM_ROWS)
void run_SUM_ROWS(const Tensor* node, const RunCtx& ctx) {
    const Tensor* a = node->src[0];
    if (a->nrows() == 0) return;
    sum_rows_kernel<<<rows_of(a), row_threads(a->ne[0]), 0, ctx.stream>>>(view_of(a),
                                                                          view_of(node));
    check_launch("sum_rows");
}

bool supports_ARGMAX(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    return has_type(node, DType::I32) && has_type(a, DType::F32) && node->ne[0] == a->ne[1] &&
           node->ne[1] == a->ne[2] && node->ne[2] == a->ne[3] && node->ne[3] == 1 &&
           a->ne[0] <= 0x7fffffffLL && a->nrows() <= 0x7fffffffLL;
}
GGML_CUDA_NO_WORK(ARGMAX)
void run_ARGMAX(const Tensor* node, const RunCtx& ctx) {
    const Tensor* a = node->src[0];
    if (a->nrows() == 0) return;
    argmax_kernel<<<rows_of(a), row_threads(a->ne[0]), 0, ctx.stream>>>(view_of(a), view_of(node));
    check_launch("argmax");
}

// ---- soft_max / steer --------------------------------------------------------------------------

bool supports_SOFT_MAX(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    const Tensor* mask = node->src[1];
    if (!supports_rowwise(node)) return false;
    return !mask ||
           (mask->type == DType::F32 && mask->ne[0] == a->ne[0] && mask->ne[1] == a->ne[1] &&
            a->ne[2] % mask->ne[2] == 0 && a->ne[3] % mask->ne[3] == 0);
}
GGML_CUDA_NO_WORK(SOFT_MAX)
void run_SOFT_MAX(const Tensor* node, const RunCtx& ctx) {
    const Tensor* a = node->src[0];
    const Tensor* mask = node->src[1];
    const SoftMaxParams p = node->params<SoftMaxParams>();
    if (a->nrows() == 0) return;
    const TensorView mv = mask ? view_of(mask) : view_of(a);  // unused when there is no mask
    soft_max_kernel<<<rows_of(a), row_threads(a->ne[0]), 0, ctx.stream>>>(
        view_of(a), mv, mask != nullptr, view_of(node), p.scale, p.causal, p.causal_offset);
    check_launch("soft_max");
}

bool supports_STEER(const Tensor* node, const DeviceInfo&) {
    const Tensor* s = node->src[0];
    const Tensor* b = node->src[1];
    return supports_rowwise(node) && has_type(b, DType::F32) && b->ne[0] == s->ne[0] &&
           b->ne[1] == 1 && b->ne[2] == 1 && s->ne[3] % b->ne[3] == 0;
}
GGML_CUDA_NO_WORK(STEER)
void run_STEER(const Tensor* node, const RunCtx& ctx) {
    const Tensor* s = node->src[0];
    if (s->nrows() == 0) return;
    steer_kernel<<<rows_of(s), row_threads(s->ne[0]), 0, ctx.stream>>>(
        view_of(s), view_of(node->src[1]), view_of(node), node->params<SteerParams>());
    check_launch("steer");
}

// ---- rope --------------------------------------------------------------------------------------

bool supports_ROPE(const Tensor* node, const DeviceInfo&) {
    const Tensor* pos = node->src[1];
    if (!supports_rowwise(node) || !has_type(pos, DType::I32)) return false;
    const RopeParams p = node->params<RopeParams>();
    return pos->ne[0] == node->ne[2] && p.n_dims > 0 && p.n_dims % 2 == 0 &&
           p.n_dims <= node->ne[0] && (p.mode == RopeMode::Interleaved || p.mode == RopeMode::Neox);
}
GGML_CUDA_NO_WORK(ROPE)
void run_ROPE(const Tensor* node, const RunCtx& ctx) {
    if (node->nelements() == 0) return;
    const RopeParams p = node->params<RopeParams>();
    rope_kernel<<<rows_of(node), row_threads(node->ne[0] / 2), 0, ctx.stream>>>(
        view_of(node->src[0]), view_of(node->src[1]), view_of(node), p.n_dims,
        p.mode == RopeMode::Neox ? 1 : 0, p.freq_base);
    check_launch("rope");
}

}  // namespace cuda
}  // namespace ggml
