// Matrix multiplication: y[m, n, i2, i3] = sum_k a[k, m, a2, a3] * b[k, n, i2, i3]
// with a2 = i2 / (B2 / A2) and a3 = i3 / (B3 / A3): a batch of a serves B2/A2 consecutive
// batches of b, which is the grouped-query attention head mapping (Ainslie et al. 2023, "GQA").
//
// a is f32/f16/bf16/q8_0/q4_0/q4_0x8 [K, M, A2, A3] and b is f32 [K, N, B2, B3], both with packed
// rows (nb[0] is the element size) and any other strides; y is f32 [M, N, B2, B3].
//
// The output is cut into blocks of kBlockM rows of a by kBlockN rows of b; the blocks are
// split evenly over threads. A thread converts its kBlockM rows of a to f32 once per block
// (in its slice of the scratch), then every output element is a dot product of two packed
// f32 rows that the compiler vectorises. Each a row is reused kBlockN times from L1/L2.
// This is the portable path; SIMD micro-kernels can replace the inner loops later.
#include <algorithm>

#include "cpu_kernels.h"
#include "ggml/quant.h"

namespace ggml {
namespace cpu {

namespace {

constexpr int64_t kBlockM = 16;
constexpr int64_t kBlockN = 64;

}  // namespace

bool supports_MUL_MAT(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (!a || !b ||
        !(is_float_type(a->type) || dtype_is_quantized(a->type) ||
          (a->type == DType::Q4_0X8 && a->nb[1] == row_bytes(a->type, a->ne[0]))) ||
        !all_type(b, DType::F32) || !all_type(node, DType::F32))
        return false;
    return a->rows_contiguous() && b->rows_contiguous() && node->nb[0] == 4 &&
           a->ne[0] == b->ne[0] && b->ne[2] % a->ne[2] == 0 && b->ne[3] % a->ne[3] == 0 &&
           node->ne[0] == a->ne[1] && node->ne[1] == b->ne[1] && node->ne[2] == b->ne[2] &&
           node->ne[3] == b->ne[3];
}

namespace {

// The SIMD kernels (simd_impl.inc); any shape the portable loop handles is accepted.
bool make_mm_args(const Tensor* node, MmArgs* m) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (a->ne[0] < 1 || a->ne[1] < 1 || b->ne[1] < 1 || node->nb[1] % 4 != 0) return false;
    *m = MmArgs{};
    m->w = (const uint8_t*)a->data;
    m->w_nb1 = a->nb[1], m->w_nb2 = a->nb[2], m->w_nb3 = a->nb[3];
    switch (a->type) {
        case DType::F16:
            m->w_type = kElemF16;
            break;
        case DType::BF16:
            m->w_type = kElemBF16;
            break;
        case DType::Q8_0:
            m->w_type = kElemQ8_0;
            break;
        case DType::Q4_0:
            m->w_type = kElemQ4_0;
            break;
        case DType::Q4_0X8:
            m->w_type = kElemQ4_0X8;
            break;
        default:
            m->w_type = kElemF32;
            break;
    }
    m->x = (const uint8_t*)b->data;
    m->x_nb1 = b->nb[1], m->x_nb2 = b->nb[2], m->x_nb3 = b->nb[3];
    m->y = (uint8_t*)node->data;
    m->y_nb1 = node->nb[1], m->y_nb2 = node->nb[2], m->y_nb3 = node->nb[3];
    m->K = a->ne[0], m->M = a->ne[1], m->N = b->ne[1];
    m->B2 = b->ne[2], m->B3 = b->ne[3];
    m->r2 = b->ne[2] / a->ne[2], m->r3 = b->ne[3] / a->ne[3];
    return true;
}

}  // namespace

size_t work_size_MUL_MAT(const Tensor* node, int n_threads) {
    const Tensor* a = node->src[0];
    size_t portable = 0;
    if (a->type != DType::F32)
        portable = (size_t)n_threads * align_up((size_t)kBlockM * (size_t)a->ne[0] * sizeof(float));
    MmArgs m;
    if (!make_mm_args(node, &m)) return portable;
    if (dtype_info(a->type).blck > 1) return std::max(portable, mmq_partition(m, n_threads));
    return std::max(portable, mm_partition(m, n_threads));
}

void run_MUL_MAT(const Tensor* node, const KernelArgs& args) {
    MmArgs mm;
    if (args.isa && make_mm_args(node, &mm)) {
        mm_partition(mm, args.nth);
        mm.work = (uint8_t*)args.work;
        mm.ith = args.ith;
        mm.nth = args.nth;
        mm.claim = args.claim;
        mm.claim_ctx = args.claim_ctx;
        mm.barrier = args.barrier;
        mm.barrier_ctx = args.barrier_ctx;
        if (args.nth > 1 && !args.barrier) {
            // The team shares the packed x and must wait for it; without a barrier the first
            // thread does the whole product.
            if (args.ith != 0) return;
            mm.ith = 0, mm.nth = 1, mm.claim = nullptr;
        }
        args.isa->mul_mat(mm);
        return;
    }
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1];
    const int64_t B2 = b->ne[2], B3 = b->ne[3];
    const int64_t r2 = B2 / a->ne[2], r3 = B3 / a->ne[3];
    const int64_t mblocks = (M + kBlockM - 1) / kBlockM;
    const int64_t nblocks = (N + kBlockN - 1) / kBlockN;
    const int64_t n_jobs = B2 * B3 * mblocks * nblocks;
    const bool convert = a->type != DType::F32;
    float* scratch = nullptr;
    if (convert)
        scratch =
            (float*)((uint8_t*)args.work +
                     (size_t)args.ith * align_up((size_t)kBlockM * (size_t)K * sizeof(float)));

