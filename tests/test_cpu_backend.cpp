// Focused tests of the CPU backend's kernels, run directly (no planner): tensors get memory
// the test owns, backend.compute() runs the nodes with 1 and 2 threads, and results are
// compared with straightforward double-precision loops written here from the definitions in
// ops.h. Inputs stored as f16/bf16 are compared against references that read the same rounded
// values, so the tolerances only cover f32 arithmetic inside the kernels.
#include <catch2/catch.hpp>
#include <cmath>
#include <deque>
#include <limits>
#include <random>
#include <vector>

#include "cpu_backend.h"
#include "cpu_kernels.h"
#include "ggml/ggml.h"
#include "isa.h"

using namespace ggml;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Owns the bytes behind every tensor of a test.
struct Memory {
    std::deque<std::vector<uint8_t>> blocks;
    void bind(Tensor* t) {
        blocks.emplace_back(t->nbytes() + 64);
        uint8_t* p = blocks.back().data();
        p += (64 - (uintptr_t)p % 64) % 64;
        t->data = p;
    }
};

float getf(const Tensor* t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    const uint8_t* p = t->ptr(i0, i1, i2, i3);
    switch (t->type) {
        case DType::F32:
            return *(const float*)p;
        case DType::F16:
            return f16_to_f32(*(const f16_t*)p);
        case DType::BF16:
            return bf16_to_f32(*(const bf16_t*)p);
        case DType::I32:
            return (float)*(const int32_t*)p;
        default:
            return 0.0f;
    }
}

void setf(Tensor* t, float v, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    uint8_t* p = t->ptr(i0, i1, i2, i3);
    switch (t->type) {
        case DType::F32:
            *(float*)p = v;
            break;
        case DType::F16:
            *(f16_t*)p = f32_to_f16(v);
            break;
        case DType::BF16:
            *(bf16_t*)p = f32_to_bf16(v);
            break;
        case DType::I32:
            *(int32_t*)p = (int32_t)v;
            break;
        default:
            break;
    }
}

template <typename F>
void for_each(const Tensor* t, F f) {
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0) f(i0, i1, i2, i3);
}

void fill_uniform(Tensor* t, std::mt19937& rng, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    for_each(t, [&](int64_t a, int64_t b, int64_t c, int64_t d) { setf(t, u(rng), a, b, c, d); });
}

// Runs `nodes` on a CPU backend with n threads, scratch sized by work_size.
void run(int n_threads, const std::vector<Tensor*>& nodes, KernelErrors& errors) {
    CpuBackend be(n_threads);
    std::deque<std::vector<uint8_t>> scratch;
    std::vector<void*> work;
    for (Tensor* n : nodes) {
        REQUIRE(be.supports(n));
        const size_t ws = be.work_size(n);
        scratch.emplace_back(ws + 64);
        uint8_t* p = scratch.back().data();
        p += (64 - (uintptr_t)p % 64) % 64;
        work.push_back(ws ? p : nullptr);
    }
    be.compute(nodes, work, errors);
}

std::vector<float> snapshot(const Tensor* t) {
    std::vector<float> out;
    for_each(
        t, [&](int64_t a, int64_t b, int64_t c, int64_t d) { out.push_back(getf(t, a, b, c, d)); });
    return out;
}

// Max |got - want| over the tensor, `want` indexed like the tensor.
template <typename Ref>
double max_abs_err(const Tensor* t, Ref ref) {
    double worst = 0.0;
    for_each(t, [&](int64_t a, int64_t b, int64_t c, int64_t d) {
        const double diff = std::fabs((double)getf(t, a, b, c, d) - ref(a, b, c, d));
        if (!(diff <= worst)) worst = diff;  // NaN propagates as a failure
    });
    return worst;
}

// Runs with 1 and 2 threads; the kernels partition work without changing any arithmetic, so
// both must agree bit for bit.
void run_both(const std::vector<Tensor*>& nodes, const Tensor* out) {
    KernelErrors e1, e2;
    run(1, nodes, e1);
    const std::vector<float> one = snapshot(out);
    run(2, nodes, e2);
    REQUIRE_FALSE(e1.any());
    REQUIRE_FALSE(e2.any());
    REQUIRE(snapshot(out) == one);
}

