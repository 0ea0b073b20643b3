// The cross-backend op harness: leaf filling, the reference run, planning and running on a
// backend with guard bytes, and the comparison.
#include "harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "ggml/plan.h"

namespace ggml {
namespace test {

// ---- leaf fillers ---------------------------------------------------------------------------

Tensor* CaseBuilder::leaf(DType type, const std::vector<int64_t>& ne, Filler f) {
    Tensor* t = ctx.new_tensor(type, (int)ne.size(), ne.data());
    t->flags |= kFlagInput;
    fillers_[t] = std::move(f);
    return t;
}

Tensor* CaseBuilder::uniform(DType type, const std::vector<int64_t>& ne, double max_abs,
                             double min_abs) {
    return leaf(type, ne, [=](Rng& rng, const Tensor* t) {
        std::vector<double> v((size_t)t->nelements());
        for (double& x : v) {
            // A magnitude that is exactly 0 can only come from min_abs = 0 and a zero draw;
            // redraw so inputs are never zero (zeros hide wrong-index bugs in products).
            double m = 0.0;
            while (m == 0.0) m = min_abs + (max_abs - min_abs) * rng.uniform();
            x = (rng.next() & 1) ? m : -m;
        }
        return v;
    });
}

Tensor* CaseBuilder::ids(const std::vector<int64_t>& ne, int64_t n_rows, bool distinct) {
    return leaf(DType::I32, ne, [=](Rng& rng, const Tensor* t) {
        std::vector<double> v((size_t)t->nelements());
        const int64_t n = t->ne[0];
        for (int64_t s = 0; s < t->nelements() / n; ++s) {
            std::vector<int64_t> perm((size_t)n_rows);
            for (int64_t i = 0; i < n_rows; ++i) perm[(size_t)i] = i;
            for (int64_t i = 0; i < n; ++i) {
                if (distinct) {  // partial Fisher-Yates: the first n of a random permutation
                    const int64_t j = i + rng.below(n_rows - i);
                    std::swap(perm[(size_t)i], perm[(size_t)j]);
                    v[(size_t)(s * n + i)] = (double)perm[(size_t)i];
                } else {
                    v[(size_t)(s * n + i)] = (double)rng.below(n_rows);
                }
            }
        }
        return v;
    });
}

Tensor* CaseBuilder::positions(int64_t n, int64_t start) {
    return leaf(DType::I32, std::vector<int64_t>{n}, [=](Rng& rng, const Tensor* t) {
        std::vector<double> v((size_t)t->nelements());
        for (int64_t i = 0; i < n; ++i)
            v[(size_t)i] = start >= 0 ? (double)(start + i) : (double)rng.below(4096);
        return v;
    });
}

Tensor* CaseBuilder::mask(const std::vector<int64_t>& ne, const MaskSpec& spec) {
    return leaf(DType::F32, ne, [=](Rng& rng, const Tensor* t) {
        std::vector<double> v((size_t)t->nelements(), 0.0);
        for (double& x : v) {
            const double u = rng.uniform();
            if (u < spec.p_inf)
                x = -INFINITY;
            else if (u < spec.p_inf + spec.p_neg)
                x = -3.0 * rng.uniform() - 0.01;
        }
        for (int64_t row : spec.all_masked_rows)
            for (int64_t j = 0; j < t->ne[0]; ++j) v[(size_t)(row * t->ne[0] + j)] = -INFINITY;
        return v;
    });
}

Tensor* CaseBuilder::steer_bias(const std::vector<int64_t>& ne, double alpha) {
    return leaf(DType::F32, ne, [=](Rng& rng, const Tensor* t) {
        const int64_t n_kv = t->ne[0];
        std::vector<double> v((size_t)t->nelements(), std::log(alpha));
        for (int64_t b = 0; b < t->nelements() / n_kv; ++b) {
            const int64_t lo = rng.below(n_kv), hi = lo + 1 + rng.below(n_kv - lo);
            for (int64_t j = lo; j < hi; ++j) v[(size_t)(b * n_kv + j)] = 0.0;
        }
        return v;
    });
}

Tensor* CaseBuilder::coarse(const std::vector<int64_t>& ne) {
    return leaf(DType::F32, ne, [](Rng& rng, const Tensor* t) {
        static const double kLevels[6] = {-1.0, -0.5, -0.25, 0.25, 0.5, 1.0};
        std::vector<double> v((size_t)t->nelements());
        for (double& x : v) x = kLevels[rng.below(6)];
        return v;
    });
}

// ---- helpers --------------------------------------------------------------------------------

double nmse(const std::vector<double>& x, const std::vector<double>& ref) {
    if (x.size() != ref.size()) return std::numeric_limits<double>::infinity();
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i])) return std::numeric_limits<double>::infinity();
        num += (x[i] - ref[i]) * (x[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0.0 ? num / den : num;
}

bool op_from_name(const std::string& name, Op& op) {
    for (int i = 0; i < kOpCount; ++i)
        if (name == op_name((Op)i)) {
            op = (Op)i;
            return true;
        }
    return false;
}

namespace {

uint64_t hash_name(const std::string& s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::vector<Tensor*> build_case(const Case& c, CaseBuilder& cb, Graph& g) {
    std::vector<Tensor*> outs = c.build(cb);
    if (outs.empty()) throw Error("case '" + c.name + "' built no outputs");
    for (Tensor* o : outs) g.build(o);
    return outs;
}

}  // namespace

std::vector<Tensor*> case_nodes(const Case& c, Context& ctx) {
    CaseBuilder cb(ctx);
    Graph g;
    build_case(c, cb, g);
    return g.nodes;
}

std::vector<Op> ops_in_case(const Case& c) {
    Context ctx;
    std::set<Op> ops;
    for (const Tensor* n : case_nodes(c, ctx)) ops.insert(n->op);
    return std::vector<Op>(ops.begin(), ops.end());
}

// ---- running one case ---------------------------------------------------------------------

namespace {

// One build of a case with its leaves filled. Builders and fillers are deterministic (the seed
// depends only on the case name), so every build of a case sees the same data.
struct Built {
    std::unique_ptr<Context> ctx = std::make_unique<Context>();
    std::unique_ptr<CaseBuilder> cb = std::make_unique<CaseBuilder>(*ctx);
    Graph graph;
    std::vector<Tensor*> outs;
    LeafBytes bytes;
};

std::unique_ptr<Built> build_and_fill(const Case& c) {
    auto b = std::make_unique<Built>();
    b->outs = build_case(c, *b->cb, b->graph);
    Rng rng(hash_name(c.name));
    for (Tensor* leaf : b->graph.leafs) {
        leaf->flags |= kFlagInput;
        if (!leaf->is_contiguous()) throw Error("leaf " + leaf->shape_str() + " not contiguous");
        auto it = b->cb->fillers().find(leaf);
        std::vector<double> vals;
        if (it != b->cb->fillers().end()) {
            vals = it->second(rng, leaf);
        } else {
            if (!dtype_info(leaf->type).is_float && dtype_blck(leaf->type) == 1)
                throw Error("case '" + c.name + "': integer leaf without a filler");
            vals.resize((size_t)leaf->nelements());
            for (double& x : vals) x = (rng.next() & 1 ? 1 : -1) * (1e-3 + rng.uniform());
        }
        if (leaf->type == DType::Q4_0X8)  // q4_0 blocks, then interleaved
            b->bytes[leaf] =
                q4_0_to_q4_0x8(encode_dense(DType::Q4_0, vals), leaf->ne[0], leaf->nrows());
        else
            b->bytes[leaf] = encode_dense(leaf->type, vals);
    }
    return b;
}

// Compares one run's outputs with the expected values; appends to `detail`, updates `res`.
bool compare(const std::vector<Tensor*>& outs, const std::vector<std::vector<double>>& expect,
             double tol, const char* mode, CaseResult& res, std::ostringstream& detail) {
    bool ok = true;
    for (size_t i = 0; i < outs.size(); ++i) {
        const Tensor* o = outs[i];
        std::vector<uint8_t> raw(o->nbytes());
        tensor_get(o, raw.data(), 0, raw.size());
        const std::vector<double> got = decode_tensor(o, raw.data(), raw.size());
        double max_abs = 0.0;
        size_t worst = 0;
        for (size_t j = 0; j < got.size(); ++j) {
            const double d = std::fabs(got[j] - expect[i][j]);
            if (!(d <= max_abs)) {  // also catches NaN
                max_abs = std::isnan(d) ? INFINITY : d;
                worst = j;
            }
        }
        res.max_abs = std::max(res.max_abs, max_abs);
        if (o->type == DType::I32) {
            if (max_abs != 0.0) {
                ok = false;
                detail << mode << " output " << i << " " << o->shape_str() << ": element " << worst
                       << " is " << got[worst] << ", expected " << expect[i][worst] << "; ";
            }
            continue;
        }
        const double e = nmse(got, expect[i]);
        res.nmse = std::max(res.nmse, e);
        if (!(e <= tol)) {
            ok = false;
            detail << mode << " output " << i << " " << o->shape_str() << ": nmse " << e
                   << ", worst element " << worst << " is " << got[worst] << ", expected "
                   << expect[i][worst] << "; ";
        }
    }
    return ok;
}

}  // namespace

CaseResult run_case(const Case& c, Backend& backend, const std::string& backend_name) {
    CaseResult res;
    res.backend = backend_name;
    res.name = c.name;
    res.tol = c.tol;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        // The oracle first. Its graph holds each output, or the output's oracle where the case
        // names one.
        std::vector<std::vector<double>> expect;
        {
            std::unique_ptr<Built> b = build_and_fill(c);
            Graph gref;
            std::vector<Tensor*> want;
            for (Tensor* o : b->outs) {
                auto it = b->cb->oracles().find(o);
                want.push_back(it != b->cb->oracles().end() ? it->second : o);
                if (!same_shape(want.back(), o))
                    throw Error("oracle " + want.back()->shape_str() + " for output " +
                                o->shape_str() + " has another shape");
                gref.build(want.back());
            }
            Reference ref(gref, b->bytes);
            for (const Tensor* w : want) expect.push_back(ref.values(w));

            // A node the backend has no kernel for (and no decomposition) is a skip.
            for (const Tensor* n : b->graph.nodes) {
                if (op_info(n->op).view || op_info(n->op).decomposed) continue;
                if (!backend.supports(n)) {
                    res.status = Status::Skip;
                    res.detail =
                        std::string("unsupported: ") + op_name(n->op) + " " + n->shape_str();
                    return res;
                }
            }
        }

        // Two plans, each on a fresh build: with guard bytes around every block (the planner
        // then keeps blocks apart, so any out-of-bounds write lands in a guard), and without
        // guards so that memory reuse between dead and new blocks is exercised too.
        std::ostringstream detail;
        bool ok = true;
        for (int mode = 0; mode < 2; ++mode) {
            const char* mode_name = mode == 0 ? "[guarded plan]" : "[reuse plan]";
            std::unique_ptr<Built> b = build_and_fill(c);
            PlanOptions opts;
            opts.guard_bytes = mode == 0 ? 64 : 0;
            Plan plan = make_plan(*b->ctx, b->graph, {&backend}, opts);
            Executor ex(std::move(plan), {&backend});
            if (mode == 0) ex.arm_guards(0xA5);
            for (Tensor* leaf : b->graph.leafs) {
                const std::vector<uint8_t>& bytes = b->bytes[leaf];
                tensor_set(leaf, bytes.data(), 0, bytes.size());
            }
            ex.run();
            backend.synchronize();
            if (mode == 0) {
                const std::vector<std::string> guards = ex.check_guards();
                if (!guards.empty()) {
                    ok = false;
                    detail << "guard bytes overwritten:";
                    for (const std::string& g : guards) detail << " [" << g << "]";
                    detail << "; ";
                }
            }
            ok = compare(b->outs, expect, c.tol, mode_name, res, detail) && ok;
        }
        res.status = ok ? Status::Pass : Status::Fail;
        res.detail = detail.str();
    } catch (const std::exception& e) {
        res.status = Status::Fail;
        res.detail = std::string("error: ") + e.what();
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace test
}  // namespace ggml
