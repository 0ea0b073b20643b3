// Planner and executor tests.
//
// The oracle for memory planning is the naive plan (PlanOptions::reuse = false): every block
// its own memory, no sharing, no in-place. Both plans run the same CPU kernels on the same
// inputs with the same thread count and 64-byte-aligned addresses, so any difference in the
// outputs can only come from the planner letting one tensor's bytes clobber another's:
// exact (bitwise) equality is the right check. Independently of running, every plan is checked
// structurally: each memory block covers every node that defines or reads a tensor in it,
// blocks with intersecting lifetimes never overlap, tensors sharing a block hand over at
// exactly one node (in place), and every compute node reads only memory its backend can see.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ggml/ggml.h"

using namespace ggml;

namespace {

// ---- helpers -----------------------------------------------------------------------------------

std::unique_ptr<Backend> cpu_backend() {
    BackendOptions o;
    o.n_threads = 2;
    return make_backend("cpu", o);
}

// Elements of t (any strides) as contiguous bytes, read through tensor_get.
std::vector<uint8_t> read_elems(const Tensor* t) {
    std::vector<uint8_t> span(t->nbytes());
    tensor_get(t, span.data(), 0, span.size());
    const size_t es = dtype_size(t->type);
    std::vector<uint8_t> out((size_t)t->nelements() * es);
    size_t k = 0;
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0, k += es)
                    std::memcpy(
                        &out[k],
                        &span[i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3]], es);
    return out;
}

std::vector<float> read_f32(const Tensor* t) {
    std::vector<uint8_t> b = read_elems(t);
    std::vector<float> f(b.size() / 4);
    std::memcpy(f.data(), b.data(), b.size());
    return f;
}

void set_random(Tensor* t, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    std::vector<float> v((size_t)t->nelements());
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& x : v) x = d(rng);
    tensor_set(t, v.data(), 0, v.size() * 4);
}

void set_positions(Tensor* pos) {
    std::vector<int32_t> p((size_t)pos->nelements());
    for (size_t i = 0; i < p.size(); ++i) p[i] = (int32_t)i;
    tensor_set(pos, p.data(), 0, p.size() * 4);
}

// Memory owner of t in a plan: follows views and lowered fused nodes.
const Tensor* plan_root(const Plan& p, const Tensor* t) {
    for (int guard = 0; guard < 1000; ++guard) {
        if (t->view_src) {
            t = t->view_src;
            continue;
        }
        const PlanTensor* pt = p.find(t);
        if (pt && pt->placement == Placement::Lowered) {
            t = pt->shares;
            continue;
        }
        return t;
    }
    FAIL("alias chain does not end");
    return t;
}

// Where the bytes of t live: a plan backend index, or -1 for external host memory.
int mem_backend(const Plan& p, const std::vector<Backend*>& be, const Tensor* t) {
    const Tensor* r = plan_root(p, t);
    const PlanTensor* pt = p.find(r);
    REQUIRE(pt);
    if (pt->placement == Placement::External) {
        if (!r->buffer) return -1;
        for (size_t b = 0; b < be.size(); ++b)
            if (be[b] == &r->buffer->backend()) return (int)b;
        return -1;
    }
    REQUIRE(pt->block >= 0);
    return p.blocks[pt->block].backend;
}

