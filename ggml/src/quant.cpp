// q8_0 / q4_0 block quantization (see ggml/quant.h for the formats and the rounding rules).
// Built with -ffp-contract=off (ggml/CMakeLists.txt): x * id + 8.5 must round twice, as in
// ggml's reference, or a fused multiply-add on some targets would move a few ties.
#include "ggml/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace ggml {

namespace {

void check_blocks(const char* fn, int64_t n, int64_t qk) {
    if (n < 0 || n % qk != 0)
        throw Error(std::string(fn) + ": n = " + std::to_string(n) +
                    " is not a multiple of the block size " + std::to_string(qk));
}

}  // namespace

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    check_blocks("dequantize_q8_0", n, kQK8_0);
    const uint8_t* p = (const uint8_t*)src;
    for (int64_t b = 0; b < n / kQK8_0; ++b, p += sizeof(BlockQ8_0)) {
        BlockQ8_0 blk;
        std::memcpy(&blk, p, sizeof blk);  // src may be unaligned inside a file
        const float d = f16_to_f32(blk.d);
        for (int64_t i = 0; i < kQK8_0; ++i) dst[b * kQK8_0 + i] = d * (float)blk.qs[i];
    }
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    check_blocks("dequantize_q4_0", n, kQK4_0);
    const uint8_t* p = (const uint8_t*)src;
    constexpr int64_t half = kQK4_0 / 2;
    for (int64_t b = 0; b < n / kQK4_0; ++b, p += sizeof(BlockQ4_0)) {
        BlockQ4_0 blk;
        std::memcpy(&blk, p, sizeof blk);
        const float d = f16_to_f32(blk.d);
        float* y = dst + b * kQK4_0;
        for (int64_t j = 0; j < half; ++j) {
            y[j] = (float)((int)(blk.qs[j] & 0x0f) - 8) * d;
            y[j + half] = (float)((int)(blk.qs[j] >> 4) - 8) * d;
        }
    }
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
    check_blocks("quantize_q8_0", n, kQK8_0);
    uint8_t* p = (uint8_t*)dst;
    for (int64_t b = 0; b < n / kQK8_0; ++b, p += sizeof(BlockQ8_0)) {
        const float* x = src + b * kQK8_0;
        float amax = 0.0f;
        for (int64_t i = 0; i < kQK8_0; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        BlockQ8_0 blk;
        blk.d = f32_to_f16(d);
        // |x * id| <= 127 up to one rounding of id; the clamp only guards that last ulp.
        for (int64_t i = 0; i < kQK8_0; ++i)
            blk.qs[i] = (int8_t)std::min(127.0f, std::max(-127.0f, std::round(x[i] * id)));
        std::memcpy(p, &blk, sizeof blk);
    }
}

void quantize_q4_0(const float* src, void* dst, int64_t n) {
    check_blocks("quantize_q4_0", n, kQK4_0);
    uint8_t* p = (uint8_t*)dst;
    constexpr int64_t half = kQK4_0 / 2;
    for (int64_t b = 0; b < n / kQK4_0; ++b, p += sizeof(BlockQ4_0)) {
        const float* x = src + b * kQK4_0;
        // The signed extreme maps to -8 exactly, which uses the full asymmetric range [-8, 7].
        float amax = 0.0f, m = 0.0f;
        for (int64_t i = 0; i < kQK4_0; ++i) {
            if (std::fabs(x[i]) > amax) {
                amax = std::fabs(x[i]);
                m = x[i];
            }
        }
        const float d = m / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        BlockQ4_0 blk;
        blk.d = f32_to_f16(d);
        // x * id lies in [-8, 8], so x * id + 8.5 is in [0.5, 16.5] and truncation rounds.
        auto q = [id](float v) {
            const float t = v * id + 8.5f;
            return (uint8_t)std::min(15, std::max(0, (int)t));
        };
        for (int64_t j = 0; j < half; ++j) blk.qs[j] = (uint8_t)(q(x[j]) | (q(x[j + half]) << 4));
        std::memcpy(p, &blk, sizeof blk);
    }
}

