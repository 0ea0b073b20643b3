// ggml-bench: side-by-side timings of attention and matrix multiplication, with the machine's
// limits measured in the same run so that every figure can be read as a fraction of them.
//
//   ggml-bench attn   [-t N] [--reps N] [--csv] [--backend NAME] [--sweep] [--no-scalar] [--case S]
//                     [--cold] [--no-naive]
//   ggml-bench matmul [-t N] [--reps N] [--csv] [--backend NAME] [--no-scalar] [--case S] [--cold]
//
// Limits: FMA throughput = independent FMA chains on every thread, 16-wide where the CPU has
// AVX-512, else 8-wide (2 flops per lane);
// read bandwidth = every thread summing its share of a 512 MB buffer; both measured before the
// first case and after each, and the best of all taken, as a neighbour on a shared machine can
// take a CPU from one probe (one such probe read half the FMA peak and doubled every ratio of
// its run). Rows are printed once the last probe has run. A case's "% limit" is GFLOP/s over the
// FMA peak for compute-bound cases and GB/s over the read bandwidth for bandwidth-bound ones
// (decode, GEMV). Attention FLOPs = 4 * n_q * n_kv * D * Hq (halved when causal); decode bytes = K
// + V read once. Every case runs the fused op and, beside it, the naive graph (mul_mat, soft_max,
// mul_mat; --no-naive leaves it out); on the CPU also with GGML_CPU_ISA=scalar where it is cheap;
// q4_0 weights also in the CPU's repacked q4_0x8 layout. Each timing is the median of --reps runs
// (at least 5) after warm-up runs (at least one, and 20 ms) of a plan that is built once. With
// --cold, every thread reads its share of 64 MB of other memory before each run, so the case's data
// comes from DRAM as in a model, where the other layers' weights and caches pass through the L3
// between two uses of one layer's KV cache (the default keeps whatever stays cached between runs:
// 16 MiB of decode K/V fits this machine's 32 MiB L3).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "ggml/ggml.h"
#include "ggml/quant.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Args {
    std::string cmd;
    int threads = 2;
    int reps = 5;
    bool cold = false;
    bool csv = false;
    bool sweep = false;
    bool scalar = true;
    bool naive = true;
    std::string backend = "cpu";
    std::string filter;  // run only the cases whose name contains it
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(
        stderr,
        "usage: %s attn|matmul [-t THREADS] [--reps N (>=5)] [--cold] [--csv] [--backend NAME] "
        "[--sweep] [--no-scalar] [--no-naive] [--case SUBSTRING]\n",
        argv0);
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    if (argc < 2) usage(argv[0]);
    a.cmd = argv[1];
    if (a.cmd != "attn" && a.cmd != "matmul") usage(argv[0]);
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) usage(argv[0]);
            return argv[++i];
        };
        if (s == "-t")
            a.threads = std::atoi(next());
        else if (s == "--reps")
            a.reps = std::max(5, std::atoi(next()));
        else if (s == "--cold")
            a.cold = true;
        else if (s == "--csv")
            a.csv = true;
        else if (s == "--sweep")
            a.sweep = true;
        else if (s == "--no-scalar")
            a.scalar = false;
        else if (s == "--no-naive")
            a.naive = false;
        else if (s == "--backend")
            a.backend = next();
        else if (s == "--case")
            a.filter = next();
        else
            usage(argv[0]);
    }
    if (a.threads < 1) a.threads = 1;
    return a;
}

// ---- machine limits --------------------------------------------------------------------------

template <typename F>
void on_threads(int n, F f) {
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i) ts.emplace_back(f, i);
    for (auto& t : ts) t.join();
}

#if defined(__x86_64__)
// Twelve independent chains hide the FMA latency (4-5 cycles) on two FMA ports.
__attribute__((target("avx2,fma"))) float fma_chains_avx2(long iters) {
    __m256 a[12];
    for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(0.001f * (float)i);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

// The same with 16-lane zmm FMAs: the limit of a CPU with AVX-512 (on cores that split a zmm
// FMA in two halves it measures the same as the AVX2 probe, as it should).
__attribute__((target("avx512f"))) float fma_chains_avx512(long iters) {
    __m512 a[12];
    for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(0.001f * (float)i);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
    float out[16];
    _mm512_storeu_ps(out, s);
    return out[0] + out[15];
}
#endif

float fma_chains_scalar(long iters) {
    float a[8];
    for (int i = 0; i < 8; ++i) a[i] = 0.001f * (float)i;
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 8; ++i) a[i] = std::fma(a[i], 0.999999f, 1e-7f);
    return a[0] + a[7];
}

