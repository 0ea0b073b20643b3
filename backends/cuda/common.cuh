// Device-side helpers shared by every CUDA kernel file.
//
// Kernels receive tensors as a TensorView: the device address plus ne[4] and nb[4] (bytes), so
// every kernel honours arbitrary strides (sources may be permuted or strided views) and writes
// its result through the destination's own strides. Element loads and stores convert between
// f32 and the storage dtype with round-to-nearest-even (the CUDA intrinsics __float2half_rn and
// __float2bfloat16_rn round exactly like ggml::f32_to_f16 / f32_to_bf16).
//
// Run-time errors (an out-of-range row id) cannot throw on the device: the first one is recorded
// in a DeviceError word with atomicCAS, and the host turns it into a KernelErrors message after
// the stream has been synchronised.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_kernels.h"

namespace ggml {
namespace cuda {

// Storage dtypes as small ints (the values of ggml::DType).
enum : int { kF32 = 0, kF16 = 1, kBF16 = 2, kI32 = 3, kQ8_0 = 4, kQ4_0 = 5 };

// GGUF block formats (ggml/quant.h): 32 elements per block, an f16 scale d first.
constexpr int kQK = 32;
constexpr int kQ8Bytes = 34;  // f16 d, int8 qs[32]
constexpr int kQ4Bytes = 18;  // f16 d, uint8 qs[16]: element j low nibble, j + 16 high nibble

struct TensorView {
    char* data;
    int64_t ne[4];  // elements per dimension, ne[0] innermost
    int64_t nb[4];  // byte stride per dimension
    int type;       // kF32 / kF16 / kBF16 / kI32 / kQ8_0 / kQ4_0
};

inline TensorView view_of(const Tensor* t) {
    TensorView v;
    v.data = (char*)t->data;
    for (int i = 0; i < 4; ++i) {
        v.ne[i] = t->ne[i];
        v.nb[i] = (int64_t)t->nb[i];
    }
    v.type = (int)t->type;
    return v;
}

__device__ __forceinline__ char* elem_ptr(const TensorView& t, int64_t i0, int64_t i1, int64_t i2,
                                          int64_t i3) {
    return t.data + i0 * t.nb[0] + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

__device__ __forceinline__ float load_float(int type, const char* p) {
    switch (type) {
        case kF16:
            return __half2float(*(const __half*)p);
        case kBF16:
            return __bfloat162float(*(const __nv_bfloat16*)p);
        default:
            return *(const float*)p;
    }
}

__device__ __forceinline__ void store_float(int type, char* p, float v) {
    switch (type) {
        case kF16:
            *(__half*)p = __float2half_rn(v);
            break;
        case kBF16:
            *(__nv_bfloat16*)p = __float2bfloat16_rn(v);
            break;
        default:
            *(float*)p = v;
            break;
    }
}

// Element j (< 32) of the q8_0 / q4_0 block at `blk`. For a quantized tensor nb[0] is the block
// size, so elem_ptr(t, i0 / 32, i1, i2, i3) is the block holding element i0. Blocks are only
// 2-byte aligned (34 and 18 bytes), hence the 16-bit scale load. d * q is exact in f32 (an 11-bit
// significand times at most 8 bits), so this equals the CPU's dequantize_q8_0 / _q4_0 bit for bit.
__device__ __forceinline__ float load_quant(int type, const char* blk, int j) {
    const float d = __half2float(__ushort_as_half(*(const unsigned short*)blk));
    if (type == kQ8_0) return d * (float)((const int8_t*)blk)[2 + j];
    const unsigned byte = ((const uint8_t*)blk)[2 + (j & 15)];
    const int q = (int)(j < 16 ? byte & 15u : byte >> 4);
    return (float)(q - 8) * d;
}

// Flat index -> (i0, i1, i2, i3) for a shape ne.
__device__ __forceinline__ void unravel(int64_t i, const int64_t* ne, int64_t* i0, int64_t* i1,
                                        int64_t* i2, int64_t* i3) {
    *i0 = i % ne[0];
    i /= ne[0];
    *i1 = i % ne[1];
    i /= ne[1];
    *i2 = i % ne[2];
    *i3 = i / ne[2];
}

__device__ __forceinline__ void report_error(DeviceError* e, int code, int node, long long value,
                                             long long limit) {
    if (atomicCAS(&e->code, 0, code) == 0) {
        e->node = node;
        e->value = value;
        e->limit = limit;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 (<= 1024). `scratch` holds 32 floats. Every
// thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous reduction
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : -INFINITY;
    return warp_max(v);
}

// Grid size for a grid-stride loop over n items with `threads` per block.
inline unsigned grid_for(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 65535LL * 32) b = 65535LL * 32;
    return (unsigned)b;
}

// The unquantized float dtypes (q8_0 / q4_0 count as float in DTypeInfo but are not here).
inline bool is_float_type(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

inline bool has_type(const Tensor* t, DType d) {
    return t && t->type == d;
}

inline bool is_quant_type(DType t) {
    return t == DType::Q8_0 || t == DType::Q4_0;
}

}  // namespace cuda
}  // namespace ggml