// flash_attn's inputs as a KV cache holds them, uniformly filled: q [D, Hq, n_q, B],
// k [D, Hkv, n_kv, B], v [Dv, n_kv, Hkv, B], an additive mask [n_kv, n_q, 1, B] in [-1, 0.5]
// and a steering bias [n_kv, 1, 1, B] for the test to write.
struct AttnInputs {
    Tensor *q, *k, *v, *mask, *bias;
};

AttnInputs attn_inputs(Context& ctx, Memory& mem, std::mt19937& rng, DType kv_type, int64_t D,
                       int64_t Dv, int64_t n_q, int64_t n_kv, int64_t Hq, int64_t Hkv, int64_t B) {
    AttnInputs in;
    in.q = ctx.new_tensor(DType::F32, {D, Hq, n_q, B});
    in.k = ctx.new_tensor(kv_type, {D, Hkv, n_kv, B});
    in.v = ctx.new_tensor(kv_type, {Dv, n_kv, Hkv, B});
    in.mask = ctx.new_tensor(DType::F32, {n_kv, n_q, 1, B});
    in.bias = ctx.new_tensor(DType::F32, {n_kv, 1, 1, B});
    for (Tensor* t : {in.q, in.k, in.v, in.mask, in.bias}) mem.bind(t);
    fill_uniform(in.q, rng, -1.5f, 1.5f);
    fill_uniform(in.k, rng, -1.5f, 1.5f);
    fill_uniform(in.v, rng, -1.0f, 1.0f);
    fill_uniform(in.mask, rng, -1.0f, 0.5f);
    return in;
}

// flash_attn by its definition in ops.h, in double: qs [D, Hq, n_q, B] and ks [D, Hkv, n_kv, B]
// (a KV cache's layout), v [Dv, n_kv, Hkv, B], mask [n_kv, n_q, 1, B], bias [n_kv, 1, 1, B]
// added in the steered heads. Returns [B][n_q][Hq][Dv]; rows with every key hidden are zero.
std::vector<double> attn_reference(const Tensor* qs, const Tensor* ks, const Tensor* v,
                                   const Tensor* mask, const Tensor* bias, const FlashAttnParams& p,
                                   const HeadSet& steered) {
    const int64_t D = qs->ne[0], Hq = qs->ne[1], n_q = qs->ne[2], B = qs->ne[3];
    const int64_t Hkv = ks->ne[1], n_kv = ks->ne[2], Dv = v->ne[0];
    std::vector<double> ref((size_t)(Dv * Hq * n_q * B), 0.0);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hq; ++h)
            for (int64_t i = 0; i < n_q; ++i) {
                const int64_t hk = h / (Hq / Hkv);
                std::vector<double> s((size_t)n_kv);
                double mx = -kInf;
                for (int64_t j = 0; j < n_kv; ++j) {
                    double x = 0.0;
                    for (int64_t d = 0; d < D; ++d)
                        x += (double)getf(qs, d, h, i, b) * (double)getf(ks, d, hk, j, b);
                    x *= p.scale;
                    if (p.softcap > 0.0f) x = p.softcap * std::tanh(x / p.softcap);
                    x += getf(mask, j, i, 0, b);
                    if (steered.test((size_t)h)) x += getf(bias, j, 0, 0, b);
                    if (p.causal && j > i + p.causal_offset) x = -kInf;
                    s[(size_t)j] = x;
                    mx = std::max(mx, x);
                }
                if (mx == -kInf) continue;
                double sum = 0.0;
                for (double& x : s) sum += (x = std::exp(x - mx));
                double* r = &ref[(size_t)(((b * n_q + i) * Hq + h) * Dv)];
                for (int64_t j = 0; j < n_kv; ++j)
                    for (int64_t d = 0; d < Dv; ++d)
                        r[d] += s[(size_t)j] / sum * getf(v, d, j, hk, b);
            }
    return ref;
}

}  // namespace

