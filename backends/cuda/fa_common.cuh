// Shared pieces of the three flash-attention paths (scalar, split-KV decode, tensor-core
// prefill): the argument block and the score pipeline every path applies to q.k.
//
// For query row i (absolute position i + causal_offset) of head h and key j:
//   s = scale * q.k
//   s = softcap * tanh(s / softcap)            when softcap > 0
//   s = s + mask[j, i, h % M2, b % M3]         when a mask is given
//   s = s + steer_bias[j, b % S3]              when head h is in the steered set (PASTA)
//   s = -inf                                   when causal and j > i + causal_offset
// followed by softmax over j and sum_j p_j v_j. The kernels evaluate the softmax online
// (Milakov & Gimelshein 2018; FlashAttention-2, Dao 2023): a running max m and sum l per row,
// rescaling the accumulator by exp(m_old - m_new) when the max grows, and one division by l at
// the end. A row whose every score is -inf keeps l = 0 and is written as zeros.
#pragma once

#include "common.cuh"
#include "ggml/ops.h"

namespace ggml {
namespace cuda {

struct FaArgs {
    TensorView q, k, v, mask, sbias, dst;  // mask / sbias valid only when has_* is set
    int has_mask, has_sbias;
    float scale, softcap;
    int causal, causal_offset;
    unsigned long long steer[4];  // bit h: query head h is steered
    int D, Dv, n_q, n_kv, Hq, Hkv, B, group;
    int kv_vec;  // K/V rows and strides 16-byte aligned (vector loads allowed)
};

__device__ __forceinline__ bool fa_steered(const FaArgs& a, int h) {
    return a.has_sbias && h < 256 && ((a.steer[h >> 6] >> (h & 63)) & 1ull);
}

// The score of (row iq, key j) from the raw dot product q.k; -inf when hidden.
__device__ __forceinline__ float fa_score(const FaArgs& a, float dot, int iq, int j, int h, int b,
                                          bool steered) {
    if (a.causal && j > iq + a.causal_offset) return -INFINITY;
    float s = a.scale * dot;
    if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    if (a.has_mask) s += *(const float*)elem_ptr(a.mask, j, iq, h % a.mask.ne[2], b % a.mask.ne[3]);
    if (steered) s += *(const float*)elem_ptr(a.sbias, j, 0, 0, b % a.sbias.ne[3]);
    return s;
}

// Paths (flash_attn.cu picks one from the shapes and the device).
void launch_fa_mma(const FaArgs& a, DType kv_compute, cudaStream_t stream, const DeviceInfo& dev);
bool fa_mma_supported(int D, int Dv, const DeviceInfo& dev);

}  // namespace cuda
}  // namespace ggml
