// Harness cases: soft_max, steer and flash attention (fused and the naive graph): GQA ratios
// 1/2/4/8 and MQA, f32/f16/bf16 K/V, causal with offsets, masks (some all-masked rows),
// soft-capping, steering of a subset of heads, batches, D != Dv, decode with a long KV cache,
// non-contiguous q, and K/V read as strided windows of a larger cache.
#include <cmath>
#include <string>

#include "cases.h"

namespace ggml {
namespace test {

namespace {

void softmax_cases(std::vector<Case>& v) {
    struct S {
        const char* tag;
        std::vector<int64_t> ne;    // [n_kv, n_q, H, B]
        std::vector<int64_t> mask;  // empty: no mask
        float scale;
        int causal, offset;
        std::vector<int64_t> masked_rows;
        double max_abs;
    };
    const S ss[] = {
        {"plain_33x5", {33, 5}, {}, 1.0f, 0, 0, {}, 1.0},
        {"scaled_7x3x2", {7, 3, 2}, {}, 0.125f, 0, 0, {}, 1.0},
        {"mask_shared", {32, 8, 4}, {32, 8}, 1.0f, 0, 0, {}, 1.0},
        {"mask_per_head", {32, 8, 4}, {32, 8, 4}, 0.5f, 0, 0, {}, 1.0},
        {"mask_per_head_batch", {16, 4, 2, 2}, {16, 4, 2, 2}, 1.0f, 0, 0, {}, 1.0},
        {"mask_per_batch_only", {16, 4, 3, 2}, {16, 4, 1, 2}, 1.0f, 0, 0, {}, 1.0},
        {"causal_square", {16, 16, 2}, {}, 1.0f, 1, 0, {}, 1.0},
        {"causal_offset5_mask", {21, 16, 2}, {21, 16}, 1.0f, 1, 5, {}, 1.0},
        {"all_masked_rows", {24, 8, 2}, {24, 8, 2}, 1.0f, 0, 0, {1, 5, 12}, 1.0},
        {"n_kv_1", {1, 6, 2}, {}, 1.0f, 0, 0, {}, 1.0},
        {"long_rows_1024", {1024, 2, 2}, {}, 0.5f, 0, 0, {}, 1.0},
        {"large_logits", {65, 7}, {}, 1.0f, 0, 0, {}, 40.0},
    };
    for (const S& s : ss) {
        std::vector<Op> ops = {Op::SOFT_MAX};
        reg(v, std::string("soft_max/") + s.tag, ops, kTolReduce, [s](CaseBuilder& b) {
            Tensor* a = b.uniform(DType::F32, s.ne, s.max_abs);
            Tensor* m = nullptr;
            if (!s.mask.empty()) {
                MaskSpec ms;
                ms.all_masked_rows = s.masked_rows;
                m = b.mask(s.mask, ms);
            }
            SoftMaxParams p;
            p.scale = s.scale;
            p.causal = s.causal;
            p.causal_offset = s.offset;
            return Outs{soft_max(b.ctx, a, m, p)};
        });
    }
    reg(v, "soft_max/transposed_input", {Op::SOFT_MAX, Op::TRANSPOSE}, kTolReduce,
        [](CaseBuilder& b) {
            Tensor* a = transpose(b.ctx, b.uniform(DType::F32, {6, 19}));  // [19, 6]
            SoftMaxParams p;
            return Outs{soft_max(b.ctx, a, b.mask({19, 6}, MaskSpec{}), p)};
        });
}

void steer_cases(std::vector<Case>& v) {
    struct S {
        const char* tag;
        std::vector<int64_t> ne;  // [n_kv, n_q, H, B]
        std::vector<int> heads;
        bool per_batch;
    };
    const S ss[] = {
        {"heads_1_3_of_4", {16, 5, 4}, {1, 3}, false},
        {"all_8_heads_per_batch", {9, 3, 8, 2}, {0, 1, 2, 3, 4, 5, 6, 7}, true},
        {"head_0_shared_bias_b2", {12, 4, 8, 2}, {0}, false},
        {"no_heads", {10, 2, 3}, {}, false},
        {"heads_5_63_of_64", {7, 2, 64}, {5, 63}, false},
    };
    for (const S& s : ss)
        reg(v, std::string("steer/") + s.tag, {Op::STEER}, kTolElem, [s](CaseBuilder& b) {
            Tensor* sc = b.uniform(DType::F32, s.ne);
            Tensor* bias = b.steer_bias({sc->ne[0], 1, 1, s.per_batch ? sc->ne[3] : 1});
            HeadSet hs;
            for (int h : s.heads) hs.set((size_t)h);
            return Outs{steer(b.ctx, sc, bias, hs)};
        });
    reg(v, "steer/permuted_scores", {Op::STEER, Op::PERMUTE}, kTolElem, [](CaseBuilder& b) {
        Tensor* sc = permute(b.ctx, b.uniform(DType::F32, {11, 4, 6}), 0, 2, 1, 3);  // [11, 6, 4]
        HeadSet hs;
        hs.set(2);
        return Outs{steer(b.ctx, sc, b.steer_bias({11}), hs)};
    });
}

// One flash-attention configuration.
struct FA {
    std::string tag;
    int64_t D = 64, Dv = 64, n_q = 8, n_kv = 32, Hq = 4, Hkv = 4, B = 1;
    DType kv = DType::F32;
    int causal = 0, offset = 0;
    int mask = 0;  // 0 none, 1 [n_kv, n_q], 2 [n_kv, n_q, Hq], 3 [n_kv, n_q, 1, B], 4 full
    std::vector<int64_t> masked_rows;
    float softcap = 0.0f;
    float scale = 0.0f;  // 0: 1/sqrt(D)
    std::vector<int> steered;
    bool steer_per_batch = false;
    bool q_permuted = false;  // q read out of [D, Hq, n_q, B] storage
    int kv_cache = 0;         // 0 plain; 1 window of [D, n_ctx, Hkv, B]; 2 of [D, Hkv, n_ctx, B]
    double qk_range = 1.0;
};

Tensor* kv_tensor(CaseBuilder& b, const FA& f, int64_t d) {
    if (f.kv_cache == 0) return b.uniform(f.kv, {d, f.n_kv, f.Hkv, f.B});
    const int64_t n_ctx = f.n_kv + 13, start = 5;
    if (f.kv_cache == 1) {
        Tensor* c = b.uniform(f.kv, {d, n_ctx, f.Hkv, f.B});
        return view(b.ctx, c, {d, f.n_kv, f.Hkv, f.B}, {c->nb[1], c->nb[2], c->nb[3]},
                    start * c->nb[1]);
    }
    // heads adjacent: row j of head h lives at (h, j) of [d, Hkv, n_ctx, B]
    Tensor* c = b.uniform(f.kv, {d, f.Hkv, n_ctx, f.B});
    return view(b.ctx, c, {d, f.n_kv, f.Hkv, f.B}, {c->nb[2], c->nb[1], c->nb[3]},
                start * c->nb[2]);
}

Outs build_fa(CaseBuilder& b, const FA& f, bool naive) {
    Tensor* q =
        f.q_permuted
            ? permute(b.ctx, b.uniform(DType::F32, {f.D, f.Hq, f.n_q, f.B}, f.qk_range), 0, 2, 1, 3)
            : b.uniform(DType::F32, {f.D, f.n_q, f.Hq, f.B}, f.qk_range);
    Tensor* k = kv_tensor(b, f, f.D);
    Tensor* vv = kv_tensor(b, f, f.Dv);
    Tensor* m = nullptr;
    if (f.mask) {
        MaskSpec ms;
        ms.p_inf = 0.15;
        ms.all_masked_rows = f.masked_rows;
        const int64_t h = (f.mask == 2 || f.mask == 4) ? f.Hq : 1;
        const int64_t bb = (f.mask >= 3) ? f.B : 1;
        m = b.mask({f.n_kv, f.n_q, h, bb}, ms);
    }
    FlashAttnParams p;
    p.scale = f.scale > 0.0f ? f.scale : 1.0f / std::sqrt((float)f.D);
    p.softcap = f.softcap;
    p.causal = f.causal;
    p.causal_offset = f.offset;
    Tensor* sb = nullptr;
    if (!f.steered.empty()) {
        HeadSet hs;
        for (int h : f.steered) hs.set((size_t)h);
        p.steer.set(hs);
        sb = b.steer_bias({f.n_kv, 1, 1, f.steer_per_batch ? f.B : 1});
    }
    Tensor* fused = flash_attn(b.ctx, q, k, vv, m, p, sb);
    if (!naive) return Outs{fused};
    // The naive graph is judged against the fused op's reference value, so the two paths'
    // semantics (mask, steering, soft-cap, causal offset, GQA mapping) must agree.
    Tensor* o = flash_attn_naive(b.ctx, q, k, vv, m, p, sb);
    b.oracle(o, fused);
    return Outs{o};
}

std::vector<FA> fa_configs() {
    std::vector<FA> c;
    auto add = [&c](FA f) { c.push_back(std::move(f)); };
    // GQA ratios 1, 2, 4, 8 and MQA, every K/V type, odd n_q / n_kv.
    const int64_t heads[][2] = {{4, 4}, {4, 2}, {8, 2}, {8, 1}, {16, 2}};
    for (DType t : {DType::F32, DType::F16, DType::BF16})
        for (const auto& h : heads) {
            FA f;
            f.tag = std::string(dtype_name(t)) + "_Hq" + std::to_string(h[0]) + "_Hkv" +
                    std::to_string(h[1]);
            f.kv = t;
            f.Hq = h[0];
            f.Hkv = h[1];
            f.n_q = 7;
            f.n_kv = 33;
            add(f);
        }
    {
        FA f;
        f.tag = "f32_causal_square";
        f.n_q = f.n_kv = 16;
        f.causal = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f16_causal_offset24_gqa2";
        f.kv = DType::F16;
        f.n_q = 8;
        f.n_kv = 32;
        f.Hkv = 2;
        f.causal = 1;
        f.offset = 24;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_causal_offset_mask_shared";
        f.n_q = 6;
        f.n_kv = 20;
        f.causal = 1;
        f.offset = 14;
        f.mask = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_mask_shared_all_masked_row";
        f.mask = 1;
        f.masked_rows = {2};
        add(f);
    }
    {
        FA f;
        f.tag = "f16_mask_per_head_gqa4";
        f.kv = DType::F16;
        f.Hq = 8;
        f.Hkv = 2;
        f.mask = 2;
        f.masked_rows = {3, 17};  // row 3 of head 0, row 1 of head 2
        add(f);
    }
    {
        FA f;
        f.tag = "bf16_mask_per_batch_b2";
        f.kv = DType::BF16;
        f.B = 2;
        f.mask = 3;
        f.masked_rows = {9};  // row 1 of batch 1
        add(f);
    }
    {
        FA f;
        f.tag = "f32_mask_full_b2_causal";
        f.B = 2;
        f.Hq = 4;
        f.Hkv = 1;
        f.mask = 4;
        f.causal = 1;
        f.offset = 24;
        f.masked_rows = {0};
        add(f);
    }
    for (DType t : {DType::F32, DType::F16}) {
        FA f;
        f.tag = std::string(dtype_name(t)) + "_softcap5_scale1";
        f.kv = t;
        f.softcap = 5.0f;
        f.scale = 1.0f;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_steer_heads_1_3";
        f.steered = {1, 3};
        add(f);
    }
    {
        FA f;  // GQA groups {0..3} and {4..7}: only part of each group is steered
        f.tag = "f16_steer_partial_gqa_groups";
        f.kv = DType::F16;
        f.Hq = 8;
        f.Hkv = 2;
        f.steered = {1, 2, 5};
        add(f);
    }
    {
        FA f;
        f.tag = "bf16_steer_per_batch_b2";
        f.kv = DType::BF16;
        f.B = 2;
        f.Hq = 8;
        f.Hkv = 4;
        f.steered = {0, 7};
        f.steer_per_batch = true;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_steer_causal_mask_softcap";
        f.Hq = 8;
        f.Hkv = 2;
        f.n_q = 5;
        f.n_kv = 24;
        f.causal = 1;
        f.offset = 19;
        f.mask = 1;
        f.softcap = 20.0f;
        f.steered = {0, 3, 6};
        add(f);
    }
    for (DType t : {DType::F32, DType::F16}) {
        FA f;
        f.tag = std::string(dtype_name(t)) + "_batch2_gqa2";
        f.kv = t;
        f.B = 2;
        f.Hkv = 2;
        add(f);
    }
    {
        FA f;
        f.tag = "f16_D128";
        f.kv = DType::F16;
        f.D = f.Dv = 128;
        f.Hq = 2;
        f.Hkv = 1;
        add(f);
    }
    // D 128 and 256: the block kernel's Q K^T runs query rows in groups of 36 (D 128) or 18
    // (D 256) per pass; 80 rows make a 64-row chunk of two groups plus a 16-row one (K/V
    // packed once for both), 40 rows one chunk of two groups packing its own K panels. With
    // 300 and 200 keys the online softmax carries over 128-key blocks, the last one partial
    // (and cut by the causal mask in the first).
    for (DType t : {DType::F32, DType::BF16}) {
        FA f;
        f.tag = std::string(dtype_name(t)) + "_D128_rows80_nkv300_causal";
        f.kv = t;
        f.D = f.Dv = 128;
        f.n_q = 20, f.n_kv = 300, f.Hq = 4, f.Hkv = 1;
        f.causal = 1;
        f.offset = 280;
        f.steered = {2};
        add(f);
    }
    {
        FA f;
        f.tag = "f16_D128_rows40_one_chunk_nkv200";
        f.kv = DType::F16;
        f.D = f.Dv = 128;
        f.n_q = 10, f.n_kv = 200, f.Hq = 4, f.Hkv = 1;
        add(f);
    }
    // One chunk of f32 K/V over three blocks: V read in place, the next block's K rows
    // fetched during P V.
    {
        FA f;
        f.tag = "f32_rows32_one_chunk_nkv300_causal_mask";
        f.n_q = 8, f.n_kv = 300, f.Hq = 4, f.Hkv = 1;
        f.causal = 1;
        f.offset = 292;
        f.mask = 1;
        add(f);
    }
    // The second block (keys 128-139) is hidden by the causal mask from the first chunk's
    // early positions: their 6-row panels run no keys of it and must keep their output.
    {
        FA f;
        f.tag = "f32_rows80_nkv140_block_hidden_from_early_rows";
        f.n_q = 20, f.n_kv = 140, f.Hq = 4, f.Hkv = 1;
        f.causal = 1;
        f.offset = 120;
        add(f);
    }
    {
        FA f;
        f.tag = "f16_D256_rows64";
        f.kv = DType::F16;
        f.D = f.Dv = 256;
        f.n_q = 16, f.n_kv = 40, f.Hq = 4, f.Hkv = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_D64_Dv32";
        f.Dv = 32;
        add(f);
    }
    {
        FA f;
        f.tag = "bf16_D32_Dv96_causal";
        f.kv = DType::BF16;
        f.D = 32;
        f.Dv = 96;
        f.n_q = f.n_kv = 12;
        f.causal = 1;
        add(f);
    }
    // Prefill against bf16 keys: AVX512-BF16 takes S = Q K^T from bf16 pairs (q rounded to
    // bf16); several KV blocks with a ragged last one, rows not a multiple of the 6-row panels,
    // and every score modifier on top. With odd D the pairs do not fit and the f32 path runs.
    {
        FA f;
        f.tag = "bf16_prefill_nkv150_causal_mask_steer_softcap";
        f.kv = DType::BF16;
        f.Hq = 8;
        f.Hkv = 2;
        f.n_q = f.n_kv = 150;
        f.causal = 1;
        f.mask = 1;
        f.softcap = 30.0f;
        f.steered = {1, 6};
        add(f);
    }
    {
        FA f;
        f.tag = "bf16_prefill_D13_Dv20";
        f.kv = DType::BF16;
        f.D = 13;
        f.Dv = 20;
        f.Hq = 8;
        f.Hkv = 2;
        f.n_q = 40;
        f.n_kv = 70;
        add(f);
    }
    // Decode: one query row against a long cache.
    {
        FA f;
        f.tag = "decode_f16_nkv1024_gqa4";
        f.kv = DType::F16;
        f.n_q = 1;
        f.n_kv = 1024;
        f.Hq = 8;
        f.Hkv = 2;
        f.causal = 1;
        f.offset = 1023;
        add(f);
    }
    {
        FA f;
        f.tag = "decode_f32_nkv1024_mqa";
        f.n_q = 1;
        f.n_kv = 1024;
        f.Hq = 8;
        f.Hkv = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "decode_bf16_nkv700_steer_mask";
        f.kv = DType::BF16;
        f.n_q = 1;
        f.n_kv = 700;
        f.Hq = 4;
        f.Hkv = 2;
        f.mask = 2;
        f.steered = {1, 2};
        add(f);
    }
    {
        FA f;
        f.tag = "decode_f16_D128_nkv513_b2";
        f.kv = DType::F16;
        f.D = f.Dv = 128;
        f.n_q = 1;
        f.n_kv = 513;
        f.Hq = 4;
        f.Hkv = 1;
        f.B = 2;
        add(f);
    }
    for (DType t : {DType::F32, DType::F16}) {
        FA f;
        f.tag = std::string(dtype_name(t)) + "_q_permuted";
        f.kv = t;
        f.q_permuted = true;
        f.Hkv = 2;
        add(f);
    }
    {
        FA f;
        f.tag = "f16_kv_cache_window";
        f.kv = DType::F16;
        f.kv_cache = 1;
        f.Hq = 8;
        f.Hkv = 2;
        f.causal = 1;
        f.offset = 24;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_kv_cache_heads_adjacent_b2";
        f.kv_cache = 2;
        f.B = 2;
        f.Hkv = 2;
        f.q_permuted = true;
        add(f);
    }
    {
        FA f;
        f.tag = "decode_bf16_kv_cache_heads_adjacent";
        f.kv = DType::BF16;
        f.kv_cache = 2;
        f.n_q = 1;
        f.n_kv = 300;
        f.Hq = 8;
        f.Hkv = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_tiny_D8_nq1_nkv1";
        f.D = f.Dv = 8;
        f.n_q = 1;
        f.n_kv = 1;
        f.Hq = 2;
        f.Hkv = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_nq65_nkv65_causal_D16";
        f.D = f.Dv = 16;
        f.n_q = f.n_kv = 65;
        f.Hq = 2;
        f.Hkv = 2;
        f.causal = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f16_prefill_nq64_nkv256_causal_gqa8";
        f.kv = DType::F16;
        f.n_q = 64;
        f.n_kv = 256;
        f.Hq = 8;
        f.Hkv = 1;
        f.causal = 1;
        f.offset = 192;
        add(f);
    }
    // Decode shapes: one position with more than 16 query heads (the block kernel, keys split
    // between threads), head sizes that are not multiples of the 8-lane vectors, and exactly
    // 16 rows at two positions with a causal offset and a mask (the decode kernel).
    {
        FA f;
        f.tag = "decode_f16_mqa_hq32_nkv300";
        f.kv = DType::F16;
        f.n_q = 1, f.n_kv = 300, f.Hq = 32, f.Hkv = 1, f.D = f.Dv = 64;
        add(f);
    }
    {
        FA f;
        f.tag = "decode_f16_D13_Dv21_mqa";
        f.kv = DType::F16;
        f.n_q = 1, f.n_kv = 77, f.Hq = 4, f.Hkv = 1, f.D = 13, f.Dv = 21;
        add(f);
    }
    {
        FA f;
        f.tag = "decode_f32_nq2_16rows_causal_mask";
        f.n_q = 2, f.n_kv = 150, f.Hq = 16, f.Hkv = 2, f.D = f.Dv = 32;
        f.causal = 1, f.offset = 148, f.mask = 1;
        add(f);
    }
    {
        FA f;
        f.tag = "f32_large_scores_scale1";
        f.scale = 1.0f;
        f.qk_range = 2.0;
        add(f);
    }
    return c;
}

void flash_attn_cases(std::vector<Case>& v) {
    const std::vector<FA> cfgs = fa_configs();
    for (const FA& f : cfgs)
        reg(v, "flash_attn/" + f.tag, {Op::FLASH_ATTN}, tol_for(f.kv),
            [f](CaseBuilder& b) { return build_fa(b, f, false); });

    // The naive graph over a representative subset, against the fused op's reference.
    const char* naive[] = {"f32_Hq4_Hkv4",
                           "f16_Hq8_Hkv2",
                           "bf16_Hq8_Hkv1",
                           "f16_causal_offset24_gqa2",
                           "f32_mask_shared_all_masked_row",
                           "f32_softcap5_scale1",
                           "f16_steer_partial_gqa_groups",
                           "bf16_steer_per_batch_b2",
                           "f32_steer_causal_mask_softcap",
                           "f32_D64_Dv32",
                           "decode_f16_nkv1024_gqa4",
                           "f16_q_permuted",
                           "f16_kv_cache_window",
                           "f32_kv_cache_heads_adjacent_b2"};
    for (const char* tag : naive)
        for (const FA& f : cfgs)
            if (f.tag == tag) {
                std::vector<Op> ops = {Op::MUL_MAT, Op::SCALE,     Op::SOFT_MAX,
                                       Op::CONT,    Op::TRANSPOSE, Op::PERMUTE};
                if (f.softcap > 0.0f) ops.push_back(Op::TANH);
                if (!f.steered.empty()) ops.push_back(Op::STEER);
                reg(v, "flash_attn_naive/" + f.tag, ops, tol_for(f.kv),
                    [f](CaseBuilder& b) { return build_fa(b, f, true); });
            }
}

}  // namespace

void add_attention_cases(std::vector<Case>& out) {
    softmax_cases(out);
    steer_cases(out);
    flash_attn_cases(out);
}

}  // namespace test
}  // namespace ggml
