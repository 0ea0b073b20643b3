// flash_attn on tensor cores: the FlashAttention-2 forward pass (Dao 2023, "FlashAttention-2:
// Faster Attention with Better Parallelism and Work Partitioning") with mma.sync.m16n8k16
// (f16 or bf16 inputs, f32 accumulation; sm_80 and later).
//
// Loop order (FA-2): the grid runs over query blocks of Br = 64 rows (x), query heads (y) and
// batches (z); each block walks the KV sequence in tiles of Bc = 64 keys (the inner loop). The
// 4 warps own 16 query rows each, so the softmax statistics of a row never leave its warp:
//   S   = Q_blk K_tile^T                          (mma, f32 accumulators in registers)
//   S   = score pipeline (scale, softcap, mask, steering bias, causal; fa_common.cuh)
//   m'  = max(m, rowmax S);  P = exp(S - m');  l = l e^(m - m') + rowsum P
//   O   = O e^(m - m') + P V_tile                 (P re-used from the S accumulators as the
//                                                  A operand, rounded to 16 bits)
// and O / l once at the end (rows with l = 0, every key hidden, give zeros).
//
// Q, K and V tiles are staged in shared memory as 16-bit values: q (always f32) and f32 K/V
// are rounded to the compute type while being stored, f16/bf16 K/V are copied as they are.
// V is stored transposed so that the B operand of P V is read with the same 32-bit pattern as
// K. Rows are padded by 8 elements, which makes every fragment read bank-conflict free.
// Causal masking skips whole KV tiles past the last row of the block (and, per warp, tiles
// past the warp's last row). GQA/MQA: query head h reads KV head h / group.
#include <cstdint>

#include "fa_common.cuh"

