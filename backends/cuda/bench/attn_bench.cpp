// ggml-cuda-bench: times the CUDA flash_attn and mul_mat kernels on the reference shapes of
// docs/perf/cuda.md (no other benchmark is needed to reproduce those figures).
//
//   ggml-cuda-bench [-r REPEATS] [-s prefill|decode|matmul|all]
//
//   prefill_bf16_4096    q f32 [128, 4096, 32, 4], K/V bf16 [128, 4096, 8, 4], causal
//                        FLOPs = 4 * B * Hq * D * (n^2 / 2)   (QK^T and PV, causal half)
//   decode_gqa_bf16_32k  q f32 [128, 1, 32, 1], K/V bf16 [128, 32768, 8, 1]
//                        bytes = K + V (the traffic that bounds decode)
//   gemv_{f16,q8_0,q4_0}_{4096,14336}   w [4096, M] times x f32 [4096, 1]; bytes = weights
//                        (row_bytes * M: 2, 34/32 and 18/32 bytes per weight) + x + y
//   gemm_{f16,q8_0}_4096_n512           w [4096, 4096] times x f32 [4096, 512]; FLOPs 2 M N K
//
// The node is enqueued REPEATS times in one compute() call (one stream, one synchronisation),
// so the time per call is kernel time without the per-segment synchronisation; a warm-up call
// comes first. Inputs are written once from the host, outside the timed region.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "ggml/ggml.h"
#include "ggml/quant.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
    const char* name;
    int64_t D, n_q, n_kv, Hq, Hkv, B;
    int causal;
};

void fill(ggml::Tensor* t, float seed) {
    const size_t n = (size_t)t->nelements();
    if (t->type == ggml::DType::F32) {
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = std::sin(seed + 0.37f * (float)(i % 100003));
        ggml::tensor_set(t, v.data(), 0, n * 4);
    } else {
        std::vector<uint16_t> v(n);
        for (size_t i = 0; i < n; ++i) {
            const float x = std::sin(seed + 0.37f * (float)(i % 100003));
            v[i] = t->type == ggml::DType::BF16 ? ggml::f32_to_bf16(x) : ggml::f32_to_f16(x);
        }
        ggml::tensor_set(t, v.data(), 0, n * 2);
    }
}

// Enqueues `o` once (warm-up), then `repeats` times in one compute(); seconds per call, or a
// negative value after printing the error.
double time_node(ggml::Tensor* o, ggml::Backend& be, int repeats, const char* name) {
    using namespace ggml;
    const size_t ws = be.work_size(o);
    std::unique_ptr<Buffer> wbuf = ws ? be.alloc_buffer(ws) : nullptr;
    void* w = wbuf ? wbuf->device_base() : nullptr;
    KernelErrors err;
    be.compute({o}, {w}, err);
    if (err.any()) {
        std::fprintf(stderr, "%s: %s\n", name, err.take().c_str());
        return -1.0;
    }
    std::vector<Tensor*> nodes((size_t)repeats, o);
    std::vector<void*> work((size_t)repeats, w);
    const auto t0 = Clock::now();
    be.compute(nodes, work, err);
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count() / repeats;
    if (err.any()) {
        std::fprintf(stderr, "%s: %s\n", name, err.take().c_str());
        return -1.0;
    }
    return sec;
}

// Weights of any float or quantized dtype from the same sine pattern, packed row by row.
void fill_weights(ggml::Tensor* t, float seed) {
    using namespace ggml;
    if (!dtype_is_quantized(t->type)) return fill(t, seed);
    const int64_t K = t->ne[0], rows = t->nrows();
    const size_t rb = row_bytes(t->type, K);
    std::vector<float> x((size_t)K);
    std::vector<uint8_t> bytes(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < K; ++i)
            x[(size_t)i] = std::sin(seed + 0.37f * (float)((r * K + i) % 100003));
        from_float_row(t->type, x.data(), bytes.data() + rb * (size_t)r, K);
    }
    tensor_set(t, bytes.data(), 0, bytes.size());
}

struct MmShape {
    const char* name;
    ggml::DType type;
    int64_t K, M, N;
};

