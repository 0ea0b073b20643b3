#version 450
// mul_mat for few columns (N <= 8, e.g. one token of decode), same math as mul_mat.comp:
//   y[m, n, i2, i3] = sum_k a[k, m, i2 / (B2 / A2), i3 / (B3 / A3)] * b[k, n, i2, i3]
// One invocation per row m of a computes the dot products of that row with all N columns at
// once (a is read exactly once, sequentially along its packed row), with no shared memory and
// no barriers: workgroup barriers dominate small kernels on CPU implementations (lavapipe), and
// decode-time matrices are small. Workgroups of 64 rows; grid (rows folded into x/y, B2*B3).
// pc.n = M.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF16(srca, 2)
DECL_BUF32(srcb, 3)

void main() {
    const uint m = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 64u +
                   gl_LocalInvocationID.x;
    if (m >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc B = P.t[2];
    const uint K = A.ne.x, N = B.ne.y;
    const uint b2 = gl_WorkGroupID.z % B.ne.z, b3 = gl_WorkGroupID.z / B.ne.z;
    const uint a2 = b2 / (B.ne.z / A.ne.z), a3 = b3 / (B.ne.w / A.ne.w);
    const uint arow = elem_offset(A, 0u, m, a2, a3);
    const uint bbase = elem_offset(B, 0u, 0u, b2, b3);
    const uint ybase = elem_offset(D, m, 0u, b2, b3);
    const uint atype = A.type;
    // Columns in pairs of registers: constant trip counts keep the accumulators in registers.
    for (uint n0 = 0u; n0 < N; n0 += 2u) {
        const bool two = n0 + 1u < N;
        const uint b0 = bbase + n0 * B.nb.y, b1 = two ? b0 + B.nb.y : b0;
        float acc0 = 0.0, acc1 = 0.0;
        for (uint k = 0u; k < K; ++k) {
            const float av = LOAD_FLOAT(srca, atype, arow + k * A.nb.x);
            acc0 += av * LOAD_F32(srcb, b0 + k * B.nb.x);
            acc1 += av * LOAD_F32(srcb, b1 + k * B.nb.x);
        }
        STORE_F32(dst, ybase + n0 * D.nb.y, acc0);
        if (two) STORE_F32(dst, ybase + (n0 + 1u) * D.nb.y, acc1);
    }
}
