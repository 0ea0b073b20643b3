// CUDA backend tests: registry behaviour, buffer transfers, a small graph and each
// flash-attention path (split-KV decode, tensor-core prefill, scalar) against the CPU backend,
// and a device-side run-time error.
//
// Every test that needs a device skips with a reason (WARN) when the backend is not compiled
// in or no CUDA device is usable, so a machine without a GPU never fails. Op-level coverage on
// CUDA is the cross-backend harness's job (test_harness.cpp runs every case on "cuda" when it is
// available); here whole graphs are compared with the CPU backend by normalised mean squared
// error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ggml/ggml.h"

#if __has_include("cuda_backend.h")
#define GGML_TEST_HAVE_CUDA 1
#else
#define GGML_TEST_HAVE_CUDA 0
#endif

using namespace ggml;

namespace {

bool listed(const std::vector<std::string>& v, const std::string& prefix) {
    for (const auto& s : v)
        if (s.compare(0, prefix.size(), prefix) == 0) return true;
    return false;
}

std::unique_ptr<Backend> cuda_or_skip() {
    if (!GGML_TEST_HAVE_CUDA) {
        WARN("skipped: the CUDA backend is not compiled in (configure with -DGGML_CUDA=ON)");
        return nullptr;
    }
    const auto names = available_backends();
    if (std::find(names.begin(), names.end(), "cuda") == names.end()) {
        // unavailable_backends() says "cuda: no CUDA device (<runtime error string>)".
        const std::string prefix = "cuda: no CUDA device";
        std::string why;
        for (const auto& s : unavailable_backends())
            if (s.compare(0, prefix.size(), prefix) == 0) why = s.substr(prefix.size());
        WARN("skipped: no CUDA device" << why);
        return nullptr;
    }
    return make_backend("cuda");
}

// Deterministic values in [-amp, amp] that differ for every element and every tensor.
std::vector<float> pattern(size_t n, float seed, float amp) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = amp * std::sin(seed + 0.7071f * (float)i + 0.013f * (float)(i * i % 977));
    return v;
}

// Writes `vals` into a contiguous tensor of any float dtype (rounded to f16/bf16 as needed).
void set_floats(Tensor* t, const std::vector<float>& vals) {
    REQUIRE(t->is_contiguous());
    if (t->type == DType::F32) {
        tensor_set(t, vals.data(), 0, vals.size() * 4);
        return;
    }
    std::vector<uint16_t> h(vals.size());
    for (size_t i = 0; i < vals.size(); ++i)
        h[i] = t->type == DType::F16 ? f32_to_f16(vals[i]) : f32_to_bf16(vals[i]);
    tensor_set(t, h.data(), 0, h.size() * 2);
}

std::vector<float> get_f32(const Tensor* t) {
    REQUIRE(t->is_contiguous());
    std::vector<float> v((size_t)t->nelements());
    tensor_get(t, v.data(), 0, v.size() * 4);
    return v;
}