// The structural checks shared by every test (see the file comment).
void check_plan(const Plan& p, const std::vector<Backend*>& be) {
    const int n = (int)p.nodes.size();
    auto block_of = [&](const Tensor* t) -> const PlanBlock* {
        const PlanTensor* pt = p.find(plan_root(p, t));
        REQUIRE(pt);
        if (pt->placement == Placement::External) return nullptr;
        REQUIRE((pt->placement == Placement::Arena || pt->placement == Placement::InPlace));
        REQUIRE(pt->block >= 0);
        return &p.blocks[pt->block];
    };
    auto covers = [&](const Tensor* t, int i) {
        const PlanBlock* b = block_of(t);
        if (!b) return;
        INFO("tensor '" << t->name << "' used at node " << i << ", block life [" << b->first << ","
                        << b->last << "]");
        CHECK(b->first <= i);
        CHECK(i <= b->last);
    };
    // Segments tile the node list in order.
    REQUIRE(!p.segments.empty());
    CHECK(p.segments.front().first_node == 0);
    CHECK(p.segments.back().end_node == n);
    for (size_t s = 1; s < p.segments.size(); ++s)
        CHECK(p.segments[s].first_node == p.segments[s - 1].end_node);
    for (int i = 0; i < n; ++i) {
        const PlanNode& pn = p.nodes[i];
        const Tensor* t = pn.tensor;
        REQUIRE(pn.segment >= 0);
        const PlanSegment& seg = p.segments[pn.segment];
        CHECK(seg.first_node <= i);
        CHECK(i < seg.end_node);
        if (pn.lowered_to || op_info(t->op).view) continue;
        CHECK(pn.backend == seg.backend);
        CHECK(be[pn.backend]->supports(t));
        covers(t, i);
        for (int k = 0; k < kMaxSrc; ++k) {
            if (!t->src[k]) continue;
            covers(t->src[k], i);
            // Every operand lives where the node runs (or both are host memory).
            const int mb = mem_backend(p, be, t->src[k]);
            const bool ok =
                mb == pn.backend || ((mb < 0 || be[mb]->is_host()) && be[pn.backend]->is_host());
            INFO("node '" << t->name << "' on " << be[pn.backend]->name() << " reads '"
                          << t->src[k]->name << "' from backend " << mb);
            CHECK(ok);
        }
        if (pn.work_size > 0) {
            bool found = false;
            for (const PlanBlock& b : p.blocks)
                found |= b.scratch && b.backend == pn.backend && b.offset == pn.work_offset &&
                         b.size >= pn.work_size && b.first <= i && i <= b.last;
            CHECK(found);
        }
    }
    for (const PlanCopy& c : p.copies) {
        const PlanSegment& seg = p.segments[c.segment];
        covers(c.src, seg.first_node);
        covers(c.dst, seg.first_node);
        CHECK(mem_backend(p, be, c.dst) == seg.backend);
        CHECK(c.dst->is_contiguous());
    }
    // Inputs and outputs hold their memory for the whole plan.
    for (const PlanTensor& pt : p.tensors) {
        const Tensor* t = pt.tensor;
        const bool input = (t->flags & kFlagInput) != 0;
        if (!input && !(t->flags & kFlagOutput)) continue;
        covers(t, 0);
        covers(t, n - 1);
    }
    // Blocks: aligned, inside their arena, no overlap when lifetimes intersect.
    const size_t g = p.guard_bytes;
    for (size_t a = 0; a < p.blocks.size(); ++a) {
        const PlanBlock& x = p.blocks[a];
        CHECK(x.offset % be[x.backend]->alignment() == 0);
        CHECK(x.offset >= g);
        CHECK(x.offset + x.size + g <= p.arena_size[x.backend]);
        for (size_t b = a + 1; b < p.blocks.size(); ++b) {
            const PlanBlock& y = p.blocks[b];
            if (x.backend != y.backend) continue;
            if (!(x.first <= y.last && y.first <= x.last)) continue;
            const bool disjoint =
                x.offset + x.size + g <= y.offset - g || y.offset + y.size + g <= x.offset - g;
            INFO("blocks " << a << " [" << x.first << "," << x.last << "] @" << x.offset << "+"
                           << x.size << " and " << b << " [" << y.first << "," << y.last << "] @"
                           << y.offset << "+" << y.size);
            CHECK(disjoint);
        }
    }
    // Tensors sharing a block: an in-place chain, each link handing over at one node.
    std::map<int, std::vector<const PlanTensor*>> members;
    for (const PlanTensor& pt : p.tensors)
        if (pt.block >= 0) members[pt.block].push_back(&pt);
    for (auto& kv : members) {
        auto& v = kv.second;
        std::sort(v.begin(), v.end(),
                  [](const PlanTensor* x, const PlanTensor* y) { return x->first < y->first; });
        CHECK(v.front()->placement == Placement::Arena);
        for (size_t k = 1; k < v.size(); ++k) {
            CHECK(v[k]->placement == Placement::InPlace);
            CHECK(v[k]->shares == v[k - 1]->tensor);
            CHECK(v[k - 1]->last == v[k]->first);
            CHECK(v[k]->tensor->src[0] == v[k - 1]->tensor);
            CHECK(op_info(v[k]->tensor->op).inplace);
        }
    }
}

// ---- random graphs
// -------------------------------------------------------------------------------

struct RandomGraph {
    Context ctx;
    std::vector<Tensor*> inputs;
    std::vector<Tensor*> outputs;
    Graph graph;
};