int run_mm(const MmShape& s, ggml::Backend& be, int repeats) {
    using namespace ggml;
    Context c;
    Tensor* w = c.new_tensor(s.type, {s.K, s.M});
    Tensor* x = c.new_tensor(DType::F32, {s.K, s.N});
    Tensor* o = mul_mat(c, w, x);
    auto buf = alloc_tensors(be, {w, x, o});
    fill_weights(w, 0.3f);
    fill(x, 1.1f);
    const double sec = time_node(o, be, repeats, s.name);
    if (sec < 0) return 1;
    const double bytes = (double)row_bytes(s.type, s.K) * s.M + 4.0 * s.K * s.N + 4.0 * s.M * s.N;
    const double flops = 2.0 * s.M * s.N * s.K;
    std::printf("%-22s %10.4f ms  %8.1f TFLOP/s  %8.1f GB/s (w+x+y)\n", s.name, sec * 1e3,
                flops / sec / 1e12, bytes / sec / 1e9);
    return 0;
}

int run(const Shape& s, ggml::Backend& be, int repeats) {
    using namespace ggml;
    Context c;
    Tensor* q = c.new_tensor(DType::F32, {s.D, s.n_q, s.Hq, s.B});
    Tensor* k = c.new_tensor(DType::BF16, {s.D, s.n_kv, s.Hkv, s.B});
    Tensor* v = c.new_tensor(DType::BF16, {s.D, s.n_kv, s.Hkv, s.B});
    FlashAttnParams p;
    p.scale = 1.0f / std::sqrt((float)s.D);
    p.causal = s.causal;
    p.causal_offset = (int32_t)(s.n_kv - s.n_q);
    Tensor* o = flash_attn(c, q, k, v, nullptr, p);
    auto buf = alloc_tensors(be, {q, k, v, o});
    fill(q, 0.1f);
    fill(k, 1.7f);
    fill(v, 2.3f);
    // The warm-up call inside also sets the shared-memory attributes.
    const double sec = time_node(o, be, repeats, s.name);
    if (sec < 0) return 1;
    const double flops = s.causal ? 4.0 * s.B * s.Hq * s.D * ((double)s.n_q * s.n_kv / 2.0)
                                  : 4.0 * s.B * s.Hq * s.D * (double)s.n_q * s.n_kv;
    const double bytes = 2.0 * s.B * s.Hkv * s.n_kv * s.D * 2.0;
    std::printf("%-22s %10.3f ms  %8.1f TFLOP/s  %8.1f GB/s (K+V)\n", s.name, sec * 1e3,
                flops / sec / 1e12, bytes / sec / 1e9);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 20;
    std::string which = "all";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-r" && i + 1 < argc) {
            repeats = std::atoi(argv[++i]);
        } else if (a == "-s" && i + 1 < argc) {
            which = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [-r REPEATS] [-s prefill|decode|matmul|all]\n",
                         argv[0]);
            return 2;
        }
    }
    if (repeats < 1) repeats = 1;
    std::string why;
    if (ggml::cuda_device_count(&why) == 0) {
        std::printf("no CUDA device (%s): nothing to measure\n", why.c_str());
        return 0;
    }
    try {
        auto be = ggml::make_cuda_backend(0);
        const Shape shapes[] = {
            {"prefill_bf16_4096", 128, 4096, 4096, 32, 8, 4, 1},
            {"decode_gqa_bf16_32k", 128, 1, 32768, 32, 8, 1, 0},
        };
        int rc = 0;
        for (const Shape& s : shapes) {
            const bool pre = std::strncmp(s.name, "prefill", 7) == 0;
            if (which == "all" || (which == "prefill" && pre) || (which == "decode" && !pre))
                rc |= run(s, *be, pre ? std::max(1, repeats / 4) : repeats * 10);
        }
        using ggml::DType;
        const MmShape mm[] = {
            {"gemv_f16_4096", DType::F16, 4096, 4096, 1},
            {"gemv_q8_0_4096", DType::Q8_0, 4096, 4096, 1},
            {"gemv_q4_0_4096", DType::Q4_0, 4096, 4096, 1},
            {"gemv_f16_14336", DType::F16, 4096, 14336, 1},
            {"gemv_q8_0_14336", DType::Q8_0, 4096, 14336, 1},
            {"gemv_q4_0_14336", DType::Q4_0, 4096, 14336, 1},
            {"gemm_f16_4096_n512", DType::F16, 4096, 4096, 512},
            {"gemm_q8_0_4096_n512", DType::Q8_0, 4096, 4096, 512},
        };
        if (which == "all" || which == "matmul")
            for (const MmShape& s : mm) rc |= run_mm(s, *be, s.N == 1 ? repeats * 10 : repeats);
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ggml-cuda-bench: %s\n", e.what());
        return 1;
    }
}
