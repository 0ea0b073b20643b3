// Harness cases: mul_mat (f32/f16/bf16 weights, broadcast, permuted operands), rope (both
// modes, partial rotation) and small composite blocks mixing many ops.
#include <cmath>
#include <string>

#include "cases.h"

namespace ggml {
namespace test {

namespace {

void matmul_cases(std::vector<Case>& v) {
    struct MM {
        int64_t K, M, N;
    };
    const MM sizes[] = {{64, 16, 8}, {33, 7, 5}, {1, 3, 2}, {128, 65, 1}};
    for (DType t : {DType::F32, DType::F16, DType::BF16})
        for (const MM& s : sizes) {
            const std::string nm = std::string("mul_mat/") + dtype_name(t) + "_K" +
                                   std::to_string(s.K) + "_M" + std::to_string(s.M) + "_N" +
                                   std::to_string(s.N);
            reg(v, nm, {Op::MUL_MAT}, tol_for(t), [=](CaseBuilder& b) {
                return Outs{
                    mul_mat(b.ctx, b.uniform(t, {s.K, s.M}), b.uniform(DType::F32, {s.K, s.N}))};
            });
        }
    // Batch broadcast: b's batch i2 uses a's batch i2 / (B2 / A2) (the GQA mapping).
    for (DType t : {DType::F32, DType::F16})
        reg(v, std::string("mul_mat/") + dtype_name(t) + "_broadcast_ne2_x4", {Op::MUL_MAT},
            tol_for(t), [=](CaseBuilder& b) {
                return Outs{
                    mul_mat(b.ctx, b.uniform(t, {32, 8, 2}), b.uniform(DType::F32, {32, 5, 8}))};
            });
    // bf16 GEMM shapes for the AVX512-BF16 pair kernel (k in pairs, rows of whole 32-bit
    // words): a second W panel cut short (M 40 = 16 + 24) and x rows short of a panel; an odd
    // K read out of rows one element longer (the last pair's second half is outside the
    // row); and K past one k block (1026 pairs > kMmKc), odd again.
    reg(v, "mul_mat/bf16_gemm_K130_M40_N13", {Op::MUL_MAT}, kTolBF16, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::BF16, {130, 40}), b.uniform(DType::F32, {130, 13}))};
    });
    for (const MM& s : {MM{67, 40, 13}, MM{2051, 24, 7}})
        reg(v,
            "mul_mat/bf16_gemm_view_K" + std::to_string(s.K) + "_M" + std::to_string(s.M) + "_N" +
                std::to_string(s.N),
            {Op::MUL_MAT, Op::VIEW}, kTolBF16, [=](CaseBuilder& b) {
                Tensor* w = b.uniform(DType::BF16, {s.K + 1, s.M});
                Tensor* a = view(b.ctx, w, {s.K, s.M}, {w->nb[1]}, 0);
                return Outs{mul_mat(b.ctx, a, b.uniform(DType::F32, {s.K, s.N}))};
            });
    reg(v, "mul_mat/bf16_broadcast_ne2_ne3", {Op::MUL_MAT}, kTolBF16, [](CaseBuilder& b) {
        return Outs{mul_mat(b.ctx, b.uniform(DType::BF16, {16, 4, 1, 2}),
                            b.uniform(DType::F32, {16, 3, 2, 4}))};
    });
    reg(v, "mul_mat/f32_batched_3d", {Op::MUL_MAT}, kTolReduce, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::F32, {24, 9, 3}), b.uniform(DType::F32, {24, 7, 3}))};
    });
    // Rows packed, other strides permuted: a [K, M, A2] read out of [K, A2, M] storage.
    reg(v, "mul_mat/f32_permuted_a", {Op::MUL_MAT, Op::PERMUTE}, kTolReduce, [](CaseBuilder& b) {
        Tensor* a = permute(b.ctx, b.uniform(DType::F32, {16, 3, 10}), 0, 2, 1, 3);
        return Outs{mul_mat(b.ctx, a, b.uniform(DType::F32, {16, 4, 3}))};
    });
    reg(v, "mul_mat/f16_permuted_b", {Op::MUL_MAT, Op::PERMUTE}, kTolF16, [](CaseBuilder& b) {
        Tensor* bb = permute(b.ctx, b.uniform(DType::F32, {16, 2, 6}), 0, 2, 1, 3);  // [16,6,2]
        return Outs{mul_mat(b.ctx, b.uniform(DType::F16, {16, 5, 2}), bb)};
    });
    reg(v, "mul_mat/f32_strided_view_a", {Op::MUL_MAT, Op::VIEW}, kTolReduce, [](CaseBuilder& b) {
        Tensor* w = b.uniform(DType::F32, {40, 12});
        Tensor* a = view(b.ctx, w, {32, 6}, {2 * w->nb[1]}, 4 * w->nb[0]);  // every other row
        return Outs{mul_mat(b.ctx, a, b.uniform(DType::F32, {32, 3}))};
    });
    reg(v, "mul_mat/f16_K512", {Op::MUL_MAT}, kTolF16, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::F16, {512, 8}), b.uniform(DType::F32, {512, 4}))};
    });
    // Larger than one GEMM block in every direction (kMmKc 1024, kMmMc 256, kMmNc 96), with
    // ragged edges: exercises the k-block accumulation into C and the block loops.
    reg(v, "mul_mat/f32_K1100_M300_N100", {Op::MUL_MAT}, kTolReduce, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::F32, {1100, 300}), b.uniform(DType::F32, {1100, 100}))};
    });
    reg(v, "mul_mat/f16_K1100_M300_N100", {Op::MUL_MAT}, kTolF16, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::F16, {1100, 300}), b.uniform(DType::F32, {1100, 100}))};
    });
    // More x rows than one GEMM job takes (kMmNj 384): jobs split x as well as W, with a
    // ragged last block of each.
    reg(v, "mul_mat/f32_K300_M70_N800", {Op::MUL_MAT}, kTolReduce, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::F32, {300, 70}), b.uniform(DType::F32, {300, 800}))};
    });
    reg(v, "mul_mat/f32_K1024_N33", {Op::MUL_MAT}, kTolReduce, [](CaseBuilder& b) {
        return Outs{
            mul_mat(b.ctx, b.uniform(DType::F32, {1024, 17}), b.uniform(DType::F32, {1024, 33}))};
    });
}

