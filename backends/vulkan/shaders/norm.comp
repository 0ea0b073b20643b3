#version 450
// Row normalisations over ne[0] (f32), one workgroup per row:
//   op 0 rms_norm:   y = x / sqrt(mean(x^2) + eps)      (Zhang & Sennrich 2019, "Root Mean
//                    Square Layer Normalization")
//   op 1 layer_norm: y = (x - mean) / sqrt(var + eps)   (Ba et al. 2016), no gain or bias;
//                    var is the population variance, from a second pass over x - mean
// eps = fp[0]. Each invocation strides over the row and writes only the elements it read, so
// y may share x's memory (in place).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define WG 128u
layout(local_size_x = 128) in;
#include "reduce.glsl"

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)

void main() {
    const uint row = group_index();
    if (row >= pc.n) return;  // uniform across the workgroup
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const uint n = A.ne.x;
    const uvec4 r = unravel(row, uvec4(1u, A.ne.y, A.ne.z, A.ne.w));
    const uint xa = elem_offset(A, 0u, r.y, r.z, r.w);
    const uint ya = elem_offset(D, 0u, r.y, r.z, r.w);
    const uint t = gl_LocalInvocationID.x;
    float mean = 0.0;
    if (pc.op == 1u) {
        float s = 0.0;
        for (uint i = t; i < n; i += WG) s += LOAD_F32(srca, xa + i * A.nb.x);
        mean = wg_sum(s) / float(n);
    }
    float ss = 0.0;
    for (uint i = t; i < n; i += WG) {
        const float d = LOAD_F32(srca, xa + i * A.nb.x) - mean;
        ss += d * d;
    }
    const float inv = inversesqrt(wg_sum(ss) / float(n) + P.fp[0]);
    for (uint i = t; i < n; i += WG)
        STORE_F32(dst, ya + i * D.nb.x, (LOAD_F32(srca, xa + i * A.nb.x) - mean) * inv);
}
