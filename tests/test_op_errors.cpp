// Bad input to op builders: each must throw ggml::Error (never crash) with a message that names
// the op and the offending shapes, so that a user can find the mistake from the message alone.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "ggml/ggml.h"

using namespace ggml;

namespace {

// Runs f, requires a ggml::Error, and checks the message contains every needle.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
    std::string msg;
    bool thrown = false;
    try {
        f();
    } catch (const Error& e) {
        thrown = true;
        msg = e.what();
    }
    INFO("message: " << msg);
    REQUIRE(thrown);
    for (const std::string& n : needles) {
        INFO("expected to find: " << n);
        CHECK(msg.find(n) != std::string::npos);
    }
}

}  // namespace

TEST_CASE("element-wise ops reject bad shapes and dtypes", "[errors]") {
    Context ctx;
    Tensor* a = ctx.new_tensor(DType::F32, {4, 3});
    Tensor* b = ctx.new_tensor(DType::F32, {3, 3});
    expect_error([&] { add(ctx, a, b); }, {"add", a->shape_str(), b->shape_str()});
    expect_error([&] { div(ctx, a, b); }, {"div", a->shape_str(), b->shape_str()});
    Tensor* c = ctx.new_tensor(DType::F32, {4, 2});
    expect_error([&] { mul(ctx, a, c); }, {"mul", a->shape_str(), c->shape_str()});
    Tensor* ai = ctx.new_tensor(DType::I32, {4, 3});
    expect_error([&] { add(ctx, ai, a); }, {"add", "i32[4,3]"});
    expect_error([&] { sub(ctx, a, ai); }, {"sub", "i32[4,3]"});
    Tensor* h = ctx.new_tensor(DType::F16, {4, 3});
    expect_error([&] { gelu(ctx, h); }, {"gelu", "f16[4,3]"});
    expect_error([&] { swiglu(ctx, a, c); }, {"swiglu", a->shape_str(), c->shape_str()});
    expect_error([&] { rms_norm(ctx, ai, 1e-5f); }, {"rms_norm", "i32[4,3]"});
}

TEST_CASE("mul_mat rejects K mismatch, bad broadcast and unpacked rows", "[errors]") {
    Context ctx;
    Tensor* a = ctx.new_tensor(DType::F16, {64, 16});
    Tensor* b = ctx.new_tensor(DType::F32, {32, 8});
    expect_error([&] { mul_mat(ctx, a, b); }, {"mul_mat", "f16[64,16]", "f32[32,8]"});
    Tensor* a3 = ctx.new_tensor(DType::F32, {8, 4, 3});
    Tensor* b3 = ctx.new_tensor(DType::F32, {8, 2, 4});
    expect_error([&] { mul_mat(ctx, a3, b3); }, {"mul_mat", a3->shape_str(), b3->shape_str()});
    Tensor* bi = ctx.new_tensor(DType::I32, {64, 2});
    expect_error([&] { mul_mat(ctx, a, bi); }, {"mul_mat", "i32[64,2]"});
    Tensor* at = transpose(ctx, ctx.new_tensor(DType::F32, {16, 64}));  // [64, 16], nb0 != 4
    expect_error(
        [&] {
            mul_mat(ctx, at, ctx.new_tensor(DType::F32, {64, 2}));
        },
        {"mul_mat", at->shape_str()});
}

TEST_CASE("rope rejects wrong positions and n_dims", "[errors]") {
    Context ctx;
    Tensor* x = ctx.new_tensor(DType::F32, {64, 4, 7});
    Tensor* pos = ctx.new_tensor(DType::I32, {6});
    RopeParams p;
    p.n_dims = 64;
    expect_error([&] { rope(ctx, x, pos, p); }, {"rope", "i32[6]", x->shape_str()});
    Tensor* posf = ctx.new_tensor(DType::F32, {7});
    expect_error([&] { rope(ctx, x, posf, p); }, {"rope", "f32[7]"});
    Tensor* pos7 = ctx.new_tensor(DType::I32, {7});
    p.n_dims = 65;
    expect_error([&] { rope(ctx, x, pos7, p); }, {"rope", "65"});
}

