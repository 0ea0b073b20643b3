// Matrix multiplication: result[m, n, i2, i3] = sum_k a[k, m, i2/r2, i3/r3] * b[k, n, i2, i3]
// with r2 = B2/A2 and r3 = B3/A3 (the GQA broadcast: batch i2 of b uses batch i2/r2 of a).
// a is f32/f16/bf16/q8_0/q4_0, b and the result f32; every path accumulates in f32.
//
// Paths, chosen from the shapes alone (so work_size() and run() always agree):
//   gemv   N <= 8 (decode): one warp per output row m, lanes stride over k, 16-byte loads when
//          aligned. Memory bound: each weight is read once for all N columns.
//   mmvq   the gemv of q8_0/q4_0 weights (k_quant.cu): b rounded to q8_0 blocks in scratch,
//          then integer dot products on __dp4a, one warp per weight row.
//   cublas large problems with cuBLAS-compatible strides. f32 a: cublasGemmStridedBatchedEx in
//          pure FP32 (CUBLAS_COMPUTE_32F, no TF32). f16/bf16 a: b is first converted to a's
//          dtype in the node's scratch, then the tensor cores run 16-bit inputs with f32
//          accumulation (the usual mixed-precision GEMM; b rounded to 16 bits). q8_0/q4_0 a:
//          the weights are dequantized to f16 in scratch first (d * q is rounded once to f16,
//          relative error <= 2^-11; weights above 65504 in magnitude would overflow, which
//          real models never approach), then the f16 route. GQA broadcast: one
//          strided-batched call per a-batch with stride 0 for a.
//   tiled  everything else: a 64x64 output tile per block through shared memory, any strides;
//          q8_0/q4_0 elements are dequantized exactly (f32) as the tile is loaded.
//
// GGML_CUDA_MM_PATH=tiled|cublas forces a path where it applies (cublas: cuBLAS-compatible
// strides), so tests and benchmarks reach every path on small shapes too.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common.cuh"
#include "quant.cuh"

