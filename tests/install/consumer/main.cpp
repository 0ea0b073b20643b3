// Installed-library smoke test, C++ API: y = W x + b on the CPU backend, checked exactly
// (small integers are exact in f32).
#include <cstdio>

#include "ggml/ggml.h"

int main() {
    ggml::Context ctx;
    ggml::Tensor* W = ctx.new_input(ggml::DType::F32, {3, 2}, "W");  // [K=3, M=2]
    ggml::Tensor* x = ctx.new_input(ggml::DType::F32, {3, 1}, "x");
    ggml::Tensor* b = ctx.new_input(ggml::DType::F32, {2}, "b");
    ggml::Tensor* y = ggml::add(ctx, ggml::mul_mat(ctx, W, x), b);
    auto cpu = ggml::make_backend("cpu");
    ggml::Graph g;
    g.build(y);
    ggml::Executor ex(ggml::make_plan(ctx, g, {cpu.get()}), {cpu.get()});
    const float w[6] = {1, 2, 3, 4, 5, 6}, xv[3] = {1, 1, 2}, bv[2] = {10, 20};
    ggml::tensor_set(W, w, 0, sizeof w);
    ggml::tensor_set(x, xv, 0, sizeof xv);
    ggml::tensor_set(b, bv, 0, sizeof bv);
    ex.run();
    float out[2];
    ggml::tensor_get(y, out, 0, sizeof out);
    std::printf("y = [%g, %g]\n", out[0], out[1]);
    return out[0] == 19.0f && out[1] == 41.0f ? 0 : 1;  // 1+2+6+10, 4+5+12+20
}