// A random mix of element-wise ops, mul_mat, norms, softmax, views and copies over a pool of
// tensors. Operands are drawn from the whole pool, so inputs and early results are often
// read late. Ops the CPU backend cannot run on a strided operand get a cont() first.
void build_random(RandomGraph& rg, uint32_t seed, Backend& cpu) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return (int)(rng() % (uint32_t)n); };
    Context& ctx = rg.ctx;
    const int64_t dims[3] = {8, 16, 32};
    std::vector<Tensor*> pool;
    int counter = 0;
    auto name = [&](Tensor* t, const char* what) {
        t->set_name("n" + std::to_string(counter++) + "_" + what);
        return t;
    };
    const int n_inputs = 2 + pick(3);
    for (int i = 0; i < n_inputs; ++i) {
        Tensor* t = ctx.new_input(DType::F32, {dims[pick(3)], 4 + 2 * pick(3)});
        name(t, "in");
        rg.inputs.push_back(t);
        pool.push_back(t);
    }
    auto same_shape_operand = [&](Tensor* a) -> Tensor* {
        std::vector<Tensor*> c;
        for (Tensor* t : pool)
            if (same_shape(t, a)) c.push_back(t);
        if (c.empty() || pick(4) == 0) {
            Tensor* t = ctx.new_input(DType::F32, {a->ne[0], a->ne[1], a->ne[2], a->ne[3]});
            name(t, "in");
            rg.inputs.push_back(t);
            pool.push_back(t);
            return t;
        }
        return c[pick((int)c.size())];
    };
    auto runnable = [&](Tensor* t) -> Tensor* {
        if (cpu.supports(t)) return t;
        return nullptr;
    };
    auto contig = [&](Tensor* a) { return a->is_contiguous() ? a : name(cont(ctx, a), "cont"); };
    const int n_ops = 10 + pick(30);
    for (int k = 0; k < n_ops; ++k) {
        // Mostly chain on recent results (deep graphs, short lifetimes); sometimes reach back.
        const int np = (int)pool.size();
        Tensor* a = pick(3) ? pool[np - 1 - pick(std::min(np, 3))] : pool[pick(np)];
        Tensor* r = nullptr;
        switch (pick(11)) {
            case 0:
            case 1: {
                Tensor* b = same_shape_operand(a);
                r = runnable(pick(2) ? add(ctx, a, b) : mul(ctx, a, b));
                if (!r)
                    r = pick(2) ? add(ctx, contig(a), contig(b)) : mul(ctx, contig(a), contig(b));
                name(r, "bin");
                break;
            }
            case 2:
                r = runnable(scale(ctx, a, 0.5f + 0.1f * pick(5), 0.25f));
                if (!r) r = scale(ctx, contig(a), 0.75f);
                name(r, "scale");
                break;
            case 3:
                r = runnable(silu(ctx, a));
                if (!r) r = silu(ctx, contig(a));
                name(r, "silu");
                break;
            case 4: {
                Tensor* x = contig(a);
                Tensor* w = ctx.new_input(DType::F32, {x->ne[0], dims[pick(3)]});
                name(w, "w");
                rg.inputs.push_back(w);
                r = name(mul_mat(ctx, w, x), "mul_mat");
                break;
            }
            case 5:
                r = runnable(rms_norm(ctx, a, 1e-5f));
                if (!r) r = rms_norm(ctx, contig(a), 1e-5f);
                name(r, "rms_norm");
                break;
            case 6: {
                SoftMaxParams sp;
                sp.scale = 0.5f;
                sp.causal = pick(2);
                r = runnable(soft_max(ctx, a, nullptr, sp));
                if (!r) r = soft_max(ctx, contig(a), nullptr, sp);
                name(r, "soft_max");
                break;
            }
            case 7:
                r = name(cont(ctx, name(transpose(ctx, a), "transpose")), "cont");
                break;
            case 8: {
                // A strided view as a value of its own (kept in the pool, maybe an output).
                Tensor* p =
                    name(a->ne[2] == 1 && pick(2) ? transpose(ctx, a) : permute(ctx, a, 1, 0, 2, 3),
                         "permute");
                r = p;
                break;
            }
            case 9: {
                // Row window: the second half of a's rows.
                if (a->ne[1] >= 2 && a->rows_contiguous()) {
                    const int64_t h = a->ne[1] / 2;
                    r = name(view(ctx, a, {a->ne[0], h}, {a->nb[1]}, (size_t)h * a->nb[1]), "view");
                } else {
                    r = name(cont(ctx, a), "cont");
                }
                break;
            }
            default: {
                Tensor* x = contig(a);
                if (x->nelements() % 2 == 0 && x->ne[2] == 1 && x->ne[3] == 1)
                    r = name(reshape(ctx, x, {x->ne[0] * x->ne[1] / 2, 2}), "reshape");
                else
                    r = name(scale(ctx, x, 1.5f), "scale");
                break;
            }
        }
        pool.push_back(r);
    }
    // Several outputs: the last result plus a few random non-leaf tensors (views included).
    std::set<Tensor*> outs = {pool.back()};
    for (int k = 0; k < 1 + pick(3); ++k) {
        Tensor* t = pool[pick((int)pool.size())];
        if (t->op != Op::NONE) outs.insert(t);
    }
    for (Tensor* t : pool)
        if (outs.count(t)) {
            rg.graph.build(t);
            rg.outputs.push_back(t);
        }
    // Inputs no output depends on are not part of the graph.
    std::vector<Tensor*> used;
    for (Tensor* t : rg.inputs)
        if (rg.graph.contains(t)) used.push_back(t);
    rg.inputs = used;
}

struct RunResult {
    std::vector<std::vector<uint8_t>> outputs;
    size_t peak = 0;
};

// Plans, checks, fills inputs from `seed`, runs twice (plans are reusable) and reads outputs.
RunResult plan_and_run(RandomGraph& rg, std::vector<Backend*> be, const PlanOptions& opt,
                       uint32_t seed) {
    Plan p = make_plan(rg.ctx, rg.graph, be, opt);
    check_plan(p, be);
    RunResult res;
    res.peak = p.peak_bytes();
    Executor ex(std::move(p), be);
    std::mt19937 rng(seed * 7919u + 1);
    std::vector<std::vector<uint8_t>> in_bytes;
    for (Tensor* t : rg.inputs) {
        if (t->type == DType::I32)
            set_positions(t);
        else
            set_random(t, rng);
        in_bytes.push_back(read_elems(t));
    }
    ex.run();
    ex.run();
    for (size_t i = 0; i < rg.inputs.size(); ++i) {
        INFO("input '" << rg.inputs[i]->name << "' was overwritten");
        CHECK(read_elems(rg.inputs[i]) == in_bytes[i]);
    }
    for (Tensor* t : rg.outputs) res.outputs.push_back(read_elems(t));
    return res;
}

// ---- fake backends ------------------------------------------------------------------------------

