#version 450
// cont / cpy: y[i0, i1, i2, i3] = convert(a[i0, i1, i2, i3]) for a with any strides and y
// contiguous (its own strides are honoured too). One invocation per element of y.
// Conversions go through f32: f16 -> f32 is exact, f32 -> f16 uses packHalf2x16 and
// f32 -> bf16 rounds to nearest even; equal dtypes copy the bit pattern (i32 included).
// A q8_0 / q4_0 source is dequantized (y f32, exact: d * q); quantizing is quantize.comp.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF16(dst, 1)
DECL_BUF32(src, 2)
DECL_BUF16(src, 2)
#define QBUF src32
#include "quant.glsl"

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc S = P.t[1];
    const uvec4 idx = unravel(i, D.ne);
    const uint di = elem_offset(D, idx.x, idx.y, idx.z, idx.w);
    if (is_quant(S.type)) {
        const uint row = elem_offset(S, 0u, idx.y, idx.z, idx.w);
        STORE_F32(dst, di, q_get(S.type, row, S.nb.x, idx.x));
        return;
    }
    const uint si = elem_offset(S, idx.x, idx.y, idx.z, idx.w);
    const bool d16 = D.type == T_F16 || D.type == T_BF16;
    const bool s16 = S.type == T_F16 || S.type == T_BF16;
    if (S.type == D.type) {
        if (d16) {
            STORE16(dst, di, LOAD16(src, si));
        } else {
            dst32.d[di] = src32.d[si];
        }
        return;
    }
    const float v = LOAD_FLOAT(src, S.type, si);
    if (d16) {
        STORE16(dst, di, f32_to_half_bits(D.type, v));
    } else {
        STORE_F32(dst, di, v);
    }
}
