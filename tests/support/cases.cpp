// Harness cases: views, copies, gathers/scatters, element-wise ops and row reductions.
// Shapes mix round sizes with odd ones (1, 7, 33, 65) so that SIMD tails and thread splits
// are exercised, and sources are often non-contiguous (permuted, transposed, strided views).
#include "cases.h"

#include <set>
#include <string>

namespace ggml {
namespace test {

namespace {

// ---- views ----------------------------------------------------------------------------------

void view_cases(std::vector<Case>& v) {
    reg(v, "view/rows_window", {Op::VIEW, Op::CONT}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {16, 10});
        return Outs{cont(b.ctx, view(b.ctx, x, {16, 4}, {x->nb[1]}, 3 * x->nb[1]))};
    });
    reg(v, "view/every_other_row_add", {Op::VIEW, Op::ADD}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {8, 10});
        Tensor* y = b.uniform(DType::F32, {8, 5});
        return Outs{add(b.ctx, view(b.ctx, x, {8, 5}, {2 * x->nb[1]}, x->nb[1]), y)};
    });
    reg(v, "view/3d_offset_scale", {Op::VIEW, Op::SCALE}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {7, 6, 5});
        // a [5, 3, 2] window starting at element (1, 2, 1), keeping x's strides
        Tensor* w = view(b.ctx, x, {5, 3, 2}, {x->nb[1], x->nb[2]},
                         1 * x->nb[0] + 2 * x->nb[1] + 1 * x->nb[2]);
        return Outs{scale(b.ctx, w, 1.5f)};
    });
    reg(v, "view/of_computed_is_output", {Op::VIEW, Op::ADD}, kTolElem, [](CaseBuilder& b) {
        Tensor* s = add(b.ctx, b.uniform(DType::F32, {12, 6}), b.uniform(DType::F32, {12, 6}));
        return Outs{view(b.ctx, s, {5, 6}, {s->nb[1]}, 4 * s->nb[0])};
    });
    reg(v, "view/of_view", {Op::VIEW, Op::CONT}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {9, 8, 3});
        Tensor* v1 = view(b.ctx, x, {9, 8, 2}, {x->nb[1], x->nb[2]}, x->nb[2]);
        Tensor* v2 =
            view(b.ctx, v1, {4, 3, 2}, {2 * v1->nb[1], v1->nb[2]}, v1->nb[1] + 2 * v1->nb[0]);
        return Outs{cont(b.ctx, v2)};
    });
    reg(v, "view/f16_strided_cpy", {Op::VIEW, Op::CPY}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F16, {33, 7});
        return Outs{cpy(b.ctx, view(b.ctx, x, {7, 4}, {x->nb[1] * 2}, 5 * x->nb[0]), DType::F32)};
    });
    reg(v, "view/1d_flat_window", {Op::VIEW, Op::SQR}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {65});
        return Outs{sqr(b.ctx, view(b.ctx, x, {33}, {}, 17 * x->nb[0]))};
    });
}

void reshape_cases(std::vector<Case>& v) {
    reg(v, "reshape/2d_to_3d_mul", {Op::RESHAPE, Op::MUL}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {24, 5});
        Tensor* y = b.uniform(DType::F32, {8, 1, 5});
        return Outs{mul(b.ctx, reshape(b.ctx, x, {8, 3, 5}), y)};
    });
    reg(v, "reshape/of_computed_is_output", {Op::RESHAPE, Op::SILU}, kTolElem, [](CaseBuilder& b) {
        Tensor* s = silu(b.ctx, b.uniform(DType::F32, {6, 4, 2}));
        return Outs{reshape(b.ctx, s, {48})};
    });
    reg(v, "reshape/4d_flatten_sum_rows", {Op::RESHAPE, Op::SUM_ROWS}, kTolReduce,
        [](CaseBuilder& b) {
            Tensor* x = b.uniform(DType::F32, {3, 5, 2, 2});
            return Outs{sum_rows(b.ctx, reshape(b.ctx, x, {15, 4}))};
        });
    reg(v, "reshape/f16_then_cpy", {Op::RESHAPE, Op::CPY}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F16, {7, 6});
        return Outs{cpy(b.ctx, reshape(b.ctx, x, {3, 14}), DType::F32)};
    });
}