TEST_CASE("cpu flash_attn matches direct softmax attention (GQA, causal, mask, softcap, steer)",
          "[cpu][flash_attn]") {
    const int64_t D = 40, Dv = 24, n_q = 19, n_kv = 150, Hq = 8, Hkv = 2, B = 2;
    const DType kv_type = GENERATE(DType::F16, DType::BF16, DType::F32);
    const bool causal = GENERATE(true, false);
    // 0: most KV blocks lie entirely above the diagonal and are skipped; n_kv - n_q - 3: the
    // diagonal cuts through the last KV block.
    const int32_t offset = GENERATE(0, (int32_t)(150 - 19 - 3));
    CAPTURE(dtype_name(kv_type), causal, offset);

    Context ctx;
    Memory mem;
    std::mt19937 rng(1234);
    // q and k are laid out as a KV cache would be, [D, H, n, B], and permuted to the op's
    // [D, n, H, B]: the kernel must follow the strides.
    const AttnInputs in = attn_inputs(ctx, mem, rng, kv_type, D, Dv, n_q, n_kv, Hq, Hkv, B);
    Tensor *qs = in.q, *ks = in.k, *v = in.v, *mask = in.mask, *bias = in.bias;
    // Some hidden keys, and query row 5 of batch 1 with every key hidden: it must give zeros.
    for (int64_t j = 0; j < n_kv; j += 7) setf(mask, -INFINITY, j, 2, 0, 0);
    for (int64_t j = 0; j < n_kv; ++j) setf(mask, -INFINITY, j, 5, 0, 1);
    // PASTA: keys outside the span [20, 60) down-weighted by alpha = 0.01.
    for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < n_kv; ++j)
            setf(bias, (j >= 20 + 10 * b && j < 60) ? 0.0f : std::log(0.01f), j, 0, 0, b);

    Tensor* q = permute(ctx, qs, 0, 2, 1, 3);
    Tensor* k = permute(ctx, ks, 0, 2, 1, 3);
    FlashAttnParams p;
    p.scale = 1.0f / std::sqrt((float)D);
    p.softcap = 3.0f;
    p.causal = causal ? 1 : 0;
    p.causal_offset = offset;
    HeadSet steered;
    steered.set(1);
    steered.set(6);
    p.steer.set(steered);
    Tensor* out = flash_attn(ctx, q, k, v, mask, p, bias);
    mem.bind(out);
    REQUIRE(out->ne[0] == Dv);
    REQUIRE(out->ne[1] == Hq);
    REQUIRE(out->ne[2] == n_q);

    run_both({q, k, out}, out);

    const std::vector<double> ref = attn_reference(qs, ks, v, mask, bias, p, steered);
    auto R = [&](int64_t d, int64_t h, int64_t i, int64_t b) {
        return ref[(size_t)(((b * n_q + i) * Hq + h) * Dv + d)];
    };
    // Outputs are convex combinations of |v| <= 1; f32 scores carry ~1e-6 relative error,
    // so 1e-5 is loose for rounding (observed ~3e-7) and far below what a wrong head, key or mask
    // would cause. Against bf16 keys, AVX512-BF16 rounds q to bf16 as well (2^-9 relative per
    // term; a score moves by up to ~3e-3 here, an output by about as much: observed 2.0e-3 in
    // the rows that see few keys), so bf16 gets 5e-3: still far below a wrong key's ~0.1.
    const double tol = kv_type == DType::BF16 ? 5e-3 : 1e-5;
    const double err =
        max_abs_err(out, [&](int64_t d, int64_t h, int64_t i, int64_t b) { return R(d, h, i, b); });
    CHECK(err < tol);
    for (int64_t h = 0; h < Hq; ++h)
        for (int64_t d = 0; d < Dv; ++d) REQUIRE(getf(out, d, h, 5, 1) == 0.0f);
}

