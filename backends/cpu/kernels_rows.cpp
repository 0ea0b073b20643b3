// Row-wise f32 kernels (every reduction runs over ne[0]; rows are split across threads).
//
//   rms_norm:   y = x / sqrt(mean(x^2) + eps)                 (Zhang & Sennrich 2019, "Root
//               Mean Square Layer Normalization")
//   layer_norm: y = (x - mean(x)) / sqrt(var(x) + eps)         (Ba et al. 2016), no gain/bias;
//               var is the population variance, computed in two passes for stability
//   sum_rows:   y[0] = sum_i x[i]
//   argmax:     index of the first maximum of the row (i32)
//   soft_max:   y = softmax_j(scale * x[j] + mask[j]), key j set to -inf when causal and
//               j > i + causal_offset (i = row index ne[1]). The max is subtracted before exp
//               (the usual overflow guard); a row whose every key is -inf gives zeros.
//   steer:      y = x + bias[j] on the query heads in the set (ne[2] index), y = x elsewhere.
//               PASTA (Zhang et al. 2023, "Tell Your Model Where to Attend: Post-hoc Attention
//               Steering for LLMs") multiplies the attention of keys outside the emphasised
//               spans by alpha and renormalises, which equals adding log(alpha) to their scores.
//
// Sums are accumulated in double: rows are short next to the matmuls that feed them, and it
// keeps the kernels a tight reference for the other backends.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu_kernels.h"
#include "ggml/ops.h"

namespace ggml {
namespace cpu {

namespace {

// f32 result with packed rows, f32 source of the same shape.
bool supports_rowwise(const Tensor* node) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::F32) && all_type(a, DType::F32) && same_shape(node, a) &&
           node->nb[0] == 4;
}

inline float at(const uint8_t* row, size_t nb0, int64_t i) {
    return *(const float*)(row + i * nb0);
}

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

// ---- norms -------------------------------------------------------------------------------------

bool supports_RMS_NORM(const Tensor* node) {
    return supports_rowwise(node);
}
GGML_CPU_NO_WORK(RMS_NORM)
void run_RMS_NORM(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const float eps = node->params<float>();
    const int64_t n = node->ne[0];
    const size_t nb0 = a->nb[0];
    int64_t r0, r1;
    thread_range(node->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(node, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        float* y = (float*)node->ptr(0, i1, i2, i3);
        double ss = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const double v = at(x, nb0, i);
            ss += v * v;
        }
        const float s = (float)(1.0 / std::sqrt(ss / (double)n + (double)eps));
        for (int64_t i = 0; i < n; ++i) y[i] = at(x, nb0, i) * s;
    }
}

bool supports_LAYER_NORM(const Tensor* node) {
    return supports_rowwise(node);
}
GGML_CPU_NO_WORK(LAYER_NORM)
void run_LAYER_NORM(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const float eps = node->params<float>();
    const int64_t n = node->ne[0];
    const size_t nb0 = a->nb[0];
    int64_t r0, r1;
    thread_range(node->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(node, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        float* y = (float*)node->ptr(0, i1, i2, i3);
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i) sum += at(x, nb0, i);
        const double mean = sum / (double)n;
        double sq = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const double d = at(x, nb0, i) - mean;
            sq += d * d;
        }
        const double inv = 1.0 / std::sqrt(sq / (double)n + (double)eps);
        for (int64_t i = 0; i < n; ++i) y[i] = (float)((at(x, nb0, i) - mean) * inv);
    }
}

// ---- reductions to one value per row
// -------------------------------------------------------------

bool supports_SUM_ROWS(const Tensor* node) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::F32) && all_type(a, DType::F32) && node->ne[0] == 1 &&
           node->ne[1] == a->ne[1] && node->ne[2] == a->ne[2] && node->ne[3] == a->ne[3];
}
GGML_CPU_NO_WORK(SUM_ROWS)
void run_SUM_ROWS(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const int64_t n = a->ne[0];
    int64_t r0, r1;
    thread_range(a->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(a, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i) s += at(x, a->nb[0], i);
        *(float*)node->ptr(0, i1, i2, i3) = (float)s;
    }
}