TEST_CASE("flash_attn rejects bad dtypes, head counts, masks and steering", "[errors]") {
    Context ctx;
    const int64_t D = 64, n_q = 8, n_kv = 32;
    Tensor* q = ctx.new_tensor(DType::F32, {D, n_q, 8});
    Tensor* k = ctx.new_tensor(DType::F16, {D, n_kv, 2});
    Tensor* v = ctx.new_tensor(DType::F16, {D, n_kv, 2});
    FlashAttnParams p;
    REQUIRE_NOTHROW(flash_attn(ctx, q, k, v, nullptr, p));

    SECTION("f16 q") {
        Tensor* qh = ctx.new_tensor(DType::F16, {D, n_q, 8});
        expect_error([&] { flash_attn(ctx, qh, k, v, nullptr, p); },
                     {"flash_attn", qh->shape_str()});
    }
    SECTION("mismatched K/V dtypes") {
        Tensor* vb = ctx.new_tensor(DType::BF16, {D, n_kv, 2});
        expect_error([&] { flash_attn(ctx, q, k, vb, nullptr, p); },
                     {"flash_attn", k->shape_str(), vb->shape_str()});
    }
    SECTION("H_q not a multiple of H_kv") {
        Tensor* q6 = ctx.new_tensor(DType::F32, {D, n_q, 6});
        Tensor* k4 = ctx.new_tensor(DType::F16, {D, n_kv, 4});
        Tensor* v4 = ctx.new_tensor(DType::F16, {D, n_kv, 4});
        expect_error([&] { flash_attn(ctx, q6, k4, v4, nullptr, p); },
                     {"flash_attn", q6->shape_str(), k4->shape_str(), "6", "4"});
        expect_error([&] { flash_attn_naive(ctx, q6, k4, v4, nullptr, p); },
                     {"flash_attn_naive", q6->shape_str(), k4->shape_str()});
    }
    SECTION("head size mismatch") {
        Tensor* k32 = ctx.new_tensor(DType::F16, {32, n_kv, 2});
        expect_error([&] { flash_attn(ctx, q, k32, v, nullptr, p); },
                     {"flash_attn", q->shape_str(), k32->shape_str()});
    }
    SECTION("mask of the wrong size") {
        Tensor* m = ctx.new_tensor(DType::F32, {n_kv - 1, n_q});
        expect_error([&] { flash_attn(ctx, q, k, v, m, p); },
                     {"flash_attn", "mask", m->shape_str()});
        Tensor* m3 = ctx.new_tensor(DType::F32, {n_kv, n_q, 3});  // neither 1 nor H_q heads
        expect_error([&] { flash_attn(ctx, q, k, v, m3, p); }, {"flash_attn", m3->shape_str()});
    }
    SECTION("steering bias of the wrong length") {
        HeadSet hs;
        hs.set(1);
        p.steer.set(hs);
        Tensor* sb = ctx.new_tensor(DType::F32, {n_kv + 1});
        expect_error([&] { flash_attn(ctx, q, k, v, nullptr, p, sb); },
                     {"flash_attn", "steer", sb->shape_str()});
    }
    SECTION("steered head that does not exist") {
        HeadSet hs;
        hs.set(8);
        p.steer.set(hs);
        Tensor* sb = ctx.new_tensor(DType::F32, {n_kv});
        expect_error([&] { flash_attn(ctx, q, k, v, nullptr, p, sb); }, {"flash_attn", "8"});
    }
}

TEST_CASE("soft_max and steer reject bad masks and biases", "[errors]") {
    Context ctx;
    Tensor* s = ctx.new_tensor(DType::F32, {16, 4, 2});
    Tensor* m = ctx.new_tensor(DType::F32, {16, 5});
    expect_error([&] { soft_max(ctx, s, m, SoftMaxParams{}); },
                 {"soft_max", m->shape_str(), s->shape_str()});
    Tensor* bias = ctx.new_tensor(DType::F32, {15});
    HeadSet hs;
    hs.set(0);
    expect_error([&] { steer(ctx, s, bias, hs); }, {"steer", bias->shape_str(), s->shape_str()});
    Tensor* bias_ok = ctx.new_tensor(DType::F32, {16});
    HeadSet bad;
    bad.set(2);  // s has 2 heads
    expect_error([&] { steer(ctx, s, bias_ok, bad); }, {"steer", "2", s->shape_str()});
}

TEST_CASE("views reject impossible layouts", "[errors]") {
    Context ctx;
    Tensor* x = ctx.new_tensor(DType::F32, {6, 5, 4});
    expect_error([&] { permute(ctx, x, 0, 1, 1, 3); }, {"permute", x->shape_str(), "0,1,1,3"});
    expect_error([&] { permute(ctx, x, 0, 1, 2, 4); }, {"permute", x->shape_str()});
    expect_error([&] { reshape(ctx, x, {7, 17}); }, {"reshape", x->shape_str(), "f32[7,17]"});
    Tensor* xt = transpose(ctx, x);
    expect_error([&] { reshape(ctx, xt, {120}); }, {"reshape", xt->shape_str()});
    // 120 floats = 480 bytes; a [6, 5] window at row 20 would end at byte 600
    expect_error(
        [&] {
            view(ctx, x, {6, 5}, {x->nb[1]}, 20 * x->nb[1]);
        },
        {"view", x->shape_str(), "f32[6,5]"});
    expect_error([&] { view(ctx, x, {121}, {}, 0); }, {"view", x->shape_str()});
}

TEST_CASE("row gathers and scatters reject mismatched ids", "[errors]") {
    Context ctx;
    Tensor* a = ctx.new_tensor(DType::F16, {8, 10, 3});
    Tensor* ids = ctx.new_tensor(DType::I32, {4, 2});
    expect_error([&] { get_rows(ctx, a, ids); }, {"get_rows", ids->shape_str(), a->shape_str()});
    Tensor* idf = ctx.new_tensor(DType::F32, {4, 3});
    expect_error([&] { get_rows(ctx, a, idf); }, {"get_rows", idf->shape_str()});
    Tensor* src = ctx.new_tensor(DType::F32, {7, 4, 3});
    Tensor* ids3 = ctx.new_tensor(DType::I32, {4, 3});
    expect_error([&] { set_rows(ctx, a, src, ids3); },
                 {"set_rows", src->shape_str(), a->shape_str()});
    Tensor* src8 = ctx.new_tensor(DType::F32, {8, 4, 3});
    Tensor* ids5 = ctx.new_tensor(DType::I32, {5, 3});
    expect_error([&] { set_rows(ctx, a, src8, ids5); },
                 {"set_rows", ids5->shape_str(), src8->shape_str()});
    expect_error([&] { cpy(ctx, a, DType::I32); }, {"cpy", a->shape_str(), "i32"});
}
