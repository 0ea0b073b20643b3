#version 450
// Element-wise binary ops on f32, b broadcast by repetition (b.ne[i] divides a.ne[i]):
//   y[i] = a[i] op b[i0 % b.ne0, i1 % b.ne1, i2 % b.ne2, i3 % b.ne3]
//   op (push constant): 0 add, 1 sub, 2 mul, 3 div,
//                       4 swiglu: silu(a) * b = a / (1 + exp(-a)) * b (Shazeer 2020, "GLU
//                         Variants Improve Transformer"; b has a's shape, so the modulo is a no-op)
// One invocation per element; each element of a is read before the same element of y is
// written, so y may share a's memory (in place).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF32(srcb, 3)

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc B = P.t[2];
    const uvec4 idx = unravel(i, D.ne);
    const float a = LOAD_F32(srca, elem_offset(A, idx.x, idx.y, idx.z, idx.w));
    const uvec4 jb = idx % B.ne;
    const float b = LOAD_F32(srcb, elem_offset(B, jb.x, jb.y, jb.z, jb.w));
    float y;
    switch (pc.op) {
        case 0u: y = a + b; break;
        case 1u: y = a - b; break;
        case 2u: y = a * b; break;
        case 3u: y = a / b; break;
        default: y = a / (1.0 + exp(-a)) * b; break;
    }
    STORE_F32(dst, elem_offset(D, idx.x, idx.y, idx.z, idx.w), y);
}