void permute_cases(std::vector<Case>& v) {
    const int axes[][4] = {{1, 0, 2, 3}, {0, 2, 1, 3}, {2, 0, 1, 3},
                           {1, 2, 0, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}};
    for (const auto& a : axes) {
        const std::string nm = "permute/" + std::to_string(a[0]) + std::to_string(a[1]) +
                               std::to_string(a[2]) + std::to_string(a[3]) + "_cont";
        const int a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        reg(v, nm, {Op::PERMUTE, Op::CONT}, kTolElem, [=](CaseBuilder& b) {
            Tensor* x = b.uniform(DType::F32, {5, 4, 3, 2});
            return Outs{cont(b.ctx, permute(b.ctx, x, a0, a1, a2, a3))};
        });
    }
    reg(v, "permute/into_add_both_sides", {Op::PERMUTE, Op::ADD}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {6, 7, 3});
        Tensor* y = b.uniform(DType::F32, {3, 6, 7});
        return Outs{add(b.ctx, permute(b.ctx, x, 1, 2, 0, 3), permute(b.ctx, y, 0, 1, 2, 3))};
    });
    reg(v, "permute/of_computed_is_output", {Op::PERMUTE, Op::TANH}, kTolElem, [](CaseBuilder& b) {
        Tensor* s = tanh(b.ctx, b.uniform(DType::F32, {4, 3, 5}));
        return Outs{permute(b.ctx, s, 2, 0, 1, 3)};
    });
}

void transpose_cases(std::vector<Case>& v) {
    reg(v, "transpose/cont_33x7", {Op::TRANSPOSE, Op::CONT}, kTolElem, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, transpose(b.ctx, b.uniform(DType::F32, {33, 7})))};
    });
    reg(v, "transpose/3d_batched_cont", {Op::TRANSPOSE, Op::CONT}, kTolElem, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, transpose(b.ctx, b.uniform(DType::F32, {5, 9, 3, 2})))};
    });
    reg(v, "transpose/f16_cpy_f32", {Op::TRANSPOSE, Op::CPY}, kTolElem, [](CaseBuilder& b) {
        return Outs{cpy(b.ctx, transpose(b.ctx, b.uniform(DType::F16, {16, 12})), DType::F32)};
    });
    reg(v, "transpose/into_mul_mat", {Op::TRANSPOSE, Op::CONT, Op::MUL_MAT}, kTolReduce,
        [](CaseBuilder& b) {
            Tensor* a = b.uniform(DType::F32, {8, 32});  // stored [M, K]: transposed weight
            Tensor* x = b.uniform(DType::F32, {32, 3});
            return Outs{mul_mat(b.ctx, cont(b.ctx, transpose(b.ctx, a)), x)};
        });
}

// ---- copies ---------------------------------------------------------------------------------

