#version 450
// sum_rows: y[0, i1, i2, i3] = sum_i x[i, i1, i2, i3] (f32), one workgroup per row, a strided
// partial sum per invocation then a tree reduction in shared memory.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define WG 128u
layout(local_size_x = 128) in;
#include "reduce.glsl"

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)

void main() {
    const uint row = group_index();
    if (row >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const uvec4 r = unravel(row, uvec4(1u, A.ne.y, A.ne.z, A.ne.w));
    const uint xa = elem_offset(A, 0u, r.y, r.z, r.w);
    float s = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < A.ne.x; i += WG) s += LOAD_F32(srca, xa + i * A.nb.x);
    s = wg_sum(s);
    if (gl_LocalInvocationID.x == 0u) STORE_F32(dst, elem_offset(D, 0u, r.y, r.z, r.w), s);
}
