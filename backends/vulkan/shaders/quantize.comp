#version 450
// cpy f32 -> q8_0 / q4_0: y = quantize(a) block by block, with ggml's reference rounding
// (see quant.glsl and ggml/quant.h), bit for bit:
//   q8_0: d = amax / 127, id = 1 / d, q = round_half_away(x * id)
//   q4_0: d = m / -8, id = 1 / d, q = min(15, trunc(x * id + 8.5))
// a f32 with any strides (a transposed source is gathered), y's rows packed. One invocation
// per block; pc.n = number of blocks. A block is 17 (q8_0) or 9 (q4_0) 16-bit halves starting
// at an even byte, so all its words but one are its own: that one, shared with the
// neighbouring block, is written with an atomic and/or pair.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "quant.glsl"

layout(local_size_x = 64) in;

DECL_BUF32(dst, 1)
DECL_BUF32(src, 2)

void store_half(uint w, uint shift, uint v) {
    atomicAnd(dst32.d[w], ~(0xffffu << shift));
    atomicOr(dst32.d[w], (v & 0xffffu) << shift);
}

void main() {
    const uint i = group_index() * 64u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc S = P.t[1];
    const uint nbk = D.ne.x >> 5;
    const uint ib = i % nbk;
    uint r = i / nbk;
    const uint i1 = r % D.ne.y;
    r /= D.ne.y;
    const uint i2 = r % D.ne.z, i3 = r / D.ne.z;
    const bool q8 = D.type == T_Q8_0;

    uint x[32];
    uint amax = 0u, m = 0u;  // |x| bits compare like the values (nan skipped)
    for (uint j = 0u; j < 32u; ++j) {
        x[j] = src32.d[elem_offset(S, ib * 32u + j, i1, i2, i3)];
        const uint a = x[j] & 0x7fffffffu;
        if (a > amax && a <= 0x7f800000u) {
            amax = a;
            m = x[j];
        }
    }
    const uint d = q8 ? div_rn(amax, 0x42fe0000u) : div_rn(m, 0xc1000000u);  // 127, -8
    const uint id = (d & 0x7fffffffu) != 0u ? div_rn(0x3f800000u, d) : 0u;

    uint hw[17];  // the block as 16-bit halves: d, then the codes
    hw[0] = f32_to_f16_rne(d);
    if (q8) {
        for (uint k = 0u; k < 16u; ++k) {
            const uint lo = uint(q8_code(mul_rn(x[2u * k], id))) & 0xffu;
            const uint hi = uint(q8_code(mul_rn(x[2u * k + 1u], id))) & 0xffu;
            hw[1u + k] = lo | (hi << 8);
        }
    } else {
        for (uint k = 0u; k < 8u; ++k) {
            const uint b0 = q4_code(mul_rn(x[2u * k], id)) |
                            (q4_code(mul_rn(x[2u * k + 16u], id)) << 4);
            const uint b1 = q4_code(mul_rn(x[2u * k + 1u], id)) |
                            (q4_code(mul_rn(x[2u * k + 17u], id)) << 4);
            hw[1u + k] = b0 | (b1 << 8);
        }
        for (uint k = 9u; k < 17u; ++k) hw[k] = 0u;
    }

    const uint nfull = q8 ? 8u : 4u;  // whole words of the block; (17 or 9 halves - 1) / 2
    const uint o = D.offs + ib * D.nb.x + i1 * D.nb.y + i2 * D.nb.z + i3 * D.nb.w;
    const uint w0 = o >> 2;
    if ((o & 2u) == 0u) {
        for (uint k = 0u; k < nfull; ++k) dst32.d[w0 + k] = hw[2u * k] | (hw[2u * k + 1u] << 16);
        store_half(w0 + nfull, 0u, hw[2u * nfull]);
    } else {
        store_half(w0, 16u, hw[0]);
        for (uint k = 0u; k < nfull; ++k)
            dst32.d[w0 + 1u + k] = hw[2u * k + 1u] | (hw[2u * k + 2u] << 16);
    }
}