// GFLOP/s of FMAs on all threads (best of 3).
double measure_fma_peak(int threads) {
    bool avx2 = false, avx512 = false;
#if defined(__x86_64__)
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    avx512 = __builtin_cpu_supports("avx512f");
#endif
    const long iters = 20000000;
    double best = 0;
    std::atomic<float> sink{0};
    for (int rep = 0; rep < 3; ++rep) {
        auto t0 = Clock::now();
        on_threads(threads, [&](int) {
            float r = 0;
#if defined(__x86_64__)
            if (avx512)
                r = fma_chains_avx512(iters);
            else if (avx2)
                r = fma_chains_avx2(iters);
            else
#endif
                r = fma_chains_scalar(iters / 8);
            sink = sink + r;
        });
        const double s = ms_since(t0) * 1e-3;
        const double flops = avx512 ? (double)threads * iters * 12 * 16 * 2
                             : avx2 ? (double)threads * iters * 12 * 8 * 2
                                    : (double)threads * (iters / 8) * 8 * 2;
        best = std::max(best, flops / s * 1e-9);
    }
    return best;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    float s = 0;
    for (float x : out) s += x;
    for (; i < n; ++i) s += p[i];
    return s;
}
#endif

float sum_scalar(const float* p, size_t n) {
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += p[i + j];
    float t = 0;
    for (float x : s) t += x;
    for (; i < n; ++i) t += p[i];
    return t;
}

// GB/s reading a 512 MB buffer with all threads (best of 3).
double measure_read_bw(int threads) {
    const size_t n = (size_t)512 << 20 >> 2;
    std::vector<float> buf(n);
    on_threads(threads, [&](int t) {  // first touch by the reading thread
        const size_t b = n * t / threads, e = n * (t + 1) / threads;
        for (size_t i = b; i < e; ++i) buf[i] = (float)(i & 1023);
    });
    bool avx2 = false;
#if defined(__x86_64__)
    avx2 = __builtin_cpu_supports("avx2");
#endif
    double best = 0;
    std::atomic<float> sink{0};
    for (int rep = 0; rep < 3; ++rep) {
        auto t0 = Clock::now();
        on_threads(threads, [&](int t) {
            const size_t b = n * t / threads, e = n * (t + 1) / threads;
            float r;
#if defined(__x86_64__)
            if (avx2)
                r = sum_avx2(buf.data() + b, e - b);
            else
#endif
                r = sum_scalar(buf.data() + b, e - b);
            sink = sink + r;
        });
        best = std::max(best, (double)n * 4 / (ms_since(t0) * 1e-3) * 1e-9);
    }
    return best;
}

// --cold: 64 MB that every thread reads its share of before a timed run, evicting the case's
// data from the caches (twice the L3 of the machines this runs on).
struct Evictor {
    int threads;
    std::vector<float> buf;
    explicit Evictor(int n_threads) : threads(n_threads), buf((size_t)64 << 20 >> 2, 1.0f) {}
    void run() const {
        std::atomic<float> sink{0};
        on_threads(threads, [&](int t) {
            const size_t n = buf.size(), b = n * t / threads, e = n * (t + 1) / threads;
            sink = sink + sum_scalar(buf.data() + b, e - b);
        });
    }
};

// ---- cases -----------------------------------------------------------------------------------

struct Limits {
    double gflops = 0, gbs = 0;     // the best of every probe so far
    const Evictor* cold = nullptr;  // --cold
    void probe(int threads) {
        gflops = std::max(gflops, measure_fma_peak(threads));
        gbs = std::max(gbs, measure_read_bw(threads));
    }
};

struct Row {
    std::string name, path, dtype;
    int threads = 0;
    long seq = 0;
    double ms = 0, gflops = 0, gbs = 0;
    bool per_byte = false;  // % of the read bandwidth (decode, GEMV), else of the FMA peak
};