// A buffer that pretends to be device memory: no host address, but kernels (which are the CPU
// kernels underneath) still get a usable device address.
class FakeBuffer : public Buffer {
  public:
    FakeBuffer(Backend& owner, std::unique_ptr<Buffer> inner)
        : owner_(owner), inner_(std::move(inner)) {}
    Backend& backend() const override { return owner_; }
    size_t size() const override { return inner_->size(); }
    void* base() const override { return nullptr; }
    void* device_base() const override { return inner_->device_base(); }
    void write(size_t o, const void* s, size_t n) override { inner_->write(o, s, n); }
    void read(size_t o, void* d, size_t n) const override { inner_->read(o, d, n); }
    void fill(uint8_t b) override { inner_->fill(b); }

  private:
    Backend& owner_;
    std::unique_ptr<Buffer> inner_;
};

// Wraps the CPU backend: runs its kernels but accepts only `ops`, and is host or not.
class FakeBackend : public Backend {
  public:
    FakeBackend(const char* name, bool host, std::set<Op> ops, bool accept_all_but = false)
        : name_(name),
          host_(host),
          ops_(std::move(ops)),
          all_but_(accept_all_but),
          cpu_(cpu_backend()) {}
    const char* name() const override { return name_; }
    bool is_host() const override { return host_; }
    bool supports(const Tensor* node) const override {
        if (op_info(node->op).view) return true;
        const bool listed = ops_.count(node->op) > 0;
        return (all_but_ ? !listed : listed) && cpu_->supports(node);
    }
    size_t work_size(const Tensor* node) const override { return cpu_->work_size(node); }
    size_t alignment() const override { return cpu_->alignment(); }
    std::unique_ptr<Buffer> alloc_buffer(size_t size) override {
        auto b = cpu_->alloc_buffer(size);
        if (host_) return b;
        return std::unique_ptr<Buffer>(new FakeBuffer(*this, std::move(b)));
    }
    void compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                 KernelErrors& errors) override {
        for (const Tensor* t : nodes)
            if (!supports(t)) errors.report(std::string(name_) + ": asked to run " + t->name);
        computed += nodes.size();
        cpu_->compute(nodes, work, errors);
    }
    size_t computed = 0;

  private:
    const char* name_;
    bool host_;
    std::set<Op> ops_;
    bool all_but_;
    std::unique_ptr<Backend> cpu_;
};

// ---- llama-like block
// ------------------------------------------------------------------------------

struct LlamaBlock {
    Context ctx;
    Graph graph;
    Tensor* x = nullptr;
    Tensor* pos = nullptr;
    Tensor* out = nullptr;
    std::vector<Tensor*> weights;
    std::unique_ptr<Buffer> wbuf;
};

// dim 256, 8 query heads / 2 KV heads (head dim 32), FFN 512, 64 tokens, causal.
void build_llama_block(LlamaBlock& L, Backend& wb, uint32_t seed) {
    const int64_t dim = 256, nh = 8, nkv = 2, hd = dim / nh, ffn = 512, T = 64;
    Context& c = L.ctx;
    auto w = [&](const char* n, std::initializer_list<int64_t> ne) {
        Tensor* t = c.new_tensor(DType::F32, ne);
        t->set_name(n);
        t->flags |= kFlagWeight;
        L.weights.push_back(t);
        return t;
    };
    Tensor* norm1 = w("attn_norm", {dim});
    Tensor* wq = w("wq", {dim, dim});
    Tensor* wk = w("wk", {dim, nkv * hd});
    Tensor* wv = w("wv", {dim, nkv * hd});
    Tensor* wo = w("wo", {dim, dim});
    Tensor* norm2 = w("ffn_norm", {dim});
    Tensor* w1 = w("w1", {dim, ffn});
    Tensor* w3 = w("w3", {dim, ffn});
    Tensor* w2 = w("w2", {ffn, dim});
    L.wbuf = alloc_tensors(wb, L.weights);
    std::mt19937 rng(seed);
    for (Tensor* t : L.weights)
        set_random(t, rng, t->ne[1] == 1 ? 0.5f : -0.1f, t->ne[1] == 1 ? 1.5f : 0.1f);

    L.x = c.new_input(DType::F32, {dim, T}, "x");
    L.pos = c.new_input(DType::I32, {T}, "pos");
    auto nm = [](Tensor* t, const char* n) {
        t->set_name(n);
        return t;
    };
    Tensor* h = nm(mul(c, nm(rms_norm(c, L.x, 1e-5f), "norm1"), norm1), "h");
    RopeParams rp;
    rp.n_dims = (int32_t)hd;
    Tensor* q = nm(reshape(c, nm(mul_mat(c, wq, h), "q"), {hd, nh, T}), "q3");
    Tensor* k = nm(reshape(c, nm(mul_mat(c, wk, h), "k"), {hd, nkv, T}), "k3");
    Tensor* v = nm(reshape(c, nm(mul_mat(c, wv, h), "v"), {hd, nkv, T}), "v3");
    q = nm(rope(c, q, L.pos, rp), "q_rope");
    k = nm(rope(c, k, L.pos, rp), "k_rope");
    q = nm(permute(c, q, 0, 2, 1, 3), "q_perm");  // [hd, T, nh]
    k = nm(permute(c, k, 0, 2, 1, 3), "k_perm");  // [hd, T, nkv]
    v = nm(permute(c, v, 0, 2, 1, 3), "v_perm");
    FlashAttnParams fp;
    fp.scale = 1.0f / std::sqrt((float)hd);
    fp.causal = 1;
    Tensor* a = nm(flash_attn(c, q, k, v, nullptr, fp), "attn");  // [hd, nh, T]
    a = nm(reshape(c, a, {dim, T}), "attn2d");
    Tensor* x2 = nm(add(c, L.x, nm(mul_mat(c, wo, a), "attn_out")), "x2");
    Tensor* h2 = nm(mul(c, nm(rms_norm(c, x2, 1e-5f), "norm2"), norm2), "h2");
    Tensor* g = nm(mul_mat(c, w1, h2), "gate");
    Tensor* u = nm(mul_mat(c, w3, h2), "up");
    Tensor* f = nm(swiglu(c, g, u), "swiglu");
    L.out = nm(add(c, x2, nm(mul_mat(c, w2, f), "ffn_out")), "out");
    L.graph.build(L.out);
}

