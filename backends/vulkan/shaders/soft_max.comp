#version 450
// soft_max over ne[0] (f32), one workgroup per row (i1 = query row i):
//   v_j = scale * x_j + mask[j, i, i2 % m.ne2, i3 % m.ne3]   (mask optional)
//   v_j = -inf when causal and j > i + causal_offset
//   y_j = exp(v_j - max v) / sum_k exp(v_k - max v); a row whose every v_j is -inf gives zeros.
// The max is subtracted before exp (overflow guard). Pass 1 writes v into y and each invocation
// later rereads only the elements it wrote, so no barrier is needed between the passes beyond
// the reductions. ip[0] = causal, ip[1] = causal_offset, ip[2] = has mask, fp[0] = scale.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define WG 128u
layout(local_size_x = 128) in;
#include "reduce.glsl"

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF32(mask, 3)

void main() {
    const uint row = group_index();
    if (row >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc M = P.t[2];
    const bool causal = P.ip[0] != 0;
    const int offset = P.ip[1];
    const bool has_mask = P.ip[2] != 0;
    const float scale = P.fp[0];
    const uint n = A.ne.x;
    const uvec4 r = unravel(row, uvec4(1u, A.ne.y, A.ne.z, A.ne.w));
    const uint xa = elem_offset(A, 0u, r.y, r.z, r.w);
    const uint ya = elem_offset(D, 0u, r.y, r.z, r.w);
    const uint ma = has_mask ? elem_offset(M, 0u, r.y, r.z % M.ne.z, r.w % M.ne.w) : 0u;
    // Keys j < limit are visible; limit <= 0 hides the whole row.
    const int limit = causal ? min(int(n), int(r.y) + offset + 1) : int(n);
    const uint t = gl_LocalInvocationID.x;
    const float NEG_INF = uintBitsToFloat(0xff800000u);

    float mx = NEG_INF;
    for (uint j = t; j < n; j += WG) {
        float v = NEG_INF;
        if (int(j) < limit) {
            v = scale * LOAD_F32(srca, xa + j * A.nb.x);
            if (has_mask) v += LOAD_F32(mask, ma + j * M.nb.x);
        }
        STORE_F32(dst, ya + j * D.nb.x, v);
        mx = max(mx, v);
    }
    mx = wg_max(mx);
    if (mx == NEG_INF) {
        for (uint j = t; j < n; j += WG) STORE_F32(dst, ya + j * D.nb.x, 0.0);
        return;
    }
    float s = 0.0;
    for (uint j = t; j < n; j += WG) {
        const float e = exp(LOAD_F32(dst, ya + j * D.nb.x) - mx);
        STORE_F32(dst, ya + j * D.nb.x, e);
        s += e;
    }
    const float inv = 1.0 / wg_sum(s);
    for (uint j = t; j < n; j += WG)
        STORE_F32(dst, ya + j * D.nb.x, LOAD_F32(dst, ya + j * D.nb.x) * inv);
}
