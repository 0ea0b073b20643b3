// Block quantization: GGUF's (ggml's) q8_0 and q4_0 formats, and row conversions between
// every float dtype and f32.
//
// q8_0: blocks of 32; x[i] = d * qs[i], d an f16 scale, qs int8 in [-127, 127].
// q4_0: blocks of 32; x[i] = d * (q[i] - 8), q in [0, 15]; byte j holds element j in its low
//       nibble and element j + 16 in its high nibble.
//
// The quantizers reproduce ggml's reference quantizers bit for bit (round-to-nearest absmax):
//   q8_0: d = amax / 127, id = 1 / d,  qs_i = round(x_i * id)            (half away from 0)
//   q4_0: d = m / -8 (m the value of largest magnitude, sign kept), id = 1 / d,
//         q_i = min(15, trunc(x_i * id + 8.5))
// with d computed in f32 and stored rounded to f16, so files written here and by ggml agree.
// Error bound per block with amax = max|x|: q8_0 |err| <= d/2 (plus the f16 rounding of d);
// q4_0 |err| <= |d| with d = amax / 8 (the extreme maps to -8 exactly, the other sign
// saturates at +7).
#pragma once

#include <cstdint>

#include "ggml/types.h"

namespace ggml {

struct BlockQ8_0 {
    f16_t d;
    int8_t qs[kQK8_0];
};
struct BlockQ4_0 {
    f16_t d;
    uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block must be 34 bytes");
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block must be 18 bytes");

// n must be a multiple of 32 (throws otherwise). src/dst hold n/32 blocks (any alignment).
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);

// q4_0x8: q4_0 rows interleaved in groups of eight (the CPU backend's layout for q4_0 matrix
// weights; see types.h). Group g (rows 8g .. 8g+7) takes the bytes the eight q4_0 rows took,
// as K/32 units of 144 bytes, one per block column b:
//   bytes   0 ..  15: the eight rows' f16 scales d, row order;
//   bytes  16 .. 143: four 32-byte vectors j = 0..3; vector j holds qs[4j .. 4j+3] of row 0,
//                     then of row 1, ... row 7.
// One 32-byte load then holds four codes of each of the eight rows (low nibbles: elements
// 4j..4j+3, high nibbles: 16+4j..16+4j+3), so a byte-dot instruction that sums groups of
// four bytes into 32-bit lanes (maddubs + madd, vpdpbusd, sdot) against four x codes
// broadcast to every lane yields one partial sum per row, and one conversion takes the eight
// scales. Repacking is a byte permutation: unpack_q4_0x8 restores the q4_0 rows exactly.
// src/dst hold M rows of K elements (K % 32 == 0, M % 8 == 0; throws otherwise), no overlap.
void repack_q4_0x8(const void* src, void* dst, int64_t K, int64_t M);
void unpack_q4_0x8(const void* src, void* dst, int64_t K, int64_t M);
// Row r (0..7) of the group starting at `group` to K floats.
void dequantize_q4_0x8_row(const void* group, int r, float* dst, int64_t K);

// n elements of a packed row of `type` (f32, f16, bf16, q8_0, q4_0) to f32 and back; n must
// be a multiple of the type's block size. Throws for i32.
void to_float_row(DType type, const void* src, float* dst, int64_t n);
void from_float_row(DType type, const float* src, void* dst, int64_t n);

}  // namespace ggml