void copy_cases(std::vector<Case>& v) {
    struct C {
        DType from, to;
        std::vector<int64_t> ne;
    };
    const C conv[] = {
        {DType::F32, DType::F16, {33, 5}},  {DType::F32, DType::BF16, {33, 5}},
        {DType::F16, DType::F32, {64, 3}},  {DType::BF16, DType::F32, {64, 3}},
        {DType::F16, DType::BF16, {17, 3}}, {DType::BF16, DType::F16, {17, 3}},
        {DType::F32, DType::F32, {7}},      {DType::F16, DType::F16, {65, 2, 2}},
        {DType::F32, DType::F16, {1}},
    };
    for (const C& c : conv) {
        const std::string nm = std::string("cpy/") + dtype_name(c.from) + "_to_" +
                               dtype_name(c.to) + "_" + shape_name(c.ne);
        reg(v, nm, {Op::CPY}, kTolElem,
            [c](CaseBuilder& b) { return Outs{cpy(b.ctx, b.uniform(c.from, c.ne), c.to)}; });
    }
    reg(v, "cpy/i32_to_i32", {Op::CPY}, 0.0, [](CaseBuilder& b) {
        return Outs{cpy(b.ctx, b.ids({9, 2}, 1000, false), DType::I32)};
    });
    reg(v, "cpy/permuted_f32_to_f16", {Op::CPY, Op::PERMUTE}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {6, 5, 4});
        return Outs{cpy(b.ctx, permute(b.ctx, x, 2, 0, 1, 3), DType::F16)};
    });
    reg(v, "cpy/transposed_bf16_to_f16", {Op::CPY, Op::TRANSPOSE}, kTolElem, [](CaseBuilder& b) {
        return Outs{cpy(b.ctx, transpose(b.ctx, b.uniform(DType::BF16, {9, 7})), DType::F16)};
    });
    reg(v, "cpy/large_values_to_f16", {Op::CPY}, kTolElem, [](CaseBuilder& b) {
        return Outs{cpy(b.ctx, b.uniform(DType::F32, {40, 3}, 6.0e4, 1.0e-6), DType::F16)};
    });
    // A computed value rounded to a half type: the backend rounds its f32 result, the reference
    // its double, which can differ by one half-ulp on rare ties, hence the half tolerances.
    reg(v, "cpy/computed_roundtrip_f16", {Op::CPY, Op::ADD, Op::MUL}, kTolF16, [](CaseBuilder& b) {
        Tensor* s = add(b.ctx, b.uniform(DType::F32, {33, 4}), b.uniform(DType::F32, {33, 4}));
        Tensor* h = cpy(b.ctx, cpy(b.ctx, s, DType::F16), DType::F32);
        return Outs{mul(b.ctx, h, b.uniform(DType::F32, {33}))};
    });
    reg(v, "cpy/computed_roundtrip_bf16", {Op::CPY, Op::SCALE}, kTolBF16, [](CaseBuilder& b) {
        Tensor* s = scale(b.ctx, b.uniform(DType::F32, {16, 9}), 3.0f, 0.5f);
        return Outs{cpy(b.ctx, cpy(b.ctx, s, DType::BF16), DType::F32)};
    });

    reg(v, "cont/f32_permuted_4d", {Op::CONT, Op::PERMUTE}, kTolElem, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, permute(b.ctx, b.uniform(DType::F32, {7, 3, 5, 2}), 2, 0, 3, 1))};
    });
    reg(v, "cont/f16_transposed", {Op::CONT, Op::TRANSPOSE}, kTolElem, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, transpose(b.ctx, b.uniform(DType::F16, {33, 9})))};
    });
    reg(v, "cont/bf16_permuted", {Op::CONT, Op::PERMUTE}, kTolElem, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, permute(b.ctx, b.uniform(DType::BF16, {8, 6, 5}), 0, 2, 1, 3))};
    });
    reg(v, "cont/i32_transposed", {Op::CONT, Op::TRANSPOSE}, 0.0, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, transpose(b.ctx, b.ids({7, 5}, 100000, false)))};
    });
    reg(v, "cont/already_contiguous", {Op::CONT}, kTolElem, [](CaseBuilder& b) {
        return Outs{cont(b.ctx, b.uniform(DType::F32, {65, 3}))};
    });
    reg(v, "cont/strided_view", {Op::CONT, Op::VIEW}, kTolElem, [](CaseBuilder& b) {
        Tensor* x = b.uniform(DType::F32, {10, 12, 2});
        return Outs{cont(b.ctx, view(b.ctx, x, {3, 4, 2}, {3 * x->nb[1], x->nb[2]}, 2 * x->nb[0]))};
    });
}

// ---- get_rows / set_rows --------------------------------------------------------------------

