// Runs every harness case on every available backend against the float64 reference, checks
// that every op in ops.def has a case, and checks the reference interpreter itself on a few
// hand-computed values (an oracle that is wrong in the same way as a kernel proves nothing).
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <sstream>

#include "ggml/ggml.h"
#include "harness.h"
#include "reference.h"

using namespace ggml;
using namespace ggml::test;

TEST_CASE("every case passes on every available backend", "[harness]") {
    const std::vector<std::string> names = available_backends();
    REQUIRE(!names.empty());
    for (const std::string& bn : names) {
        std::unique_ptr<Backend> be = make_backend(bn);
        for (const Case& c : all_cases()) {
            DYNAMIC_SECTION(bn << " " << c.name) {
                const CaseResult r = run_case(c, *be, bn);
                INFO(bn << " " << c.name << ": nmse " << r.nmse << " tol " << r.tol << " "
                        << r.detail);
                // The first backend is the reference CPU backend: it must run every case.
                if (r.status == Status::Skip && bn != names.front()) {
                    WARN("skipped: " << r.detail);
                    continue;
                }
                CHECK(r.status == Status::Pass);
            }
        }
    }
}

TEST_CASE("every op in ops.def has a harness case", "[coverage]") {
    std::set<Op> covered;
    std::ostringstream lies;
    for (const Case& c : all_cases()) {
        const std::vector<Op> in_graph = ops_in_case(c);
        const std::set<Op> have(in_graph.begin(), in_graph.end());
        covered.insert(have.begin(), have.end());
        for (Op op : c.ops)
            if (!have.count(op)) lies << " " << c.name << " (declares " << op_name(op) << ")";
    }
    std::ostringstream missing;
    for (int i = 0; i < kOpCount; ++i)
        if ((Op)i != Op::NONE && !covered.count((Op)i)) missing << " " << op_name((Op)i);
    INFO("ops with no case:" << missing.str());
    CHECK(missing.str().empty());
    INFO("cases declaring ops their graph lacks:" << lies.str());
    CHECK(lies.str().empty());
}

TEST_CASE("case names are unique and the list is large", "[coverage]") {
    std::set<std::string> names;
    for (const Case& c : all_cases()) CHECK(names.insert(c.name).second);
    CHECK(all_cases().size() >= 100);
}

// ---- the oracle checked against values computed by hand ------------------------------------

