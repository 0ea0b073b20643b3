// Element types, half-precision conversions and the library's error type.
//
// f16 is IEEE 754 binary16; bf16 is the upper half of a binary32 (round to nearest even on
// conversion). Both are stored as uint16_t so that tensors stay plain bytes.
//
// q8_0 and q4_0 are GGUF's (ggml's) block-quantized types, byte for byte, so quantized GGUF
// files map without conversion. A row of ne0 elements is ne0 / 32 blocks:
//   q8_0 block (34 bytes): f16 d, int8 qs[32];   x[i] = d * qs[i]
//   q4_0 block (18 bytes): f16 d, uint8 qs[16];  x[i] = d * ((qs[i] & 15) - 8),
//                                                x[i + 16] = d * ((qs[i] >> 4) - 8)
// so a quantized tensor's ne0 must be a multiple of 32, nb[0] is the block size in bytes and
// only whole rows can be viewed.
//
// q4_0x8 is q4_0 with every eight consecutive rows interleaved, the CPU backend's layout for
// q4_0 weights (made by repack_q4_0x8 in quant.h, never read from or written to a file). It
// has q4_0's 18 bytes per 32 weights, but a single row is not addressable: ne1 must be a
// multiple of 8, the tensor cannot be viewed, and only mul_mat takes it (as weights).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ggml {

// Every failure the library reports (bad shapes, bad files, budgets) is a ggml::Error whose
// message names the operation and the offending values.
class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

enum class DType : uint8_t {
    F32 = 0,
    F16 = 1,
    BF16 = 2,
    I32 = 3,
    Q8_0 = 4,
    Q4_0 = 5,
    Q4_0X8 = 6,
    COUNT
};

struct DTypeInfo {
    const char* name;
    size_t size;  // bytes per block (per element when blck == 1)
    bool is_float;
    int64_t blck;  // elements per block: 1, or 32 for q8_0/q4_0/q4_0x8
    int64_t rows;  // rows interleaved in one group: 1, or 8 for q4_0x8
};

const DTypeInfo& dtype_info(DType t);
inline const char* dtype_name(DType t) {
    return dtype_info(t).name;
}
inline size_t dtype_size(DType t) {
    return dtype_info(t).size;
}
inline int64_t dtype_blck(DType t) {
    return dtype_info(t).blck;
}
// A block format whose rows can be addressed one by one (q8_0, q4_0); not q4_0x8.
inline bool dtype_is_quantized(DType t) {
    return dtype_info(t).blck > 1 && dtype_info(t).rows == 1;
}
// Rows stored interleaved in groups (q4_0x8): usable only whole, as mul_mat's weights.
inline bool dtype_is_interleaved(DType t) {
    return dtype_info(t).rows > 1;
}
// Bytes of a packed row of ne0 elements (ne0 a multiple of the block size); for q4_0x8 the
// average share of one row in its group.
inline size_t row_bytes(DType t, int64_t ne0) {
    return dtype_size(t) * (size_t)(ne0 / dtype_blck(t));
}

constexpr int64_t kQK8_0 = 32;  // elements per q8_0 block
constexpr int64_t kQK4_0 = 32;  // elements per q4_0 block

using f16_t = uint16_t;
using bf16_t = uint16_t;

inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float bits_f32(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// binary16 -> binary32, exact for every input (subnormals, inf, nan included).
inline float f16_to_f32(f16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        // subnormal: value = mant * 2^-24
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// binary32 -> binary16 with round-to-nearest-even, overflow to inf, nan kept quiet.
inline f16_t f32_to_f16(float f) {
    const uint32_t u = f32_bits(f);
    const uint32_t sign = (u >> 16) & 0x8000;
    const uint32_t absu = u & 0x7fffffff;
    if (absu >= 0x7f800000u) return (f16_t)(sign | 0x7c00 | (absu > 0x7f800000u ? 0x200 : 0));
    if (absu >= 0x477ff000u) return (f16_t)(sign | 0x7c00);  // rounds to >= 65520: inf
    if (absu < 0x38800000u) {                                // below 2^-14: subnormal or zero
        // value / 2^-24 rounded to nearest even integer
        const float v = bits_f32(absu) * 16777216.0f;
        float r = v + 12582912.0f;  // 1.5*2^23 forces rounding to integer (ties to even)
        r -= 12582912.0f;
        return (f16_t)(sign | (uint32_t)r);
    }
    uint32_t m = absu + 0xfff + ((absu >> 13) & 1);  // round to nearest even on bit 13
    return (f16_t)(sign | ((m - (112u << 23)) >> 13));
}

inline float bf16_to_f32(bf16_t h) {
    return bits_f32((uint32_t)h << 16);
}

inline bf16_t f32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40);  // quiet nan
    return (bf16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

}  // namespace ggml
