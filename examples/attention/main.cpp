// ggml-attn-demo: builds one GQA attention layer twice — as the fused flash_attn op and as the
// naive graph (mul_mat, scale, soft_max, mul_mat) — plans both, prints the plans' summaries,
// runs them on the CPU backend and compares results and times.
//
//   ggml-attn-demo [-t THREADS] [--n-q N] [--n-kv N] [--heads H] [--kv-heads H] [-d D] [--causal]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ggml/ggml.h"

namespace {

struct Args {
    int threads = 2;
    int n_q = 256, n_kv = 256, heads = 8, kv_heads = 2, d = 64;
    bool causal = true;
    int reps = 5;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        auto next = [&]() -> int {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "missing value after %s\n", s.c_str());
                std::exit(2);
            }
            return std::atoi(argv[++i]);
        };
        if (s == "-t")
            a.threads = next();
        else if (s == "--n-q")
            a.n_q = next();
        else if (s == "--n-kv")
            a.n_kv = next();
        else if (s == "--heads")
            a.heads = next();
        else if (s == "--kv-heads")
            a.kv_heads = next();
        else if (s == "-d")
            a.d = next();
        else if (s == "--reps")
            a.reps = next();
        else if (s == "--causal")
            a.causal = true;
        else if (s == "--no-causal")
            a.causal = false;
        else {
            std::fprintf(stderr,
                         "usage: %s [-t THREADS] [--n-q N] [--n-kv N] [--heads H] [--kv-heads H] "
                         "[-d D] [--causal|--no-causal] [--reps N]\n",
                         argv[0]);
            std::exit(2);
        }
    }
    return a;
}

struct Run {
    std::vector<float> out;
    double ms = 0;
    size_t peak = 0;
};

// Builds, plans and runs one attention graph; `fused` picks flash_attn or the naive graph.
Run run_attention(const Args& a, bool fused, ggml::Backend& backend, const std::vector<float>& q,
                  const std::vector<float>& k, const std::vector<float>& v) {
    ggml::Context ctx;
    ggml::Tensor* tq = ctx.new_input(ggml::DType::F32, {a.d, a.n_q, a.heads}, "q");
    ggml::Tensor* tk = ctx.new_input(ggml::DType::F32, {a.d, a.n_kv, a.kv_heads}, "k");
    ggml::Tensor* tv = ctx.new_input(ggml::DType::F32, {a.d, a.n_kv, a.kv_heads}, "v");
    ggml::FlashAttnParams p;
    p.scale = 1.0f / std::sqrt((float)a.d);
    p.causal = a.causal;
    p.causal_offset = a.n_kv - a.n_q;
    ggml::Tensor* out = fused ? ggml::flash_attn(ctx, tq, tk, tv, nullptr, p)
                              : ggml::flash_attn_naive(ctx, tq, tk, tv, nullptr, p);
    out->set_name("attn_out");
    ggml::Graph g = ggml::build_graph({out});
    ggml::Plan plan = ggml::make_plan(ctx, g, {&backend});
    std::printf("\n-- %s plan --\n%s", fused ? "flash_attn" : "naive", plan.summary().c_str());
    ggml::Executor exec(std::move(plan), {&backend});
    ggml::tensor_set(tq, q.data(), 0, q.size() * 4);
    ggml::tensor_set(tk, k.data(), 0, k.size() * 4);
    ggml::tensor_set(tv, v.data(), 0, v.size() * 4);

    Run r;
    r.peak = exec.plan().peak_bytes();
    exec.run();  // warm-up
    std::vector<double> times;
    for (int i = 0; i < a.reps; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        exec.run();
        times.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    std::sort(times.begin(), times.end());
    r.ms = times[times.size() / 2];
    r.out.resize((size_t)out->nelements());
    ggml::tensor_get(out, r.out.data(), 0, r.out.size() * 4);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse(argc, argv);
    try {
        ggml::BackendOptions bo;
        bo.n_threads = a.threads;
        auto backend = ggml::make_backend("cpu", bo);

        std::mt19937 rng(42);
        std::uniform_real_distribution<float> U(-1.0f, 1.0f);
        std::vector<float> q((size_t)a.d * a.n_q * a.heads), k((size_t)a.d * a.n_kv * a.kv_heads),
            v(k.size());
        for (auto* vec : {&q, &k, &v})
            for (float& x : *vec) x = U(rng);

        std::printf("attention: n_q %d, n_kv %d, heads %d (KV heads %d), D %d, %s, %d threads\n",
                    a.n_q, a.n_kv, a.heads, a.kv_heads, a.d, a.causal ? "causal" : "full",
                    a.threads);
        Run flash = run_attention(a, true, *backend, q, k, v);
        Run naive = run_attention(a, false, *backend, q, k, v);

        double err = 0, ref = 0, maxd = 0;
        for (size_t i = 0; i < flash.out.size(); ++i) {
            const double d = (double)flash.out[i] - naive.out[i];
            err += d * d;
            ref += (double)naive.out[i] * naive.out[i];
            maxd = std::max(maxd, std::fabs(d));
        }
        double flops = 4.0 * a.n_q * a.n_kv * a.d * a.heads;
        if (a.causal) flops /= 2;
        std::printf("\n%-12s %10s %10s %14s\n", "path", "ms", "GFLOP/s", "peak bytes");
        std::printf("%-12s %10.3f %10.2f %14zu\n", "flash_attn", flash.ms, flops / flash.ms * 1e-6,
                    flash.peak);
        std::printf("%-12s %10.3f %10.2f %14zu\n", "naive", naive.ms, flops / naive.ms * 1e-6,
                    naive.peak);
        std::printf("flash vs naive: NMSE %.3g, max |diff| %.3g\n", ref > 0 ? err / ref : 0.0,
                    maxd);
        return (ref > 0 && err / ref < 1e-8) ? 0 : 1;
    } catch (const ggml::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