namespace ggml {
namespace cuda {

namespace {

enum class Path { Gemv, Cublas, Tiled };

constexpr int64_t kGemvMaxN = 8;
static_assert(kGemvMaxN == kMmvqMaxN, "the f32/f16 and the q8_0/q4_0 GEMV share the N limit");
// Below this many multiply-adds the 16-bit tensor-core route is not worth rounding b to 16 bits.
constexpr double kTensorCoreMinMacs = 268435456.0;  // 2^28

size_t align256(size_t n) {
    return (n + 255) & ~(size_t)255;
}

// Quantized a is handed to cuBLAS as its packed f16 copy, so only b and the result constrain.
bool cublas_compatible(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const bool quant = is_quant_type(a->type);
    const size_t es = dtype_size(a->type);
    const int64_t K = a->ne[0];
    if (!node->is_contiguous()) return false;
    if (b->nb[1] % 4 || b->nb[2] % 4 || (int64_t)(b->nb[1] / 4) < K) return false;
    if (!quant && (a->nb[1] % es || a->nb[2] % es || (int64_t)(a->nb[1] / es) < K)) return false;
    if (a->ne[1] > 0x7fffffff || b->ne[1] > 0x7fffffff || K > 0x7fffffff) return false;
    if ((!quant && (a->nb[1] / es) > 0x7fffffffu) || (b->nb[1] / 4) > 0x7fffffffu) return false;
    return true;
}

// GGML_CUDA_MM_PATH, read once: 0 none, else the forced path + 1.
int forced_path() {
    static const int f = [] {
        const char* e = std::getenv("GGML_CUDA_MM_PATH");
        if (!e) return 0;
        if (!std::strcmp(e, "cublas")) return 1 + (int)Path::Cublas;
        if (!std::strcmp(e, "tiled")) return 1 + (int)Path::Tiled;
        return 0;
    }();
    return f;
}

Path choose(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const int f = forced_path();
    if (f == 1 + (int)Path::Tiled) return Path::Tiled;
    if (f == 1 + (int)Path::Cublas && cublas_compatible(node)) return Path::Cublas;
    if (b->ne[1] <= kGemvMaxN) return Path::Gemv;
    if (!cublas_compatible(node)) return Path::Tiled;
    if (a->type == DType::F32) return Path::Cublas;
    const double macs = (double)a->ne[0] * (double)a->ne[1] * (double)b->ne[1] * (double)b->ne[2] *
                        (double)b->ne[3];
    return macs >= kTensorCoreMinMacs ? Path::Cublas : Path::Tiled;
}

// ---- gemv --------------------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ float to_f(T v);
template <>
__device__ __forceinline__ float to_f<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ float to_f<__half>(__half v) {
    return __half2float(v);
}
template <>
__device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

// grid (ceil(M / 4), B2, B3), 128 threads: warp w of the block computes row m for every n < N.
template <typename T, bool VEC>
__global__ void gemv_kernel(TensorView a, TensorView b, TensorView y, int64_t r2, int64_t r3) {
    const int lane = threadIdx.x & 31;
    const int64_t m = (int64_t)blockIdx.x * 4 + (threadIdx.x >> 5);
    const int64_t i2 = blockIdx.y, i3 = blockIdx.z;
    const int64_t K = a.ne[0], N = b.ne[1];
    if (m >= a.ne[1]) return;
    const char* arow = a.data + m * a.nb[1] + (i2 / r2) * a.nb[2] + (i3 / r3) * a.nb[3];
    const char* bbase = b.data + i2 * b.nb[2] + i3 * b.nb[3];
    float acc[kGemvMaxN];
#pragma unroll
    for (int n = 0; n < kGemvMaxN; ++n) acc[n] = 0.0f;
    if (VEC) {
        // 8 elements per lane per step: 16 bytes of a (16-bit) or 32 bytes (f32). VEC implies
        // K % 8 == 0, so the vector loop covers the whole row.
        constexpr int kVec = 8;
        for (int64_t k = (int64_t)lane * kVec; k + kVec <= K; k += 32 * kVec) {
            float av[kVec];
            if (sizeof(T) == 2) {
                const uint4 raw = *(const uint4*)(arow + k * sizeof(T));
                const T* h = (const T*)&raw;
#pragma unroll
                for (int e = 0; e < kVec; ++e) av[e] = to_f<T>(h[e]);
            } else {
                const float4 x0 = *(const float4*)(arow + k * 4);
                const float4 x1 = *(const float4*)(arow + k * 4 + 16);
                av[0] = x0.x, av[1] = x0.y, av[2] = x0.z, av[3] = x0.w;
                av[4] = x1.x, av[5] = x1.y, av[6] = x1.z, av[7] = x1.w;
            }
#pragma unroll
            for (int n = 0; n < kGemvMaxN; ++n) {
                if (n < N) {
                    const float* bp = (const float*)(bbase + n * b.nb[1]) + k;
                    const float4 y0 = *(const float4*)bp;
                    const float4 y1 = *(const float4*)(bp + 4);
                    acc[n] += av[0] * y0.x + av[1] * y0.y + av[2] * y0.z + av[3] * y0.w +
                              av[4] * y1.x + av[5] * y1.y + av[6] * y1.z + av[7] * y1.w;
                }
            }
        }
    } else {
        for (int64_t k = lane; k < K; k += 32) {
            const float av = to_f<T>(*(const T*)(arow + k * sizeof(T)));
#pragma unroll
            for (int n = 0; n < kGemvMaxN; ++n)
                if (n < N) acc[n] += av * *((const float*)(bbase + n * b.nb[1]) + k);
        }
    }
#pragma unroll
    for (int n = 0; n < kGemvMaxN; ++n) {
        if (n < N) {
            const float s = warp_sum(acc[n]);
            if (lane == 0) *(float*)elem_ptr(y, m, n, i2, i3) = s;
        }
    }
}

// Element k of a row of a: a plain dtype, or a q8_0/q4_0 block format (dequantized exactly).
template <int Q>
struct QuantTag {};

template <typename T>
__device__ __forceinline__ float load_a(const char* row, int64_t k) {
    return to_f<T>(*(const T*)(row + k * sizeof(T)));
}
template <>
__device__ __forceinline__ float load_a<QuantTag<kQ8_0>>(const char* row, int64_t k) {
    return load_quant(kQ8_0, row + (k / kQK) * kQ8Bytes, (int)(k % kQK));
}
template <>
__device__ __forceinline__ float load_a<QuantTag<kQ4_0>>(const char* row, int64_t k) {
    return load_quant(kQ4_0, row + (k / kQK) * kQ4Bytes, (int)(k % kQK));
}

template <typename T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ __half from_f<__half>(float v) {
    return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// ---- tiled -------------------------------------------------------------------------------------

constexpr int kTM = 64, kTN = 64, kTK = 16;

// grid (ceil(M/64), ceil(N/64), B2*B3), 256 threads; thread (tx, ty) owns rows tx + 16i and
// columns ty + 16j (i, j < 4): the strided ownership keeps shared-memory reads conflict-free.
template <typename T>
__global__ void tiled_kernel(TensorView a, TensorView b, TensorView y, int64_t r2, int64_t r3) {
    __shared__ float As[kTK][kTM + 1];
    __shared__ float Bs[kTK][kTN + 1];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int64_t m0 = (int64_t)blockIdx.x * kTM, n0 = (int64_t)blockIdx.y * kTN;
    const int64_t i2 = blockIdx.z % b.ne[2], i3 = blockIdx.z / b.ne[2];
    const int64_t K = a.ne[0], M = a.ne[1], N = b.ne[1];
    const char* abase = a.data + (i2 / r2) * a.nb[2] + (i3 / r3) * a.nb[3];
    const char* bbase = b.data + i2 * b.nb[2] + i3 * b.nb[3];
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += kTK) {
#pragma unroll
        for (int r = 0; r < (kTK * kTM) / 256; ++r) {
            const int e = tid + 256 * r;
            const int kk = e % kTK, mm = e / kTK;
            const int64_t k = k0 + kk, m = m0 + mm, n = n0 + mm;
            As[kk][mm] = k < K && m < M ? load_a<T>(abase + m * a.nb[1], k) : 0.0f;
            Bs[kk][mm] = k < K && n < N ? *(const float*)(bbase + n * b.nb[1] + k * 4) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kTK; ++kk) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) av[i] = As[kk][tx + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][ty + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int64_t m = m0 + tx + 16 * i, n = n0 + ty + 16 * j;
            if (m < M && n < N) *(float*)elem_ptr(y, m, n, i2, i3) = acc[i][j];
        }
}

// b f32 (rows packed, any strides) -> contiguous T [K, N, B2, B3].
template <typename T>
__global__ void convert_b_kernel(TensorView b, T* out, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, b.ne, &i0, &i1, &i2, &i3);
        const float v = *(const float*)elem_ptr(b, i0, i1, i2, i3);
        out[i] = from_f<T>(v);
    }
}

template <typename T>
void launch_gemv(const Tensor* node, const RunCtx& ctx, int64_t r2, int64_t r3) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const bool vec = (uintptr_t)a->data % 16 == 0 && (uintptr_t)b->data % 16 == 0 &&
                     a->nb[1] % 16 == 0 && a->nb[2] % 16 == 0 && a->nb[3] % 16 == 0 &&
                     b->nb[1] % 16 == 0 && b->nb[2] % 16 == 0 && b->nb[3] % 16 == 0 &&
                     a->ne[0] % 8 == 0;
    const dim3 grid((unsigned)((a->ne[1] + 3) / 4), (unsigned)b->ne[2], (unsigned)b->ne[3]);
    if (vec)
        gemv_kernel<T, true>
            <<<grid, 128, 0, ctx.stream>>>(view_of(a), view_of(b), view_of(node), r2, r3);
    else
        gemv_kernel<T, false>
            <<<grid, 128, 0, ctx.stream>>>(view_of(a), view_of(b), view_of(node), r2, r3);
}

