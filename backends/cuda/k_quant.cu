// q8_0 / q4_0 kernels: the integer GEMV behind mul_mat for small N, dequantization to f16 for
// the cuBLAS path, and quantize / dequantize for cpy. Block formats: ggml/quant.h (GGUF's).
//
// GEMV (N <= 8, one-token decode). The f32 activations are first rounded to q8_0 blocks by a
// small pre-kernel (dx = amax/127 kept in f32, codes round(x/dx)), so every block's inner sum
// is an exact integer dot product on __dp4a and only the per-block scale product is float:
//
//   y[m, n] = sum_b dw[m, b] * dx[n, b] * sum_{i<32} qw[m, b, i] * qx[n, b, i]
//
// with qw = q - 8 for q4_0, computed as dp4a(q, qx) - 8 * dp4a(1, qx) on the unsigned nibbles.
// This is ggml's quantized GEMV (mmvq; Gerganov et al., ggml) and what the CPU backend does
// (backends/cpu/simd_quant.inc): activation rounding costs NMSE ~1e-5, which the harness
// allows (tests/support/cases_quant.cpp).
//
// Layout: one warp per weight row, four rows per block. Lane l works on block b0 + l/4 and on
// a quarter of it (8 q8_0 codes, or 4 q4_0 bytes = 8 nibbles), so the 4 lanes of a block read
// adjacent bytes and a warp step covers 8 consecutive blocks (272 / 144 contiguous bytes).
// Blocks are 34 / 18 bytes, so rows are only 2-byte aligned: codes are read with 16-bit loads
// (L1 merges them into the same sectors). Each lane issues the loads of kUnroll blocks before
// using any of them, to keep enough bytes in flight for a bandwidth-bound kernel. Every weight
// is read once for all N columns; the partial sums are combined by warp shuffles.
//
// Quantize (cpy f32 -> q): one warp per block, one lane per element; the rounding rules are
// ggml's reference quantizers (ggml/quant.h) with every operation spelled as an IEEE
// round-to-nearest intrinsic (__fdiv_rn, __fmul_rn, __fadd_rn), so no FMA contraction or fast
// division can move a tie and the codes agree with the CPU bit for bit.
#include "common.cuh"
#include "quant.cuh"

namespace ggml {
namespace cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMmvqRows = 4;  // warps (weight rows) per GEMV block

size_t align256(size_t n) {
    return (n + 255) & ~(size_t)255;
}

// Four bytes at a 2-byte aligned address, byte 0 lowest (the order __dp4a consumes).
__device__ __forceinline__ int load_i32_b2(const char* p) {
    const unsigned short* h = (const unsigned short*)p;
    return (int)((unsigned)h[0] | ((unsigned)h[1] << 16));
}

__device__ __forceinline__ float load_scale(const char* blk) {
    return __half2float(__ushort_as_half(*(const unsigned short*)blk));
}

// ---- activations to q8_0 -----------------------------------------------------------------------

// Warp w rounds block w % nblk of b row w / nblk (rows ordered n, then i2, then i3) to int8
// codes qx[32 w ...] and the f32 scale dx[w].
__global__ void quantize_x_kernel(TensorView b, int8_t* __restrict__ qx, float* __restrict__ dx,
                                  int64_t nblk, int64_t total) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t w = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); w < total;
         w += warps) {
        const int64_t blk = w % nblk, r = w / nblk;
        const int64_t n = r % b.ne[1], i2 = (r / b.ne[1]) % b.ne[2], i3 = r / (b.ne[1] * b.ne[2]);
        const float x = *(const float*)elem_ptr(b, blk * kQK + lane, n, i2, i3);
        const float d = __fdiv_rn(warp_max(fabsf(x)), 127.0f);
        const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
        const float q = fminf(127.0f, fmaxf(-127.0f, roundf(__fmul_rn(x, id))));
        qx[w * kQK + lane] = (int8_t)q;
        if (lane == 0) dx[w] = d;
    }
}

