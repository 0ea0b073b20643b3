// flash_attn: fused attention  O = softmax(scale * Q K^T [softcap] + mask + steer) V  per query
// head, with GQA/MQA by head-index arithmetic (query head h reads KV head h / (H_q / H_kv); K
// and V are never copied or repeated). See fa_common.cuh for the exact score pipeline.
//
// Three paths, chosen from shapes and device alone (so work_size() and run() agree):
//
//   decode  n_q * group <= 32 (token-by-token generation, small speculative batches).
//           Flash-decoding (Dao, Haziza, Massa, Sizov 2023, "Flash-Decoding for long-context
//           inference"): the KV sequence is split into chunks processed by independent blocks
//           so that even one query row fills the GPU; one block serves every query head of a
//           GQA group (and every query row), so each K/V element is read from memory once per
//           group. Each block keeps an unnormalised partial (O_s, m_s, l_s); a second kernel
//           merges the splits with the log-sum-exp rule
//               M = max_s m_s,  L = sum_s l_s e^(m_s - M),  O = sum_s e^(m_s - M) O_s / L.
//           f32 arithmetic throughout (decode is memory bound, tensor cores would not help).
//   mma     prefill with f16/bf16 K/V and D = Dv in {32, 64, 128} on sm_80+: FlashAttention-2
//           on tensor cores (k_flash_attn_mma.cu).
//   scalar  everything else (any D and Dv, f32 K/V): one warp per query row, keys in steps of
//           32 (one per lane), the online softmax across the warp, f32 throughout. Simple and
//           obviously correct; the reference the fast paths are checked against.
//
// GGML_CUDA_FA_PATH=scalar|decode|mma forces a path where it applies (testing and benchmarks);
// GGML_CUDA_FA_F32_MMA=1 lets f32 K/V use the tensor-core path (tiles rounded to f16).
#include <cstdlib>
#include <cstring>
#include <string>

#include "fa_common.cuh"