template <typename T>
void launch_tiled(const Tensor* node, const RunCtx& ctx, int64_t r2, int64_t r3) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const dim3 grid((unsigned)((a->ne[1] + kTM - 1) / kTM), (unsigned)((b->ne[1] + kTN - 1) / kTN),
                    (unsigned)(b->ne[2] * b->ne[3]));
    tiled_kernel<T><<<grid, 256, 0, ctx.stream>>>(view_of(a), view_of(b), view_of(node), r2, r3);
}

void check_cublas(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS)
        throw Error(std::string("cuda: mul_mat: ") + what + " failed with cuBLAS status " +
                    std::to_string((int)s));
}

// The a operand as cuBLAS sees it: a itself, or the packed f16 copy of quantized weights.
struct GemmA {
    const char* data;
    DType type;   // F32, F16 or BF16
    int64_t lda;  // elements between rows
    size_t nb2;   // bytes between batches along dim 2
    size_t nb3;   // ... along dim 3
};

// Scratch of the cuBLAS path: [f16 copy of quantized a, 256-aligned] [b in 16 bits].
size_t cublas_a16_bytes(const Tensor* node) {
    const Tensor* a = node->src[0];
    return is_quant_type(a->type) ? align256((size_t)a->nelements() * 2) : 0;
}

