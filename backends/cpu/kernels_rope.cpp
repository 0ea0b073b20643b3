// Rotary position embedding (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary
// Position Embedding").
//
// For a row x of a [D, n_heads, n_tokens, B] at token t with position p = pos[t], the first
// n_dims elements are rotated in pairs, pair i (0 <= i < n_dims/2) by the angle
//     theta_i = p * freq_base^(-2i / n_dims):
//     (x0, x1) -> (x0 cos theta_i - x1 sin theta_i, x0 sin theta_i + x1 cos theta_i)
// where the pair is (x[2i], x[2i+1]) in interleaved mode (llama2.c, Meta's llama) and
// (x[i], x[i + n_dims/2]) in NeoX mode (GPT-NeoX, Hugging Face llama). Elements from n_dims
// to D pass through unchanged.
//
// The angles are computed in double (p can reach tens of thousands, where a float angle
// would already be off by ~1e-3 rad), once per token into the thread's scratch, and reused for
// every head of that token.
#include <cmath>

#include "cpu_kernels.h"
#include "ggml/ops.h"

namespace ggml {
namespace cpu {

bool supports_ROPE(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* pos = node->src[1];
    if (!all_type(a, DType::F32) || !all_type(pos, DType::I32) || !all_type(node, DType::F32))
        return false;
    const RopeParams p = node->params<RopeParams>();
    for (int i = 0; i < kMaxDims; ++i)
        if (node->ne[i] != a->ne[i]) return false;
    return pos->ne[0] == a->ne[2] && p.n_dims > 0 && p.n_dims % 2 == 0 && p.n_dims <= a->ne[0] &&
           (p.mode == RopeMode::Interleaved || p.mode == RopeMode::Neox);
}

// Per thread: cos and sin of the n_dims/2 angles of the current token.
size_t work_size_ROPE(const Tensor* node, int n_threads) {
    const RopeParams p = node->params<RopeParams>();
    return (size_t)n_threads * align_up((size_t)p.n_dims * sizeof(float));
}

void run_ROPE(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const Tensor* pos = node->src[1];
    const RopeParams p = node->params<RopeParams>();
    const int64_t half = p.n_dims / 2;
    const int64_t D = a->ne[0];
    float* cs = (float*)((uint8_t*)args.work +
                         (size_t)args.ith * align_up((size_t)p.n_dims * sizeof(float)));
    float* sn = cs + half;
    const bool neox = p.mode == RopeMode::Neox;
    const size_t sa = a->nb[0], sy = node->nb[0];

    int64_t r0, r1;
    thread_range(a->nrows(), args.ith, args.nth, &r0, &r1);
    int64_t cached_token = -1;
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(a, r, &i1, &i2, &i3);
        if (i2 != cached_token) {
            const double ps = (double)*(const int32_t*)pos->ptr(i2);
            for (int64_t i = 0; i < half; ++i) {
                const double theta =
                    ps * std::pow((double)p.freq_base, -2.0 * (double)i / (double)p.n_dims);
                cs[i] = (float)std::cos(theta);
                sn[i] = (float)std::sin(theta);
            }
            cached_token = i2;
        }
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        uint8_t* y = node->ptr(0, i1, i2, i3);
        for (int64_t i = 0; i < half; ++i) {
            const int64_t j0 = neox ? i : 2 * i;
            const int64_t j1 = neox ? i + half : 2 * i + 1;
            const float x0 = *(const float*)(x + j0 * sa);
            const float x1 = *(const float*)(x + j1 * sa);
            *(float*)(y + j0 * sy) = x0 * cs[i] - x1 * sn[i];
            *(float*)(y + j1 * sy) = x0 * sn[i] + x1 * cs[i];
        }
        for (int64_t i = p.n_dims; i < D; ++i) *(float*)(y + i * sy) = *(const float*)(x + i * sa);
    }
}

}  // namespace cpu
}  // namespace ggml
