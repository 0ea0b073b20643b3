// Launchers of the q8_0 / q4_0 kernels (k_quant.cu) for the op files: mul_mat's integer GEMV and
// its dequantize-to-f16 step, and cpy's quantize / dequantize. Host functions; they only
// enqueue work on the given stream.
#pragma once

#include <cuda_fp16.h>

#include "cuda_kernels.h"

namespace ggml {
namespace cuda {

// Largest number of b columns the integer GEMV handles (one accumulator per column and lane).
constexpr int64_t kMmvqMaxN = 8;

// Scratch of the GEMV for mul_mat node `node` (a q8_0/q4_0, b f32 with b.ne1 <= kMmvqMaxN):
// b rounded to q8_0, int8 codes then f32 scales.
size_t mmvq_work_size(const Tensor* node);

// result = a * b through q8_0 activations and __dp4a; r2, r3 the batch broadcast ratios.
void launch_mmvq(const Tensor* node, const RunCtx& ctx, int64_t r2, int64_t r3);

// The q8_0/q4_0 tensor a to f16, written contiguously as [a.ne0, a.ne1, a.ne2, a.ne3].
void launch_dequantize_f16(const Tensor* a, __half* out, cudaStream_t stream);

// cpy f32 -> q8_0/q4_0 (ggml's reference rounding, bit for bit) and q8_0/q4_0 -> f32.
void launch_quantize_cpy(const Tensor* node, const RunCtx& ctx);
void launch_dequantize_cpy(const Tensor* node, const RunCtx& ctx);

}  // namespace cuda
}  // namespace ggml
