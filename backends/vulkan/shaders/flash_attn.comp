#version 450
// Fused attention with a tiled online softmax (FlashAttention-2 loop order: Dao 2023,
// "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning").
//
// For query row i of query head h (batch b) and key j:
//     s_ij = scale * q_i . k_j
//     s_ij = softcap * tanh(s_ij / softcap)        when softcap > 0
//     s_ij += mask[j, i, h % m.ne2, b % m.ne3]     when a mask is given
//     s_ij += bias[j, 0, 0, b % bias.ne3]          when head h is steered (PASTA, Zhang et al.
//                                                  2023: log(alpha) on de-emphasised keys)
//     s_ij = -inf                                  when causal and j > i + causal_offset
//     o_i  = sum_j softmax_j(s_ij) v_j             (o_i = 0 when every s_ij is -inf)
// GQA/MQA: query head h reads KV head h / (H_q / H_kv) by index arithmetic; K and V are read in
// place and never repeated.
//
// One workgroup per (block of BR query rows, query head, batch) keeps its Q block, the
// unnormalised output O and the per-row running max m and sum l in shared memory, and streams
// KV blocks of BC keys (online softmax, Milakov & Gimelshein 2018):
//     m' = max(m, max_j s_j);  c = exp(m - m');  p_j = exp(s_j - m')
//     l  = l * c + sum_j p_j;  O = O * c + sum_j p_j v_j;  m = m'
// and divides by l once at the end. KV blocks entirely above the causal diagonal of the query
// block are never visited. K/V in f16/bf16 are converted to f32 when loaded into shared memory.
//
// Grid: (ceil(n_q / BR), H_q, B). Limits: D, Dv <= DMAX (checked by the host).
// ip[0] causal, ip[1] causal_offset, ip[2] has mask, ip[3] has steering bias;
// fp[0] scale, fp[1] softcap; bits = steered heads.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define BR 8u
#define BC 8u
#define WG 64u
#define DMAX 256u
layout(local_size_x = 64) in;

DECL_BUF32(dst, 1)
DECL_BUF32(q, 2)
DECL_BUF32(kbuf, 3)
DECL_BUF16(kbuf, 3)
DECL_BUF32(vbuf, 4)
DECL_BUF16(vbuf, 4)
DECL_BUF32(mask, 5)
DECL_BUF32(bias, 6)

shared float sQ[BR * DMAX];
shared float sKV[BC * DMAX];
shared float sO[BR * DMAX];
shared float sS[BR * BC];
shared float sM[BR];
shared float sL[BR];
shared float sCorr[BR];