TEST_CASE("cpu flash_attn with the whole query block above the diagonal gives zeros",
          "[cpu][flash_attn]") {
    // Every key of every row is hidden by the mask: the result must be exactly zero (no 0/0),
    // and every element must be written.
    Context ctx;
    Memory mem;
    std::mt19937 rng(7);
    Tensor* q = ctx.new_tensor(DType::F32, {8, 20, 4, 1});
    Tensor* k = ctx.new_tensor(DType::F16, {8, 5, 1, 1});
    Tensor* v = ctx.new_tensor(DType::F16, {8, 5, 1, 1});
    Tensor* mask = ctx.new_tensor(DType::F32, {5, 20, 1, 1});
    for (Tensor* t : {q, k, v, mask}) mem.bind(t);
    fill_uniform(q, rng, -1, 1);
    fill_uniform(k, rng, -1, 1);
    fill_uniform(v, rng, -1, 1);
    for_each(mask, [&](int64_t a, int64_t b, int64_t c, int64_t d) {
        setf(mask, -INFINITY, a, b, c, d);
    });
    FlashAttnParams p;
    p.causal = 1;
    Tensor* out = flash_attn(ctx, q, k, v, mask, p);
    mem.bind(out);
    for_each(out,
             [&](int64_t a, int64_t b, int64_t c, int64_t d) { setf(out, 42.0f, a, b, c, d); });
    run_both({out}, out);
    CHECK(max_abs_err(out, [](int64_t, int64_t, int64_t, int64_t) { return 0.0; }) == 0.0);
}

// One position with more query heads than the decode kernel takes (MQA decode: 24 or 96 heads
// on one KV head; 20 on each of two, batch 2) runs the block kernel with the keys split
// between the threads and the partial softmax states merged. Checked on 1, 2 and 3 threads
// against the definition, each run twice for bitwise repeatability. Three threads split the
// keys in every shape; an offset of 300 leaves the last split of 700 keys with no visible key.
TEST_CASE("cpu flash_attn of one position's many heads splits the keys and merges them",
          "[cpu][flash_attn]") {
    struct Shape {
        int64_t Hq, Hkv, B;
    };
    const Shape shape = GENERATE(Shape{24, 1, 1}, Shape{96, 1, 1}, Shape{40, 2, 2});
    const DType kv_type = GENERATE(DType::F16, DType::BF16, DType::F32);
    const int32_t offset = GENERATE(699, 300);
    const int64_t D = 40, Dv = 24, n_kv = 700, Hq = shape.Hq, Hkv = shape.Hkv, B = shape.B;
    CAPTURE(Hq, Hkv, B, dtype_name(kv_type), offset);
    for (int n_threads : {1, 2, 3}) {
        cpu::FaArgs plan{};
        plan.D = D, plan.Dv = Dv, plan.n_q = 1, plan.n_kv = n_kv;
        plan.Hq = Hq, plan.Hkv = Hkv, plan.B = B;
        cpu::fa_partition(plan, n_threads);
        REQUIRE(plan.plan == cpu::kFaPlanWide);
        if (n_threads == 3) REQUIRE(plan.splits > 1);
    }

    Context ctx;
    Memory mem;
    std::mt19937 rng(99);
    const AttnInputs in = attn_inputs(ctx, mem, rng, kv_type, D, Dv, 1, n_kv, Hq, Hkv, B);
    Tensor *q = in.q, *k = in.k, *v = in.v, *mask = in.mask, *bias = in.bias;
    for (int64_t j = 3; j < n_kv; j += 11) setf(mask, -INFINITY, j, 0, 0, B - 1);
    for (int64_t j = 0; j < n_kv; ++j)
        setf(bias, (j >= 100 && j < 200) ? 0.0f : std::log(0.01f), j, 0, 0, 0);
    for (int64_t b = 1; b < B; ++b)
        for (int64_t j = 0; j < n_kv; ++j)
            setf(bias, (j >= 450 && j < 600) ? 0.0f : std::log(0.05f), j, 0, 0, b);

    FlashAttnParams p;
    p.scale = 1.0f / std::sqrt((float)D);
    p.softcap = 4.0f;
    p.causal = 1;
    p.causal_offset = offset;
    HeadSet steered;
    steered.set(0);
    steered.set((size_t)Hq - 3);
    p.steer.set(steered);
    Tensor* out =
        flash_attn(ctx, permute(ctx, q, 0, 2, 1, 3), permute(ctx, k, 0, 2, 1, 3), v, mask, p, bias);
    mem.bind(out);
    const std::vector<double> ref = attn_reference(q, k, v, mask, bias, p, steered);
    // Tolerances as in the GQA test above (the merge adds one rescale per split).
    const double tol = kv_type == DType::BF16 ? 5e-3 : 1e-5;
    for (int n_threads : {1, 2, 3}) {
        CAPTURE(n_threads);
        KernelErrors e1, e2;
        run(n_threads, {out}, e1);
        REQUIRE_FALSE(e1.any());
        const std::vector<float> first = snapshot(out);
        const double err = max_abs_err(out, [&](int64_t d, int64_t h, int64_t, int64_t b) {
            return ref[(size_t)((b * Hq + h) * Dv + d)];
        });
        CHECK(err < tol);
        run(n_threads, {out}, e2);
        REQUIRE_FALSE(e2.any());
        CHECK(snapshot(out) == first);
    }
}