namespace ggml {
namespace cuda {

namespace {

enum class FaPath { Scalar, Decode, Mma };

constexpr int kScalarWarps = 4;
constexpr int kDecThreads = 128;
constexpr int kDecBk = 32;  // keys per decode tile: one per lane in the softmax step
constexpr int kDecMaxRows = 32;

// ---- scalar ------------------------------------------------------------------------------------

// grid ceil(rows / 4), 128 threads; warp w handles row blockIdx.x * 4 + w of the
// (iq, h, b) rows. Shared memory per warp: q (D floats), the output accumulator (Dv floats)
// and the 32 probabilities of the current key step.
__global__ void fa_scalar_kernel(FaArgs a) {
    extern __shared__ float sm[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * kScalarWarps + warp;
    const int64_t total = (int64_t)a.n_q * a.Hq * a.B;
    if (row >= total) return;  // whole warp leaves together; no block-level barrier below
    const int iq = (int)(row % a.n_q);
    const int h = (int)((row / a.n_q) % a.Hq);
    const int b = (int)(row / ((int64_t)a.n_q * a.Hq));
    const int hk = h / a.group;
    const bool steered = fa_steered(a, h);
    float* q_s = sm + (size_t)warp * (a.D + a.Dv + 32);
    float* acc = q_s + a.D;
    float* p_s = acc + a.Dv;
    for (int d = lane; d < a.D; d += 32) q_s[d] = *(const float*)elem_ptr(a.q, d, iq, h, b);
    for (int d = lane; d < a.Dv; d += 32) acc[d] = 0.0f;
    __syncwarp();
    int n_end = a.n_kv;
    if (a.causal) n_end = min(n_end, iq + a.causal_offset + 1);
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < n_end; j0 += 32) {
        const int j = j0 + lane;
        float s = -INFINITY;
        if (j < n_end) {
            const char* kr = elem_ptr(a.k, 0, j, hk, b);
            float dot = 0.0f;
            for (int d = 0; d < a.D; ++d) dot += q_s[d] * load_float(a.k.type, kr + d * a.k.nb[0]);
            s = fa_score(a, dot, iq, j, h, b, steered);
        }
        const float m_new = fmaxf(m, warp_max(s));
        if (m_new == -INFINITY) continue;  // every key so far hidden: nothing to accumulate
        const float corr = expf(m - m_new);
        const float p = s == -INFINITY ? 0.0f : expf(s - m_new);
        l = l * corr + warp_sum(p);
        m = m_new;
        p_s[lane] = p;
        __syncwarp();
        const int nk = min(32, n_end - j0);
        for (int d = lane; d < a.Dv; d += 32) {
            float o = acc[d] * corr;
            for (int jj = 0; jj < nk; ++jj)
                o += p_s[jj] * load_float(a.v.type, elem_ptr(a.v, d, j0 + jj, hk, b));
            acc[d] = o;
        }
        __syncwarp();
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = lane; d < a.Dv; d += 32) *(float*)elem_ptr(a.dst, d, h, iq, b) = acc[d] * inv;
}

size_t scalar_smem(int D, int Dv) {
    return (size_t)kScalarWarps * (D + Dv + 32) * sizeof(float);
}

// ---- split-KV decode ---------------------------------------------------------------------------

struct DecodeShape {
    int rows;      // G = n_q * group rows per block
    int n_splits;  // blocks along the KV sequence
    int chunk;     // keys per split (a multiple of kDecBk)
    size_t smem;
};

DecodeShape decode_shape(int D, int Dv, int n_q, int n_kv, int Hkv, int B, int group,
                         const DeviceInfo& dev) {
    DecodeShape s;
    s.rows = n_q * group;
    const int64_t base = (int64_t)Hkv * B;
    // Enough blocks for two waves over the SMs, but no split shorter than 128 keys.
    int64_t want = (2 * (int64_t)dev.sm_count + base - 1) / base;
    const int64_t max_splits = (n_kv + 127) / 128;
    if (want > max_splits) want = max_splits;
    if (want < 1) want = 1;
    int64_t chunk = (n_kv + want - 1) / want;
    chunk = (chunk + kDecBk - 1) / kDecBk * kDecBk;
    s.chunk = (int)chunk;
    s.n_splits = (int)((n_kv + chunk - 1) / chunk);
    const size_t G = (size_t)s.rows;
    s.smem = sizeof(float) *
             (G * D + (size_t)kDecBk * (D + 1) + (size_t)kDecBk * Dv + G * kDecBk + G * Dv + 3 * G);
    return s;
}

// Eight consecutive elements of a K/V row (16-byte aligned) as f32.
__device__ __forceinline__ void load8(int type, const char* p, float* x) {
    if (type == kF32) {
        const float4 u = *(const float4*)p, w = *(const float4*)(p + 16);
        x[0] = u.x, x[1] = u.y, x[2] = u.z, x[3] = u.w;
        x[4] = w.x, x[5] = w.y, x[6] = w.z, x[7] = w.w;
        return;
    }
    const uint4 raw = *(const uint4*)p;
    const uint16_t* h = (const uint16_t*)&raw;
#pragma unroll
    for (int t = 0; t < 8; ++t)
        x[t] = type == kF16 ? __half2float(__ushort_as_half(h[t]))
                            : __bfloat162float(__ushort_as_bfloat16(h[t]));
}

// grid (n_splits, Hkv, B), 128 threads. Rows r = iq * group + g (query head hk * group + g).
__global__ void fa_decode_kernel(FaArgs a, int chunk, float* part_o, float* part_ml) {
    extern __shared__ float sm[];
    const int split = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;
    const int G = a.n_q * a.group, D = a.D, Dv = a.Dv;
    float* q_s = sm;                      // [G][D]
    float* k_s = q_s + G * D;             // [Bk][D + 1] (padded: conflict-free column reads)
    float* v_s = k_s + kDecBk * (D + 1);  // [Bk][Dv]
    float* s_s = v_s + kDecBk * Dv;       // [G][Bk] scores, then probabilities
    float* o_s = s_s + G * kDecBk;        // [G][Dv] unnormalised output
    float* m_s = o_s + G * Dv;            // [G]
    float* l_s = m_s + G;                 // [G]
    float* c_s = l_s + G;                 // [G] rescale factor of the current tile

    for (int e = tid; e < G * D; e += blockDim.x) {
        const int r = e / D, d = e % D;
        q_s[e] = *(const float*)elem_ptr(a.q, d, r / a.group, hk * a.group + r % a.group, b);
    }
    for (int e = tid; e < G * Dv; e += blockDim.x) o_s[e] = 0.0f;
    for (int r = tid; r < G; r += blockDim.x) {
        m_s[r] = -INFINITY;
        l_s[r] = 0.0f;
    }
    const int j_begin = split * chunk;
    int j_end = min(a.n_kv, j_begin + chunk);
    if (a.causal) j_end = min(j_end, a.n_q - 1 + a.causal_offset + 1);  // last row's limit
    __syncthreads();

    for (int t0 = j_begin; t0 < j_end; t0 += kDecBk) {
        const int nk = min(kDecBk, j_end - t0);
        if (a.kv_vec) {
            // 8 elements per 16- or 32-byte load: decode is bound by exactly this traffic.
            for (int e = tid; e < kDecBk * D / 8; e += blockDim.x) {
                const int j = e / (D / 8), d = (e % (D / 8)) * 8;
                float x[8];
                if (j < nk) {
                    load8(a.k.type, elem_ptr(a.k, d, t0 + j, hk, b), x);
                } else {
#pragma unroll
                    for (int t = 0; t < 8; ++t) x[t] = 0.0f;
                }
#pragma unroll
                for (int t = 0; t < 8; ++t) k_s[j * (D + 1) + d + t] = x[t];
            }
            for (int e = tid; e < kDecBk * Dv / 8; e += blockDim.x) {
                const int j = e / (Dv / 8), d = (e % (Dv / 8)) * 8;
                float x[8];
                if (j < nk) {
                    load8(a.v.type, elem_ptr(a.v, d, t0 + j, hk, b), x);
                } else {
#pragma unroll
                    for (int t = 0; t < 8; ++t) x[t] = 0.0f;
                }
#pragma unroll
                for (int t = 0; t < 8; ++t) v_s[j * Dv + d + t] = x[t];
            }
        } else {
            for (int e = tid; e < kDecBk * D; e += blockDim.x) {
                const int j = e / D, d = e % D;
                k_s[j * (D + 1) + d] =
                    j < nk ? load_float(a.k.type, elem_ptr(a.k, d, t0 + j, hk, b)) : 0.0f;
            }
            for (int e = tid; e < kDecBk * Dv; e += blockDim.x) {
                const int j = e / Dv, d = e % Dv;
                v_s[e] = j < nk ? load_float(a.v.type, elem_ptr(a.v, d, t0 + j, hk, b)) : 0.0f;
            }
        }
        __syncthreads();
        for (int e = tid; e < G * kDecBk; e += blockDim.x) {
            const int r = e / kDecBk, jj = e % kDecBk;
            float s = -INFINITY;
            if (jj < nk) {
                const float* qr = q_s + r * D;
                const float* kr = k_s + jj * (D + 1);
                float dot = 0.0f;
                for (int d = 0; d < D; ++d) dot += qr[d] * kr[d];
                const int h = hk * a.group + r % a.group;
                s = fa_score(a, dot, r / a.group, t0 + jj, h, b, fa_steered(a, h));
            }
            s_s[e] = s;
        }
        __syncthreads();
        for (int r = warp; r < G; r += nwarps) {
            const float s = s_s[r * kDecBk + lane];
            const float m_old = m_s[r];
            const float m_new = fmaxf(m_old, warp_max(s));
            float p = 0.0f, corr = 1.0f;
            if (m_new != -INFINITY) {
                corr = expf(m_old - m_new);
                p = s == -INFINITY ? 0.0f : expf(s - m_new);
            }
            const float sum = warp_sum(p);
            s_s[r * kDecBk + lane] = p;
            if (lane == 0) {
                m_s[r] = m_new;
                l_s[r] = l_s[r] * corr + sum;
                c_s[r] = corr;
            }
        }
        __syncthreads();
        for (int e = tid; e < G * Dv; e += blockDim.x) {
            const int r = e / Dv, d = e % Dv;
            const float* pr = s_s + r * kDecBk;
            float o = o_s[e] * c_s[r];
            for (int jj = 0; jj < nk; ++jj) o += pr[jj] * v_s[jj * Dv + d];
            o_s[e] = o;
        }
        __syncthreads();
    }
    // Partials, indexed by the global row ((b * Hq + h) * n_q + iq).
    for (int e = tid; e < G * Dv; e += blockDim.x) {
        const int r = e / Dv, d = e % Dv;
        const int h = hk * a.group + r % a.group, iq = r / a.group;
        const int64_t grow = ((int64_t)b * a.Hq + h) * a.n_q + iq;
        const int64_t rows = (int64_t)a.n_q * a.Hq * a.B;
        part_o[((int64_t)split * rows + grow) * Dv + d] = o_s[e];
    }
    for (int r = tid; r < G; r += blockDim.x) {
        const int h = hk * a.group + r % a.group, iq = r / a.group;
        const int64_t grow = ((int64_t)b * a.Hq + h) * a.n_q + iq;
        const int64_t rows = (int64_t)a.n_q * a.Hq * a.B;
        part_ml[((int64_t)split * rows + grow) * 2 + 0] = m_s[r];
        part_ml[((int64_t)split * rows + grow) * 2 + 1] = l_s[r];
    }
}

// grid = rows (n_q * Hq * B), 128 threads: the log-sum-exp merge of the splits.
__global__ void fa_merge_kernel(FaArgs a, int n_splits, const float* part_o, const float* part_ml) {
    const int64_t grow = blockIdx.x;
    const int64_t rows = (int64_t)a.n_q * a.Hq * a.B;
    const int iq = (int)(grow % a.n_q);
    const int h = (int)((grow / a.n_q) % a.Hq);
    const int b = (int)(grow / ((int64_t)a.n_q * a.Hq));
    float M = -INFINITY;
    for (int s = 0; s < n_splits; ++s) M = fmaxf(M, part_ml[((int64_t)s * rows + grow) * 2]);
    float L = 0.0f;
    if (M != -INFINITY)
        for (int s = 0; s < n_splits; ++s) {
            const float* ml = part_ml + ((int64_t)s * rows + grow) * 2;
            L += ml[1] * expf(ml[0] - M);
        }
    const float inv = L > 0.0f ? 1.0f / L : 0.0f;
    for (int d = threadIdx.x; d < a.Dv; d += blockDim.x) {
        float o = 0.0f;
        if (L > 0.0f)
            for (int s = 0; s < n_splits; ++s) {
                const float ms = part_ml[((int64_t)s * rows + grow) * 2];
                if (ms == -INFINITY) continue;  // a split whose keys were all hidden
                o += expf(ms - M) * part_o[((int64_t)s * rows + grow) * a.Dv + d];
            }
        *(float*)elem_ptr(a.dst, d, h, iq, b) = o * inv;
    }
}

// ---- dispatch ----------------------------------------------------------------------------------

const char* env_path() {
    static const char* p = std::getenv("GGML_CUDA_FA_PATH");
    return p ? p : "";
}

bool env_f32_mma() {
    static const bool on = [] {
        const char* e = std::getenv("GGML_CUDA_FA_F32_MMA");
        return e && std::strcmp(e, "0") != 0 && e[0] != 0;
    }();
    return on;
}

struct Shape {
    int D, Dv, n_q, n_kv, Hq, Hkv, B, group;
};

Shape shape_of(const Tensor* node) {
    const Tensor* q = node->src[0];
    const Tensor* k = node->src[1];
    const Tensor* v = node->src[2];
    Shape s;
    s.D = (int)q->ne[0];
    s.Dv = (int)v->ne[0];
    s.n_q = (int)q->ne[1];
    s.n_kv = (int)k->ne[1];
    s.Hq = (int)q->ne[2];
    s.Hkv = (int)k->ne[2];
    s.B = (int)q->ne[3];
    s.group = s.Hq / s.Hkv;
    return s;
}

bool decode_ok(const Shape& s, const DeviceInfo& dev) {
    if (s.n_q * s.group > kDecMaxRows || s.Hkv > 65535 || s.B > 65535) return false;
    return decode_shape(s.D, s.Dv, s.n_q, s.n_kv, s.Hkv, s.B, s.group, dev).smem <= dev.smem_optin;
}

bool mma_ok(const Tensor* node, const Shape& s, const DeviceInfo& dev) {
    const DType kt = node->src[1]->type;
    if (kt == DType::F32 && !env_f32_mma()) return false;
    return fa_mma_supported(s.D, s.Dv, dev) && s.Hq <= 65535 && s.B <= 65535;
}

bool scalar_ok(const Shape& s, const DeviceInfo& dev) {
    return scalar_smem(s.D, s.Dv) <= dev.smem_optin;
}

FaPath choose(const Tensor* node, const DeviceInfo& dev) {
    const Shape s = shape_of(node);
    const std::string forced = env_path();
    if (forced == "scalar" && scalar_ok(s, dev)) return FaPath::Scalar;
    if (forced == "decode" && decode_ok(s, dev)) return FaPath::Decode;
    if (forced == "mma" && mma_ok(node, s, dev)) return FaPath::Mma;
    if (decode_ok(s, dev)) return FaPath::Decode;
    if (mma_ok(node, s, dev)) return FaPath::Mma;
    return FaPath::Scalar;
}

FaArgs args_of(const Tensor* node) {
    const Shape s = shape_of(node);
    const FlashAttnParams p = node->params<FlashAttnParams>();
    FaArgs a;
    a.q = view_of(node->src[0]);
    a.k = view_of(node->src[1]);
    a.v = view_of(node->src[2]);
    a.has_mask = node->src[3] != nullptr;
    a.mask = a.has_mask ? view_of(node->src[3]) : a.q;
    a.has_sbias = node->src[4] != nullptr;
    a.sbias = a.has_sbias ? view_of(node->src[4]) : a.q;
    a.dst = view_of(node);
    a.scale = p.scale;
    a.softcap = p.softcap;
    a.causal = p.causal;
    a.causal_offset = p.causal_offset;
    for (int i = 0; i < 4; ++i) a.steer[i] = p.steer.heads[i];
    a.D = s.D;
    a.Dv = s.Dv;
    a.n_q = s.n_q;
    a.n_kv = s.n_kv;
    a.Hq = s.Hq;
    a.Hkv = s.Hkv;
    a.B = s.B;
    a.group = s.group;
    const Tensor* k = node->src[1];
    const Tensor* v = node->src[2];
    auto aligned = [](const Tensor* t) {
        return (uintptr_t)t->data % 16 == 0 && t->nb[1] % 16 == 0 && t->nb[2] % 16 == 0 &&
               t->nb[3] % 16 == 0;
    };
    a.kv_vec = aligned(k) && aligned(v) && s.D % 8 == 0 && s.Dv % 8 == 0;
    return a;
}

template <typename K>
void allow_smem(K kernel, size_t smem) {
    if (smem > 48 * 1024)
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
}

}  // namespace

bool supports_FLASH_ATTN(const Tensor* node, const DeviceInfo& dev) {
    if (!flash_attn_well_formed(node)) return false;
    const Tensor* q = node->src[0];
    const Tensor* k = node->src[1];
    const Tensor* v = node->src[2];
    // Indices are int inside the kernels.
    for (int i = 0; i < 4; ++i)
        if (q->ne[i] > 0x7fffffff || k->ne[i] > 0x7fffffff || v->ne[i] > 0x7fffffff) return false;
    if (q->nrows() > 0x7fffffffLL) return false;
    const Shape s = shape_of(node);
    return scalar_ok(s, dev) || decode_ok(s, dev) || mma_ok(node, s, dev);
}

size_t work_size_FLASH_ATTN(const Tensor* node, const DeviceInfo& dev) {
    if (choose(node, dev) != FaPath::Decode) return 0;
    const Shape s = shape_of(node);
    const DecodeShape ds = decode_shape(s.D, s.Dv, s.n_q, s.n_kv, s.Hkv, s.B, s.group, dev);
    const size_t rows = (size_t)s.n_q * s.Hq * s.B;
    return (size_t)ds.n_splits * rows * ((size_t)s.Dv + 2) * sizeof(float);
}

void run_FLASH_ATTN(const Tensor* node, const RunCtx& ctx) {
    if (node->nelements() == 0) return;
    const FaArgs a = args_of(node);
    const DeviceInfo& dev = *ctx.dev;
    switch (choose(node, dev)) {
        case FaPath::Decode: {
            const DecodeShape ds = decode_shape(a.D, a.Dv, a.n_q, a.n_kv, a.Hkv, a.B, a.group, dev);
            const size_t rows = (size_t)a.n_q * a.Hq * a.B;
            float* part_o = (float*)ctx.work;
            float* part_ml = part_o + (size_t)ds.n_splits * rows * a.Dv;
            allow_smem(fa_decode_kernel, ds.smem);
            fa_decode_kernel<<<dim3((unsigned)ds.n_splits, (unsigned)a.Hkv, (unsigned)a.B),
                               kDecThreads, ds.smem, ctx.stream>>>(a, ds.chunk, part_o, part_ml);
            check_launch("flash_attn (decode)");
            fa_merge_kernel<<<(unsigned)rows, 128, 0, ctx.stream>>>(a, ds.n_splits, part_o,
                                                                    part_ml);
            check_launch("flash_attn (merge)");
            break;
        }
        case FaPath::Mma:
            launch_fa_mma(a, node->src[1]->type == DType::BF16 ? DType::BF16 : DType::F16,
                          ctx.stream, dev);
            check_launch("flash_attn (mma)");
            break;
        case FaPath::Scalar: {
            const size_t smem = scalar_smem(a.D, a.Dv);
            const int64_t rows = (int64_t)a.n_q * a.Hq * a.B;
            allow_smem(fa_scalar_kernel, smem);
            fa_scalar_kernel<<<(unsigned)((rows + kScalarWarps - 1) / kScalarWarps),
                               32 * kScalarWarps, smem, ctx.stream>>>(a);
            check_launch("flash_attn (scalar)");
            break;
        }
    }
}

}  // namespace cuda
}  // namespace ggml