void main() {
    const Desc Y = P.t[0];
    const Desc Q = P.t[1];
    const Desc K = P.t[2];
    const Desc V = P.t[3];
    const Desc M = P.t[4];
    const Desc SB = P.t[5];
    const bool causal = P.ip[0] != 0;
    const int offset = P.ip[1];
    const bool has_mask = P.ip[2] != 0;
    const float scale = P.fp[0];
    const float softcap = P.fp[1];

    const uint D = Q.ne.x, Dv = V.ne.x;
    const uint n_q = Q.ne.y, n_kv = K.ne.y;
    const uint q0 = gl_WorkGroupID.x * BR;
    const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
    const uint hk = h / (Q.ne.z / K.ne.z);
    const bool steered = P.ip[3] != 0 && h < 256u && ((P.bits[h >> 5] >> (h & 31u)) & 1u) != 0u;
    const uint t = gl_LocalInvocationID.x;
    const float NEG_INF = uintBitsToFloat(0xff800000u);

    for (uint e = t; e < BR * D; e += WG) {
        const uint r = e / D, d = e % D;
        sQ[r * DMAX + d] = q0 + r < n_q ? LOAD_F32(q, elem_offset(Q, d, q0 + r, h, b)) : 0.0;
    }
    for (uint e = t; e < BR * Dv; e += WG) sO[(e / Dv) * DMAX + e % Dv] = 0.0;
    if (t < BR) {
        sM[t] = NEG_INF;
        sL[t] = 0.0;
    }

    // Keys beyond the causal limit of the block's last valid row are never needed.
    uint kv_end = n_kv;
    if (causal) {
        const int last = int(min(q0 + BR, n_q)) - 1 + offset + 1;
        kv_end = uint(clamp(last, 0, int(n_kv)));
    }
    const uint kbase = elem_offset(K, 0u, 0u, hk, b);
    const uint vbase = elem_offset(V, 0u, 0u, hk, b);
    const uint r_t = t / BC, c_t = t % BC;
    barrier();

    for (uint j0 = 0u; j0 < kv_end; j0 += BC) {
        for (uint e = t; e < BC * D; e += WG) {
            const uint c = e / D, d = e % D;
            sKV[c * DMAX + d] =
                j0 + c < n_kv ? LOAD_FLOAT(kbuf, K.type, kbase + (j0 + c) * K.nb.y + d * K.nb.x)
                              : 0.0;
        }
        barrier();

        {   // one score per invocation: row r_t, key c_t
            const uint i = q0 + r_t, j = j0 + c_t;
            float s = NEG_INF;
            if (i < n_q && j < n_kv && (!causal || int(j) <= int(i) + offset)) {
                float dotp = 0.0;
                for (uint d = 0u; d < D; ++d) dotp += sQ[r_t * DMAX + d] * sKV[c_t * DMAX + d];
                s = scale * dotp;
                if (softcap > 0.0) s = softcap * tanh(clamp(s / softcap, -15.0, 15.0));
                if (has_mask) s += LOAD_F32(mask, elem_offset(M, j, i, h % M.ne.z, b % M.ne.w));
                if (steered) s += LOAD_F32(bias, elem_offset(SB, j, 0u, 0u, b % SB.ne.w));
            }
            sS[r_t * BC + c_t] = s;
        }
        barrier();

        // Row statistics (BR invocations) while everyone loads the V block over the K block.
        if (t < BR) {
            const float m_old = sM[t];
            float m_new = m_old;
            for (uint c = 0u; c < BC; ++c) m_new = max(m_new, sS[t * BC + c]);
            float corr = 1.0, sum = 0.0;
            if (m_new == NEG_INF) {
                for (uint c = 0u; c < BC; ++c) sS[t * BC + c] = 0.0;
            } else {
                corr = exp(m_old - m_new);  // m_old = -inf gives 0: nothing accumulated yet
                for (uint c = 0u; c < BC; ++c) {
                    const float p = exp(sS[t * BC + c] - m_new);
                    sS[t * BC + c] = p;
                    sum += p;
                }
            }
            sL[t] = sL[t] * corr + sum;
            sM[t] = m_new;
            sCorr[t] = corr;
        }
        for (uint e = t; e < BC * Dv; e += WG) {
            const uint c = e / Dv, d = e % Dv;
            sKV[c * DMAX + d] =
                j0 + c < n_kv ? LOAD_FLOAT(vbuf, V.type, vbase + (j0 + c) * V.nb.y + d * V.nb.x)
                              : 0.0;
        }
        barrier();

        for (uint e = t; e < BR * Dv; e += WG) {
            const uint r = e / Dv, d = e % Dv;
            float o = sO[r * DMAX + d] * sCorr[r];
            for (uint c = 0u; c < BC; ++c) o += sS[r * BC + c] * sKV[c * DMAX + d];
            sO[r * DMAX + d] = o;
        }
        barrier();
    }

    for (uint e = t; e < BR * Dv; e += WG) {
        const uint r = e / Dv, d = e % Dv;
        if (q0 + r >= n_q) continue;
        const float l = sL[r];
        STORE_F32(dst, elem_offset(Y, d, h, q0 + r, b), l > 0.0 ? sO[r * DMAX + d] / l : 0.0);
    }
}
