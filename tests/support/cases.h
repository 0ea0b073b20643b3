// Internal to the harness: the case lists, split by op family over several files.
#pragma once

#include <string>
#include <vector>

#include "harness.h"

namespace ggml {
namespace test {

// NMSE tolerances, all against the float64 reference.
//
// kTolElem   f32 element-wise ops, copies, gathers: each output is one f32 operation (or a
//            transcendental accurate to a few ulp), relative error <= ~1e-6 even for fast
//            exp/tanh approximations, so NMSE <= ~1e-12; 1e-10 leaves 100x margin while any
//            indexing or broadcast bug gives NMSE ~1e-2..1.
// kTolReduce f32 reductions (norms, sums, softmax, matmul, attention) over up to ~1024 terms:
//            f32 accumulation error grows like sqrt(n)*eps_f32 (~2e-6 relative at n=1024, more
//            where sums cancel), so NMSE ~1e-11; 1e-9 leaves margin.
// kTolF16    f16 weights / K / V are read exactly by the reference, so an f32-accumulating
//            kernel stays near kTolReduce; but a backend may legitimately round the f32 operand
//            to f16 for the dot product (tensor cores do), or round a computed value to f16 in a
//            copy one half-ulp differently from the reference: 2^-11 relative per element,
//            NMSE ~1e-7. 1e-6 admits that and still catches any real bug.
// kTolBF16   the same with bf16's 8-bit mantissa: 2^-9 relative, NMSE ~2e-6; 1e-5.
// kTolAngle  rope with positions up to 4096: an f32 angle pos*base^(-2i/n) carries an absolute
//            error of ~pos*eps_f32 ~ 5e-4 rad, so NMSE up to ~1e-7; 1e-6.
constexpr double kTolElem = 1e-10;
constexpr double kTolReduce = 1e-9;
constexpr double kTolF16 = 1e-6;
constexpr double kTolBF16 = 1e-5;
constexpr double kTolAngle = 1e-6;

inline double tol_for(DType weights) {
    return weights == DType::BF16 ? kTolBF16 : weights == DType::F16 ? kTolF16 : kTolReduce;
}

using Outs = std::vector<Tensor*>;

// "33x5" for {33, 5}.
inline std::string shape_name(const std::vector<int64_t>& ne) {
    std::string s;
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? "x" : "") + std::to_string(ne[i]);
    return s;
}

inline void reg(std::vector<Case>& v, std::string name, std::vector<Op> ops, double tol,
                std::function<Outs(CaseBuilder&)> f) {
    Case c;
    c.name = std::move(name);
    c.ops = std::move(ops);
    c.build = std::move(f);
    c.tol = tol;
    v.push_back(std::move(c));
}

// The case lists live in cases.cpp (views, copies, element-wise, reductions), cases_matmul.cpp
// (mul_mat, rope, composite blocks), cases_attn.cpp (soft_max, steer, flash_attn) and
// cases_quant.cpp (q8_0 / q4_0).
void add_matmul_cases(std::vector<Case>& out);
void add_attention_cases(std::vector<Case>& out);
void add_quant_cases(std::vector<Case>& out);

}  // namespace test
}  // namespace ggml