// y = mul_mat(a, b) for a of type `at` and f32 b, both uniform in [-1, 1), all bound to mem.
struct RandomMatMul {
    Tensor *a, *b, *y;
};
RandomMatMul random_mul_mat(Context& ctx, Memory& mem, std::mt19937& rng, DType at,
                            std::initializer_list<int64_t> a_ne,
                            std::initializer_list<int64_t> b_ne) {
    RandomMatMul m;
    m.a = ctx.new_tensor(at, a_ne);
    m.b = ctx.new_tensor(DType::F32, b_ne);
    mem.bind(m.a);
    mem.bind(m.b);
    fill_uniform(m.a, rng, -1, 1);
    fill_uniform(m.b, rng, -1, 1);
    m.y = mul_mat(ctx, m.a, m.b);
    mem.bind(m.y);
    return m;
}

// Runs y on 1, 2 and 3 threads; they must all succeed and agree bit for bit. Returns y.
std::vector<float> same_on_1_2_3_threads(Tensor* y) {
    std::vector<float> one;
    for (int n_threads : {1, 2, 3}) {
        CAPTURE(n_threads);
        KernelErrors e;
        run(n_threads, {y}, e);
        REQUIRE_FALSE(e.any());
        if (n_threads == 1) one = snapshot(y);
        REQUIRE(snapshot(y) == one);
    }
    return one;
}

TEST_CASE("cpu mul_mat matches double loops (f16/bf16/f32 a, batch broadcast)", "[cpu][mul_mat]") {
    const DType at = GENERATE(DType::F16, DType::BF16, DType::F32);
    CAPTURE(dtype_name(at));
    const int64_t K = 70, M = 37, N = 70, A2 = 2, A3 = 1, B2 = 6, B3 = 2;
    Context ctx;
    Memory mem;
    std::mt19937 rng(99);
    const RandomMatMul mm = random_mul_mat(ctx, mem, rng, at, {K, M, A2, A3}, {K, N, B2, B3});
    Tensor *a = mm.a, *b = mm.b, *y = mm.y;
    run_both({y}, y);
    // K = 70 products of magnitude <= 1 summed in f32: error well below 2e-5 in practice. With
    // bf16 weights the AVX512-BF16 GEMM also rounds b to bf16 (to nearest: at most 2^-9
    // relative), which adds at most 2^-9 sum_k |a_k b_k| to an element's error.
    const double rel = at == DType::BF16 ? std::ldexp(1.0, -9) : 0.0;
    double worst = 0.0;  // error over the element's bound
    for_each(y, [&](int64_t m, int64_t n, int64_t i2, int64_t i3) {
        double s = 0.0, mag = 0.0;
        for (int64_t kk = 0; kk < K; ++kk) {
            const double p =
                (double)getf(a, kk, m, i2 / (B2 / A2), i3 / (B3 / A3)) * getf(b, kk, n, i2, i3);
            s += p;
            mag += std::fabs(p);
        }
        const double r = std::fabs((double)getf(y, m, n, i2, i3) - s) / (2e-5 + rel * mag);
        if (!(r <= worst)) worst = r;  // NaN propagates as a failure
    });
    CHECK(worst < 1.0);
}