double nmse(const std::vector<float>& x, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double d = (double)x[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

// A graph description: builds leaves and outputs in a context, and fills the leaves once the
// executor has given them memory.
struct GraphSpec {
    std::function<std::vector<Tensor*>(Context&, std::vector<Tensor*>& leaves)> build;
    std::function<void(const std::vector<Tensor*>& leaves)> fill;
};

// Runs the spec on `backends` (most preferred first); returns the outputs as f32 (i32 outputs
// converted).
std::vector<std::vector<float>> run_spec(const GraphSpec& spec, std::vector<Backend*> backends,
                                         std::string* plan_text = nullptr) {
    Context ctx;
    std::vector<Tensor*> leaves;
    std::vector<Tensor*> outs = spec.build(ctx, leaves);
    Graph g;
    for (Tensor* o : outs) g.build(o);
    Plan p = make_plan(ctx, g, backends);
    if (plan_text) *plan_text = p.to_text();
    Executor ex(std::move(p), backends);
    spec.fill(leaves);
    ex.run();
    std::vector<std::vector<float>> res;
    for (Tensor* o : outs) {
        if (o->type == DType::I32) {
            std::vector<int32_t> iv((size_t)o->nelements());
            tensor_get(o, iv.data(), 0, iv.size() * 4);
            res.emplace_back(iv.begin(), iv.end());
        } else {
            res.push_back(get_f32(o));
        }
    }
    return res;
}

struct FaShape {
    const char* what;
    int64_t D, Dv, n_q, n_kv, Hq, Hkv, B;
    DType kv;
    int causal, offset;
    bool mask, steer;
    float softcap;
    double tol;
};

GraphSpec flash_attn_spec(const FaShape& s) {
    GraphSpec g;
    g.build = [s](Context& c, std::vector<Tensor*>& lv) {
        Tensor* q = c.new_input(DType::F32, {s.D, s.n_q, s.Hq, s.B}, "q");
        Tensor* k = c.new_input(s.kv, {s.D, s.n_kv, s.Hkv, s.B}, "k");
        Tensor* v = c.new_input(s.kv, {s.Dv, s.n_kv, s.Hkv, s.B}, "v");
        Tensor* m = s.mask ? c.new_input(DType::F32, {s.n_kv, s.n_q}, "mask") : nullptr;
        Tensor* sb = s.steer ? c.new_input(DType::F32, {s.n_kv}, "steer") : nullptr;
        lv = {q, k, v, m, sb};
        FlashAttnParams p;
        p.scale = 1.0f / std::sqrt((float)s.D);
        p.softcap = s.softcap;
        p.causal = s.causal;
        p.causal_offset = s.offset;
        if (s.steer) {
            HeadSet hs;
            for (int64_t h = 0; h < s.Hq; h += 3) hs.set((size_t)h);
            p.steer.set(hs);
        }
        Tensor* o = flash_attn(c, q, k, v, m, p, sb);
        o->flags |= kFlagOutput;
        return std::vector<Tensor*>{o};
    };
    g.fill = [s](const std::vector<Tensor*>& lv) {
        set_floats(lv[0], pattern((size_t)lv[0]->nelements(), 0.1f, 1.0f));
        set_floats(lv[1], pattern((size_t)lv[1]->nelements(), 1.3f, 1.0f));
        set_floats(lv[2], pattern((size_t)lv[2]->nelements(), 2.9f, 1.0f));
        if (lv[3]) {
            // 0 mostly, some finite negative biases, some -inf, and one row fully masked.
            std::vector<float> m((size_t)lv[3]->nelements(), 0.0f);
            for (size_t i = 0; i < m.size(); ++i) {
                if (i % 7 == 3) m[i] = -INFINITY;
                if (i % 11 == 5) m[i] = -1.5f;
            }
            if (s.n_q > 1)
                for (int64_t j = 0; j < s.n_kv; ++j)
                    m[(size_t)((s.n_q / 2) * s.n_kv + j)] = -INFINITY;
            set_floats(lv[3], m);
        }
        if (lv[4]) {
            std::vector<float> b((size_t)lv[4]->nelements(), std::log(0.01f));
            for (int64_t j = s.n_kv / 4; j < s.n_kv / 2; ++j) b[(size_t)j] = 0.0f;
            set_floats(lv[4], b);
        }
    };
    return g;
}

}  // namespace

TEST_CASE("cuda: the registry and make_backend agree on availability", "[cuda]") {
    const auto avail = available_backends();
    const auto unavail = unavailable_backends();
    const bool in_avail = std::find(avail.begin(), avail.end(), "cuda") != avail.end();
    const bool in_unavail = listed(unavail, "cuda: ");
    CHECK(!(in_avail && in_unavail));
    if (GGML_TEST_HAVE_CUDA) CHECK(in_avail != in_unavail);
    if (in_avail) {
        auto be = make_backend("cuda");
        REQUIRE(be);
        CHECK(std::string(be->name()) == "cuda");
        CHECK(!be->is_host());
    } else {
        CHECK_THROWS_AS(make_backend("cuda"), Error);
        if (GGML_TEST_HAVE_CUDA) {
            // The reason is the runtime's, behind a fixed prefix callers can match.
            CHECK(listed(unavail, "cuda: no CUDA device ("));
            try {
                make_backend("cuda");
            } catch (const Error& e) {
                CHECK(std::string(e.what()).find("no CUDA device") != std::string::npos);
            }
            for (const auto& s : unavail)
                if (s.compare(0, 5, "cuda:") == 0) WARN("cuda unavailable: " << s);
        } else {
            WARN("skipped: the CUDA backend is not compiled in");
        }
    }
}

TEST_CASE("cuda: buffer write/read/fill round trip", "[cuda]") {
    auto be = cuda_or_skip();
    if (!be) return;
    const size_t n = (size_t(3) << 20) + 7;
    auto buf = be->alloc_buffer(n);
    CHECK(buf->size() == n);
    CHECK(buf->base() == nullptr);
    CHECK(buf->device_base() != nullptr);
    std::vector<uint8_t> src(n), dst(n, 0);
    uint32_t s = 777;
    for (auto& b : src) b = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
    buf->write(0, src.data(), n);
    buf->read(0, dst.data(), n);
    CHECK(src == dst);
    const uint8_t patch[3] = {9, 8, 7};
    buf->write(4097, patch, 3);
    std::vector<uint8_t> win(5);
    buf->read(4096, win.data(), 5);
    CHECK(win == std::vector<uint8_t>{src[4096], 9, 8, 7, src[4100]});
    buf->fill(0x5c);
    buf->read(n - 5, win.data(), 5);
    for (uint8_t b : win) CHECK(b == 0x5c);
    CHECK_THROWS_AS(buf->read(n - 2, win.data(), 3), Error);
    CHECK_THROWS_AS(buf->write(n + 1, patch, 1), Error);
}

TEST_CASE("cuda: a small decoder graph matches the CPU backend", "[cuda]") {
    auto cu = cuda_or_skip();
    if (!cu) return;
    BackendOptions o;
    o.n_threads = 2;
    auto cpu = make_backend("cpu", o);
    const int64_t D = 32, H = 4, T = 9, V = 50;
    GraphSpec g;
    g.build = [&](Context& c, std::vector<Tensor*>& lv) {
        Tensor* emb = c.new_input(DType::BF16, {D * H, V}, "emb");
        Tensor* ids = c.new_input(DType::I32, {T}, "ids");
        Tensor* pos = c.new_input(DType::I32, {T}, "pos");
        Tensor* wq = c.new_input(DType::F16, {D * H, D * H}, "wq");
        Tensor* cache_in = c.new_input(DType::F16, {D * H, 16}, "cache");
        Tensor* slot = c.new_input(DType::I32, {T}, "slot");
        lv = {emb, ids, pos, wq, cache_in, slot};
        // set_rows writes into its destination, so give it a graph-owned copy of the input.
        Tensor* cache = cpy(c, cache_in, DType::F16);
        Tensor* x = get_rows(c, emb, ids);  // [D*H, T]
        Tensor* h = rms_norm(c, x, 1e-5f);
        Tensor* q = mul_mat(c, wq, h);
        RopeParams rp;
        rp.n_dims = D;
        rp.mode = RopeMode::Neox;
        q = rope(c, reshape(c, q, {D, H, T}), pos, rp);
        Tensor* qh = cont(c, permute(c, q, 0, 2, 1, 3));  // [D, T, H]
        Tensor* kv = set_rows(c, cache, reshape(c, layer_norm(c, x, 1e-5f), {D * H, T}), slot);
        Tensor* kh = cpy(c, qh, DType::F16);
        FlashAttnParams fp;
        fp.scale = 1.0f / std::sqrt((float)D);
        fp.causal = 1;
        Tensor* a = reshape(c, flash_attn(c, qh, kh, kh, nullptr, fp), {D * H, T});
        Tensor* f = swiglu(c, gelu(c, a), silu(c, tanh(c, a)));
        Tensor* r =
            div(c, add(c, x, scale(c, f, 0.5f, 0.25f)), add(c, sqr(c, x), scale(c, x, 0.0f, 2.0f)));
        Tensor* sm = soft_max(c, sub(c, r, mul(c, r, r)), nullptr, SoftMaxParams{});
        Tensor* am = argmax(c, sm);
        Tensor* sr = sum_rows(c, sm);
        Tensor* kvf = cpy(c, kv, DType::F32);
        for (Tensor* t : {sm, am, sr, kvf}) t->flags |= kFlagOutput;
        return std::vector<Tensor*>{sm, am, sr, kvf};
    };
    g.fill = [&](const std::vector<Tensor*>& lv) {
        set_floats(lv[0], pattern((size_t)lv[0]->nelements(), 0.3f, 1.0f));
        std::vector<int32_t> ids = {3, 7, 7, 0, 49, 12, 5, 8, 31};
        tensor_set(lv[1], ids.data(), 0, ids.size() * 4);
        std::vector<int32_t> pos(T);
        for (int64_t i = 0; i < T; ++i) pos[(size_t)i] = (int32_t)(100 + 17 * i);
        tensor_set(lv[2], pos.data(), 0, pos.size() * 4);
        set_floats(lv[3], pattern((size_t)lv[3]->nelements(), 0.9f, 0.2f));
        set_floats(lv[4], pattern((size_t)lv[4]->nelements(), 4.4f, 1.0f));
        std::vector<int32_t> slot = {15, 2, 4, 6, 8, 10, 12, 14, 1};
        tensor_set(lv[5], slot.data(), 0, slot.size() * 4);
    };
    std::string text;
    const auto want = run_spec(g, {cpu.get()});
    const auto got = run_spec(g, {cu.get(), cpu.get()}, &text);
    INFO(text);
    REQUIRE(got.size() == want.size());
    // f16 weights and K/V through one attention layer: kTolF16-style bound (see
    // tests/support/cases.h); argmax must agree exactly unless two values tie within rounding.
    CHECK(nmse(got[0], want[0]) < 1e-6);
    CHECK(nmse(got[2], want[2]) < 1e-6);
    CHECK(nmse(got[3], want[3]) < 1e-6);  // set_rows into an f16 cache: identical roundings
    CHECK(got[1] == want[1]);
}

TEST_CASE("cuda: each flash-attention path matches the CPU backend", "[cuda]") {
    auto cu = cuda_or_skip();
    if (!cu) return;
    BackendOptions o;
    o.n_threads = 2;
    auto cpu = make_backend("cpu", o);
    // Tolerances as in tests/support/cases.h: the decode and scalar paths accumulate in f32
    // (kTolReduce); the tensor-core path rounds q and P to 16 bits (kTolF16 / kTolBF16).
    const FaShape shapes[] = {
        {"decode gqa4 f16 mask steer", 128, 128, 1, 1500, 8, 2, 2, DType::F16, 0, 0, true, true,
         0.0f, 1e-6},
        {"decode mqa bf16 causal window", 64, 64, 3, 700, 8, 1, 1, DType::BF16, 1, 600, false,
         false, 0.0f, 1e-5},
        {"mma bf16 causal gqa4", 128, 128, 200, 200, 8, 2, 1, DType::BF16, 1, 0, true, true, 30.0f,
         1e-5},
        {"mma f16 D64 non-causal tails", 64, 64, 77, 131, 4, 4, 2, DType::F16, 0, 0, true, false,
         0.0f, 1e-6},
        {"mma f16 D32 causal offset", 32, 32, 90, 150, 2, 1, 1, DType::F16, 1, 60, false, true,
         0.0f, 1e-6},
        {"scalar f32 D80 Dv48", 80, 48, 40, 90, 4, 2, 1, DType::F32, 1, 50, true, true, 10.0f,
         1e-9},
    };
    for (const FaShape& s : shapes) {
        INFO(s.what);
        const GraphSpec g = flash_attn_spec(s);
        const auto want = run_spec(g, {cpu.get()});
        const auto got = run_spec(g, {cu.get(), cpu.get()});
        const double e = nmse(got[0], want[0]);
        INFO("nmse " << e);
        CHECK(e < s.tol);
    }
}

TEST_CASE("cuda: an out-of-range row id is a run-time error, not a crash", "[cuda]") {
    auto cu = cuda_or_skip();
    if (!cu) return;
    Context c;
    Tensor* a = c.new_input(DType::F32, {8, 4}, "a");
    Tensor* ids = c.new_input(DType::I32, {3}, "ids");
    Tensor* y = get_rows(c, a, ids);
    y->set_name("gathered");
    Graph g = build_graph({y});
    std::vector<Backend*> be = {cu.get()};
    Plan p = make_plan(c, g, be);
    Executor ex(std::move(p), be);
    std::vector<float> av(32, 1.0f);
    tensor_set(a, av.data(), 0, av.size() * 4);
    std::vector<int32_t> iv = {0, 4, 1};
    tensor_set(ids, iv.data(), 0, iv.size() * 4);
    try {
        ex.run();
        FAIL("no error reported");
    } catch (const Error& e) {
        const std::string m = e.what();
        CHECK(m.find("get_rows") != std::string::npos);
        CHECK(m.find("4") != std::string::npos);
    }
    // The backend stays usable after a reported error.
    iv = {0, 3, 1};
    tensor_set(ids, iv.data(), 0, iv.size() * 4);
    CHECK_NOTHROW(ex.run());
}