void rows_cases(std::vector<Case>& v) {
    struct G {
        DType type;
        std::vector<int64_t> a;  // [ne0, n_rows, ne2, ne3]
        int64_t n;
    };
    const G gets[] = {
        {DType::F32, {16, 10}, 7},    {DType::F16, {33, 20}, 5},     {DType::BF16, {64, 9}, 12},
        {DType::F32, {8, 6, 3}, 4},   {DType::F16, {8, 6, 2, 2}, 5}, {DType::F32, {1, 7}, 3},
        {DType::BF16, {65, 3, 2}, 1},
    };
    for (const G& g : gets) {
        const std::string nm = std::string("get_rows/") + dtype_name(g.type) + "_" +
                               shape_name(g.a) + "_n" + std::to_string(g.n);
        reg(v, nm, {Op::GET_ROWS}, kTolElem, [g](CaseBuilder& b) {
            Tensor* a = b.uniform(g.type, g.a);
            Tensor* ids = b.ids({g.n, a->ne[2], a->ne[3]}, a->ne[1], false);
            return Outs{get_rows(b.ctx, a, ids)};
        });
    }
    reg(v, "get_rows/permuted_source", {Op::GET_ROWS, Op::PERMUTE}, kTolElem, [](CaseBuilder& b) {
        Tensor* a = permute(b.ctx, b.uniform(DType::F32, {8, 3, 6}), 0, 2, 1, 3);  // [8, 6, 3]
        return Outs{get_rows(b.ctx, a, b.ids({4, 3}, 6, false))};
    });
    reg(v, "get_rows/embedding_then_scale", {Op::GET_ROWS, Op::SCALE}, kTolElem,
        [](CaseBuilder& b) {
            Tensor* emb = b.uniform(DType::F16, {32, 50});
            return Outs{scale(b.ctx, get_rows(b.ctx, emb, b.ids({6}, 50, false)), 8.0f)};
        });

    struct S {
        DType type;
        std::vector<int64_t> dst;  // [ne0, n_rows, ne2, ne3]
        int64_t n;
    };
    const S sets[] = {
        {DType::F32, {16, 10}, 4},  {DType::F16, {33, 12}, 5},     {DType::BF16, {64, 8}, 8},
        {DType::F16, {8, 6, 3}, 2}, {DType::F32, {7, 5, 2, 2}, 3},
    };
    for (const S& s : sets) {
        const std::string nm = std::string("set_rows/") + dtype_name(s.type) + "_" +
                               shape_name(s.dst) + "_n" + std::to_string(s.n);
        reg(v, nm, {Op::SET_ROWS}, kTolElem, [s](CaseBuilder& b) {
            Tensor* dst = b.uniform(s.type, s.dst);
            Tensor* src = b.uniform(DType::F32, {s.dst[0], s.n, dst->ne[2], dst->ne[3]});
            Tensor* ids = b.ids({s.n, dst->ne[2], dst->ne[3]}, dst->ne[1], true);
            return Outs{set_rows(b.ctx, dst, src, ids)};
        });
    }
    // The destination is a window of a larger cache; the result is read both directly and by a
    // consumer, which must see the new rows.
    reg(v, "set_rows/into_cache_window_f16", {Op::SET_ROWS, Op::VIEW, Op::CPY}, kTolElem,
        [](CaseBuilder& b) {
            Tensor* cache = b.uniform(DType::F16, {32, 20});
            Tensor* win = view(b.ctx, cache, {32, 10}, {cache->nb[1]}, 4 * cache->nb[1]);
            Tensor* r = set_rows(b.ctx, win, b.uniform(DType::F32, {32, 3}), b.ids({3}, 10, true));
            return Outs{r, cpy(b.ctx, r, DType::F32)};
        });
    // Strided destination: the rows of head 1 in a [16, 2 heads, 12 rows] cache.
    reg(v, "set_rows/strided_head_view", {Op::SET_ROWS, Op::VIEW, Op::CONT}, kTolElem,
        [](CaseBuilder& b) {
            Tensor* cache = b.uniform(DType::F32, {16, 2, 12});
            Tensor* head1 = view(b.ctx, cache, {16, 12}, {cache->nb[2]}, cache->nb[1]);
            Tensor* r =
                set_rows(b.ctx, head1, b.uniform(DType::F32, {16, 5}), b.ids({5}, 12, true));
            return Outs{cont(b.ctx, r)};
        });
    reg(v, "set_rows/computed_rows_into_f16", {Op::SET_ROWS, Op::SCALE}, kTolF16,
        [](CaseBuilder& b) {
            Tensor* dst = b.uniform(DType::F16, {24, 9});
            Tensor* src = scale(b.ctx, b.uniform(DType::F32, {24, 4}), 1.7f, 0.1f);
            return Outs{set_rows(b.ctx, dst, src, b.ids({4}, 9, true))};
        });
    reg(v, "set_rows/into_computed_dst", {Op::SET_ROWS, Op::CPY}, kTolElem, [](CaseBuilder& b) {
        Tensor* dst = cpy(b.ctx, b.uniform(DType::F32, {12, 6}), DType::BF16);
        return Outs{set_rows(b.ctx, dst, b.uniform(DType::F32, {12, 2}), b.ids({2}, 6, true))};
    });
}

// ---- element-wise ---------------------------------------------------------------------------

Tensor* apply_binary(Context& ctx, Op op, Tensor* a, Tensor* b) {
    switch (op) {
        case Op::ADD:
            return add(ctx, a, b);
        case Op::SUB:
            return sub(ctx, a, b);
        case Op::MUL:
            return mul(ctx, a, b);
        default:
            return div(ctx, a, b);
    }
}

Tensor* apply_unary(Context& ctx, Op op, Tensor* a) {
    switch (op) {
        case Op::SQR:
            return sqr(ctx, a);
        case Op::TANH:
            return tanh(ctx, a);
        case Op::SILU:
            return silu(ctx, a);
        default:
            return gelu(ctx, a);
    }
}