// ---- integer GEMV ------------------------------------------------------------------------------

// grid (ceil(M / 4), B2, B3), 128 threads. x rows of batch (i2, i3) start at (i2 + B2 i3) * NC.
template <int Q, int NC>
__global__ void __launch_bounds__(kMmvqRows * 32)
    mmvq_kernel(const char* __restrict__ w, int64_t w_nb1, int64_t w_nb2, int64_t w_nb3, int64_t M,
                int64_t nblk, const int8_t* __restrict__ qx, const float* __restrict__ dx,
                TensorView y, int64_t r2, int64_t r3) {
    constexpr int kBytes = Q == kQ8_0 ? kQ8Bytes : kQ4Bytes;
    // 32 (q8_0) or 16 (q4_0) bytes of codes per lane in flight.
    constexpr int kUnroll = Q == kQ8_0 ? 4 : 8;
    const int lane = threadIdx.x & 31, part = lane & 3;
    const int64_t m = (int64_t)blockIdx.x * kMmvqRows + (threadIdx.x >> 5);
    const int64_t i2 = blockIdx.y, i3 = blockIdx.z;
    if (m >= M) return;  // warp-uniform
    const char* wrow = w + m * w_nb1 + (i2 / r2) * w_nb2 + (i3 / r3) * w_nb3;
    const int64_t K = nblk * kQK;
    const int64_t x0 = (i2 + y.ne[2] * i3) * NC;
    const int8_t* xq = qx + x0 * K;
    const float* xs = dx + x0 * nblk;
    float acc[NC];
#pragma unroll
    for (int n = 0; n < NC; ++n) acc[n] = 0.0f;
    for (int64_t b0 = lane >> 2; b0 < nblk; b0 += 8 * kUnroll) {
        float dw[kUnroll];
        int q0[kUnroll], q1[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
            const int64_t b = b0 + 8 * u;
            dw[u] = 0.0f;
            q0[u] = q1[u] = 0;
            if (b < nblk) {
                const char* blk = wrow + b * kBytes;
                dw[u] = load_scale(blk);
                if (Q == kQ8_0) {
                    q0[u] = load_i32_b2(blk + 2 + 8 * part);
                    q1[u] = load_i32_b2(blk + 6 + 8 * part);
                } else {
                    q0[u] = load_i32_b2(blk + 2 + 4 * part);
                }
            }
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
            const int64_t b = b0 + 8 * u;
            if (b >= nblk) break;
#pragma unroll
            for (int n = 0; n < NC; ++n) {
                const int8_t* xb = xq + n * K + b * kQK;
                int s;
                if (Q == kQ8_0) {
                    const int2 xv = *(const int2*)(xb + 8 * part);
                    s = __dp4a(q0[u], xv.x, 0);
                    s = __dp4a(q1[u], xv.y, s);
                } else {
                    // Nibbles of bytes 4p..4p+3: low = elements 4p.., high = elements 16 + 4p..
                    const int lo = (int)((unsigned)q0[u] & 0x0f0f0f0fu);
                    const int hi = (int)(((unsigned)q0[u] >> 4) & 0x0f0f0f0fu);
                    const int xl = *(const int*)(xb + 4 * part);
                    const int xh = *(const int*)(xb + 16 + 4 * part);
                    s = __dp4a(lo, xl, 0);
                    s = __dp4a(hi, xh, s);
                    int sx = __dp4a(0x01010101, xl, 0);
                    sx = __dp4a(0x01010101, xh, sx);
                    s -= 8 * sx;
                }
                acc[n] += dw[u] * xs[n * nblk + b] * (float)s;
            }
        }
    }
#pragma unroll
    for (int n = 0; n < NC; ++n) {
        const float s = warp_sum(acc[n]);
        if (lane == 0) *(float*)elem_ptr(y, m, n, i2, i3) = s;
    }
}