void run_cublas(const Tensor* node, const RunCtx& ctx, int64_t r2, int64_t r3) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1], B2 = b->ne[2], B3 = b->ne[3];
    GemmA A;
    if (is_quant_type(a->type)) {
        launch_dequantize_f16(a, (__half*)ctx.work, ctx.stream);
        A.data = (const char*)ctx.work;
        A.type = DType::F16;
        A.lda = K;
        A.nb2 = (size_t)(K * M) * 2;
        A.nb3 = A.nb2 * (size_t)a->ne[2];
    } else {
        A.data = (const char*)a->data;
        A.type = a->type;
        A.lda = (int64_t)(a->nb[1] / dtype_size(a->type));
        A.nb2 = a->nb[2];
        A.nb3 = a->nb[3];
    }
    const size_t es = dtype_size(A.type);
    const cudaDataType at = A.type == DType::F32   ? CUDA_R_32F
                            : A.type == DType::F16 ? CUDA_R_16F
                                                   : CUDA_R_16BF;
    // B operand: b itself (f32) or its 16-bit copy in scratch, contiguous [K, N, B2, B3].
    const char* bdata = (const char*)b->data;
    size_t bes = 4;
    int64_t ldb = (int64_t)(b->nb[1] / 4), sb2 = (int64_t)(b->nb[2] / 4);
    size_t bnb3 = b->nb[3];
    if (A.type != DType::F32) {
        const int64_t n = b->nelements();
        char* b16 = (char*)ctx.work + cublas_a16_bytes(node);
        if (A.type == DType::F16)
            convert_b_kernel<__half>
                <<<grid_for(n, 256), 256, 0, ctx.stream>>>(view_of(b), (__half*)b16, n);
        else
            convert_b_kernel<__nv_bfloat16>
                <<<grid_for(n, 256), 256, 0, ctx.stream>>>(view_of(b), (__nv_bfloat16*)b16, n);
        check_launch("mul_mat (b to 16 bits)");
        bdata = b16;
        bes = 2;
        ldb = K;
        sb2 = K * N;
        bnb3 = (size_t)(K * N * B2) * 2;
    }
    const float alpha = 1.0f, beta = 0.0f;
    const int64_t sc2 = (int64_t)(node->nb[2] / 4);
    for (int64_t i3 = 0; i3 < B3; ++i3) {
        const char* a3 = A.data + (i3 / r3) * A.nb3;
        const char* b3 = bdata + i3 * bnb3;
        char* c3 = (char*)node->data + i3 * node->nb[3];
        // r2 == 1: every batch has its own a (stride a.nb2); r2 > 1: each a batch serves r2
        // consecutive b batches (stride 0 for a).
        const int64_t groups = r2 == 1 ? 1 : a->ne[2];
        const int64_t count = r2 == 1 ? B2 : r2;
        const int64_t sa2 = r2 == 1 ? (int64_t)(A.nb2 / es) : 0;
        for (int64_t g = 0; g < groups; ++g) {
            const char* Ap = a3 + g * A.nb2;
            const char* Bp = b3 + (size_t)(g * r2 * sb2) * bes;
            char* C = c3 + g * r2 * node->nb[2];
            check_cublas(cublasGemmStridedBatchedEx(
                             ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)M, (int)N, (int)K, &alpha,
                             Ap, at, (int)A.lda, sa2, Bp, A.type == DType::F32 ? CUDA_R_32F : at,
                             (int)ldb, sb2, &beta, C, CUDA_R_32F, (int)M, sc2, (int)count,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                         "cublasGemmStridedBatchedEx");
        }
    }
}

}  // namespace

