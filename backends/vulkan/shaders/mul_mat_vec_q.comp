#version 450
// mul_mat for few columns (N <= 8) with q8_0 / q4_0 weights a [K, M, A2, A3] and b f32:
//   y[m, n, i2, i3] = sum_k a[k, m, i2 / (B2 / A2), i3 / (B3 / A3)] * b[k, n, i2, i3]
// As mul_mat_vec.comp, one invocation per row m, no shared memory and no barriers; the row is
// walked block by block: the codes (exact integers) are dotted with b in f32 and the block's
// sum is scaled by its d once, sum_b d_b * sum_j q_bj * b_j, so the weights enter exactly and
// only the f32 accumulation rounds. Columns go four at a time (vec4 accumulators; a missing
// column re-reads the first and is not stored). Grid (rows folded into x/y in groups of 64,
// B2*B3); pc.n = M.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF32(srcb, 3)
#define QBUF srca32
#include "quant.glsl"

void main() {
    const uint m = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 64u +
                   gl_LocalInvocationID.x;
    if (m >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc B = P.t[2];
    const uint nblk = A.ne.x >> 5, N = B.ne.y;
    const uint b2 = gl_WorkGroupID.z % B.ne.z, b3 = gl_WorkGroupID.z / B.ne.z;
    const uint a2 = b2 / (B.ne.z / A.ne.z), a3 = b3 / (B.ne.w / A.ne.w);
    const uint arow = elem_offset(A, 0u, m, a2, a3);  // bytes
    const uint bbase = elem_offset(B, 0u, 0u, b2, b3);
    const uint ybase = elem_offset(D, m, 0u, b2, b3);
    const uint bk = B.nb.x;
    const bool q8 = A.type == T_Q8_0;
    for (uint n0 = 0u; n0 < N; n0 += 4u) {
        uvec4 col = uvec4(n0) + uvec4(0u, 1u, 2u, 3u);
        col = mix(uvec4(n0), col, lessThan(col, uvec4(N)));
        const uvec4 bc = uvec4(bbase) + col * B.nb.y;
        vec4 acc = vec4(0.0);
        for (uint ib = 0u; ib < nblk; ++ib) {
            const uint blk = arow + ib * A.nb.x;
            const uint k0 = ib * 32u;
            vec4 s = vec4(0.0);
            if (q8) {
                for (uint w = 0u; w < 8u; ++w) {
                    const int word = int(q_load32(blk + 2u + 4u * w));
                    for (uint t = 0u; t < 4u; ++t) {
                        const uvec4 bi = bc + (k0 + 4u * w + t) * bk;
                        const vec4 bv = vec4(LOAD_F32(srcb, bi.x), LOAD_F32(srcb, bi.y),
                                             LOAD_F32(srcb, bi.z), LOAD_F32(srcb, bi.w));
                        s += float(bitfieldExtract(word, int(8u * t), 8)) * bv;
                    }
                }
            } else {
                for (uint w = 0u; w < 4u; ++w) {
                    const uint word = q_load32(blk + 2u + 4u * w);
                    for (uint t = 0u; t < 4u; ++t) {
                        const uint byte = word >> (8u * t);
                        const uvec4 bl = bc + (k0 + 4u * w + t) * bk;
                        const uvec4 bh = bl + 16u * bk;
                        const vec4 vl = vec4(LOAD_F32(srcb, bl.x), LOAD_F32(srcb, bl.y),
                                             LOAD_F32(srcb, bl.z), LOAD_F32(srcb, bl.w));
                        const vec4 vh = vec4(LOAD_F32(srcb, bh.x), LOAD_F32(srcb, bh.y),
                                             LOAD_F32(srcb, bh.z), LOAD_F32(srcb, bh.w));
                        s += float(int(byte & 15u) - 8) * vl;
                        s += float(int((byte >> 4) & 15u) - 8) * vh;
                    }
                }
            }
            acc += q_scale(blk) * s;
        }
        STORE_F32(dst, ybase + n0 * D.nb.y, acc.x);
        if (n0 + 1u < N) STORE_F32(dst, ybase + (n0 + 1u) * D.nb.y, acc.y);
        if (n0 + 2u < N) STORE_F32(dst, ybase + (n0 + 2u) * D.nb.y, acc.z);
        if (n0 + 3u < N) STORE_F32(dst, ybase + (n0 + 3u) * D.nb.y, acc.w);
    }
}