void print_header(const Args& a) {
    if (a.csv)
        std::printf("case,path,dtype,seq,threads,ms,gflops,gbs,pct_limit\n");
    else
        std::printf("%-24s %-14s %3s %10s %9s %8s %8s\n", "case", "path", "thr", "median ms",
                    "GFLOP/s", "GB/s", "% limit");
}

void print_row(const Args& a, const Limits& lim, const Row& r) {
    // A device backend has no % of the host's limits: "n/a" (empty in CSV).
    const double pc = a.backend != "cpu" ? NAN
                      : r.per_byte       ? 100.0 * r.gbs / lim.gbs
                                         : 100.0 * r.gflops / lim.gflops;
    char pct[32];
    if (std::isnan(pc))
        std::snprintf(pct, sizeof pct, "%s", a.csv ? "" : "n/a");
    else
        std::snprintf(pct, sizeof pct, a.csv ? "%.2f" : "%.1f%%", pc);
    if (a.csv)
        std::printf("%s,%s,%s,%ld,%d,%.4f,%.3f,%.3f,%s\n", r.name.c_str(), r.path.c_str(),
                    r.dtype.c_str(), r.seq, r.threads, r.ms, r.gflops, r.gbs, pct);
    else
        std::printf("%-24s %-14s %3d %10.3f %9.2f %8.2f %8s\n", r.name.c_str(), r.path.c_str(),
                    r.threads, r.ms, r.gflops, r.gbs, pct);
    std::fflush(stdout);
}

ggml::DType parse_dtype(const std::string& s) {
    if (s == "f16") return ggml::DType::F16;
    if (s == "bf16") return ggml::DType::BF16;
    if (s == "q8_0") return ggml::DType::Q8_0;
    if (s == "q4_0") return ggml::DType::Q4_0;
    return ggml::DType::F32;
}

// Random values in [-1, 1] (never zeros) stored in `t`'s dtype.
void fill_random(ggml::Tensor* t, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> U(lo, hi);
    const size_t n = (size_t)t->nelements();
    std::vector<uint8_t> bytes;
    if (t->type == ggml::DType::F32) {
        std::vector<float> v(n);
        for (float& x : v) x = U(rng);
        ggml::tensor_set(t, v.data(), 0, n * 4);
    } else if (ggml::dtype_is_quantized(t->type) || t->type == ggml::DType::Q4_0X8) {
        std::vector<float> v(n);
        for (float& x : v) x = U(rng);
        bytes.resize(t->nbytes());
        if (t->type == ggml::DType::Q4_0X8) {  // quantized as q4_0, then interleaved
            std::vector<uint8_t> q(bytes.size());
            ggml::quantize_q4_0(v.data(), q.data(), (int64_t)n);
            ggml::repack_q4_0x8(q.data(), bytes.data(), t->ne[0], t->nrows());
        } else {
            ggml::from_float_row(t->type, v.data(), bytes.data(), (int64_t)n);  // contiguous
        }
        ggml::tensor_set(t, bytes.data(), 0, bytes.size());
    } else {
        std::vector<uint16_t> v(n);
        for (auto& x : v)
            x = t->type == ggml::DType::F16 ? ggml::f32_to_f16(U(rng)) : ggml::f32_to_bf16(U(rng));
        ggml::tensor_set(t, v.data(), 0, n * 2);
    }
}

