#version 450
// argmax: y[i1, i2, i3] = the index of the first maximum of row x[:, i1, i2, i3] (f32 -> i32).
// One workgroup per row: each invocation keeps the first maximum of its strided share, then a
// tree reduction keeps the larger value, and on ties the smaller index, so the result is the
// first maximum whatever the order of the partial results. NaN never wins a comparison
// (as in a sequential scan starting from element 0, which is the fallback when every value is
// NaN or the row starts with one).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define WG 128u
layout(local_size_x = 128) in;
shared float best_v[WG];
shared uint best_i[WG];

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)

void main() {
    const uint row = group_index();
    if (row >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const uvec4 r = unravel(row, uvec4(1u, A.ne.y, A.ne.z, A.ne.w));
    const uint xa = elem_offset(A, 0u, r.y, r.z, r.w);
    const uint t = gl_LocalInvocationID.x;
    // Sequential semantics: start from element 0, replace only on a strictly greater value.
    float bv = LOAD_F32(srca, xa);
    uint bi = 0u;
    for (uint i = t; i < A.ne.x; i += WG) {
        const float v = LOAD_F32(srca, xa + i * A.nb.x);
        if (v > bv) {
            bv = v;
            bi = i;
        }
    }
    best_v[t] = bv;
    best_i[t] = bi;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) {
            const float ov = best_v[t + s];
            const uint oi = best_i[t + s];
            if (ov > best_v[t] || (ov == best_v[t] && oi < best_i[t])) {
                best_v[t] = ov;
                best_i[t] = oi;
            }
        }
        barrier();
    }
    if (t == 0u) dst32.d[elem_offset(D, r.y, r.z, r.w, 0u)] = best_i[0];
}