void rope_cases(std::vector<Case>& v) {
    struct R {
        const char* tag;
        RopeMode mode;
        int64_t D, H, T, B;
        int32_t n_dims;
        float base;
        int64_t pos_start;  // < 0: random positions in [0, 4096)
        bool permuted;      // a is [D, H, T] read out of [D, T, H] storage
    };
    const R rs[] = {
        {"interleaved_full", RopeMode::Interleaved, 64, 4, 7, 1, 64, 10000.0f, 0, false},
        {"neox_full", RopeMode::Neox, 64, 4, 7, 1, 64, 10000.0f, 0, false},
        {"interleaved_partial_random_pos", RopeMode::Interleaved, 64, 2, 5, 1, 32, 10000.0f, -1,
         false},
        {"neox_partial_40_32", RopeMode::Neox, 40, 3, 6, 1, 32, 10000.0f, 3, false},
        {"interleaved_batch2", RopeMode::Interleaved, 16, 3, 5, 2, 16, 10000.0f, 11, false},
        {"neox_batch2_partial", RopeMode::Neox, 16, 3, 5, 2, 8, 10000.0f, 11, false},
        {"neox_base_5e5_random_pos", RopeMode::Neox, 128, 2, 3, 1, 128, 500000.0f, -1, false},
        {"interleaved_permuted_input", RopeMode::Interleaved, 32, 4, 6, 1, 32, 10000.0f, 5, true},
        {"neox_permuted_input", RopeMode::Neox, 32, 4, 6, 1, 24, 10000.0f, 5, true},
        {"interleaved_D2_T1", RopeMode::Interleaved, 2, 1, 1, 1, 2, 10000.0f, 7, false},
        {"neox_odd_heads_33tok", RopeMode::Neox, 8, 7, 33, 1, 8, 10000.0f, 0, false},
    };
    for (const R& r : rs) {
        const double tol = r.pos_start < 0 ? kTolAngle : kTolReduce;
        reg(v, std::string("rope/") + r.tag, {Op::ROPE}, tol, [r](CaseBuilder& b) {
            Tensor* a =
                r.permuted ? permute(b.ctx, b.uniform(DType::F32, {r.D, r.T, r.H, r.B}), 0, 2, 1, 3)
                           : b.uniform(DType::F32, {r.D, r.H, r.T, r.B});
            RopeParams p;
            p.n_dims = r.n_dims;
            p.mode = r.mode;
            p.freq_base = r.base;
            return Outs{rope(b.ctx, a, b.positions(r.T, r.pos_start), p)};
        });
    }
}

