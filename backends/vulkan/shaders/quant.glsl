// Block-quantized q8_0 / q4_0 data (GGUF's layout, see ggml/quant.h) read and written as
// 32-bit words, so no 8-bit storage feature is needed.
//
//   q8_0 block (34 bytes): f16 d, int8 qs[32];   x[j] = d * qs[j]
//   q4_0 block (18 bytes): f16 d, uint8 qs[16];  x[j] = d * ((qs[j] & 15) - 8),
//                                                x[j + 16] = d * ((qs[j] >> 4) - 8)
//
// A quantized tensor's descriptor counts bytes (Desc.offs and every nb[], nb[0] = block size);
// blocks are only 2-byte aligned, so a 32-bit value may straddle two words. Every word read
// holds at least one byte of the block, so nothing outside the tensor's words is touched.
//
// Quantizing must agree bit for bit with the reference quantizers (ggml/quant.h):
//   q8_0: d = amax / 127, id = 1 / d, q = round_half_away(x * id) clamped to [-127, 127]
//   q4_0: d = m / -8 (m the first value of largest magnitude), id = 1 / d,
//         q = min(15, trunc(x * id + 8.5))
// each a single f32 operation rounded to nearest even, then d stored as f16 (nearest even).
// Vulkan allows 2.5 ulp for division, lets denormals be flushed and does not fix the rounding
// mode, so these steps run on integer bit patterns here (div_rn, mul_rn, f32_to_f16_rne) and
// only exact float comparisons remain. Dequantizing is exact anyway: d * q has at most 19
// significant bits and |d| >= 2^-24, so the f32 product is never rounded or subnormal.

bool is_quant(uint type) { return type == T_Q8_0 || type == T_Q4_0; }
uint quant_block_bytes(uint type) { return type == T_Q8_0 ? 34u : 18u; }

// binary16 bit pattern -> f32, exact for every input (subnormals built from integers, so a
// device that flushes f16 denormals still gets them right).
float f16_bits_to_f32(uint h) {
    const uint sign = (h & 0x8000u) << 16;
    int e = int((h >> 10) & 0x1fu);
    uint m = h & 0x3ffu;
    if (e == 0x1f) return uintBitsToFloat(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0u) return uintBitsToFloat(sign);
        const int sh = 10 - findMSB(m);  // normalize: bit 10 becomes the implicit one
        m = (m << uint(sh)) & 0x3ffu;
        e = 1 - sh;
    }
    return uintBitsToFloat(sign | (uint(e + 112) << 23) | (m << 13));
}

// m / 2^s rounded to nearest even (s >= 0; 0 when s >= 32 and m < 2^31).
uint rshift_rne(uint m, uint s) {
    if (s == 0u) return m;
    if (s >= 32u) return 0u;
    const uint q = m >> s, rem = m & ((1u << s) - 1u), hf = 1u << (s - 1u);
    return q + ((rem > hf || (rem == hf && (q & 1u) != 0u)) ? 1u : 0u);
}

// binary32 bits -> binary16 bits, round to nearest even, overflow to inf, nan kept quiet.
uint f32_to_f16_rne(uint u) {
    const uint sign = (u >> 16) & 0x8000u;
    const uint a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u);
    if (a >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
    if (a < 0x38800000u) {
        // below 2^-14: value / 2^-24 rounded to an integer, value = M * 2^(e - 150)
        const uint e = a >> 23;
        const uint M = (a & 0x7fffffu) | (e != 0u ? 0x800000u : 0u);
        return sign | rshift_rne(M, 126u - max(e, 1u));
    }
    return sign | ((a + 0xfffu + ((a >> 13) & 1u) - (112u << 23)) >> 13);
}

// ---- correctly rounded f32 arithmetic on bit patterns ------------------------------------------

// |x| (finite, nonzero bits) as m * 2^(e - 150) with m in [2^23, 2^24) (subnormals normalized).
void unpack_f32(uint a, out uint m, out int e) {
    e = int(a >> 23);
    m = a & 0x7fffffu;
    if (e == 0) {
        const int sh = 23 - findMSB(m);
        m <<= uint(sh);
        e = 1 - sh;
    } else {
        m |= 0x800000u;
    }
}