std::vector<float> run_llama(LlamaBlock& L, std::vector<Backend*> be, const PlanOptions& opt,
                             size_t* peak, std::string* text = nullptr) {
    Plan p = make_plan(L.ctx, L.graph, be, opt);
    check_plan(p, be);
    if (peak) *peak = p.peak_bytes();
    if (text) *text = p.to_text() + p.summary();
    Executor ex(std::move(p), be);
    std::mt19937 rng(4242);
    set_random(L.x, rng);
    set_positions(L.pos);
    ex.run();
    return read_f32(L.out);
}

}  // namespace

// ---- tests --------------------------------------------------------------------------------------

TEST_CASE("planner: random graphs, real plan equals the naive oracle", "[planner]") {
    auto cpu = cpu_backend();
    int inplace = 0, shared_blocks = 0;
    for (uint32_t seed = 1; seed <= 300; ++seed) {
        INFO("seed " << seed);
        RandomGraph rg;
        build_random(rg, seed, *cpu);
        PlanOptions real, naive;
        naive.reuse = false;
        RunResult a = plan_and_run(rg, {cpu.get()}, real, seed);
        RunResult b = plan_and_run(rg, {cpu.get()}, naive, seed);
        REQUIRE(a.outputs.size() == b.outputs.size());
        for (size_t i = 0; i < a.outputs.size(); ++i) {
            INFO("output '" << rg.outputs[i]->name << "'");
            REQUIRE(a.outputs[i] == b.outputs[i]);
        }
        CHECK(a.peak <= b.peak);
        shared_blocks += a.peak < b.peak;
        Plan p = make_plan(rg.ctx, rg.graph, {cpu.get()});
        for (const PlanTensor& pt : p.tensors) inplace += pt.placement == Placement::InPlace;
    }
    // The generator must actually exercise reuse, or the comparison above proves nothing.
    std::cout << "random graphs: " << inplace << " in-place nodes, " << shared_blocks
              << " of 300 plans smaller than naive\n";
    CHECK(inplace > 100);
    CHECK(shared_blocks > 150);
}

TEST_CASE("planner: the naive plan gives every block its own memory", "[planner]") {
    auto cpu = cpu_backend();
    RandomGraph rg;
    build_random(rg, 77, *cpu);
    PlanOptions naive;
    naive.reuse = false;
    Plan p = make_plan(rg.ctx, rg.graph, {cpu.get()}, naive);
    for (size_t a = 0; a < p.blocks.size(); ++a)
        for (size_t b = a + 1; b < p.blocks.size(); ++b) {
            const PlanBlock& x = p.blocks[a];
            const PlanBlock& y = p.blocks[b];
            CHECK((x.offset + x.size <= y.offset || y.offset + y.size <= x.offset));
        }
    for (const PlanTensor& pt : p.tensors) CHECK(pt.placement != Placement::InPlace);
}