void elementwise_cases(std::vector<Case>& v) {
    struct BC {
        std::vector<int64_t> a, b;
    };
    const BC shapes[] = {
        {{33, 7}, {33, 7}},
        {{16, 6, 4}, {16}},
        {{16, 6, 4}, {1}},
        {{8, 6, 4, 2}, {8, 1, 4, 1}},
        {{8, 6, 4, 2}, {1, 6, 1, 2}},
        {{65, 3}, {65, 3}},
        {{1}, {1}},
    };
    for (Op op : {Op::ADD, Op::SUB, Op::MUL, Op::DIV}) {
        // Divisors stay away from 0 so the quotient's conditioning matches the other ops.
        const double bmin = op == Op::DIV ? 0.25 : 0.0;
        for (const BC& s : shapes) {
            const std::string nm =
                std::string(op_name(op)) + "/" + shape_name(s.a) + "_by_" + shape_name(s.b);
            reg(v, nm, {op}, kTolElem, [=](CaseBuilder& b) {
                return Outs{apply_binary(b.ctx, op, b.uniform(DType::F32, s.a),
                                         b.uniform(DType::F32, s.b, 1.0, bmin))};
            });
        }
        reg(v, std::string(op_name(op)) + "/transposed_a", {op, Op::TRANSPOSE}, kTolElem,
            [=](CaseBuilder& b) {
                Tensor* a = transpose(b.ctx, b.uniform(DType::F32, {6, 10}));
                return Outs{apply_binary(b.ctx, op, a, b.uniform(DType::F32, {10, 6}, 1.0, bmin))};
            });
        reg(v, std::string(op_name(op)) + "/permuted_b_broadcast", {op, Op::PERMUTE}, kTolElem,
            [=](CaseBuilder& b) {
                Tensor* bb =
                    permute(b.ctx, b.uniform(DType::F32, {2, 1, 8}, 1.0, bmin), 2, 1, 0, 3);
                return Outs{apply_binary(b.ctx, op, b.uniform(DType::F32, {8, 5, 4}), bb)};
            });
    }

    for (Op op : {Op::SQR, Op::TANH, Op::SILU, Op::GELU}) {
        const std::vector<int64_t> shapes1[] = {{7}, {33, 5}, {65, 3, 2}, {16, 4, 3, 2}};
        for (const auto& ne : shapes1) {
            reg(v, std::string(op_name(op)) + "/" + shape_name(ne), {op}, kTolElem,
                [=](CaseBuilder& b) {
                    return Outs{apply_unary(b.ctx, op, b.uniform(DType::F32, ne))};
                });
        }
        reg(v, std::string(op_name(op)) + "/wide_range_transposed", {op, Op::TRANSPOSE}, kTolElem,
            [=](CaseBuilder& b) {
                return Outs{
                    apply_unary(b.ctx, op, transpose(b.ctx, b.uniform(DType::F32, {12, 9}, 6.0)))};
            });
    }

    reg(v, "scale/33x5", {Op::SCALE}, kTolElem, [](CaseBuilder& b) {
        return Outs{scale(b.ctx, b.uniform(DType::F32, {33, 5}), 0.5f)};
    });
    reg(v, "scale/with_bias", {Op::SCALE}, kTolElem, [](CaseBuilder& b) {
        return Outs{scale(b.ctx, b.uniform(DType::F32, {64, 3, 2}), -1.5f, 0.25f)};
    });
    reg(v, "scale/transposed", {Op::SCALE, Op::TRANSPOSE}, kTolElem, [](CaseBuilder& b) {
        return Outs{scale(b.ctx, transpose(b.ctx, b.uniform(DType::F32, {7, 9})), 3.0f, -1.0f)};
    });
    reg(v, "scale/1", {Op::SCALE}, kTolElem,
        [](CaseBuilder& b) { return Outs{scale(b.ctx, b.uniform(DType::F32, {1}), 2.0f, 1.0f)}; });

    reg(v, "swiglu/33x5", {Op::SWIGLU}, kTolElem, [](CaseBuilder& b) {
        return Outs{swiglu(b.ctx, b.uniform(DType::F32, {33, 5}), b.uniform(DType::F32, {33, 5}))};
    });
    reg(v, "swiglu/64x3x2_wide", {Op::SWIGLU}, kTolElem, [](CaseBuilder& b) {
        return Outs{swiglu(b.ctx, b.uniform(DType::F32, {64, 3, 2}, 6.0),
                           b.uniform(DType::F32, {64, 3, 2}))};
    });
    reg(v, "swiglu/transposed", {Op::SWIGLU, Op::TRANSPOSE}, kTolElem, [](CaseBuilder& b) {
        return Outs{swiglu(b.ctx, transpose(b.ctx, b.uniform(DType::F32, {5, 7})),
                           transpose(b.ctx, b.uniform(DType::F32, {5, 7})))};
    });
    reg(v, "swiglu/1", {Op::SWIGLU}, kTolElem, [](CaseBuilder& b) {
        return Outs{swiglu(b.ctx, b.uniform(DType::F32, {1}), b.uniform(DType::F32, {1}))};
    });
}

