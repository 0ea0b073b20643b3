#version 450
// steer: y = scores + bias[j, i3 % bias.ne3] on the query heads (index i2) in the set P.bits,
// y = scores elsewhere. PASTA (Zhang et al. 2023, "Tell Your Model Where to Attend: Post-hoc
// Attention Steering for LLMs") multiplies the attention of keys outside the emphasised spans
// by alpha and renormalises, which equals adding log(alpha) to their scores before the softmax.
// One invocation per element; y may share the scores' memory (in place).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF32(scores, 2)
DECL_BUF32(bias, 3)

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc S = P.t[1];
    const Desc B = P.t[2];
    const uvec4 idx = unravel(i, D.ne);
    float y = LOAD_F32(scores, elem_offset(S, idx.x, idx.y, idx.z, idx.w));
    const uint h = idx.z;
    if (h < 256u && ((P.bits[h >> 5] >> (h & 31u)) & 1u) != 0u)
        y += LOAD_F32(bias, elem_offset(B, idx.x, 0u, 0u, idx.w % B.ne.w));
    STORE_F32(dst, elem_offset(D, idx.x, idx.y, idx.z, idx.w), y);
}
