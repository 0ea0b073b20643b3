#version 450
// Rotary position embedding (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary
// Position Embedding") of a f32 [D, n_heads, n_tokens, B] with i32 positions pos[n_tokens].
// The first n_dims elements of each row rotate in pairs; pair i (0 <= i < n_dims/2) turns by
//     theta_i = pos * freq_base^(-2i / n_dims):
//     (x0, x1) -> (x0 cos theta - x1 sin theta, x0 sin theta + x1 cos theta)
// with the pair (x[2i], x[2i+1]) in interleaved mode (ip[1] = 0: llama2.c, Meta's llama) and
// (x[i], x[i + n_dims/2]) in NeoX mode (ip[1] = 2). Elements n_dims..D-1 pass through.
// One invocation per output element; it reads both members of its pair.
// ip[0] = n_dims, fp[0] = freq_base. The angle is formed in f32 (the CPU uses f64): its
// relative error is a few ulp, which for positions in the thousands stays below 1e-3 rad.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF32(pos, 3)

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc Pos = P.t[2];
    const uint n_dims = uint(P.ip[0]);
    const bool neox = P.ip[1] == 2;
    const uvec4 idx = unravel(i, D.ne);
    const uint xa = elem_offset(A, 0u, idx.y, idx.z, idx.w);
    const uint yi = elem_offset(D, idx.x, idx.y, idx.z, idx.w);
    const uint i0 = idx.x;
    if (i0 >= n_dims) {
        STORE_F32(dst, yi, LOAD_F32(srca, xa + i0 * A.nb.x));
        return;
    }
    const uint half_dims = n_dims / 2u;
    const uint p = neox ? i0 % half_dims : i0 / 2u;
    const uint j0 = neox ? p : 2u * p;
    const uint j1 = neox ? p + half_dims : 2u * p + 1u;
    const float x0 = LOAD_F32(srca, xa + j0 * A.nb.x);
    const float x1 = LOAD_F32(srca, xa + j1 * A.nb.x);
    const int position = int(pos32.d[Pos.offs + idx.z * Pos.nb.x]);
    const float inv_freq = exp2(-2.0 * float(p) / float(n_dims) * log2(P.fp[0]));
    const float theta = float(position) * inv_freq;
    const float c = cos(theta), s = sin(theta);
    STORE_F32(dst, yi, i0 == j0 ? x0 * c - x1 * s : x0 * s + x1 * c);
}