TEST_CASE("cpu GEMM jobs split W and x rows yet agree bit for bit on 1, 2 and 3 threads",
          "[cpu][mul_mat]") {
    // M = 600, N = 800: ten W-row blocks, and with three threads two pieces of x rows each,
    // taken from the job dispenser in whatever order the threads reach them; each job's
    // arithmetic must not depend on that.
    const int64_t K = 200, M = 600, N = 800;
    Context ctx;
    Memory mem;
    std::mt19937 rng(7);
    const RandomMatMul mm = random_mul_mat(ctx, mem, rng, DType::F32, {K, M}, {K, N});
    Tensor *a = mm.a, *b = mm.b, *y = mm.y;
    same_on_1_2_3_threads(y);
    // K = 200 products of magnitude <= 1 summed in f32: well below 1e-4.
    const double err = max_abs_err(y, [&](int64_t m, int64_t n, int64_t, int64_t) {
        double acc = 0.0;
        for (int64_t kk = 0; kk < K; ++kk)
            acc += (double)getf(a, kk, m, 0, 0) * getf(b, kk, n, 0, 0);
        return acc;
    });
    CHECK(err < 1e-4);
}

TEST_CASE("cpu GEMM packs x in groups when it exceeds the shared packing limit", "[cpu][mul_mat]") {
    // x: 2 batches of 1049 rows by K = 4096 (34 MB packed, over kMmPackMaxBytes = 32 MiB), so
    // the team packs it in two groups, the first ending inside batch 1; the last panel of each
    // batch has 5 live rows, M = 20 leaves a 4-row W panel, and K = 4 k blocks reload C.
    const int64_t K = 4096, M = 20, N = 1049, B2 = 2;
    cpu::MmArgs plan{};
    plan.K = K, plan.M = M, plan.N = N, plan.B2 = B2, plan.B3 = 1;
    cpu::mm_partition(plan, 2);
    REQUIRE(plan.group_panels < B2 * ((N + 5) / 6));
    REQUIRE(plan.group_panels > (N + 5) / 6);
    Context ctx;
    Memory mem;
    std::mt19937 rng(3);
    const RandomMatMul mm = random_mul_mat(ctx, mem, rng, DType::F16, {K, M}, {K, N, B2});
    Tensor *a = mm.a, *b = mm.b, *y = mm.y;
    const std::vector<float> av = snapshot(a), bv = snapshot(b);
    same_on_1_2_3_threads(y);
    // K = 4096 products of magnitude <= 1 summed in f32 (f16 weights are exact in f32): the
    // rounding errors add up like a random walk, ~sqrt(K) = 64 half-ulps of partial sums of
    // magnitude ~20-60 (measured: 2.7e-4 at worst over the 42k outputs); 1e-3 leaves 4x.
    const double err = max_abs_err(y, [&](int64_t m, int64_t n, int64_t i2, int64_t) {
        double acc = 0.0;
        const float* ar = av.data() + m * K;
        const float* br = bv.data() + (i2 * N + n) * K;
        for (int64_t kk = 0; kk < K; ++kk) acc += (double)ar[kk] * br[kk];
        return acc;
    });
    CHECK(err < 1e-3);
}

TEST_CASE("cpu rope matches the rotation formula in both modes", "[cpu][rope]") {
    const RopeMode mode = GENERATE(RopeMode::Interleaved, RopeMode::Neox);
    CAPTURE((int)mode);
    const int64_t D = 16, H = 3, T = 5, B = 2;
    Context ctx;
    Memory mem;
    std::mt19937 rng(5);
    // a from a [D, T, H, B] tensor permuted to [D, H, T, B]: strided rows of heads.
    Tensor* xs = ctx.new_tensor(DType::F32, {D, T, H, B});
    Tensor* pos = ctx.new_tensor(DType::I32, {T});
    mem.bind(xs);
    mem.bind(pos);
    fill_uniform(xs, rng, -1, 1);
    const int32_t positions[T] = {0, 7, 100, 3000, 42};
    for (int64_t t = 0; t < T; ++t) *(int32_t*)pos->ptr(t) = positions[t];
    Tensor* x = permute(ctx, xs, 0, 2, 1, 3);
    RopeParams rp;
    rp.n_dims = 12;  // the last 4 elements pass through
    rp.mode = mode;
    rp.freq_base = 10000.0f;
    Tensor* y = rope(ctx, x, pos, rp);
    mem.bind(y);
    run_both({x, y}, y);
    const int64_t half = rp.n_dims / 2;
    const double err = max_abs_err(y, [&](int64_t i0, int64_t h, int64_t t, int64_t b) {
        if (i0 >= rp.n_dims) return (double)getf(x, i0, h, t, b);
        const bool neox = mode == RopeMode::Neox;
        const int64_t pair = neox ? i0 % half : i0 / 2;
        const bool first = neox ? i0 < half : i0 % 2 == 0;
        const int64_t j0 = neox ? pair : 2 * pair, j1 = neox ? pair + half : 2 * pair + 1;
        const double theta = positions[t] * std::pow(10000.0, -2.0 * pair / rp.n_dims);
        const double x0 = getf(x, j0, h, t, b), x1 = getf(x, j1, h, t, b);
        return first ? x0 * std::cos(theta) - x1 * std::sin(theta)
                     : x0 * std::sin(theta) + x1 * std::cos(theta);
    });
    CHECK(err < 4e-6);  // cos/sin rounded to f32, one multiply-add of |x| <= 1 values
}