// Builds the plan once, warms it up, then returns the median of `reps` runs (each after an
// eviction pass when `cold` is given).
template <typename Build>
double time_graph(ggml::Backend& backend, int reps, Build build, const Evictor* cold) {
    ggml::Context ctx;
    std::vector<ggml::Tensor*> inputs;
    ggml::Tensor* out = build(ctx, inputs);
    ggml::Graph g = ggml::build_graph({out});
    ggml::Plan plan = ggml::make_plan(ctx, g, {&backend});
    ggml::Executor exec(std::move(plan), {&backend});
    std::mt19937 rng(1234);
    for (ggml::Tensor* t : inputs) fill_random(t, rng);
    // Warm-up: at least one run and 20 ms (a sub-millisecond case's first runs after the
    // probes measured up to twice its steady time, which a median of 5 did not hide).
    for (auto w0 = Clock::now(); ms_since(w0) < 20.0;) exec.run();
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
        if (cold) cold->run();
        auto t0 = Clock::now();
        exec.run();
        times.push_back(ms_since(t0));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

struct AttnCase {
    std::string name;
    int n_q, n_kv, hq, hkv, d;
    bool causal;
    std::string dtype;
    bool decode;  // bandwidth-bound: % limit is of read bandwidth
    bool scalar_cheap;
};

std::unique_ptr<ggml::Backend> make(const Args& a, bool scalar) {
    ggml::BackendOptions bo;
    bo.n_threads = a.threads;
    if (a.backend == "cpu") {
        // The CPU backend reads GGML_CPU_ISA when it is created.
        if (scalar)
            setenv("GGML_CPU_ISA", "scalar", 1);
        else
            unsetenv("GGML_CPU_ISA");
    }
    auto b = ggml::make_backend(a.backend, bo);
    return b;
}

void run_attn_case(const Args& a, const Limits& lim, const AttnCase& c, ggml::Backend& best,
                   ggml::Backend* scalar, std::vector<Row>& rows) {
    if (c.name.find(a.filter) == std::string::npos) return;
    const Evictor* cold = lim.cold;
    const ggml::DType kv = parse_dtype(c.dtype);
    double flops = 4.0 * c.n_q * c.n_kv * (double)c.d * c.hq;
    if (c.causal) flops /= 2;
    const double bytes = 2.0 * c.n_kv * c.d * c.hkv * (double)ggml::dtype_size(kv);
    auto build = [&](bool fused) {
        return [&c, kv, fused](ggml::Context& ctx, std::vector<ggml::Tensor*>& in) {
            ggml::Tensor* q = ctx.new_input(ggml::DType::F32, {c.d, c.n_q, c.hq}, "q");
            ggml::Tensor* k = ctx.new_input(kv, {c.d, c.n_kv, c.hkv}, "k");
            ggml::Tensor* v = ctx.new_input(kv, {c.d, c.n_kv, c.hkv}, "v");
            in = {q, k, v};
            ggml::FlashAttnParams p;
            p.scale = 1.0f / std::sqrt((float)c.d);
            p.causal = c.causal;
            p.causal_offset = c.n_kv - c.n_q;
            return fused ? ggml::flash_attn(ctx, q, k, v, nullptr, p)
                         : ggml::flash_attn_naive(ctx, q, k, v, nullptr, p);
        };
    };
    auto emit = [&](const std::string& path, double ms) {
        Row r;
        r.name = c.name;
        r.path = path;
        r.dtype = c.dtype;
        r.seq = c.n_kv;
        r.threads = a.threads;
        r.ms = ms;
        r.gflops = flops / ms * 1e-6;
        r.gbs = bytes / ms * 1e-6;
        r.per_byte = c.decode;
        rows.push_back(r);
    };
    emit("flash", time_graph(best, a.reps, build(true), cold));
    if (a.naive) emit("naive", time_graph(best, a.reps, build(false), cold));
    if (scalar && c.scalar_cheap)
        emit("flash-scalar", time_graph(*scalar, a.reps, build(true), cold));
}

struct MatCase {
    std::string name;
    int m, n, k;
    std::string dtype;
    bool gemv;
    bool scalar_cheap;
};

void run_mat_case(const Args& a, const Limits& lim, const MatCase& c, ggml::Backend& best,
                  ggml::Backend* scalar, std::vector<Row>& rows) {
    if (c.name.find(a.filter) == std::string::npos) return;
    const Evictor* cold = lim.cold;
    const ggml::DType wt = parse_dtype(c.dtype);
    const double flops = 2.0 * c.m * c.n * (double)c.k;
    const double bytes = (double)c.m * ggml::row_bytes(wt, c.k) + 4.0 * c.n * c.k;
    auto build_as = [&c](ggml::DType type) {
        return [&c, type](ggml::Context& ctx, std::vector<ggml::Tensor*>& in) {
            ggml::Tensor* w = ctx.new_input(type, {c.k, c.m}, "w");
            ggml::Tensor* x = ctx.new_input(ggml::DType::F32, {c.k, c.n}, "x");
            in = {w, x};
            return ggml::mul_mat(ctx, w, x);
        };
    };
    auto build = build_as(wt);
    auto emit = [&](const std::string& path, double ms) {
        Row r;
        r.name = c.name;
        r.path = path;
        r.dtype = c.dtype;
        r.seq = c.k;
        r.threads = a.threads;
        r.ms = ms;
        r.gflops = flops / ms * 1e-6;
        r.gbs = bytes / ms * 1e-6;
        r.per_byte = c.gemv;
        rows.push_back(r);
    };
    emit("mul_mat", time_graph(best, a.reps, build, cold));
    // The CPU's repacked layout of the same weights (what Model::upload makes of q4_0).
    if (wt == ggml::DType::Q4_0 && a.backend == "cpu")
        emit("mul_mat-q4_0x8", time_graph(best, a.reps, build_as(ggml::DType::Q4_0X8), cold));
    if (scalar && c.scalar_cheap) emit("mul_mat-scalar", time_graph(*scalar, a.reps, build, cold));
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse(argc, argv);
    try {
        Limits lim;
        lim.probe(a.threads);
        std::unique_ptr<Evictor> evictor;
        if (a.cold) evictor = std::make_unique<Evictor>(a.threads);
        lim.cold = evictor.get();
        const char* isa_env = std::getenv("GGML_CPU_ISA");
        const std::string isa_req = isa_env ? isa_env : "";
        auto scalar = (a.backend == "cpu" && a.scalar) ? make(a, true) : nullptr;
        if (!isa_req.empty())
            setenv("GGML_CPU_ISA", isa_req.c_str(), 1);
        else
            unsetenv("GGML_CPU_ISA");
        ggml::BackendOptions bo;
        bo.n_threads = a.threads;
        auto best = ggml::make_backend(a.backend, bo);
        // After each case that ran, the limits are probed again, once the team's threads
        // have stopped spinning.
        std::vector<Row> rows;
        size_t probed = 0;
        auto reprobe = [&]() {
            if (rows.size() == probed) return;  // filtered out by --case
            probed = rows.size();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            lim.probe(a.threads);
        };
        if (a.cmd == "attn") {
            if (a.sweep) {
                for (const char* dt : {"f32", "f16"})
                    for (int n : {128, 256, 512, 1024, 2048}) {
                        AttnCase c{std::string("sweep_prefill_") + dt + "_" + std::to_string(n),
                                   n,
                                   n,
                                   8,
                                   2,
                                   64,
                                   true,
                                   dt,
                                   false,
                                   false};
                        run_attn_case(a, lim, c, *best, nullptr, rows);
                        reprobe();
                    }
            } else {
                const AttnCase cases[] = {
                    {"decode_gqa_f16_4096", 1, 4096, 32, 8, 128, false, "f16", true, true},
                    {"decode_mqa_f16_4096", 1, 4096, 32, 1, 128, false, "f16", true, true},
                    {"prefill_gqa_f32_512", 512, 512, 32, 8, 128, true, "f32", false, true},
                    {"prefill_gqa_f16_512", 512, 512, 32, 8, 128, true, "f16", false, true},
                    {"prefill_long_f16_2048", 2048, 2048, 8, 2, 64, true, "f16", false, false},
                };
                for (const auto& c : cases) {
                    run_attn_case(a, lim, c, *best, scalar.get(), rows);
                    reprobe();
                }
            }
        } else {
            const MatCase cases[] = {
                {"gemm_f32_1024", 1024, 1024, 1024, "f32", false, true},
                {"gemm_bf16_1024", 1024, 1024, 1024, "bf16", false, false},
                {"gemv_f16_4096", 4096, 1, 4096, "f16", true, true},
                {"gemv_q8_0_4096", 4096, 1, 4096, "q8_0", true, true},
                {"gemv_q4_0_4096", 4096, 1, 4096, "q4_0", true, true},
            };
            for (const auto& c : cases) {
                run_mat_case(a, lim, c, *best, scalar.get(), rows);
                reprobe();
            }
        }
        std::printf(
            "# host CPU limits (%d threads): FMA peak %.1f GFLOP/s, read bandwidth %.2f GB/s"
            " (best of the probes before and between the cases)\n",
            a.threads, lim.gflops, lim.gbs);
        std::printf("# backend %s%s%s%s\n", a.backend.c_str(),
                    isa_req.empty() ? "" : ", GGML_CPU_ISA=", isa_req.c_str(),
                    a.cold ? ", cold caches (64 MB read before each run)" : "");
        print_header(a);
        for (const Row& r : rows) print_row(a, lim, r);
        return 0;
    } catch (const ggml::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