uint bit64(uint hi, uint lo, uint k) {
    if (k < 32u) return (lo >> k) & 1u;
    return k < 64u ? (hi >> (k - 32u)) & 1u : 0u;
}
bool low_bits64(uint hi, uint lo, uint k) {  // any of bits [0, k) set
    if (k == 0u) return false;
    if (k < 32u) return (lo & ((1u << k) - 1u)) != 0u;
    if (lo != 0u) return true;
    if (k >= 64u) return hi != 0u;
    return k > 32u && (hi & ((1u << (k - 32u)) - 1u)) != 0u;
}
uint shr64(uint hi, uint lo, uint s) {  // (hi:lo) >> s, the result known to fit 32 bits
    if (s == 0u) return lo;
    if (s < 32u) return (lo >> s) | (hi << (32u - s));
    return s < 64u ? hi >> (s - 32u) : 0u;
}

// The f32 nearest (ties to even) to (hi:lo + sticky) / 2^s * 2^(E - 150), where that mantissa
// lies in [2^23, 2^24) when E >= 1; E < 1 goes subnormal. sticky: a nonzero tail below hi:lo.
uint pack_rn(uint sign, int E, uint hi, uint lo, uint s, bool sticky) {
    if (E > 254) return sign | 0x7f800000u;
    if (E < 1) {
        s += uint(1 - E);
        E = 1;
    }
    uint q = shr64(hi, lo, s);
    const bool guard = s > 0u && bit64(hi, lo, s - 1u) != 0u;
    const bool rest = sticky || (s > 1u && low_bits64(hi, lo, s - 1u));
    if (guard && (rest || (q & 1u) != 0u)) q += 1u;
    // q carries the implicit bit, so a carry out of the mantissa bumps the exponent field.
    const uint bits = (uint(E - 1) << 23) + q;
    return sign | min(bits, 0x7f800000u);
}

// a / b for f32 bit patterns, correctly rounded (restoring long division).
uint div_rn(uint a, uint b) {
    const uint sign = (a ^ b) & 0x80000000u;
    const uint aa = a & 0x7fffffffu, ba = b & 0x7fffffffu;
    if (aa > 0x7f800000u || ba > 0x7f800000u) return 0x7fc00000u;
    if (aa == 0x7f800000u) return ba == 0x7f800000u ? 0x7fc00000u : sign | 0x7f800000u;
    if (ba == 0x7f800000u) return sign;
    if (ba == 0u) return aa == 0u ? 0x7fc00000u : sign | 0x7f800000u;
    if (aa == 0u) return sign;
    uint ma, mb;
    int ea, eb;
    unpack_f32(aa, ma, ea);
    unpack_f32(ba, mb, eb);
    // q = floor(ma * 2^25 / mb), in (2^24, 2^26)
    uint r = ma, q = 0u;
    for (int i = 0; i < 26; ++i) {
        q <<= 1;
        if (r >= mb) {
            r -= mb;
            q |= 1u;
        }
        r <<= 1;
    }
    const uint s = q >= (1u << 25) ? 2u : 1u;
    return pack_rn(sign, ea - eb + 125 + int(s), 0u, q, s, r != 0u);
}

// a * b for f32 bit patterns, correctly rounded.
uint mul_rn(uint a, uint b) {
    const uint sign = (a ^ b) & 0x80000000u;
    const uint aa = a & 0x7fffffffu, ba = b & 0x7fffffffu;
    if (aa > 0x7f800000u || ba > 0x7f800000u) return 0x7fc00000u;
    if (aa == 0x7f800000u || ba == 0x7f800000u)
        return (aa == 0u || ba == 0u) ? 0x7fc00000u : sign | 0x7f800000u;
    if (aa == 0u || ba == 0u) return sign;
    uint ma, mb;
    int ea, eb;
    unpack_f32(aa, ma, ea);
    unpack_f32(ba, mb, eb);
    uint hi, lo;
    umulExtended(ma, mb, hi, lo);  // in [2^46, 2^48)
    const uint s = (hi >> 15) != 0u ? 24u : 23u;
    return pack_rn(sign, ea + eb - 150 + int(s), hi, lo, s, false);
}