// a [ne0, ne1, ne2, ne3] -> i32 [ne1, ne2, ne3]
bool supports_ARGMAX(const Tensor* node) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::I32) && all_type(a, DType::F32) && node->ne[0] == a->ne[1] &&
           node->ne[1] == a->ne[2] && node->ne[2] == a->ne[3] && node->ne[3] == 1;
}
GGML_CPU_NO_WORK(ARGMAX)
void run_ARGMAX(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const int64_t n = a->ne[0];
    int64_t r0, r1;
    thread_range(a->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(a, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        int32_t best = 0;
        float bv = at(x, a->nb[0], 0);
        // NaN never compares greater, so a NaN is only chosen when it is element 0.
        for (int64_t i = 1; i < n; ++i) {
            const float v = at(x, a->nb[0], i);
            if (v > bv) {
                bv = v;
                best = (int32_t)i;
            }
        }
        *(int32_t*)node->ptr(i1, i2, i3) = best;
    }
}

// ---- soft_max ----------------------------------------------------------------------------------

// mask f32 [n_kv, n_q, 1|H, 1|B] (rows packed or not; the strides are honoured)
static bool mask_fits(const Tensor* mask, const Tensor* a) {
    if (!mask) return true;
    return mask->type == DType::F32 && mask->ne[0] == a->ne[0] && mask->ne[1] == a->ne[1] &&
           a->ne[2] % mask->ne[2] == 0 && a->ne[3] % mask->ne[3] == 0;
}

bool supports_SOFT_MAX(const Tensor* node) {
    return supports_rowwise(node) && mask_fits(node->src[1], node->src[0]);
}
GGML_CPU_NO_WORK(SOFT_MAX)
void run_SOFT_MAX(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const Tensor* mask = node->src[1];
    const SoftMaxParams p = node->params<SoftMaxParams>();
    const int64_t n = a->ne[0];
    int64_t r0, r1;
    thread_range(a->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(a, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        const uint8_t* m = mask ? mask->ptr(0, i1, i2 % mask->ne[2], i3 % mask->ne[3]) : nullptr;
        float* y = (float*)node->ptr(0, i1, i2, i3);
        // Keys beyond the causal limit are -inf; written as such so the passes below stay
        // uniform. limit < 0 hides every key.
        const int64_t limit =
            p.causal ? std::min<int64_t>(n, i1 + (int64_t)p.causal_offset + 1) : n;
        float mx = kNegInf;
        for (int64_t j = 0; j < n; ++j) {
            float v = kNegInf;
            if (j < limit) {
                v = p.scale * at(x, a->nb[0], j);
                if (m) v += at(m, mask->nb[0], j);
            }
            y[j] = v;
            if (v > mx) mx = v;
        }
        if (mx == kNegInf) {
            for (int64_t j = 0; j < n; ++j) y[j] = 0.0f;
            continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) {
            const float e = std::exp(y[j] - mx);
            y[j] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < n; ++j) y[j] *= inv;
    }
}

// ---- steer -------------------------------------------------------------------------------------

// scores f32 [n_kv, n_q, H, B], bias f32 [n_kv, 1, 1, 1|B]
bool supports_STEER(const Tensor* node) {
    const Tensor* s = node->src[0];
    const Tensor* b = node->src[1];
    return supports_rowwise(node) && all_type(b, DType::F32) && b->ne[0] == s->ne[0] &&
           b->ne[1] == 1 && b->ne[2] == 1 && s->ne[3] % b->ne[3] == 0;
}
GGML_CPU_NO_WORK(STEER)
void run_STEER(const Tensor* node, const KernelArgs& args) {
    const Tensor* s = node->src[0];
    const Tensor* b = node->src[1];
    const SteerParams sp = node->params<SteerParams>();
    const int64_t n = s->ne[0];
    int64_t r0, r1;
    thread_range(s->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(s, r, &i1, &i2, &i3);
        const uint8_t* x = s->ptr(0, i1, i2, i3);
        float* y = (float*)node->ptr(0, i1, i2, i3);
        const bool steered = i2 < 256 && ((sp.heads[i2 / 64] >> (i2 % 64)) & 1);
        if (steered) {
            const uint8_t* bias = b->ptr(0, 0, 0, i3 % b->ne[3]);
            for (int64_t j = 0; j < n; ++j) y[j] = at(x, s->nb[0], j) + at(bias, b->nb[0], j);
        } else {
            for (int64_t j = 0; j < n; ++j) y[j] = at(x, s->nb[0], j);
        }
    }
}

}  // namespace cpu
}  // namespace ggml