TEST_CASE("planner: a non-host backend gets segments and copies", "[planner]") {
    auto cpu = cpu_backend();
    FakeBackend fake("fake", false, {Op::ADD, Op::MUL, Op::SCALE});
    int multi = 0;
    for (uint32_t seed = 1000; seed < 1060; ++seed) {
        INFO("seed " << seed);
        RandomGraph g1, g2;
        build_random(g1, seed, *cpu);
        build_random(g2, seed, *cpu);
        fake.computed = 0;
        RunResult a = plan_and_run(g1, {&fake, cpu.get()}, {}, seed);
        RunResult b = plan_and_run(g2, {cpu.get()}, {}, seed);
        REQUIRE(a.outputs == b.outputs);
        multi += fake.computed > 0;
        // Planning the same (already rewired and bound) graph again starts afresh.
        RunResult c = plan_and_run(g1, {cpu.get()}, {}, seed);
        RunResult d = plan_and_run(g1, {&fake, cpu.get()}, {}, seed);
        REQUIRE(c.outputs == b.outputs);
        REQUIRE(d.outputs == b.outputs);
    }
    CHECK(multi > 30);

    // One fixed graph, checked in detail: fake runs add/scale, cpu runs the rest.
    Context c;
    Tensor* x = c.new_input(DType::F32, {16, 4}, "x");
    Tensor* y = c.new_input(DType::F32, {16, 4}, "y");
    Tensor* s = scale(c, add(c, x, y), 2.0f);  // fake
    s->set_name("s");
    Tensor* n = rms_norm(c, s, 1e-5f);  // cpu: copy of s
    n->set_name("n");
    Tensor* m = mul(c, n, x);  // fake: copy of n; x is already on fake
    m->set_name("m");
    Tensor* o = silu(c, m);  // cpu: copy of m
    o->set_name("o");
    Graph g = build_graph({o});
    std::vector<Backend*> be = {&fake, cpu.get()};
    Plan p = make_plan(c, g, be);
    check_plan(p, be);
    CHECK(p.segments.size() == 4);
    CHECK(p.copies.size() == 3);
    CHECK(p.find(x)->backend == 0);
    CHECK(p.arena_size[0] > 0);
    CHECK(p.arena_size[1] > 0);
    INFO(p.to_text());
    Executor ex(std::move(p), be);
    std::vector<float> xv(64), yv(64);
    for (int i = 0; i < 64; ++i) {
        xv[i] = 0.01f * i - 0.3f;
        yv[i] = 0.02f * (i % 7);
    }
    tensor_set(x, xv.data(), 0, 256);
    tensor_set(y, yv.data(), 0, 256);
    CHECK(x->buffer->base() == nullptr);  // lives in the fake device arena
    ex.run();
    // Reference by hand in double precision; float32 kernels agree to ~1e-6 relative.
    std::vector<float> out = read_f32(o);
    for (int r = 0; r < 4; ++r) {
        double ss = 0;
        std::vector<double> sv(16);
        for (int i = 0; i < 16; ++i) {
            sv[i] = 2.0 * ((double)xv[r * 16 + i] + yv[r * 16 + i]);
            ss += sv[i] * sv[i];
        }
        const double inv = 1.0 / std::sqrt(ss / 16 + 1e-5);
        for (int i = 0; i < 16; ++i) {
            const double mv = sv[i] * inv * xv[r * 16 + i];
            const double ref = mv / (1.0 + std::exp(-mv));
            CHECK(out[r * 16 + i] == Approx(ref).margin(1e-5));
        }
    }
}

TEST_CASE("planner: weights pin nodes to the backend that holds them", "[planner]") {
    auto cpu = cpu_backend();
    FakeBackend fake("fake", false, {Op::MUL, Op::ADD});
    Context c;
    Tensor* w = c.new_tensor(DType::F32, {8});
    w->set_name("w");
    w->flags |= kFlagWeight;
    auto wbuf = alloc_tensors(fake, {w});
    std::vector<float> wv(8, 3.0f);
    tensor_set(w, wv.data(), 0, 32);
    Tensor* x = c.new_input(DType::F32, {8, 2}, "x");
    Tensor* a = add(c, x, x);  // cpu is preferred here (listed first) ...
    a->set_name("a");
    Tensor* m = mul(c, a, w);  // ... but the weight's holder wins for this one
    m->set_name("m");
    Graph g = build_graph({m});
    std::vector<Backend*> be = {cpu.get(), &fake};
    Plan p = make_plan(c, g, be);
    check_plan(p, be);
    CHECK(p.nodes[0].backend == 0);
    CHECK(p.nodes[1].backend == 1);
    CHECK(p.find(w)->placement == Placement::External);
    REQUIRE(p.copies.size() == 1);
    CHECK(p.copies[0].src == a);
    Executor ex(std::move(p), be);
    std::vector<float> xv = {1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8};
    tensor_set(x, xv.data(), 0, 64);
    ex.run();
    std::vector<float> out = read_f32(m);
    for (int i = 0; i < 16; ++i) CHECK(out[i] == 6.0f * xv[i]);  // exact: small integers
}