template <int Q, int NC>
void mmvq_launch(const Tensor* node, const RunCtx& ctx, const int8_t* qx, const float* dx,
                 int64_t r2, int64_t r3) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const dim3 grid((unsigned)((a->ne[1] + kMmvqRows - 1) / kMmvqRows), (unsigned)b->ne[2],
                    (unsigned)b->ne[3]);
    mmvq_kernel<Q, NC><<<grid, kMmvqRows * 32, 0, ctx.stream>>>(
        (const char*)a->data, (int64_t)a->nb[1], (int64_t)a->nb[2], (int64_t)a->nb[3], a->ne[1],
        a->ne[0] / kQK, qx, dx, view_of(node), r2, r3);
}

template <int Q>
void mmvq_dispatch(const Tensor* node, const RunCtx& ctx, const int8_t* qx, const float* dx,
                   int64_t r2, int64_t r3) {
    switch (node->src[1]->ne[1]) {
        case 1:
            return mmvq_launch<Q, 1>(node, ctx, qx, dx, r2, r3);
        case 2:
            return mmvq_launch<Q, 2>(node, ctx, qx, dx, r2, r3);
        case 3:
            return mmvq_launch<Q, 3>(node, ctx, qx, dx, r2, r3);
        case 4:
            return mmvq_launch<Q, 4>(node, ctx, qx, dx, r2, r3);
        case 5:
            return mmvq_launch<Q, 5>(node, ctx, qx, dx, r2, r3);
        case 6:
            return mmvq_launch<Q, 6>(node, ctx, qx, dx, r2, r3);
        case 7:
            return mmvq_launch<Q, 7>(node, ctx, qx, dx, r2, r3);
        case 8:
            return mmvq_launch<Q, 8>(node, ctx, qx, dx, r2, r3);
        default:
            throw Error("cuda: mul_mat: the q8_0/q4_0 GEMV takes at most 8 columns, got " +
                        node->src[1]->shape_str());
    }
}

// ---- dequantize --------------------------------------------------------------------------------

// out[i] = f16(a[i0, i1, i2, i3]) with i the packed index of a's shape.
__global__ void dequantize_f16_kernel(TensorView a, __half* __restrict__ out, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, a.ne, &i0, &i1, &i2, &i3);
        const char* blk = elem_ptr(a, i0 / kQK, i1, i2, i3);
        out[i] = __float2half_rn(load_quant(a.type, blk, (int)(i0 % kQK)));
    }
}

__global__ void dequantize_cpy_kernel(TensorView a, TensorView y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, y.ne, &i0, &i1, &i2, &i3);
        const char* blk = elem_ptr(a, i0 / kQK, i1, i2, i3);
        *(float*)elem_ptr(y, i0, i1, i2, i3) = load_quant(a.type, blk, (int)(i0 % kQK));
    }
}

// ---- quantize ----------------------------------------------------------------------------------

