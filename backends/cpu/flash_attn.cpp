// Fused attention with a tiled online softmax.
//
// For query row i of head h (batch b) and key j:
//     s_ij = scale * q_i . k_j
//     s_ij = softcap * tanh(s_ij / softcap)          when softcap > 0
//     s_ij += mask[j, i, h, b]                        when a mask is given
//     s_ij += steer_bias[j, b]                        when head h is in the steered set
//     s_ij = -inf                                     when causal and j > i + causal_offset
//     o_i  = sum_j softmax_j(s_ij) v_j                (o_i = 0 when every s_ij is -inf)
// GQA/MQA (Ainslie et al. 2023; Shazeer 2019): query head h reads KV head h / (H_q / H_kv);
// K and V are read in place, never repeated. Steering is PASTA (Zhang et al. 2023, "Tell Your
// Model Where to Attend"): log(alpha) added to the keys outside the emphasised spans, inside
// the softmax, with nothing materialised.
//
// Loop order is FlashAttention-2's (Dao 2023, "FlashAttention-2: Faster Attention with Better
// Parallelism and Work Partitioning"): a thread owns a block of kBlockQ query rows of one
// (batch, head) and streams KV blocks of kBlockK keys past it, keeping per row a running max
// m, a running sum l and an unnormalised accumulator O (online softmax: Milakov & Gimelshein
// 2018, "Online normalizer calculation for softmax"). For each KV block:
//     m' = max(m, max_j s_j);  O = O * exp(m - m') + sum_j exp(s_j - m') v_j;
//     l  = l * exp(m - m') + sum_j exp(s_j - m');  m = m'
// and O / l is written once at the end. KV blocks entirely above the causal diagonal of the
// query block are never loaded. K/V rows of f16/bf16 are converted to f32 once per block in
// the thread's scratch; f32 rows are read directly.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu_kernels.h"
#include "ggml/ops.h"