namespace {

template <typename T>
std::vector<uint8_t> raw(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

}  // namespace

TEST_CASE("reference: broadcast, views and set_rows aliasing", "[harness][reference]") {
    Context ctx;
    Tensor* a = ctx.new_input(DType::F32, {3, 2});
    Tensor* b = ctx.new_input(DType::F32, {3});
    Tensor* s = add(ctx, a, b);
    Tensor* t = cont(ctx, transpose(ctx, s));  // [2, 3]
    Graph g = build_graph({t});
    LeafBytes leaves;
    leaves[a] = raw(std::vector<float>{1, 2, 3, 4, 5, 6});
    leaves[b] = raw(std::vector<float>{10, 20, 30});
    Reference ref(g, leaves);
    CHECK(ref.values(s) == std::vector<double>{11, 22, 33, 14, 25, 36});
    CHECK(ref.values(t) == std::vector<double>{11, 14, 22, 25, 33, 36});

    Context c2;
    Tensor* dst = c2.new_input(DType::F16, {2, 3});
    Tensor* src = c2.new_input(DType::F32, {2, 1});
    Tensor* ids = c2.new_input(DType::I32, {1});
    Tensor* r = set_rows(c2, dst, src, ids);
    Graph g2 = build_graph({r});
    LeafBytes l2;
    l2[dst] = encode_dense(DType::F16, {1, 2, 3, 4, 5, 6});
    l2[src] = raw(std::vector<float>{0.1f, -7.0f});
    l2[ids] = raw(std::vector<int32_t>{1});
    Reference ref2(g2, l2);
    // 0.1 rounds to the nearest f16, 0.0999755859375
    CHECK(ref2.values(r) == std::vector<double>{1, 2, 0.0999755859375, -7, 5, 6});
    CHECK(ref2.values(dst) == ref2.values(r));
}

TEST_CASE("reference: rope, softmax masking and flash attention by hand", "[harness][reference]") {
    Context ctx;
    Tensor* x = ctx.new_input(DType::F32, {4, 1, 1});
    Tensor* pos = ctx.new_input(DType::I32, {1});
    RopeParams rp;
    rp.n_dims = 4;
    rp.mode = RopeMode::Neox;
    rp.freq_base = 100.0f;
    Tensor* r = rope(ctx, x, pos, rp);

    Tensor* sc = ctx.new_input(DType::F32, {3, 2});
    SoftMaxParams sp;
    sp.causal = 1;
    Tensor* m = ctx.new_input(DType::F32, {3, 2});
    Tensor* sm = soft_max(ctx, sc, m, sp);

    // Two keys, one query, D = 1: scores q*k = {1, 2} -> weights softmax -> output.
    Tensor* q = ctx.new_input(DType::F32, {1, 1, 2});
    Tensor* k = ctx.new_input(DType::F32, {1, 2, 1});
    Tensor* v = ctx.new_input(DType::F32, {1, 2, 1});
    Tensor* sb = ctx.new_input(DType::F32, {2});
    FlashAttnParams fp;
    HeadSet hs;
    hs.set(1);
    fp.steer.set(hs);
    Tensor* fa = flash_attn(ctx, q, k, v, nullptr, fp, sb);  // [1, 2 heads, 1]

    Graph g = build_graph({r, sm, fa});
    LeafBytes l;
    l[x] = raw(std::vector<float>{1, 0, 0, 1});
    l[pos] = raw(std::vector<int32_t>{2});
    l[sc] = raw(std::vector<float>{0, 0, 0, 1, 1, 1});
    l[m] = raw(std::vector<float>{0, -INFINITY, 0, -INFINITY, -INFINITY, -INFINITY});
    l[q] = raw(std::vector<float>{1, 1});
    l[k] = raw(std::vector<float>{1, 2});
    l[v] = raw(std::vector<float>{10, 20});
    l[sb] = raw(std::vector<float>{0, std::log(0.5f)});
    Reference ref(g, l);

    // neox pairs (0,2) angle 2, (1,3) angle 2*100^(-1/2) = 0.2
    const std::vector<double> rv = ref.values(r);
    CHECK(rv[0] == Approx(std::cos(2.0)));
    CHECK(rv[2] == Approx(std::sin(2.0)));
    CHECK(rv[1] == Approx(-std::sin(0.2)));
    CHECK(rv[3] == Approx(std::cos(0.2)));

    // row 0: key 0 only (causal hides 1, 2 and the mask hides 1); row 1 is fully masked -> 0
    CHECK(ref.values(sm) == std::vector<double>{1, 0, 0, 0, 0, 0});

    const double e1 = std::exp(1.0), e2 = std::exp(2.0);
    const std::vector<double> o = ref.values(fa);
    CHECK(o[0] == Approx((10 * e1 + 20 * e2) / (e1 + e2)));
    // steered head 1: key 1's probability halved before renormalising
    CHECK(o[1] == Approx((10 * e1 + 20 * 0.5 * e2) / (e1 + 0.5 * e2)));
}

TEST_CASE("harness: nmse and a wrong result is caught", "[harness]") {
    CHECK(nmse({1, 2}, {1, 2}) == 0.0);
    CHECK(nmse({1, 3}, {1, 2}) == Approx(1.0 / 5.0));
    CHECK(std::isinf(nmse({NAN, 2}, {1, 2})));
    // A case whose declared tolerance is impossible to meet must fail: the harness can fail.
    Case c = all_cases().front();
    c.tol = -1.0;
    std::unique_ptr<Backend> be = make_backend(available_backends().front());
    const CaseResult r = run_case(c, *be, available_backends().front());
    CHECK(r.status == Status::Fail);
}
