#version 450
// set_rows (KV-cache write): y[:, ids[i, i2, i3], i2, i3] = convert(src[:, i, i2, i3]) for
// f32 rows src and y in f32/f16/bf16; y is the node's memory, which aliases the destination.
// One invocation per (element k, i2, i3) walks i = 0..n-1 in order, so when an id repeats the
// last write wins, exactly like a sequential loop, and no two invocations write one element.
// An id outside [0, y.ne1) skips that row and is reported through the error buffer.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF16(dst, 1)
DECL_BUF32(rows, 3)
DECL_BUF32(ids, 4)

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc S = P.t[2];
    const Desc I = P.t[3];
    const uvec4 idx = unravel(i, uvec4(S.ne.x, 1u, S.ne.z, S.ne.w));
    const uint k = idx.x, i2 = idx.z, i3 = idx.w;
    const bool d16 = D.type == T_F16 || D.type == T_BF16;
    for (uint r = 0u; r < S.ne.y; ++r) {
        const int id = int(ids32.d[elem_offset(I, r, i2, i3, 0u)]);
        if (id < 0 || uint(id) >= D.ne.y) {
            if (k == 0u) report_error(id, D.ne.y);
            continue;
        }
        const float v = LOAD_F32(rows, elem_offset(S, k, r, i2, i3));
        const uint di = elem_offset(D, k, uint(id), i2, i3);
        if (d16) {
            STORE16(dst, di, f32_to_half_bits(D.type, v));
        } else {
            STORE_F32(dst, di, v);
        }
    }
}
