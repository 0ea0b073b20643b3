// The cross-backend op harness.
//
// A Case builds a small graph in a fresh Context (its leaves created through a CaseBuilder,
// which records how each leaf is filled). For every available backend the harness fills the
// leaves with seeded random data, evaluates the graph with the float64 reference interpreter
// (reference.h), plans and runs it on the backend with guard bytes around every block, and
// compares each output with the reference by normalised mean squared error
//     NMSE = sum (x - r)^2 / sum r^2
// (exact equality for i32 outputs). Any guard byte that changed fails the case.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ggml/backend.h"
#include "ggml/context.h"
#include "ggml/graph.h"
#include "ggml/ops.h"
#include "reference.h"

namespace ggml {
namespace test {

// splitmix64: tiny, seedable, identical on every platform (std distributions are not).
class Rng {
  public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform() { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
    int64_t below(int64_t n) { return (int64_t)(next() % (uint64_t)n); }

  private:
    uint64_t s_;
};

// Produces the dense logical values of one leaf (encoded to its dtype by the harness).
using Filler = std::function<std::vector<double>(Rng&, const Tensor*)>;

// How a mask is filled: 0 by default, `p_neg` of the entries a finite negative bias, `p_inf` of
// them -inf, and the listed dense rows (row = i1 + ne1*(i2 + ne2*i3)) entirely -inf.
struct MaskSpec {
    double p_neg = 0.2;
    double p_inf = 0.2;
    std::vector<int64_t> all_masked_rows;
};

// What a case's builder creates leaves through.
class CaseBuilder {
  public:
    explicit CaseBuilder(Context& ctx) : ctx(ctx) {}
    Context& ctx;

    // Floats with magnitude uniform in [min_abs, max_abs] and a random sign: never zero.
    Tensor* uniform(DType type, const std::vector<int64_t>& ne, double max_abs = 1.0,
                    double min_abs = 0.0);
    // i32 row ids in [0, n_rows). distinct: no id repeats inside one (i2, i3) slice (set_rows
    // must not write one row twice, or the result would depend on the write order).
    Tensor* ids(const std::vector<int64_t>& ne, int64_t n_rows, bool distinct);
    // i32 [n] positions: start, start+1, ... or random in [0, 4096) when start < 0.
    Tensor* positions(int64_t n, int64_t start);
    // f32 additive mask.
    Tensor* mask(const std::vector<int64_t>& ne, const MaskSpec& spec);
    // f32 steering bias: log(alpha) outside one random emphasised span per batch, 0 inside.
    Tensor* steer_bias(const std::vector<int64_t>& ne, double alpha = 0.01);
    // Values drawn from a small set ({+-0.25, +-0.5, +-1}) so that ties are common (argmax).
    Tensor* coarse(const std::vector<int64_t>& ne);
    // Any leaf with a custom filler.
    Tensor* leaf(DType type, const std::vector<int64_t>& ne, Filler f);

    // The expected value of output `out` is the reference value of `oracle` instead of `out`'s
    // own: a different graph over the same leaves (e.g. the fused op for a decomposed graph),
    // built in the same context but never run on the backend.
    void oracle(const Tensor* out, Tensor* oracle) { oracles_[out] = oracle; }

    const std::map<const Tensor*, Filler>& fillers() const { return fillers_; }
    const std::map<const Tensor*, Tensor*>& oracles() const { return oracles_; }

  private:
    std::map<const Tensor*, Filler> fillers_;
    std::map<const Tensor*, Tensor*> oracles_;
};

struct Case {
    std::string name;
    std::vector<Op> ops;  // the ops this case is meant to cover (checked to be in its graph)
    std::function<std::vector<Tensor*>(CaseBuilder&)> build;
    double tol = 1e-10;  // NMSE tolerance for float outputs (i32 outputs must match exactly)
};

// Every case (defined in cases.cpp). Names are unique.
const std::vector<Case>& all_cases();

enum class Status { Pass, Fail, Skip };

struct CaseResult {
    std::string backend;
    std::string name;
    Status status = Status::Fail;
    double nmse = 0.0;     // worst over the case's outputs
    double max_abs = 0.0;  // largest |x - r| over the outputs
    double tol = 0.0;
    double seconds = 0.0;
    std::string detail;  // why it failed or was skipped
};

// Runs one case on one backend. Never throws: every error becomes a failed (or, when the
// backend cannot run one of the graph's ops, a skipped) result.
CaseResult run_case(const Case& c, Backend& backend, const std::string& backend_name);

// The ops (including views) that appear as nodes of the case's graph.
std::vector<Op> ops_in_case(const Case& c);

// For --list: the nodes of the case's graph, built in `ctx`.
std::vector<Tensor*> case_nodes(const Case& c, Context& ctx);

// NMSE with a guard for an all-zero reference (then the plain squared error is returned).
double nmse(const std::vector<double>& x, const std::vector<double>& ref);

// Looks an op up by its ops.def name ("flash_attn"); returns false when there is none.
bool op_from_name(const std::string& name, Op& op);

}  // namespace test
}  // namespace ggml