TEST_CASE("cpu soft_max: scale, mask, causal offset, fully masked rows", "[cpu][soft_max]") {
    const int64_t n_kv = 10, n_q = 4, H = 3, B = 2;
    Context ctx;
    Memory mem;
    std::mt19937 rng(11);
    Tensor* a = ctx.new_tensor(DType::F32, {n_kv, n_q, H, B});
    Tensor* mask = ctx.new_tensor(DType::F32, {n_kv, n_q, 1, B});
    mem.bind(a);
    mem.bind(mask);
    fill_uniform(a, rng, -3, 3);
    fill_uniform(mask, rng, -1, 1);
    setf(mask, -INFINITY, 1, 2, 0, 0);
    for (int64_t j = 0; j < 3; ++j) setf(mask, -INFINITY, j, 0, 0, 1);  // row 0 sees keys 0..2
    SoftMaxParams p;
    p.scale = 0.7f;
    p.causal = 1;
    p.causal_offset = 2;
    Tensor* y = soft_max(ctx, a, mask, p);
    mem.bind(y);
    run_both({y}, y);
    const double err = max_abs_err(y, [&](int64_t j0, int64_t i, int64_t h, int64_t b) {
        std::vector<double> s((size_t)n_kv);
        double mx = -kInf;
        for (int64_t j = 0; j < n_kv; ++j) {
            s[(size_t)j] = j > i + p.causal_offset
                               ? -kInf
                               : p.scale * (double)getf(a, j, i, h, b) + getf(mask, j, i, 0, b);
            mx = std::max(mx, s[(size_t)j]);
        }
        if (mx == -kInf) return 0.0;
        double sum = 0.0;
        for (double x : s) sum += std::exp(x - mx);
        return std::exp(s[(size_t)j0] - mx) / sum;
    });
    CHECK(err < 1e-6);  // probabilities in [0, 1], a few f32 roundings each
    for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < n_kv; ++j) REQUIRE(getf(y, j, 0, h, 1) == 0.0f);
}

TEST_CASE("cpu get_rows reports out-of-range ids and leaves their rows alone", "[cpu][get_rows]") {
    Context ctx;
    Memory mem;
    std::mt19937 rng(3);
    Tensor* a = ctx.new_tensor(DType::F16, {8, 512});
    Tensor* ids = ctx.new_tensor(DType::I32, {3});
    mem.bind(a);
    mem.bind(ids);
    fill_uniform(a, rng, -1, 1);
    const int32_t id[3] = {1, 600, 511};
    for (int i = 0; i < 3; ++i) *(int32_t*)ids->ptr(i) = id[i];
    Tensor* y = get_rows(ctx, a, ids);
    y->set_name("emb");
    mem.bind(y);
    const int n_threads = GENERATE(1, 2);
    for_each(y, [&](int64_t i0, int64_t i1, int64_t, int64_t) { setf(y, 7.0f, i0, i1); });
    KernelErrors errors;
    run(n_threads, {y}, errors);
    REQUIRE(errors.any());
    CHECK(errors.take() == "get_rows: row id 600 out of range [0, 512) in node 'emb'");
    for (int64_t i0 = 0; i0 < 8; ++i0) {
        CHECK(getf(y, i0, 0) == getf(a, i0, 1));
        CHECK(getf(y, i0, 1) == 7.0f);
        CHECK(getf(y, i0, 2) == getf(a, i0, 511));
    }
}