// ---- the quantizers' rounding ------------------------------------------------------------------

// q8_0 code of p = x * id: round half away from zero, clamped to [-127, 127]. A nan (x = 0
// with id = inf, only when all of the block is below ~2^-121 and d is stored as 0) gives -127
// as ggml::quantize_q8_0's max-then-min clamp does.
int q8_code(uint p) {
    const uint a = p & 0x7fffffffu;
    if (a > 0x7f800000u) return -127;
    const int sgn = (p >> 31) != 0u ? -1 : 1;
    const uint e = a >> 23;
    if (e < 126u) return 0;         // |p| < 0.5
    if (e >= 134u) return sgn * 127;  // |p| >= 128 (inf included)
    const uint M = (a & 0x7fffffu) | 0x800000u, s = 150u - e;  // |p| = M / 2^s, s in [17, 24]
    return sgn * min(127, int((M + (1u << (s - 1u))) >> s));
}

// q4_0 code of p = x * id: min(15, trunc(p + 8.5)) with the sum rounded to nearest even, as
// exact comparisons: the code is >= n exactly when p + 8.5 >= n - h_n (h_n half an ulp below
// n; the tie rounds to the even n), and kQ4Thr[n - 1] is the smallest f32 >= n - 8.5 - h_n.
// nan and inf give 0, as the reference's integer conversion does.
const uint kQ4Thr[15] = uint[15](0xc0f00000u, 0xc0d00000u, 0xc0b00000u, 0xc0900000u,
                                 0xc0600001u, 0xc0200001u, 0xbfc00002u, 0xbf000004u,
                                 0x3efffff0u, 0x3fbffffcu, 0x401ffffeu, 0x405ffffeu,
                                 0x408fffffu, 0x40afffffu, 0x40cfffffu);
uint q4_code(uint p) {
    if ((p & 0x7fffffffu) >= 0x7f800000u) return 0u;
    const float v = uintBitsToFloat(p);
    uint c = 0u;
    for (int n = 0; n < 15; ++n) c += v >= uintBitsToFloat(kQ4Thr[n]) ? 1u : 0u;
    return c;
}

// ---- reading blocks ----------------------------------------------------------------------------
// QBUF names the uint-array binding holding the quantized tensor; define it before including.

#ifdef QBUF
// The 16 bits at byte offset b (b even).
uint q_load16(uint b) { return (QBUF.d[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu; }
// The 32 bits at byte offset b (b even).
uint q_load32(uint b) {
    const uint w = b >> 2;
    if ((b & 2u) == 0u) return QBUF.d[w];
    return (QBUF.d[w] >> 16) | (QBUF.d[w + 1u] << 16);
}
float q_scale(uint blk) { return f16_bits_to_f32(q_load16(blk)); }
// Code j (0..31) of the block at byte blk: int8 for q8_0, nibble - 8 for q4_0.
int q_code(uint type, uint blk, uint j) {
    if (type == T_Q8_0) {
        const uint b = blk + 2u + j;
        return bitfieldExtract(int(q_load16(b & ~1u)), int((b & 1u) * 8u), 8);
    }
    const uint b = blk + 2u + (j & 15u);
    const uint byte = q_load16(b & ~1u) >> ((b & 1u) * 8u);
    return int((byte >> ((j >> 4) * 4u)) & 15u) - 8;
}
// Element i0 of the row starting at byte `row` (nb0 = block size).
float q_get(uint type, uint row, uint nb0, uint i0) {
    const uint blk = row + (i0 >> 5) * nb0;
    return q_scale(blk) * float(q_code(type, blk, i0 & 31u));
}
#endif