// ---- row reductions ---------------------------------------------------------------------------

void reduction_cases(std::vector<Case>& v) {
    for (Op op : {Op::RMS_NORM, Op::LAYER_NORM}) {
        auto norm = [op](Context& ctx, Tensor* a, float eps) {
            return op == Op::RMS_NORM ? rms_norm(ctx, a, eps) : layer_norm(ctx, a, eps);
        };
        // A 1-wide row only makes sense for rms_norm (layer_norm of one value is 0).
        const std::vector<int64_t> shapes[] = {{64, 4}, {33, 3, 2}, {op == Op::RMS_NORM ? 1 : 2, 5},
                                               {7},     {128, 2},   {4096, 2}};
        for (const auto& ne : shapes) {
            reg(v, std::string(op_name(op)) + "/" + shape_name(ne), {op}, kTolReduce,
                [=](CaseBuilder& b) {
                    return Outs{norm(b.ctx, b.uniform(DType::F32, ne, 4.0), 1e-5f)};
                });
        }
        reg(v, std::string(op_name(op)) + "/transposed_rows_eps_1e-2", {op, Op::TRANSPOSE},
            kTolReduce, [=](CaseBuilder& b) {
                return Outs{norm(b.ctx, transpose(b.ctx, b.uniform(DType::F32, {6, 17})), 1e-2f)};
            });
    }

    const std::vector<int64_t> sum_shapes[] = {{33, 5}, {1, 7}, {256, 3, 2}, {7}, {1024, 2}};
    for (const auto& ne : sum_shapes)
        reg(v, "sum_rows/" + shape_name(ne), {Op::SUM_ROWS}, kTolReduce,
            [=](CaseBuilder& b) { return Outs{sum_rows(b.ctx, b.uniform(DType::F32, ne))}; });
    reg(v, "sum_rows/permuted", {Op::SUM_ROWS, Op::PERMUTE}, kTolReduce, [](CaseBuilder& b) {
        return Outs{sum_rows(b.ctx, permute(b.ctx, b.uniform(DType::F32, {5, 9, 4}), 1, 0, 2, 3))};
    });

    const std::vector<int64_t> am_shapes[] = {{33, 5}, {1, 3}, {100, 4, 2}, {1000, 3}};
    for (const auto& ne : am_shapes)
        reg(v, "argmax/" + shape_name(ne), {Op::ARGMAX}, 0.0,
            [=](CaseBuilder& b) { return Outs{argmax(b.ctx, b.uniform(DType::F32, ne))}; });
    reg(v, "argmax/ties_first_wins", {Op::ARGMAX}, 0.0, [](CaseBuilder& b) {
        return Outs{argmax(b.ctx, b.coarse({16, 20}))};
    });
    reg(v, "argmax/permuted", {Op::ARGMAX, Op::PERMUTE}, 0.0, [](CaseBuilder& b) {
        return Outs{argmax(b.ctx, permute(b.ctx, b.coarse({7, 40, 2}), 1, 0, 2, 3))};
    });
}

std::vector<Case> make_all() {
    std::vector<Case> v;
    view_cases(v);
    reshape_cases(v);
    permute_cases(v);
    transpose_cases(v);
    copy_cases(v);
    rows_cases(v);
    elementwise_cases(v);
    reduction_cases(v);
    add_matmul_cases(v);
    add_attention_cases(v);
    add_quant_cases(v);
    std::set<std::string> names;
    for (const Case& c : v)
        if (!names.insert(c.name).second) throw Error("harness: duplicate case name " + c.name);
    return v;
}

}  // namespace

const std::vector<Case>& all_cases() {
    static const std::vector<Case> cases = make_all();
    return cases;
}

}  // namespace test
}  // namespace ggml