TEST_CASE("cpu set_rows writes converted rows in place, last duplicate wins", "[cpu][set_rows]") {
    Context ctx;
    Memory mem;
    std::mt19937 rng(8);
    Tensor* cache = ctx.new_tensor(DType::F16, {6, 9, 2});
    Tensor* rows = ctx.new_tensor(DType::F32, {6, 3, 2});
    Tensor* ids = ctx.new_tensor(DType::I32, {3, 2});
    for (Tensor* t : {cache, rows, ids}) mem.bind(t);
    fill_uniform(cache, rng, -1, 1);
    fill_uniform(rows, rng, -1, 1);
    const int32_t id[2][3] = {{4, 0, 4}, {8, 2, 3}};
    for (int s = 0; s < 2; ++s)
        for (int i = 0; i < 3; ++i) *(int32_t*)ids->ptr(i, s) = id[s][i];
    const std::vector<float> before = snapshot(cache);
    Tensor* y = set_rows(ctx, cache, rows, ids);
    REQUIRE(y->data == cache->data);
    run_both({y}, y);
    for (int64_t s = 0; s < 2; ++s)
        for (int64_t r = 0; r < 9; ++r) {
            int64_t src = -1;
            for (int i = 0; i < 3; ++i)
                if (id[s][i] == r) src = i;
            for (int64_t i0 = 0; i0 < 6; ++i0) {
                const float want = src >= 0 ? f16_to_f32(f32_to_f16(getf(rows, i0, src, s)))
                                            : before[(size_t)((s * 9 + r) * 6 + i0)];
                CHECK(getf(y, i0, r, s) == want);
            }
        }
}

TEST_CASE("cpu compute runs a chain with views in one parallel region", "[cpu]") {
    // mul_mat -> reshape (view, skipped) -> rms_norm -> add (broadcast): each node reads its
    // predecessor's output, so a missing barrier between nodes shows up as wrong values.
    const int64_t K = 33, M = 24, N = 10;
    Context ctx;
    Memory mem;
    std::mt19937 rng(21);
    Tensor* w = ctx.new_tensor(DType::F16, {K, M});
    Tensor* x = ctx.new_tensor(DType::F32, {K, N});
    Tensor* bvec = ctx.new_tensor(DType::F32, {M / 2});
    for (Tensor* t : {w, x, bvec}) mem.bind(t);
    fill_uniform(w, rng, -1, 1);
    fill_uniform(x, rng, -1, 1);
    fill_uniform(bvec, rng, -1, 1);
    Tensor* mm = mul_mat(ctx, w, x);
    mem.bind(mm);
    Tensor* rs = reshape(ctx, mm, {M / 2, 2 * N});
    Tensor* nrm = rms_norm(ctx, rs, 1e-5f);
    mem.bind(nrm);
    Tensor* out = add(ctx, nrm, bvec);
    mem.bind(out);
    run_both({mm, rs, nrm, out}, out);
    const double err = max_abs_err(out, [&](int64_t i0, int64_t i1, int64_t, int64_t) {
        // element (i0, i1) of the reshaped product is flat index i1 * M/2 + i0 of mm
        auto prod = [&](int64_t flat) {
            const int64_t m = flat % M, n = flat / M;
            double s = 0.0;
            for (int64_t k = 0; k < K; ++k) s += (double)getf(w, k, m) * getf(x, k, n);
            return s;
        };
        double ss = 0.0;
        for (int64_t j = 0; j < M / 2; ++j) ss += prod(i1 * (M / 2) + j) * prod(i1 * (M / 2) + j);
        return prod(i1 * (M / 2) + i0) / std::sqrt(ss / (M / 2) + 1e-5) + getf(bvec, i0);
    });
    CHECK(err < 2e-5);
}

TEST_CASE("cpu branch-free f16 conversion equals the reference converter bit for bit", "[cpu]") {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const uint32_t want = f32_bits(f16_to_f32((f16_t)h));
        const uint32_t got = f32_bits(cpu::f16_to_f32_fast((f16_t)h));
        if (got != want) FAIL("f16 bits " << h << ": got " << got << ", want " << want);
    }
}