    int64_t j0, j1;
    thread_range(n_jobs, args.ith, args.nth, &j0, &j1);
    const float* arow[kBlockM];
    // Jobs are ordered (batch, m block, n block), so consecutive jobs of a thread usually share
    // the converted a block; it is only converted again when the block changes.
    int64_t cached = -1;
    for (int64_t job = j0; job < j1; ++job) {
        const int64_t nb_i = job % nblocks;
        const int64_t mb_i = (job / nblocks) % mblocks;
        const int64_t batch = job / (nblocks * mblocks);
        const int64_t i2 = batch % B2, i3 = batch / B2;
        const int64_t m0 = mb_i * kBlockM, m1 = std::min(M, m0 + kBlockM);
        const int64_t n0 = nb_i * kBlockN, n1 = std::min(N, n0 + kBlockN);
        const int64_t a2 = i2 / r2, a3 = i3 / r3;

        const int64_t a_key = ((a3 * a->ne[2] + a2) * mblocks) + mb_i;
        for (int64_t m = m0; m < m1; ++m) {
            const uint8_t* src = a->ptr(0, m, a2, a3);
            if (convert) {
                float* dst = scratch + (m - m0) * K;
                if (a_key != cached) {
                    if (a->type == DType::Q4_0X8)
                        dequantize_q4_0x8_row(a->ptr(0, m - m % 8, a2, a3), (int)(m % 8), dst, K);
                    else if (dtype_is_quantized(a->type))
                        to_float_row(a->type, src, dst, K);
                    else
                        row_to_f32(a->type, src, a->nb[0], dst, K);
                }
                arow[m - m0] = dst;
            } else {
                arow[m - m0] = (const float*)src;
            }
        }
        cached = a_key;

        for (int64_t n = n0; n < n1; ++n) {
            const float* brow = (const float*)b->ptr(0, n, i2, i3);
            float* y = (float*)node->ptr(0, n, i2, i3);
            for (int64_t m = m0; m < m1; ++m) y[m] = dot_f32(arow[m - m0], brow, K);
        }
    }
}

}  // namespace cpu
}  // namespace ggml