// Warp w writes block w of y (blocks ordered along dim 0, then 1, 2, 3); lane l reads element
// 32 * blk + l of a through a's strides (a may be a transposed view).
template <int Q>
__global__ void quantize_cpy_kernel(TensorView a, TensorView y, int64_t total) {
    const int lane = threadIdx.x & 31;
    const int64_t nb0 = y.ne[0] / kQK;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t w = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); w < total;
         w += warps) {
        const int64_t blk = w % nb0, r = w / nb0;
        const int64_t i1 = r % y.ne[1], i2 = (r / y.ne[1]) % y.ne[2], i3 = r / (y.ne[1] * y.ne[2]);
        const float x = *(const float*)elem_ptr(a, blk * kQK + lane, i1, i2, i3);
        char* out = elem_ptr(y, blk, i1, i2, i3);
        float d;
        if (Q == kQ8_0) {
            d = __fdiv_rn(warp_max(fabsf(x)), 127.0f);
            const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
            // |x * id| <= 127 up to one rounding of id; the clamp only guards that last ulp.
            const float q = fminf(127.0f, fmaxf(-127.0f, roundf(__fmul_rn(x, id))));
            ((int8_t*)out)[2 + lane] = (int8_t)q;
        } else {
            // m = the value of largest magnitude, the lowest index on ties (the reference scans
            // with a strict '>' from 0, so an all-zero block gives m = +0).
            float best = fabsf(x);
            int at = lane;
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                const float ob = __shfl_xor_sync(0xffffffffu, best, o);
                const int oa = __shfl_xor_sync(0xffffffffu, at, o);
                if (ob > best || (ob == best && oa < at)) {
                    best = ob;
                    at = oa;
                }
            }
            const float xm = __shfl_sync(0xffffffffu, x, at);
            const float m = best > 0.0f ? xm : 0.0f;
            d = __fdiv_rn(m, -8.0f);
            const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
            // x * id lies in [-8, 8], so x * id + 8.5 is in [0.5, 16.5] and truncation rounds.
            const int t = (int)__fadd_rn(__fmul_rn(x, id), 8.5f);
            const int q = min(15, max(0, t));
            const int hi = __shfl_down_sync(0xffffffffu, q, 16);
            if (lane < 16) ((uint8_t*)out)[2 + lane] = (uint8_t)(q | (hi << 4));
        }
        if (lane == 0) *(unsigned short*)out = __half_as_ushort(__float2half_rn(d));
    }
}

}  // namespace

size_t mmvq_work_size(const Tensor* node) {
    const Tensor* b = node->src[1];
    const size_t rows = (size_t)b->nrows();
    const size_t K = (size_t)b->ne[0];
    return align256(rows * K) + rows * (K / kQK) * sizeof(float);
}

void launch_mmvq(const Tensor* node, const RunCtx& ctx, int64_t r2, int64_t r3) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const int64_t nblk = b->ne[0] / kQK;
    const int64_t total = b->nrows() * nblk;  // x blocks, one warp each
    int8_t* qx = (int8_t*)ctx.work;
    float* dx = (float*)((char*)ctx.work + align256((size_t)(b->nrows() * b->ne[0])));
    if (total > 0) {
        quantize_x_kernel<<<grid_for(total * 32, kThreads), kThreads, 0, ctx.stream>>>(
            view_of(b), qx, dx, nblk, total);
        check_launch("mul_mat (activations to q8_0)");
    }
    if (a->type == DType::Q8_0)
        mmvq_dispatch<kQ8_0>(node, ctx, qx, dx, r2, r3);
    else
        mmvq_dispatch<kQ4_0>(node, ctx, qx, dx, r2, r3);
    check_launch("mul_mat (q8_0/q4_0 GEMV)");
}

void launch_dequantize_f16(const Tensor* a, __half* out, cudaStream_t stream) {
    const int64_t n = a->nelements();
    if (n == 0) return;
    dequantize_f16_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(view_of(a), out, n);
    check_launch("mul_mat (weights to f16)");
}

void launch_quantize_cpy(const Tensor* node, const RunCtx& ctx) {
    const int64_t total = node->nelements() / kQK;
    if (total == 0) return;
    const unsigned grid = grid_for(total * 32, kThreads);
    if (node->type == DType::Q8_0)
        quantize_cpy_kernel<kQ8_0>
            <<<grid, kThreads, 0, ctx.stream>>>(view_of(node->src[0]), view_of(node), total);
    else
        quantize_cpy_kernel<kQ4_0>
            <<<grid, kThreads, 0, ctx.stream>>>(view_of(node->src[0]), view_of(node), total);
    check_launch("cpy (quantize)");
}

void launch_dequantize_cpy(const Tensor* node, const RunCtx& ctx) {
    const int64_t n = node->nelements();
    if (n == 0) return;
    dequantize_cpy_kernel<<<grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(view_of(node->src[0]),
                                                                              view_of(node), n);
    check_launch("cpy (dequantize)");
}

}  // namespace cuda
}  // namespace ggml