namespace ggml {
namespace cuda {

namespace {

constexpr int kBr = 64;  // query rows per block (16 per warp)
constexpr int kBc = 64;  // keys per KV tile
constexpr int kThreads = 128;

template <typename T>
struct Cvt;
template <>
struct Cvt<__half> {
    static constexpr int kType = kF16;
    __device__ static uint16_t bits(float v) { return __half_as_ushort(__float2half_rn(v)); }
    __device__ static uint32_t pack(float lo, float hi) {
        const __half2 h = __floats2half2_rn(lo, hi);
        return *(const uint32_t*)&h;
    }
};
template <>
struct Cvt<__nv_bfloat16> {
    static constexpr int kType = kBF16;
    __device__ static uint16_t bits(float v) {
        return __bfloat16_as_ushort(__float2bfloat16_rn(v));
    }
    __device__ static uint32_t pack(float lo, float hi) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *(const uint32_t*)&h;
    }
};

template <typename T>
__device__ __forceinline__ uint16_t load_bits(int type, const char* p) {
    if (type == Cvt<T>::kType) return *(const uint16_t*)p;
    return Cvt<T>::bits(load_float(type, p));
}

// D (16x8, f32) += A (16x16, row) * B (16x8, col); fragment layout as in the PTX ISA.
template <typename T>
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if (Cvt<T>::kType == kF16) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
#else
    __trap();  // never launched: fa_mma_supported() requires compute capability 8.0
#endif
}

template <int D>
constexpr size_t mma_smem() {
    return ((size_t)kBr * (D + 8) + (size_t)kBc * (D + 8) + (size_t)D * (kBc + 8)) * 2;
}

// Loads keys [kv0, kv0 + 64) of K (row-major, padded) and V (transposed) into shared memory;
// keys past n_kv become zeros (their scores are set to -inf anyway).
template <typename T, int D>
__device__ __forceinline__ void load_kv_tile(const FaArgs& a, int kv0, int hk, int b, uint16_t* Ks,
                                             uint16_t* Vt) {
    constexpr int LDK = D + 8, LDV = kBc + 8;
    const int tid = threadIdx.x;
    if (a.kv_vec && a.k.type == Cvt<T>::kType) {
        // 8 elements (16 bytes) per load; row starts are 16-byte aligned on both sides.
        for (int e = tid; e < kBc * D / 8; e += kThreads) {
            const int j = e / (D / 8), d = (e % (D / 8)) * 8, jj = kv0 + j;
            uint4 kx = make_uint4(0, 0, 0, 0), vx = make_uint4(0, 0, 0, 0);
            if (jj < a.n_kv) {
                kx = *(const uint4*)elem_ptr(a.k, d, jj, hk, b);
                vx = *(const uint4*)elem_ptr(a.v, d, jj, hk, b);
            }
            *(uint4*)(Ks + j * LDK + d) = kx;
            const uint16_t* vh = (const uint16_t*)&vx;
#pragma unroll
            for (int t = 0; t < 8; ++t) Vt[(d + t) * LDV + j] = vh[t];
        }
    } else {
        for (int e = tid; e < kBc * D; e += kThreads) {
            const int j = e / D, d = e % D, jj = kv0 + j;
            uint16_t kb = 0, vb = 0;
            if (jj < a.n_kv) {
                kb = load_bits<T>(a.k.type, elem_ptr(a.k, d, jj, hk, b));
                vb = load_bits<T>(a.v.type, elem_ptr(a.v, d, jj, hk, b));
            }
            Ks[j * LDK + d] = kb;
            Vt[d * LDV + j] = vb;
        }
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) fa_mma_kernel(FaArgs a) {
    constexpr int LDQ = D + 8, LDK = D + 8, LDV = kBc + 8;
    constexpr int NT = D / 8;  // output n-tiles per warp
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t* Qs = smem;
    uint16_t* Ks = Qs + kBr * LDQ;
    uint16_t* Vt = Ks + kBc * LDK;

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const int q0 = blockIdx.x * kBr, h = blockIdx.y, b = blockIdx.z, hk = h / a.group;
    const bool steered = fa_steered(a, h);

    for (int e = tid; e < kBr * D; e += kThreads) {
        const int r = e / D, d = e % D, iq = q0 + r;
        Qs[r * LDQ + d] = iq < a.n_q ? Cvt<T>::bits(*(const float*)elem_ptr(a.q, d, iq, h, b)) : 0;
    }

    const int q_last = min(q0 + kBr, a.n_q) - 1;
    int kv_end = a.n_kv;
    if (a.causal) kv_end = min(kv_end, q_last + a.causal_offset + 1);  // causal block skip
    const int r0 = q0 + warp * 16 + g, r1 = r0 + 8;
    const int warp_first = q0 + warp * 16;
    const int warp_last = min(warp_first + 15, a.n_q - 1);

    float o[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    for (int kv0 = 0; kv0 < kv_end; kv0 += kBc) {
        __syncthreads();  // the previous tile (and, first time, Q) fully written/consumed
        load_kv_tile<T, D>(a, kv0, hk, b, Ks, Vt);
        __syncthreads();
        if (warp_first > warp_last) continue;                         // rows past n_q
        if (a.causal && kv0 > warp_last + a.causal_offset) continue;  // tile hidden

        float s[kBc / 8][4];
#pragma unroll
        for (int nt = 0; nt < kBc / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            uint32_t af[4];
            const uint16_t* qa = Qs + (warp * 16 + g) * LDQ + kk * 16 + t4 * 2;
            af[0] = *(const uint32_t*)qa;
            af[1] = *(const uint32_t*)(qa + 8 * LDQ);
            af[2] = *(const uint32_t*)(qa + 8);
            af[3] = *(const uint32_t*)(qa + 8 * LDQ + 8);
#pragma unroll
            for (int nt = 0; nt < kBc / 8; ++nt) {
                const uint16_t* kb = Ks + (nt * 8 + g) * LDK + kk * 16 + t4 * 2;
                mma16816<T>(s[nt], af, *(const uint32_t*)kb, *(const uint32_t*)(kb + 8));
            }
        }

        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kBc / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int row = e < 2 ? r0 : r1;
                const int col = kv0 + nt * 8 + t4 * 2 + (e & 1);
                float v = -INFINITY;
                if (row < a.n_q && col < a.n_kv) v = fa_score(a, s[nt][e], row, col, h, b, steered);
                s[nt][e] = v;
                if (e < 2)
                    mx0 = fmaxf(mx0, v);
                else
                    mx1 = fmaxf(mx1, v);
            }
        // The four lanes of a quad hold one row's 64 scores between them.
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        // With every score so far -inf, subtract 0 instead so exp() gives 0, not NaN.
        const float mu0 = mn0 == -INFINITY ? 0.0f : mn0, mu1 = mn1 == -INFINITY ? 0.0f : mn1;
        const float c0 = expf(m0 - mu0), c1 = expf(m1 - mu1);
        float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kBc / 8; ++nt) {
            s[nt][0] = expf(s[nt][0] - mu0);
            s[nt][1] = expf(s[nt][1] - mu0);
            s[nt][2] = expf(s[nt][2] - mu1);
            s[nt][3] = expf(s[nt][3] - mu1);
            sum0 += s[nt][0] + s[nt][1];
            sum1 += s[nt][2] + s[nt][3];
        }
        l0 = l0 * c0 + sum0;  // per-lane partial; the quad is summed once at the end
        l1 = l1 * c1 + sum1;
        m0 = mn0;
        m1 = mn1;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            o[nt][0] *= c0;
            o[nt][1] *= c0;
            o[nt][2] *= c1;
            o[nt][3] *= c1;
        }
        // O += P V: the S accumulator layout of key columns 16kk..16kk+15 is exactly the A
        // fragment layout of a 16x16 operand.
#pragma unroll
        for (int kk = 0; kk < kBc / 16; ++kk) {
            uint32_t af[4];
            af[0] = Cvt<T>::pack(s[2 * kk][0], s[2 * kk][1]);
            af[1] = Cvt<T>::pack(s[2 * kk][2], s[2 * kk][3]);
            af[2] = Cvt<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            af[3] = Cvt<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                const uint16_t* vb = Vt + (nt * 8 + g) * LDV + kk * 16 + t4 * 2;
                mma16816<T>(o[nt], af, *(const uint32_t*)vb, *(const uint32_t*)(vb + 8));
            }
        }
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        const int d = nt * 8 + t4 * 2;
        if (r0 < a.n_q) {
            *(float*)elem_ptr(a.dst, d, h, r0, b) = o[nt][0] * inv0;
            *(float*)elem_ptr(a.dst, d + 1, h, r0, b) = o[nt][1] * inv0;
        }
        if (r1 < a.n_q) {
            *(float*)elem_ptr(a.dst, d, h, r1, b) = o[nt][2] * inv1;
            *(float*)elem_ptr(a.dst, d + 1, h, r1, b) = o[nt][3] * inv1;
        }
    }
}