namespace ggml {
namespace cpu {

namespace {

constexpr int64_t kBlockQ = 16;
constexpr int64_t kBlockK = 64;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Per-thread scratch, each part starting on a cache line.
struct Layout {
    size_t q, k, v, s, o, m, l, total;
};

Layout layout(int64_t D, int64_t Dv) {
    Layout L;
    size_t off = 0;
    auto take = [&off](size_t floats) {
        const size_t at = off;
        off += align_up(floats * sizeof(float));
        return at;
    };
    L.q = take((size_t)(kBlockQ * D));
    L.k = take((size_t)(kBlockK * D));
    L.v = take((size_t)(kBlockK * Dv));
    L.s = take((size_t)(kBlockQ * kBlockK));
    L.o = take((size_t)(kBlockQ * Dv));
    L.m = take((size_t)kBlockQ);
    L.l = take((size_t)kBlockQ);
    L.total = off;
    return L;
}

bool in_set(const SteerParams& sp, int64_t h) {
    return h >= 0 && h < 256 && ((sp.heads[h / 64] >> (h % 64)) & 1);
}

}  // namespace

// q f32 [D, n_q, H_q, B]; k [D, n_kv, H_kv, B], v [Dv, n_kv, H_kv, B] (f32/f16/bf16, one dtype);
// mask f32 [n_kv, n_q, 1|H_q, 1|B]; steer bias f32 [n_kv, 1, 1, 1|B] -> f32 [Dv, H_q, n_q, B]
bool supports_FLASH_ATTN(const Tensor* node) {
    return flash_attn_well_formed(node);  // every dtype and layout the op allows
}

namespace {

int elem_type(DType t) {
    return t == DType::F16 ? kElemF16 : t == DType::BF16 ? kElemBF16 : kElemF32;
}

// The SIMD kernels (simd_impl.inc) need packed rows everywhere and at least one query row;
// anything else takes the portable kernel below.
bool make_fa_args(const Tensor* node, FaArgs* a) {
    const Tensor* q = node->src[0];
    const Tensor* k = node->src[1];
    const Tensor* v = node->src[2];
    const Tensor* mask = node->src[3];
    const Tensor* sb = node->src[4];
    if (q->nb[0] != 4 || !k->rows_contiguous() || !v->rows_contiguous() ||
        (mask && mask->nb[0] != 4) || (sb && sb->nb[0] != 4) || q->ne[0] < 1 || q->ne[1] < 1 ||
        q->ne[2] < 1 || q->ne[3] < 1 || v->ne[0] < 1)
        return false;
    const FlashAttnParams p = node->params<FlashAttnParams>();
    *a = FaArgs{};
    a->q = (const uint8_t*)q->data;
    a->q_nb1 = q->nb[1], a->q_nb2 = q->nb[2], a->q_nb3 = q->nb[3];
    a->k = (const uint8_t*)k->data;
    a->k_nb1 = k->nb[1], a->k_nb2 = k->nb[2], a->k_nb3 = k->nb[3];
    a->v = (const uint8_t*)v->data;
    a->v_nb1 = v->nb[1], a->v_nb2 = v->nb[2], a->v_nb3 = v->nb[3];
    a->kv_type = elem_type(k->type);
    if (mask) {
        a->mask = (const uint8_t*)mask->data;
        a->m_nb1 = mask->nb[1], a->m_nb2 = mask->nb[2], a->m_nb3 = mask->nb[3];
        a->m_ne2 = mask->ne[2], a->m_ne3 = mask->ne[3];
    }
    if (sb) {
        a->sb = (const uint8_t*)sb->data;
        a->sb_nb3 = sb->nb[3];
        a->sb_ne3 = sb->ne[3];
        for (int i = 0; i < 4; ++i) a->steer[i] = p.steer.heads[i];
    }
    a->y = (uint8_t*)node->data;
    a->y_nb1 = node->nb[1], a->y_nb2 = node->nb[2], a->y_nb3 = node->nb[3];
    a->D = q->ne[0], a->Dv = v->ne[0], a->n_q = q->ne[1], a->n_kv = k->ne[1];
    a->Hq = q->ne[2], a->Hkv = k->ne[2], a->B = q->ne[3];
    a->scale = p.scale, a->softcap = p.softcap;
    a->causal = p.causal, a->causal_offset = p.causal_offset;
    return true;
}

}  // namespace

size_t work_size_FLASH_ATTN(const Tensor* node, int n_threads) {
    const size_t portable =
        (size_t)n_threads * layout(node->src[0]->ne[0], node->src[2]->ne[0]).total;
    FaArgs a;
    if (!make_fa_args(node, &a)) return portable;
    return std::max(portable, fa_partition(a, n_threads));
}

void run_FLASH_ATTN(const Tensor* node, const KernelArgs& args) {
    FaArgs fa;
    if (args.isa && make_fa_args(node, &fa)) {
        fa_partition(fa, args.nth);
        fa.work = (uint8_t*)args.work;
        fa.ith = args.ith;
        fa.nth = args.nth;
        fa.barrier = args.barrier;
        fa.barrier_ctx = args.barrier_ctx;
        fa.claim = args.claim;
        fa.claim_ctx = args.claim_ctx;
        if (args.nth > 1 && !args.barrier) {  // no way to wait for the merge or the packing
            fa.splits = 1;
            fa.pack_keys = 0;
        }
        args.isa->flash_attn(fa);
        return;
    }
    const Tensor* q = node->src[0];
    const Tensor* k = node->src[1];
    const Tensor* v = node->src[2];
    const Tensor* mask = node->src[3];
    const Tensor* sb = node->src[4];
    const FlashAttnParams p = node->params<FlashAttnParams>();

    const int64_t D = q->ne[0], n_q = q->ne[1], Hq = q->ne[2], B = q->ne[3];
    const int64_t n_kv = k->ne[1], Dv = v->ne[0];
    const int64_t group = Hq / k->ne[2];
    const bool k_direct = k->type == DType::F32 && k->nb[0] == 4;
    const bool v_direct = v->type == DType::F32 && v->nb[0] == 4;
    const float scale = p.scale, softcap = p.softcap;

    const Layout lay = layout(D, Dv);
    uint8_t* base = (uint8_t*)args.work + (size_t)args.ith * lay.total;
    float* Qb = (float*)(base + lay.q);
    float* Kb = (float*)(base + lay.k);
    float* Vb = (float*)(base + lay.v);
    float* S = (float*)(base + lay.s);
    float* O = (float*)(base + lay.o);
    float* M = (float*)(base + lay.m);
    float* L = (float*)(base + lay.l);
    const float* krow[kBlockK];
    const float* vrow[kBlockK];

    const int64_t qblocks = (n_q + kBlockQ - 1) / kBlockQ;
    const int64_t n_jobs = B * Hq * qblocks;
    // Round-robin over jobs: with a causal mask later query blocks cost more, and interleaving
    // spreads them over the threads.
    for (int64_t job = args.ith; job < n_jobs; job += args.nth) {
        const int64_t qb = job % qblocks;
        const int64_t h = (job / qblocks) % Hq;
        const int64_t b = job / (qblocks * Hq);
        const int64_t hk = h / group;
        const int64_t q0 = qb * kBlockQ;
        const int64_t nq = std::min(kBlockQ, n_q - q0);
        const bool steered = sb && in_set(p.steer, h);

        // Keys past kv_end are hidden from every row of this block.
        int64_t kv_end = n_kv;
        if (p.causal)
            kv_end = std::max<int64_t>(0, std::min(n_kv, q0 + nq + (int64_t)p.causal_offset));

        for (int64_t r = 0; r < nq; ++r) {
            row_to_f32(DType::F32, q->ptr(0, q0 + r, h, b), q->nb[0], Qb + r * D, D);
            M[r] = kNegInf;
            L[r] = 0.0f;
            std::fill(O + r * Dv, O + (r + 1) * Dv, 0.0f);
        }

        for (int64_t k0 = 0; k0 < kv_end; k0 += kBlockK) {
            const int64_t nk = std::min(kBlockK, kv_end - k0);
            for (int64_t j = 0; j < nk; ++j) {
                const uint8_t* kp = k->ptr(0, k0 + j, hk, b);
                const uint8_t* vp = v->ptr(0, k0 + j, hk, b);
                if (k_direct) {
                    krow[j] = (const float*)kp;
                } else {
                    row_to_f32(k->type, kp, k->nb[0], Kb + j * D, D);
                    krow[j] = Kb + j * D;
                }
                if (v_direct) {
                    vrow[j] = (const float*)vp;
                } else {
                    row_to_f32(v->type, vp, v->nb[0], Vb + j * Dv, Dv);
                    vrow[j] = Vb + j * Dv;
                }
            }

            for (int64_t r = 0; r < nq; ++r) {
                const int64_t i = q0 + r;
                // Keys [0, nvis) of this block are visible to row i.
                int64_t nvis = nk;
                if (p.causal)
                    nvis = std::max<int64_t>(0, std::min(nk, i + p.causal_offset + 1 - k0));
                if (nvis == 0) continue;
                const float* qr = Qb + r * D;
                const uint8_t* mrow =
                    mask ? mask->ptr(0, i, h % mask->ne[2], b % mask->ne[3]) : nullptr;
                const uint8_t* brow = steered ? sb->ptr(0, 0, 0, b % sb->ne[3]) : nullptr;
                float* s = S + r * kBlockK;
                float mx = kNegInf;
                for (int64_t j = 0; j < nvis; ++j) {
                    float x = scale * dot_f32(qr, krow[j], D);
                    if (softcap > 0.0f) x = softcap * std::tanh(x / softcap);
                    if (mrow) x += *(const float*)(mrow + (k0 + j) * mask->nb[0]);
                    if (brow) x += *(const float*)(brow + (k0 + j) * sb->nb[0]);
                    s[j] = x;
                    mx = std::max(mx, x);
                }
                if (mx == kNegInf) continue;  // every key of this block masked for this row

                const float m_new = std::max(M[r], mx);
                const float alpha = std::exp(M[r] - m_new);  // 0 when M was -inf
                float* o = O + r * Dv;
                if (alpha != 1.0f)
                    for (int64_t d = 0; d < Dv; ++d) o[d] *= alpha;
                float lsum = 0.0f;
                for (int64_t j = 0; j < nvis; ++j) {
                    const float e = std::exp(s[j] - m_new);
                    if (e == 0.0f) continue;
                    lsum += e;
                    axpy_f32(o, e, vrow[j], Dv);
                }
                L[r] = L[r] * alpha + lsum;
                M[r] = m_new;
            }
        }

        for (int64_t r = 0; r < nq; ++r) {
            float* y = (float*)node->ptr(0, h, q0 + r, b);
            const float* o = O + r * Dv;
            if (L[r] > 0.0f) {
                const float inv = 1.0f / L[r];
                for (int64_t d = 0; d < Dv; ++d) y[d] = o[d] * inv;
            } else {
                for (int64_t d = 0; d < Dv; ++d) y[d] = 0.0f;
            }
        }
    }
}

}  // namespace cpu
}  // namespace ggml
