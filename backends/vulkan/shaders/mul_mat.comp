#version 450
// mul_mat: y[m, n, i2, i3] = sum_k a[k, m, i2 / (B2 / A2), i3 / (B3 / A3)] * b[k, n, i2, i3]
// for a f32/f16/bf16/q8_0/q4_0 [K, M, A2, A3] and b f32 [K, N, B2, B3] (the batch broadcast
// is the GQA head mapping). Classic shared-memory tiling: a workgroup of 16x16 invocations
// computes a 32x32 tile of y, each invocation a 2x2 block (rows tx, tx+16; columns ty, ty+16),
// streaming K in steps of 16 through shared tiles of a and b (converted to f32 on load; quantized
// weights are dequantized exactly there).
// Workgroup grid: (ceil(M/32), ceil(N/32), B2*B3).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define TM 32u
#define TN 32u
#define TK 16u
layout(local_size_x = 16, local_size_y = 16) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF16(srca, 2)
#define QBUF srca32
#include "quant.glsl"
DECL_BUF32(srcb, 3)

shared float As[TK][TM + 1u];
shared float Bs[TK][TN + 1u];

void main() {
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc B = P.t[2];
    const uint K = A.ne.x, M = A.ne.y, N = B.ne.y;
    const uint b2 = gl_WorkGroupID.z % B.ne.z, b3 = gl_WorkGroupID.z / B.ne.z;
    const uint a2 = b2 / (B.ne.z / A.ne.z), a3 = b3 / (B.ne.w / A.ne.w);
    const uint abase = elem_offset(A, 0u, 0u, a2, a3);
    const uint bbase = elem_offset(B, 0u, 0u, b2, b3);
    const uint m0 = gl_WorkGroupID.x * TM, n0 = gl_WorkGroupID.y * TN;
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint lid = ty * 16u + tx;
    const bool aq = is_quant(A.type);

    float acc00 = 0.0, acc01 = 0.0, acc10 = 0.0, acc11 = 0.0;
    for (uint k0 = 0u; k0 < K; k0 += TK) {
        // 512 elements per tile, two per invocation; consecutive invocations read along k.
        for (uint e = 0u; e < 2u; ++e) {
            const uint l = lid + e * 256u;
            const uint kk = l % TK, rr = l / TK;
            const uint k = k0 + kk;
            float va = 0.0, vb = 0.0;
            if (k < K && m0 + rr < M) {
                const uint arow = abase + (m0 + rr) * A.nb.y;
                va = aq ? q_get(A.type, arow, A.nb.x, k)
                        : LOAD_FLOAT(srca, A.type, arow + k * A.nb.x);
            }
            if (k < K && n0 + rr < N) vb = LOAD_F32(srcb, bbase + (n0 + rr) * B.nb.y + k * B.nb.x);
            As[kk][rr] = va;
            Bs[kk][rr] = vb;
        }
        barrier();
        for (uint kk = 0u; kk < TK; ++kk) {
            const float a0 = As[kk][tx], a1 = As[kk][tx + 16u];
            const float bv0 = Bs[kk][ty], bv1 = Bs[kk][ty + 16u];
            acc00 += a0 * bv0;
            acc01 += a0 * bv1;
            acc10 += a1 * bv0;
            acc11 += a1 * bv1;
        }
        barrier();
    }
    const uint m = m0 + tx, n = n0 + ty;
    const uint ybase = elem_offset(D, 0u, 0u, b2, b3);
    if (m < M && n < N) STORE_F32(dst, ybase + m * D.nb.x + n * D.nb.y, acc00);
    if (m < M && n + 16u < N) STORE_F32(dst, ybase + m * D.nb.x + (n + 16u) * D.nb.y, acc01);
    if (m + 16u < M && n < N) STORE_F32(dst, ybase + (m + 16u) * D.nb.x + n * D.nb.y, acc10);
    if (m + 16u < M && n + 16u < N)
        STORE_F32(dst, ybase + (m + 16u) * D.nb.x + (n + 16u) * D.nb.y, acc11);
}