template <typename T, int D>
void launch(const FaArgs& a, cudaStream_t stream) {
    constexpr size_t smem = mma_smem<D>();
    if (smem > 48 * 1024)
        cudaFuncSetAttribute(fa_mma_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             (int)smem);
    const dim3 grid((unsigned)((a.n_q + kBr - 1) / kBr), (unsigned)a.Hq, (unsigned)a.B);
    fa_mma_kernel<T, D><<<grid, kThreads, smem, stream>>>(a);
}

template <typename T>
void launch_t(const FaArgs& a, cudaStream_t stream) {
    switch (a.D) {
        case 32:
            launch<T, 32>(a, stream);
            break;
        case 64:
            launch<T, 64>(a, stream);
            break;
        default:
            launch<T, 128>(a, stream);
            break;
    }
}

}  // namespace

bool fa_mma_supported(int D, int Dv, const DeviceInfo& dev) {
    if (D != Dv || dev.cc_major < 8) return false;
    size_t smem = 0;
    switch (D) {
        case 32:
            smem = mma_smem<32>();
            break;
        case 64:
            smem = mma_smem<64>();
            break;
        case 128:
            smem = mma_smem<128>();
            break;
        default:
            return false;
    }
    return smem <= dev.smem_optin;
}

void launch_fa_mma(const FaArgs& a, DType kv_compute, cudaStream_t stream, const DeviceInfo&) {
    if (kv_compute == DType::BF16)
        launch_t<__nv_bfloat16>(a, stream);
    else
        launch_t<__half>(a, stream);
}

}  // namespace cuda
}  // namespace ggml
