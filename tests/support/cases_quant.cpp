// Harness cases for the block-quantized types q8_0 / q4_0: quantize (cpy f32 -> q), dequantize
// (cpy q -> f32), get_rows from quantized tables, and mul_mat with quantized weights over the
// GEMV (N <= 4) and GEMM shapes, batch broadcast and K that is not a multiple of 64; and
// mul_mat with q4_0x8 weights (the CPU's interleaved q4_0 layout).
#include <cmath>
#include <string>

#include "cases.h"

namespace ggml {
namespace test {

namespace {

// Quantizing is exact arithmetic on the documented float rules (ggml/quant.h), so backend and
// reference agree bit for bit; one code moved by one level (a tie rounded the other way) in a
// 1024-element output would already give NMSE ~2e-7, so kTolElem catches it.
//
// mul_mat with quantized weights: the reference reads the weights exactly (dequantized), but a
// backend may round the f32 activations to q8_0 as well (integer dot products). Each activation
// then errs by up to d/2, d = amax/127 of its block, uniformly: for the harness's inputs
// (|x| in [1e-3, 1], amax ~ 1) the relative error variance is (d^2/12) / E[x^2] ~ 1.6e-5, and
// it carries over to the dot products unchanged, so NMSE ~1.6e-5. 2e-4 allows for the spread
// over small outputs; a wrong scale, nibble order or block index gives NMSE >= 1e-2.
constexpr double kTolQ8Act = 2e-4;

void quant_cases(std::vector<Case>& v) {
    for (DType q : {DType::Q8_0, DType::Q4_0}) {
        const std::string qn = dtype_name(q);
        reg(v, "quantize/f32_to_" + qn, {Op::CPY}, kTolElem, [q](CaseBuilder& b) {
            return Outs{cpy(b.ctx, b.uniform(DType::F32, {96, 5, 3}), q)};
        });
        // Wide dynamic range: row r is scaled by 10^(r - 3), so blocks whose amax differ by
        // 1e6 must each keep their own scale (the small rows weigh nothing in the NMSE, so
        // the comparison is made on the quantized codes through a per-row rescale below).
        reg(v, "quantize/f32_to_" + qn + "_mixed_scales", {Op::CPY}, kTolElem, [q](CaseBuilder& b) {
            Tensor* x = b.leaf(DType::F32, {64, 7}, [](Rng& rng, const Tensor* t) {
                std::vector<double> r((size_t)t->nelements());
                for (int64_t i = 0; i < t->nelements(); ++i)
                    r[(size_t)i] = (2.0 * rng.uniform() - 1.0) * std::pow(10.0, i / 64 - 3);
                return r;
            });
            Tensor* s = b.leaf(DType::F32, {1, 7}, [](Rng&, const Tensor* t) {
                std::vector<double> r((size_t)t->nelements());
                for (int64_t i = 0; i < t->nelements(); ++i) r[(size_t)i] = std::pow(10.0, 3 - i);
                return r;
            });
            return Outs{mul(b.ctx, cpy(b.ctx, cpy(b.ctx, x, q), DType::F32), s)};
        });
        // A transposed (strided) source: the kernel must gather each block's 32 values.
        reg(v, "quantize/f32_transposed_to_" + qn, {Op::TRANSPOSE, Op::CPY}, kTolElem,
            [q](CaseBuilder& b) {
                return Outs{cpy(b.ctx, transpose(b.ctx, b.uniform(DType::F32, {6, 64})), q)};
            });
        reg(v, "dequantize/" + qn + "_to_f32", {Op::CPY}, kTolElem, [q](CaseBuilder& b) {
            return Outs{cpy(b.ctx, b.uniform(q, {128, 3, 2}), DType::F32)};
        });
        // Round trip inside one graph: the quantized node is an intermediate.
        reg(v, "quantize/" + qn + "_round_trip", {Op::CPY}, kTolElem, [q](CaseBuilder& b) {
            Tensor* x = b.uniform(DType::F32, {64, 9});
            return Outs{cpy(b.ctx, cpy(b.ctx, x, q), DType::F32)};
        });
        reg(v, "get_rows/" + qn, {Op::GET_ROWS}, kTolElem, [q](CaseBuilder& b) {
            return Outs{get_rows(b.ctx, b.uniform(q, {64, 20}), b.ids({7}, 20, false))};
        });
        reg(v, "get_rows/" + qn + "_batched", {Op::GET_ROWS}, kTolElem, [q](CaseBuilder& b) {
            return Outs{get_rows(b.ctx, b.uniform(q, {32, 6, 3}), b.ids({4, 3}, 6, false))};
        });
        // A row view of a quantized table (whole rows at a row boundary).
        reg(v, "get_rows/" + qn + "_row_view", {Op::VIEW, Op::GET_ROWS}, kTolElem,
            [q](CaseBuilder& b) {
                Tensor* w = b.uniform(q, {64, 12});
                Tensor* a = view(b.ctx, w, {64, 5}, {w->nb[1]}, 3 * w->nb[1]);
                return Outs{get_rows(b.ctx, a, b.ids({6}, 5, false))};
            });

        struct MM {
            int64_t K, M, N;
        };
        // N 1..4: the GEMV path; N > 4: the blocked path. K = 96 is not a multiple of 64.
        const MM sizes[] = {{256, 64, 1}, {96, 17, 1}, {128, 33, 3}, {64, 16, 4},
                            {256, 40, 9}, {96, 7, 23}, {512, 8, 2}};
        for (const MM& s : sizes) {
            const std::string nm = "mul_mat/" + qn + "_K" + std::to_string(s.K) + "_M" +
                                   std::to_string(s.M) + "_N" + std::to_string(s.N);
            reg(v, nm, {Op::MUL_MAT}, kTolQ8Act, [=](CaseBuilder& b) {
                return Outs{
                    mul_mat(b.ctx, b.uniform(q, {s.K, s.M}), b.uniform(DType::F32, {s.K, s.N}))};
            });
        }
        reg(v, "mul_mat/" + qn + "_broadcast_ne2_x4", {Op::MUL_MAT}, kTolQ8Act,
            [q](CaseBuilder& b) {
                return Outs{
                    mul_mat(b.ctx, b.uniform(q, {64, 8, 2}), b.uniform(DType::F32, {64, 3, 8}))};
            });
        // b permuted (rows packed, other strides not): activations gathered per row.
        reg(v, "mul_mat/" + qn + "_permuted_b", {Op::MUL_MAT, Op::PERMUTE}, kTolQ8Act,
            [q](CaseBuilder& b) {
                Tensor* bb = permute(b.ctx, b.uniform(DType::F32, {64, 2, 6}), 0, 2, 1, 3);
                return Outs{mul_mat(b.ctx, b.uniform(q, {64, 5, 2}), bb)};
            });
        // Weights quantized inside the graph, then used.
        reg(v, "mul_mat/" + qn + "_from_quantize", {Op::CPY, Op::MUL_MAT}, kTolQ8Act,
            [q](CaseBuilder& b) {
                Tensor* w = cpy(b.ctx, b.uniform(DType::F32, {128, 12}), q);
                return Outs{mul_mat(b.ctx, w, b.uniform(DType::F32, {128, 2}))};
            });
    }

    // q4_0x8 (q4_0 with eight rows interleaved, the CPU's repacked layout): M a multiple of 8
    // covering one and several 16-row jobs and a half job (M = 24, 40), N over the GEMV
    // (1..4) and tiled (9, 23: a 16-row x tile plus a ragged one) shapes, K = 96 not a power
    // of two, and weights broadcast over a batch. Same tolerance as q4_0: the integer sums
    // are the same, only their float scaling is ordered differently.
    struct MM8 {
        int64_t K, M, N;
    };
    const MM8 sizes8[] = {{256, 64, 1}, {96, 24, 1}, {128, 32, 3}, {64, 16, 4},
                          {256, 40, 9}, {96, 8, 23}, {512, 8, 2},  {4096, 16, 1}};
    for (const MM8& s : sizes8) {
        const std::string nm = "mul_mat/q4_0x8_K" + std::to_string(s.K) + "_M" +
                               std::to_string(s.M) + "_N" + std::to_string(s.N);
        reg(v, nm, {Op::MUL_MAT}, kTolQ8Act, [=](CaseBuilder& b) {
            return Outs{mul_mat(b.ctx, b.uniform(DType::Q4_0X8, {s.K, s.M}),
                                b.uniform(DType::F32, {s.K, s.N}))};
        });
    }
    reg(v, "mul_mat/q4_0x8_broadcast_ne2_x4", {Op::MUL_MAT}, kTolQ8Act, [](CaseBuilder& b) {
        return Outs{mul_mat(b.ctx, b.uniform(DType::Q4_0X8, {64, 8, 2}),
                            b.uniform(DType::F32, {64, 3, 8}))};
    });
    reg(v, "mul_mat/q4_0x8_permuted_b", {Op::MUL_MAT, Op::PERMUTE}, kTolQ8Act, [](CaseBuilder& b) {
        Tensor* bb = permute(b.ctx, b.uniform(DType::F32, {64, 2, 6}), 0, 2, 1, 3);
        return Outs{mul_mat(b.ctx, b.uniform(DType::Q4_0X8, {64, 16, 2}), bb)};
    });
}

}  // namespace

void add_quant_cases(std::vector<Case>& out) {
    quant_cases(out);
}

}  // namespace test
}  // namespace ggml