bool supports_MUL_MAT(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (!a || !b || !(is_float_type(a->type) || is_quant_type(a->type)) ||
        !has_type(b, DType::F32) || !has_type(node, DType::F32))
        return false;
    if (!a->rows_contiguous() || !b->rows_contiguous()) return false;
    if (a->ne[0] != b->ne[0] || b->ne[2] % a->ne[2] || b->ne[3] % a->ne[3]) return false;
    if (node->ne[0] != a->ne[1] || node->ne[1] != b->ne[1] || node->ne[2] != b->ne[2] ||
        node->ne[3] != b->ne[3])
        return false;
    // Quantized rows are read with 16-bit loads (blocks start with the f16 scale): the row and
    // batch strides must keep blocks 2-byte aligned. The GEMV's activations are packed in f32
    // rows (b.nb0 = 4 holds by rows_contiguous).
    if (is_quant_type(a->type) && (a->ne[0] % kQK || a->nb[1] % 2 || a->nb[2] % 2 || a->nb[3] % 2))
        return false;
    // Grid limits: batches on grid y/z.
    return b->ne[2] <= 65535 && b->ne[3] <= 65535 && b->ne[2] * b->ne[3] <= 65535 &&
           (a->ne[1] + 3) / 4 <= 0x7fffffffLL;
}

size_t work_size_MUL_MAT(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    const Path p = choose(node);
    if (is_quant_type(a->type)) {
        if (p == Path::Gemv) return mmvq_work_size(node);
        if (p == Path::Cublas)
            return cublas_a16_bytes(node) + (size_t)node->src[1]->nelements() * 2;
        return 0;
    }
    if (p == Path::Cublas && a->type != DType::F32) return (size_t)node->src[1]->nelements() * 2;
    return 0;
}

void run_MUL_MAT(const Tensor* node, const RunCtx& ctx) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (node->nelements() == 0) return;
    const int64_t r2 = b->ne[2] / a->ne[2], r3 = b->ne[3] / a->ne[3];
    switch (choose(node)) {
        case Path::Gemv:
            if (a->type == DType::F32)
                launch_gemv<float>(node, ctx, r2, r3);
            else if (a->type == DType::F16)
                launch_gemv<__half>(node, ctx, r2, r3);
            else if (a->type == DType::BF16)
                launch_gemv<__nv_bfloat16>(node, ctx, r2, r3);
            else
                launch_mmvq(node, ctx, r2, r3);
            break;
        case Path::Tiled:
            if (a->type == DType::F32)
                launch_tiled<float>(node, ctx, r2, r3);
            else if (a->type == DType::F16)
                launch_tiled<__half>(node, ctx, r2, r3);
            else if (a->type == DType::BF16)
                launch_tiled<__nv_bfloat16>(node, ctx, r2, r3);
            else if (a->type == DType::Q8_0)
                launch_tiled<QuantTag<kQ8_0>>(node, ctx, r2, r3);
            else
                launch_tiled<QuantTag<kQ4_0>>(node, ctx, r2, r3);
            break;
        case Path::Cublas:
            run_cublas(node, ctx, r2, r3);
            break;
    }
    check_launch("mul_mat");
}

}  // namespace cuda
}  // namespace ggml