// A llama-style block in miniature: embedding lookup, RMSNorm, f16 projections, RoPE on q and
// k, causal GQA flash attention, output projection, residual, SwiGLU
// FFN and an argmax over the logits. Exercises the planner's reuse across many op kinds.
Outs mini_block(CaseBuilder& b, DType wt, bool naive) {
    Context& ctx = b.ctx;
    const int64_t dim = 64, hd = 16, Hq = 4, Hkv = 2, T = 5, vocab = 40, ff = 96;
    Tensor* emb = b.uniform(DType::F32, {dim, vocab});
    Tensor* x = get_rows(ctx, emb, b.ids({T}, vocab, false));  // [dim, T]
    Tensor* h = mul(ctx, rms_norm(ctx, x, 1e-5f), b.uniform(DType::F32, {dim}));
    Tensor* q = mul_mat(ctx, b.uniform(wt, {dim, hd * Hq}, 0.25), h);   // [hd*Hq, T]
    Tensor* k = mul_mat(ctx, b.uniform(wt, {dim, hd * Hkv}, 0.25), h);  // [hd*Hkv, T]
    Tensor* vv = mul_mat(ctx, b.uniform(wt, {dim, hd * Hkv}, 0.25), h);
    RopeParams rp;
    rp.n_dims = hd;
    rp.mode = RopeMode::Neox;
    Tensor* pos = b.positions(T, 3);
    q = rope(ctx, reshape(ctx, q, {hd, Hq, T}), pos, rp);
    k = rope(ctx, reshape(ctx, k, {hd, Hkv, T}), pos, rp);
    Tensor* kt = cont(ctx, permute(ctx, k, 0, 2, 1, 3));  // [hd, T, Hkv]
    Tensor* vt = cont(ctx, permute(ctx, reshape(ctx, vv, {hd, Hkv, T}), 0, 2, 1, 3));
    FlashAttnParams fp;
    fp.scale = 1.0f / std::sqrt((float)hd);
    fp.causal = 1;
    Tensor* qp = permute(ctx, q, 0, 2, 1, 3);  // [hd, T, Hq]
    Tensor* att = naive ? flash_attn_naive(ctx, qp, kt, vt, nullptr, fp)
                        : flash_attn(ctx, qp, kt, vt, nullptr, fp);  // [hd, Hq, T]
    Tensor* o = mul_mat(ctx, b.uniform(wt, {dim, dim}, 0.25), reshape(ctx, att, {dim, T}));
    Tensor* r = add(ctx, x, o);
    Tensor* hn = rms_norm(ctx, r, 1e-5f);
    Tensor* g = mul_mat(ctx, b.uniform(wt, {dim, ff}, 0.25), hn);
    Tensor* u = mul_mat(ctx, b.uniform(wt, {dim, ff}, 0.25), hn);
    Tensor* f = mul_mat(ctx, b.uniform(wt, {ff, dim}, 0.25), swiglu(ctx, g, u));
    Tensor* out = add(ctx, r, f);
    Tensor* logits = mul_mat(ctx, emb, out);  // [vocab, T]
    return Outs{out, logits};
}

void composite_cases(std::vector<Case>& v) {
    const std::vector<Op> ops = {Op::GET_ROWS, Op::RMS_NORM, Op::MUL,  Op::MUL_MAT, Op::ROPE,
                                 Op::RESHAPE,  Op::PERMUTE,  Op::CONT, Op::ADD,     Op::SWIGLU};
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
        std::vector<Op> o = ops;
        o.push_back(Op::FLASH_ATTN);
        reg(v, std::string("block/llama_") + dtype_name(t), o, tol_for(t),
            [t](CaseBuilder& b) { return mini_block(b, t, false); });
    }
    reg(v, "block/llama_f32_naive_attention", ops, kTolReduce,
        [](CaseBuilder& b) { return mini_block(b, DType::F32, true); });
    // Two outputs sharing an intermediate: the shared value must survive until both are done.
    reg(v, "block/shared_intermediate_two_outputs", {Op::ADD, Op::MUL, Op::GELU, Op::SCALE},
        kTolElem, [](CaseBuilder& b) {
            Tensor* s = add(b.ctx, b.uniform(DType::F32, {33, 6}), b.uniform(DType::F32, {33, 6}));
            Tensor* o1 = gelu(b.ctx, s);
            Tensor* o2 = mul(b.ctx, scale(b.ctx, s, 0.5f), b.uniform(DType::F32, {33, 6}));
            return Outs{o1, o2};
        });
    // A long element-wise chain: every step may run in place on its predecessor.
    reg(v, "block/inplace_chain",
        {Op::ADD, Op::SUB, Op::MUL, Op::DIV, Op::SCALE, Op::SQR, Op::TANH, Op::SILU}, kTolElem,
        [](CaseBuilder& b) {
            Context& c = b.ctx;
            Tensor* x = b.uniform(DType::F32, {65, 7});
            Tensor* y = b.uniform(DType::F32, {65, 1}, 1.0, 0.25);
            Tensor* t = add(c, x, y);
            t = sub(c, t, y);
            t = mul(c, t, y);
            t = div(c, t, y);
            t = scale(c, t, 1.25f, 0.1f);
            t = tanh(c, sqr(c, t));
            return Outs{silu(c, t)};
        });
}

}  // namespace

void add_matmul_cases(std::vector<Case>& out) {
    matmul_cases(out);
    rope_cases(out);
    composite_cases(out);
}

}  // namespace test
}  // namespace ggml