TEST_CASE("planner: unsupported fused ops are lowered to their decomposition", "[planner]") {
    auto cpu = cpu_backend();
    FakeBackend nofa("cpu-nofa", true, {Op::FLASH_ATTN}, /*accept_all_but=*/true);
    auto build = [](Context& c, Tensor*& q, Tensor*& k, Tensor*& v) {
        q = c.new_input(DType::F32, {32, 16, 4}, "q");  // [D, n_q, H_q]
        k = c.new_input(DType::F32, {32, 24, 2}, "k");  // [D, n_kv, H_kv]: GQA 2:1
        v = c.new_input(DType::F32, {32, 24, 2}, "v");
        FlashAttnParams fp;
        fp.scale = 1.0f / std::sqrt(32.0f);
        fp.causal = 1;
        fp.causal_offset = 8;
        Tensor* o = flash_attn(c, q, k, v, nullptr, fp);
        o->set_name("attn");
        Tensor* r = scale(c, o, 2.0f);  // a reader of the fused node's (aliased) result
        r->set_name("r");
        return build_graph({r, o});
    };
    Context c1, c2;
    Tensor *q1, *k1, *v1, *q2, *k2, *v2;
    Graph g1 = build(c1, q1, k1, v1);
    Graph g2 = build(c2, q2, k2, v2);
    const size_t n_graph = g1.nodes.size();
    std::vector<Backend*> be1 = {&nofa};
    Plan p = make_plan(c1, g1, be1);
    check_plan(p, be1);
    CHECK(p.nodes.size() > n_graph);
    int lowered = 0, softmax = 0, matmul = 0;
    for (const PlanNode& pn : p.nodes) {
        lowered += pn.lowered_to != nullptr;
        softmax += pn.tensor->op == Op::SOFT_MAX;
        matmul += pn.tensor->op == Op::MUL_MAT;
        if (pn.lowered_to) {
            CHECK(p.find(pn.tensor)->placement == Placement::Lowered);
            CHECK(p.find(pn.tensor)->shares == pn.lowered_to);
        }
    }
    CHECK(lowered == 1);
    CHECK(softmax == 1);
    CHECK(matmul == 2);
    CHECK(p.to_text().find("lowered") != std::string::npos);
    Executor e1(std::move(p), be1);
    std::vector<Backend*> be2 = {cpu.get()};
    Plan p2 = make_plan(c2, g2, be2);
    for (const PlanNode& pn : p2.nodes) CHECK(pn.lowered_to == nullptr);
    Executor e2(std::move(p2), be2);
    std::mt19937 rng(5);
    for (Tensor* t : {q1, k1, v1}) set_random(t, rng);
    rng.seed(5);
    for (Tensor* t : {q2, k2, v2}) set_random(t, rng);
    e1.run();
    e2.run();
    const Tensor* outs1[2] = {g1.outputs[0], g1.outputs[1]};
    const Tensor* outs2[2] = {g2.outputs[0], g2.outputs[1]};
    // Both paths compute softmax(q.k * scale) v in float32 with different summation orders
    // (online vs two-pass softmax). Values of v lie in [-1, 1] and outputs are convex
    // combinations of them, so each path's rounding error is about (D + n_kv) * 2^-24 ~ 1e-5;
    // 1e-4 absolute leaves margin while any real mistake (a wrong key, head or mask) moves
    // outputs by ~0.1.
    for (int o = 0; o < 2; ++o) {
        std::vector<float> a = read_f32(outs1[o]), b = read_f32(outs2[o]);
        REQUIRE(a.size() == b.size());
        float worst = 0;
        for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
        INFO("output " << outs1[o]->name << " max abs diff " << worst);
        CHECK(worst < 1e-4f);
    }
}

TEST_CASE("planner: llama-like block, real vs naive peak", "[planner]") {
    auto cpu = cpu_backend();
    LlamaBlock L;
    build_llama_block(L, *cpu, 11);
    size_t real = 0, naive = 0;
    std::string text;
    PlanOptions no_reuse;
    no_reuse.reuse = false;
    std::vector<float> a = run_llama(L, {cpu.get()}, {}, &real, &text);
    std::vector<float> b = run_llama(L, {cpu.get()}, no_reuse, &naive);
    std::cout << "llama-like block (dim 256, 8/2 heads, 64 tokens): real plan peak " << real
              << " bytes, naive " << naive << " bytes (" << (100.0 * real / naive) << "%)\n";
    INFO(text);
    if (std::getenv("GGML_PLAN_DUMP")) std::cout << text;
    CHECK(real < naive);
    REQUIRE(a.size() == b.size());
    CHECK(a == b);
    for (float f : a) REQUIRE(std::isfinite(f));
}

TEST_CASE("planner: memory budget", "[planner]") {
    auto cpu = cpu_backend();
    LlamaBlock L;
    build_llama_block(L, *cpu, 3);
    Plan p = make_plan(L.ctx, L.graph, {cpu.get()});
    PlanOptions tight;
    tight.memory_budget = p.peak_bytes() - 1;
    REQUIRE_THROWS_WITH(make_plan(L.ctx, L.graph, {cpu.get()}, tight),
                        Catch::Contains("memory budget of " + std::to_string(p.peak_bytes() - 1)) &&
                            Catch::Contains("arena cpu"));
    PlanOptions enough;
    enough.memory_budget = p.peak_bytes();
    CHECK_NOTHROW(make_plan(L.ctx, L.graph, {cpu.get()}, enough));
}

TEST_CASE("planner: no backend for a node is a clear error", "[planner]") {
    FakeBackend only_add("addonly", true, {Op::ADD});
    Context c;
    Tensor* a = c.new_input(DType::F32, {8, 8}, "a");
    Tensor* m = mul_mat(c, a, a);
    m->set_name("mm");
    Graph g = build_graph({add(c, m, m)});
    REQUIRE_THROWS_WITH(make_plan(c, g, {&only_add}), Catch::Contains("mul_mat") &&
                                                          Catch::Contains("'mm'") &&
                                                          Catch::Contains("f32[8,8"));
}

TEST_CASE("planner: text and dot dumps name every node", "[planner]") {
    auto cpu = cpu_backend();
    FakeBackend fake("fake", false, {Op::ADD, Op::MUL, Op::SCALE});
    RandomGraph rg;
    build_random(rg, 4321, *cpu);
    Plan p = make_plan(rg.ctx, rg.graph, {&fake, cpu.get()});
    const std::string text = p.to_text(), dot = p.to_dot(), sum = p.summary();
    for (const PlanNode& pn : p.nodes) {
        INFO(pn.tensor->name);
        CHECK(text.find(pn.tensor->name) != std::string::npos);
        CHECK(dot.find(pn.tensor->name) != std::string::npos);
    }
    CHECK(dot.rfind("digraph", 0) == 0);
    if (!p.copies.empty()) CHECK(dot.find("dashed") != std::string::npos);
    CHECK(sum.find("peak " + std::to_string(p.peak_bytes())) != std::string::npos);
    CHECK(sum.find(std::to_string(p.segments.size()) + " segments") != std::string::npos);
}