void to_float_row(DType type, const void* src, float* dst, int64_t n) {
    const uint8_t* p = (const uint8_t*)src;
    switch (type) {
        case DType::F32:
            std::memcpy(dst, src, (size_t)n * 4);
            return;
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) {
                f16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                dst[i] = f16_to_f32(h);
            }
            return;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                bf16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                dst[i] = bf16_to_f32(h);
            }
            return;
        case DType::Q8_0:
            dequantize_q8_0(src, dst, n);
            return;
        case DType::Q4_0:
            dequantize_q4_0(src, dst, n);
            return;
        default:
            break;
    }
    throw Error(std::string("to_float_row: ") + dtype_name(type) + " is not a float type");
}

namespace {

void check_q4_0x8_shape(const char* fn, int64_t K, int64_t M) {
    if (K <= 0 || K % kQK4_0 != 0 || M <= 0 || M % 8 != 0)
        throw Error(std::string(fn) + ": K = " + std::to_string(K) +
                    " and M = " + std::to_string(M) + " must be positive multiples of 32 and 8");
}

// Byte offset, inside a group's unit for one block column, of row r's code byte i (0..15).
constexpr size_t q4x8_code_at(int r, int i) {
    return 16 + (size_t)(i / 4) * 32 + (size_t)r * 4 + (size_t)(i % 4);
}

}  // namespace

// Moves every byte between q4_0 rows (`rows`) and the q4_0x8 layout (`x8`), either way.
template <bool ToX8>
void permute_q4_0x8(const char* fn, const void* src, void* dst, int64_t K, int64_t M) {
    check_q4_0x8_shape(fn, K, M);
    const int64_t nblk = K / kQK4_0;
    const size_t rb = (size_t)nblk * sizeof(BlockQ4_0);
    for (int64_t g = 0; g < M / 8; ++g) {
        const size_t at = (size_t)g * 8 * rb;
        for (int64_t b = 0; b < nblk; ++b)
            for (int r = 0; r < 8; ++r) {
                const size_t unit = at + (size_t)b * 144;
                const size_t blk = at + (size_t)r * rb + (size_t)b * sizeof(BlockQ4_0);
                auto move = [&](size_t x8, size_t rows) {
                    if (ToX8)
                        ((uint8_t*)dst)[x8] = ((const uint8_t*)src)[rows];
                    else
                        ((uint8_t*)dst)[rows] = ((const uint8_t*)src)[x8];
                };
                move(unit + 2 * (size_t)r, blk);
                move(unit + 2 * (size_t)r + 1, blk + 1);
                for (int i = 0; i < 16; ++i) move(unit + q4x8_code_at(r, i), blk + 2 + (size_t)i);
            }
    }
}

void repack_q4_0x8(const void* src, void* dst, int64_t K, int64_t M) {
    permute_q4_0x8<true>("repack_q4_0x8", src, dst, K, M);
}

void unpack_q4_0x8(const void* src, void* dst, int64_t K, int64_t M) {
    permute_q4_0x8<false>("unpack_q4_0x8", src, dst, K, M);
}

void dequantize_q4_0x8_row(const void* group, int r, float* dst, int64_t K) {
    check_q4_0x8_shape("dequantize_q4_0x8_row", K, 8);
    if (r < 0 || r > 7) throw Error("dequantize_q4_0x8_row: row " + std::to_string(r));
    for (int64_t b = 0; b < K / kQK4_0; ++b) {
        const uint8_t* unit = (const uint8_t*)group + (size_t)b * 144;
        f16_t h;
        std::memcpy(&h, unit + 2 * r, 2);
        const float d = f16_to_f32(h);
        for (int i = 0; i < 16; ++i) {
            const uint8_t q = unit[q4x8_code_at(r, i)];
            dst[32 * b + i] = d * (float)((q & 15) - 8);
            dst[32 * b + i + 16] = d * (float)((q >> 4) - 8);
        }
    }
}

void from_float_row(DType type, const float* src, void* dst, int64_t n) {
    uint8_t* p = (uint8_t*)dst;
    switch (type) {
        case DType::F32:
            std::memcpy(dst, src, (size_t)n * 4);
            return;
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) {
                const f16_t h = f32_to_f16(src[i]);
                std::memcpy(p + 2 * i, &h, 2);
            }
            return;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                const bf16_t h = f32_to_bf16(src[i]);
                std::memcpy(p + 2 * i, &h, 2);
            }
            return;
        case DType::Q8_0:
            quantize_q8_0(src, dst, n);
            return;
        case DType::Q4_0:
            quantize_q4_0(src, dst, n);
            return;
        default:
            break;
    }
    throw Error(std::string("from_float_row: ") + dtype_name(type) + " is not a float type");
}

}  // namespace ggml