TEST_CASE("planner: guard bytes catch writes outside a block", "[planner]") {
    auto cpu = cpu_backend();
    for (uint32_t seed : {5u, 6u, 7u}) {
        RandomGraph rg;
        build_random(rg, seed, *cpu);
        PlanOptions opt;
        opt.guard_bytes = 64;
        Plan p = make_plan(rg.ctx, rg.graph, {cpu.get()}, opt);
        check_plan(p, {cpu.get()});
        Executor ex(std::move(p), {cpu.get()});
        ex.arm_guards(0xA5);
        std::mt19937 rng(seed);
        for (Tensor* t : rg.inputs) set_random(t, rng);
        ex.run();
        std::vector<std::string> bad = ex.check_guards();
        INFO((bad.empty() ? "" : bad[0]));
        CHECK(bad.empty());
        // A stray write just past the first output must be reported, naming it.
        const Tensor* o = view_root(rg.outputs[0]);
        const PlanTensor* pt = ex.plan().find(o);
        REQUIRE(pt->block >= 0);
        const PlanBlock& blk = ex.plan().blocks[pt->block];
        const uint8_t junk = 0x11;
        ex.arena(0)->write(blk.offset + blk.size + 3, &junk, 1);
        bad = ex.check_guards();
        REQUIRE(bad.size() == 1);
        CHECK(bad[0].find("after") != std::string::npos);
    }
}

TEST_CASE("planner: set_rows writes through to its destination", "[planner]") {
    auto cpu = cpu_backend();
    Context c;
    // An external cache (like a KV cache) and an arena intermediate as destinations.
    Tensor* cache = c.new_tensor(DType::F32, {4, 6});
    cache->set_name("cache");
    cache->flags |= kFlagWeight;
    auto wbuf = alloc_tensors(*cpu, {cache});
    std::vector<float> zero(24, 0.0f);
    tensor_set(cache, zero.data(), 0, 96);
    Tensor* in = c.new_input(DType::F32, {4, 6}, "in");
    Tensor* rows = c.new_input(DType::F32, {4, 2}, "rows");
    Tensor* ids = c.new_input(DType::I32, {2}, "ids");
    Tensor* base = scale(c, in, 2.0f);  // dies only after the set_rows result's last reader
    base->set_name("base");
    Tensor* r1 = set_rows(c, base, rows, ids);
    r1->set_name("r1");
    Tensor* o1 = scale(c, r1, 1.0f);  // src[0] is a view of base: never in place
    o1->set_name("o1");
    Tensor* r2 = set_rows(c, cache, rows, ids);
    r2->set_name("r2");
    Tensor* o2 = add(c, r2, o1);
    o2->set_name("o2");
    Graph g = build_graph({o2});
    std::vector<Backend*> be = {cpu.get()};
    Plan p = make_plan(c, g, be);
    check_plan(p, be);
    CHECK(p.find(r1)->placement == Placement::View);
    CHECK(p.find(r2)->placement == Placement::View);
    Executor ex(std::move(p), be);
    CHECK(r2->data == cache->data);
    CHECK(r1->data == base->data);
    std::vector<float> inv(24), rv = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 0; i < 24; ++i) inv[i] = (float)i;
    std::vector<int32_t> idv = {4, 1};
    tensor_set(in, inv.data(), 0, 96);
    tensor_set(rows, rv.data(), 0, 32);
    tensor_set(ids, idv.data(), 0, 8);
    ex.run();
    // Expected, exactly (small integers): row 4 <- rows[0], row 1 <- rows[1] in both.
    std::vector<float> cache_ref(24, 0.0f), base_ref(24);
    for (int i = 0; i < 24; ++i) base_ref[i] = 2.0f * i;
    for (int j = 0; j < 2; ++j)
        for (int e = 0; e < 4; ++e) {
            cache_ref[idv[j] * 4 + e] = rv[j * 4 + e];
            base_ref[idv[j] * 4 + e] = rv[j * 4 + e];
        }
    CHECK(read_f32(cache) == cache_ref);
    std::vector<float> out = read_f32(o2);
    for (int i = 0; i < 24; ++i) CHECK(out[i] == cache_ref[i] + base_ref[i]);
}

TEST_CASE("planner: kernel run-time errors surface from run()", "[planner]") {
    auto cpu = cpu_backend();
    Context c;
    Tensor* a = c.new_input(DType::F32, {4, 3}, "table");
    Tensor* ids = c.new_input(DType::I32, {2}, "ids");
    Tensor* r = get_rows(c, a, ids);
    r->set_name("rows");
    Graph g = build_graph({r});
    Executor ex(make_plan(c, g, {cpu.get()}), {cpu.get()});
    std::vector<float> av(12, 1.0f);
    tensor_set(a, av.data(), 0, 48);
    std::vector<int32_t> good = {2, 0}, bad = {1, 7};
    tensor_set(ids, good.data(), 0, 8);
    CHECK_NOTHROW(ex.run());
    tensor_set(ids, bad.data(), 0, 8);
    CHECK_THROWS_AS(ex.run(), Error);
    tensor_set(ids, good.data(), 0, 8);
    CHECK_NOTHROW(ex.run());  // the error was taken, the executor stays usable
}
