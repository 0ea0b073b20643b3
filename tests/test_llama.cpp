// Llama model, session and sampler: a float64 reference forward pass on small random models
// (GQA, MQA, tied and separate heads), the real stories260K checkpoint against llama2.c's
// greedy ids (as .bin and converted to GGUF), batch-vs-incremental consistency, f16 KV cache,
// malformed checkpoints, and PyTorch reference logits for the bundled models.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "ggml/ggml.h"
#include "ggml/gguf.h"
#include "ggml/llama.h"
#include "ggml/tokenizer.h"

namespace fs = std::filesystem;
using namespace ggml::llama;

namespace {

const std::string kStories = GGML_SHARED_DIR "/models/stories260K.bin";
const std::string kStoriesGreedy = GGML_SHARED_DIR "/models/stories260K.greedy64.txt";

std::string temp_path(const std::string& name) {
    return (fs::temp_directory_path() /
            ("ggml_test_" + std::to_string((long)::getpid()) + "_" + name))
        .string();
}

struct TempFile {
    explicit TempFile(const std::string& name) : path(temp_path(name)) {}
    ~TempFile() {
        std::error_code ec;
        fs::remove(path, ec);
    }
    std::string path;
};

std::unique_ptr<ggml::Backend> cpu() {
    ggml::BackendOptions o;
    o.n_threads = 2;
    return ggml::make_backend("cpu", o);
}

// Greedy generation: feeds `prompt`, then each argmax, and returns the n chosen ids.
std::vector<int32_t> greedy(Session& s, std::vector<int32_t> prompt, int n) {
    std::vector<int32_t> out;
    std::vector<float> logits = s.eval(prompt);
    const int32_t vocab = (int32_t)logits.size();
    for (int i = 0; i < n; ++i) {
        const int32_t next = argmax_index(logits.data(), vocab);
        out.push_back(next);
        if (i + 1 < n) logits = s.eval({next});
    }
    return out;
}

std::vector<int32_t> read_ids(const std::string& path) {
    std::ifstream in(path);
    std::vector<int32_t> ids;
    int32_t x;
    while (in >> x) ids.push_back(x);
    return ids;
}

// ---- a small random llama2.c checkpoint and an independent float64 forward pass -----------

struct Config {
    int dim, hidden, layers, heads, kv_heads, vocab, seq_len;
    bool tied;
};

struct RandomModel {
    Config c;
    // PyTorch layouts: matrices [out][in] row-major.
    std::vector<float> emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls;

    explicit RandomModel(const Config& cfg, uint32_t seed) : c(cfg) {
        std::mt19937 rng(seed);
        auto fill = [&](std::vector<float>& v, size_t n, float lo, float hi) {
            std::uniform_real_distribution<float> d(lo, hi);
            v.resize(n);
            for (float& x : v) x = d(rng);
        };
        const size_t D = (size_t)c.dim, L = (size_t)c.layers, F = (size_t)c.hidden,
                     V = (size_t)c.vocab, KV = (size_t)(c.dim / c.heads * c.kv_heads);
        const float a = 1.0f / std::sqrt((float)D), b = 1.0f / std::sqrt((float)F);
        fill(emb, V * D, -1.0f, 1.0f);
        fill(rms_att, L * D, 0.5f, 1.5f);
        fill(wq, L * D * D, -a, a);
        fill(wk, L * KV * D, -a, a);
        fill(wv, L * KV * D, -a, a);
        fill(wo, L * D * D, -a, a);
        fill(rms_ffn, L * D, 0.5f, 1.5f);
        fill(w1, L * F * D, -a, a);
        fill(w2, L * D * F, -b, b);
        fill(w3, L * F * D, -a, a);
        fill(rms_final, D, 0.5f, 1.5f);
        if (!c.tied) fill(wcls, V * D, -a, a);
    }

    void write(const std::string& path) const {
        std::ofstream out(path, std::ios::binary);
        const int32_t h[7] = {
            c.dim, c.hidden, c.layers, c.heads, c.kv_heads, c.tied ? c.vocab : -c.vocab, c.seq_len};
        out.write((const char*)h, sizeof h);
        auto put = [&](const std::vector<float>& v) {
            out.write((const char*)v.data(), (std::streamsize)(v.size() * 4));
        };
        for (const auto* v :
             {&emb, &rms_att, &wq, &wk, &wv, &wo, &rms_ffn, &w1, &w2, &w3, &rms_final})
            put(*v);
        // freq_cis_real and freq_cis_imag: garbage on purpose, they must be ignored.
        put(std::vector<float>((size_t)c.seq_len * (size_t)(c.dim / c.heads), 123.0f));
        if (!c.tied) put(wcls);
    }

    // Logits [n][vocab] for tokens at positions 0..n-1, in float64 (llama2.c's run.c math).
    // With `steer`, bias[j] is added to the scores of key j on the heads in heads[layer].
    std::vector<std::vector<double>> forward(const std::vector<int32_t>& toks,
                                             const Steering* steer = nullptr) const {
        const int D = c.dim, F = c.hidden, H = c.heads, HKV = c.kv_heads, HD = D / H, KV = HD * HKV,
                  V = c.vocab;
        auto matvec = [](const float* w, const std::vector<double>& x, int out, int in) {
            std::vector<double> y((size_t)out, 0.0);
            for (int o = 0; o < out; ++o)
                for (int i = 0; i < in; ++i)
                    y[(size_t)o] += (double)w[(size_t)o * in + i] * x[(size_t)i];
            return y;
        };
        auto rmsnorm = [&](const std::vector<double>& x, const float* w) {
            double ss = 0;
            for (double v : x) ss += v * v;
            const double r = 1.0 / std::sqrt(ss / (double)x.size() + 1e-5);
            std::vector<double> y(x.size());
            for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * w[i];
            return y;
        };
        auto rope = [&](std::vector<double>& v, int pos, int n_heads) {
            for (int h = 0; h < n_heads; ++h)
                for (int i = 0; i < HD; i += 2) {
                    const double th = pos * std::pow(10000.0, -(double)i / HD);
                    double& x0 = v[(size_t)(h * HD + i)];
                    double& x1 = v[(size_t)(h * HD + i + 1)];
                    const double a = x0 * std::cos(th) - x1 * std::sin(th);
                    const double b = x0 * std::sin(th) + x1 * std::cos(th);
                    x0 = a;
                    x1 = b;
                }
        };
        std::vector<std::vector<std::vector<double>>> kc((size_t)c.layers), vc((size_t)c.layers);
        std::vector<std::vector<double>> out;
        for (int pos = 0; pos < (int)toks.size(); ++pos) {
            std::vector<double> x(emb.begin() + (long)toks[(size_t)pos] * D,
                                  emb.begin() + (long)(toks[(size_t)pos] + 1) * D);
            for (int l = 0; l < c.layers; ++l) {
                const std::vector<double> h = rmsnorm(x, &rms_att[(size_t)l * D]);
                std::vector<double> q = matvec(&wq[(size_t)l * D * D], h, D, D);
                std::vector<double> k = matvec(&wk[(size_t)l * KV * D], h, KV, D);
                const std::vector<double> v = matvec(&wv[(size_t)l * KV * D], h, KV, D);
                rope(q, pos, H);
                rope(k, pos, HKV);
                kc[(size_t)l].push_back(k);
                vc[(size_t)l].push_back(v);
                std::vector<double> att((size_t)D, 0.0);
                for (int hh = 0; hh < H; ++hh) {
                    const int g = hh / (H / HKV);
                    std::vector<double> s((size_t)pos + 1);
                    double mx = -1e300;
                    for (int j = 0; j <= pos; ++j) {
                        double d = 0;
                        for (int i = 0; i < HD; ++i)
                            d += q[(size_t)(hh * HD + i)] *
                                 kc[(size_t)l][(size_t)j][(size_t)(g * HD + i)];
                        s[(size_t)j] = d / std::sqrt((double)HD);
                        if (steer && steer->heads[(size_t)l].test((size_t)hh))
                            s[(size_t)j] += steer->bias[(size_t)j];
                        mx = std::max(mx, s[(size_t)j]);
                    }
                    double sum = 0;
                    for (double& e : s) sum += (e = std::exp(e - mx));
                    for (int j = 0; j <= pos; ++j)
                        for (int i = 0; i < HD; ++i)
                            att[(size_t)(hh * HD + i)] +=
                                s[(size_t)j] / sum * vc[(size_t)l][(size_t)j][(size_t)(g * HD + i)];
                }
                const std::vector<double> o = matvec(&wo[(size_t)l * D * D], att, D, D);
                for (int i = 0; i < D; ++i) x[(size_t)i] += o[(size_t)i];
                const std::vector<double> h2 = rmsnorm(x, &rms_ffn[(size_t)l * D]);
                const std::vector<double> g1 = matvec(&w1[(size_t)l * F * D], h2, F, D);
                const std::vector<double> g3 = matvec(&w3[(size_t)l * F * D], h2, F, D);
                std::vector<double> f((size_t)F);
                for (int i = 0; i < F; ++i)
                    f[(size_t)i] = g1[(size_t)i] / (1.0 + std::exp(-g1[(size_t)i])) * g3[(size_t)i];
                const std::vector<double> d2 = matvec(&w2[(size_t)l * D * F], f, D, F);
                for (int i = 0; i < D; ++i) x[(size_t)i] += d2[(size_t)i];
            }
            const std::vector<double> xf = rmsnorm(x, rms_final.data());
            out.push_back(matvec(c.tied ? emb.data() : wcls.data(), xf, V, D));
        }
        return out;
    }
};

// max |a - b| over everything, relative to the largest |b| (at least 1).
double rel_max_diff(const std::vector<float>& a, const std::vector<double>& b) {
    double mx = 1.0, d = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        mx = std::max(mx, std::fabs(b[i]));
        d = std::max(d, std::fabs((double)a[i] - b[i]));
    }
    return d / mx;
}

}  // namespace

TEST_CASE("llama: random models match a float64 reference forward pass", "[llama]") {
    // f32 kernels vs a float64 loop: each logit is a few hundred f32 products and sums deep,
    // so errors are ~1e-6 relative; 1e-4 leaves room for summation order while any wrong
    // rotation, head mapping or norm moves logits by O(1).
    const Config configs[] = {
        {32, 48, 2, 4, 2, 40, 16, false},  // GQA, separate classifier
        {32, 40, 2, 4, 1, 37, 16, true},   // MQA, tied classifier
        {24, 30, 1, 3, 3, 20, 12, true},   // MHA
    };
    auto backend = cpu();
    for (const Config& c : configs) {
        INFO("dim " << c.dim << " heads " << c.heads << "/" << c.kv_heads << " tied " << c.tied);
        RandomModel rm(c, 7);
        TempFile bin("random.bin");
        rm.write(bin.path);
        auto m = Model::load(bin.path);
        REQUIRE(m->format == Format::Llama2c);
        CHECK(m->hp.n_kv_heads == c.kv_heads);
        CHECK(m->tied_output() == c.tied);

        std::vector<int32_t> toks;
        for (int i = 0; i < c.seq_len - 2; ++i) toks.push_back((i * 7 + 3) % c.vocab);
        const auto ref = rm.forward(toks);

        Session s(*m, {backend.get()});
        const std::vector<float> all = s.eval(toks, true);
        REQUIRE(all.size() == toks.size() * (size_t)c.vocab);
        for (size_t p = 0; p < toks.size(); ++p) {
            INFO("position " << p);
            const std::vector<float> row(all.begin() + (long)(p * c.vocab),
                                         all.begin() + (long)((p + 1) * c.vocab));
            CHECK(rel_max_diff(row, ref[p]) < 1e-4);
        }

        // The same model through GGUF.
        TempFile gguf("random.gguf");
        save_gguf(*m, gguf.path);
        auto g = Model::load(gguf.path);
        REQUIRE(g->format == Format::GGUF);
        CHECK(g->tied_output() == c.tied);
        Session sg(*g, {backend.get()});
        CHECK(sg.eval(toks, true) == all);  // same weights, same graph: bit-identical

        // f16 KV cache: K/V rounded to 11 significant bits (relative error 2^-11 each).
        SessionOptions o;
        o.kv_type = ggml::DType::F16;
        Session sh(*m, {backend.get()}, o);
        const std::vector<float> h = sh.eval(toks, true);
        for (size_t p = 0; p < toks.size(); ++p) {
            const std::vector<float> row(h.begin() + (long)(p * c.vocab),
                                         h.begin() + (long)((p + 1) * c.vocab));
            CHECK(rel_max_diff(row, ref[p]) < 1e-2);
        }
    }
}

TEST_CASE("llama: batch and incremental evaluation agree", "[llama]") {
    // Same kernels over 1 column or n: only the summation order of the batched matmul and
    // attention may differ, so logits agree to f32 rounding; 1e-4 relative to the logit scale.
    RandomModel rm({32, 48, 2, 4, 2, 40, 32, false}, 11);
    TempFile bin("batch.bin");
    rm.write(bin.path);
    auto m = Model::load(bin.path);
    auto backend = cpu();
    const std::vector<int32_t> toks = {1, 5, 9, 2, 33, 17, 17, 4, 0, 39, 12, 8};
    Session a(*m, {backend.get()});
    const std::vector<float> batch = a.eval(toks, true);
    Session b(*m, {backend.get()});
    Session c(*m, {backend.get()});
    const int32_t V = m->hp.vocab;
    double scale = 1.0, diff = 0.0;
    for (size_t i = 0; i < toks.size(); ++i) {
        const std::vector<float> one = b.eval({toks[i]});
        REQUIRE(one.size() == (size_t)V);
        for (int32_t v = 0; v < V; ++v) {
            scale = std::max(scale, (double)std::fabs(batch[i * V + v]));
            diff = std::max(diff, (double)std::fabs(one[v] - batch[i * V + v]));
        }
    }
    CHECK(diff / scale < 1e-4);
    // A prompt in two batches, last-token logits only.
    c.eval(std::vector<int32_t>(toks.begin(), toks.begin() + 5));
    const std::vector<float> last = c.eval(std::vector<int32_t>(toks.begin() + 5, toks.end()));
    REQUIRE(last.size() == (size_t)V);
    for (int32_t v = 0; v < V; ++v)
        CHECK(std::fabs(last[v] - batch[(toks.size() - 1) * V + v]) < 1e-4 * scale);
    // reset() starts over and reuses the plans.
    a.reset();
    CHECK(a.eval(toks, true) == batch);
}

TEST_CASE("llama: steering bias reaches the selected heads", "[llama]") {
    // PASTA-style: log(alpha) on every key outside an emphasised span, on some heads of each
    // layer. Same tolerance argument as the unsteered reference test.
    const Config c{32, 48, 2, 4, 2, 40, 16, false};
    RandomModel rm(c, 5);
    TempFile bin("steer.bin");
    rm.write(bin.path);
    auto m = Model::load(bin.path);
    auto backend = cpu();
    const std::vector<int32_t> toks = {1, 7, 3, 22, 9, 9, 14, 30, 2, 5};
    Steering st;
    st.bias.assign((size_t)c.seq_len, std::log(0.01f));
    for (int j = 2; j < 5; ++j) st.bias[(size_t)j] = 0.0f;  // the emphasised span
    st.heads.resize((size_t)c.layers);
    st.heads[0].set(1);
    st.heads[1].set(0);
    st.heads[1].set(3);
    const auto ref = rm.forward(toks, &st);
    const auto plain = rm.forward(toks);

    Session s(*m, {backend.get()});
    s.set_steering(st);
    const std::vector<float> got = s.eval(toks, true);
    double moved = 0.0;
    for (size_t p = 0; p < toks.size(); ++p) {
        const std::vector<float> row(got.begin() + (long)(p * c.vocab),
                                     got.begin() + (long)((p + 1) * c.vocab));
        CHECK(rel_max_diff(row, ref[p]) < 1e-4);
        for (int v = 0; v < c.vocab; ++v)
            moved = std::max(moved, std::fabs(ref[p][(size_t)v] - plain[p][(size_t)v]));
    }
    CHECK(moved > 1e-2);  // the steering changes the logits, so the check above means something

    // Turning it off again gives the unsteered model; decode steps work either way.
    s.reset();
    s.set_steering({});
    const std::vector<float> off = s.eval(toks, true);
    const std::vector<float> last(off.end() - c.vocab, off.end());
    CHECK(rel_max_diff(last, plain.back()) < 1e-4);
    CHECK_THROWS_AS(s.set_steering(Steering{{1.0f}, {}}), ggml::Error);  // wrong sizes
}

TEST_CASE("llama: malformed GGUF models give clear errors", "[llama]") {
    RandomModel rm({32, 48, 2, 4, 2, 40, 16, false}, 2);
    TempFile bin("gguf_src.bin"), good("good.gguf"), bad("bad.gguf");
    rm.write(bin.path);
    save_gguf(*Model::load(bin.path), good.path);
    const ggml::GgufFile src = ggml::GgufFile::open(good.path);

    // Rewrites the good file with one change; returns the load error.
    auto error_with = [&](const std::string& set_key, const ggml::GgufValue* value,
                          const std::string& drop_tensor, const std::string& reshape_tensor,
                          bool extra_tensor) -> std::string {
        ggml::GgufWriter w;
        for (const auto& kv : src.kvs())
            if (kv.key != set_key) w.set(kv.key, kv.value);
        if (value) w.set(set_key, *value);
        for (const auto& t : src.tensors()) {
            if (t.name == drop_tensor) continue;
            std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
            if (t.name == reshape_tensor) std::swap(ne[0], ne[1]);
            w.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
        }
        if (extra_tensor) {
            const float z[32] = {};
            w.add_tensor("blk.0.attn_q.bias", ggml::GgmlType::F32, {32}, z, sizeof z);
        }
        w.write(bad.path);
        try {
            Model::load(bad.path);
        } catch (const ggml::Error& e) {
            return e.what();
        }
        return "no error";
    };
    const ggml::GgufValue gpt2 = ggml::GgufValue::str("gpt2");
    const ggml::GgufValue zero = ggml::GgufValue::u32(0);
    const ggml::GgufValue three = ggml::GgufValue::u32(3);
    CHECK_THAT(error_with("", nullptr, "", "", false), Catch::Equals("no error"));
    CHECK_THAT(error_with("general.architecture", &gpt2, "", "", false),
               Catch::Contains("unsupported architecture 'gpt2'"));
    CHECK_THAT(error_with("llama.block_count", &zero, "", "", false),
               Catch::Contains("llama.block_count"));
    CHECK_THAT(error_with("llama.embedding_length", nullptr, "", "", false),
               Catch::Contains("'llama.embedding_length' is missing"));
    CHECK_THAT(error_with("llama.attention.head_count_kv", &three, "", "", false),
               Catch::Contains("not a multiple of n_kv_heads"));
    CHECK_THAT(error_with("", nullptr, "blk.1.ffn_up.weight", "", false),
               Catch::Contains("'blk.1.ffn_up.weight' is missing"));
    CHECK_THAT(error_with("", nullptr, "", "blk.0.attn_k.weight", false),
               Catch::Contains("'blk.0.attn_k.weight' has shape"));
    CHECK_THAT(error_with("", nullptr, "", "", true),
               Catch::Contains("'blk.0.attn_q.bias' is not part of the llama architecture"));
    CHECK_THAT(error_with("llama.vocab_size", &three, "", "", false),
               Catch::Contains("llama.vocab_size"));
}

TEST_CASE("llama: NeoX rotation equals interleaved with permuted Q/K rows", "[llama]") {
    // Rotating pairs (x[i], x[i + HD/2]) of rows laid out as [evens, odds] is the interleaved
    // rotation of pairs (x[2i], x[2i+1]) of the original rows, and q.k is unchanged when q and k
    // are permuted alike: an "exaone" (NeoX) file with permuted attn_q/attn_k rows must give
    // the llama model's logits, up to the summation order of the dot products.
    const Config c{32, 48, 2, 4, 2, 40, 16, true};
    RandomModel rm(c, 9);
    TempFile bin("neox.bin"), llama_gguf("neox_llama.gguf"), neox_gguf("neox.gguf");
    rm.write(bin.path);
    save_gguf(*Model::load(bin.path), llama_gguf.path);
    const ggml::GgufFile src = ggml::GgufFile::open(llama_gguf.path);
    ggml::GgufWriter w;
    for (const auto& kv : src.kvs()) {
        if (kv.key == "general.architecture")
            w.set(kv.key, ggml::GgufValue::str("exaone"));
        else if (kv.key.rfind("llama.", 0) == 0)
            w.set("exaone." + kv.key.substr(6), kv.value);
        else
            w.set(kv.key, kv.value);
    }
    const int64_t HD = c.dim / c.heads;
    for (const auto& t : src.tensors()) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        const bool qk = t.name.find("attn_q.") != std::string::npos ||
                        t.name.find("attn_k.") != std::string::npos;
        if (!qk) {
            w.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
            continue;
        }
        std::vector<float> rows((size_t)t.nelements());
        const float* old = (const float*)t.data;
        for (int64_t r = 0; r < t.ne[1]; ++r) {
            const int64_t h = r / HD, p = r % HD;
            const int64_t from = h * HD + (p < HD / 2 ? 2 * p : 2 * (p - HD / 2) + 1);
            std::copy(old + from * t.ne[0], old + (from + 1) * t.ne[0],
                      &rows[(size_t)(r * t.ne[0])]);
        }
        w.add_tensor(t.name, t.type, ne, rows.data(), rows.size() * 4);
    }
    w.write(neox_gguf.path);

    auto a = Model::load(llama_gguf.path);
    auto b = Model::load(neox_gguf.path);
    REQUIRE(b->hp.rope_mode == ggml::RopeMode::Neox);
    REQUIRE(a->hp.rope_mode == ggml::RopeMode::Interleaved);
    auto backend = cpu();
    Session sa(*a, {backend.get()}), sb(*b, {backend.get()});
    const std::vector<int32_t> toks = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
    const std::vector<float> la = sa.eval(toks, true), lb = sb.eval(toks, true);
    double scale = 1.0, diff = 0.0;
    for (size_t i = 0; i < la.size(); ++i) {
        scale = std::max(scale, (double)std::fabs(la[i]));
        diff = std::max(diff, (double)std::fabs(la[i] - lb[i]));
    }
    CHECK(diff <= 1e-5 * scale);
    // Both match the float64 reference of the interleaved model.
    const auto ref = rm.forward(toks);
    CHECK(rel_max_diff(std::vector<float>(la.end() - c.vocab, la.end()), ref.back()) < 1e-4);
    CHECK(rel_max_diff(std::vector<float>(lb.end() - c.vocab, lb.end()), ref.back()) < 1e-4);
}

TEST_CASE("llama: session input errors", "[llama]") {
    RandomModel rm({32, 48, 1, 4, 2, 40, 8, true}, 3);
    TempFile bin("errors.bin");
    rm.write(bin.path);
    auto m = Model::load(bin.path);
    auto backend = cpu();
    Session s(*m, {backend.get()});
    CHECK_THROWS_AS(s.eval({40}), ggml::Error);  // id outside the vocabulary
    CHECK_THROWS_AS(s.eval({-1}), ggml::Error);
    CHECK_THROWS_AS(s.eval({}), ggml::Error);
    CHECK(s.n_past() == 0);
    s.eval({1, 2, 3, 4, 5, 6});
    CHECK_THROWS_AS(s.eval({1, 2, 3}), ggml::Error);  // 9 > n_ctx 8
    s.eval({1, 2});
    CHECK(s.n_past() == 8);
    CHECK_THROWS_AS(s.eval({1}), ggml::Error);
}

TEST_CASE("llama: a session memory budget fails before allocating", "[llama]") {
    RandomModel rm({32, 48, 2, 4, 2, 40, 16, true}, 5);
    TempFile bin("budget.bin");
    rm.write(bin.path);
    auto m = Model::load(bin.path);
    auto backend = cpu();
    // Unlimited: learn what the cache and the prompt plan need.
    Session free_run(*m, {backend.get()});
    free_run.prepare(4);
    const size_t kv = free_run.kv_bytes(), arena = free_run.plan_peak_bytes();
    CHECK(kv == (size_t)2 * 2 * 16 * m->hp.kv_dim() * 4);  // layers x (K,V) x n_ctx x kv_dim
    REQUIRE(arena > 0);
    SessionOptions so;
    so.memory_budget = kv - 1;  // the cache alone does not fit
    try {
        Session s(*m, {backend.get()}, so);
        FAIL("expected a budget error");
    } catch (const ggml::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("KV cache") && Catch::Contains("memory budget"));
    }
    so.memory_budget = kv + arena - 1;  // the cache fits, the prompt's plan does not
    Session tight(*m, {backend.get()}, so);
    try {
        tight.prepare(4);
        FAIL("expected a budget error");
    } catch (const ggml::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("memory budget"));
    }
    so.memory_budget = kv + arena;  // exactly enough
    Session fits(*m, {backend.get()}, so);
    const std::vector<float> a = fits.eval({1, 2, 3, 4});
    const std::vector<float> b = free_run.eval({1, 2, 3, 4});
    CHECK(a == b);
}

TEST_CASE("llama: malformed llama2.c checkpoints give clear errors", "[llama]") {
    TempFile f("bad.bin");
    auto write_header = [&](std::vector<int32_t> h, size_t extra_floats) {
        std::ofstream out(f.path, std::ios::binary);
        out.write((const char*)h.data(), (std::streamsize)(h.size() * 4));
        std::vector<float> z(extra_floats, 0.0f);
        out.write((const char*)z.data(), (std::streamsize)(z.size() * 4));
    };
    auto error_of = [&]() -> std::string {
        try {
            Model::load(f.path);
        } catch (const ggml::Error& e) {
            return e.what();
        }
        return "no error";
    };
    write_header({64, 172}, 0);
    CHECK_THAT(error_of(), Catch::Contains("shorter than the 28-byte header"));
    write_header({-64, 172, 5, 8, 4, 512, 512}, 100);
    CHECK_THAT(error_of(), Catch::Contains("dim = -64"));
    write_header({64, 172, 5, 8, 4, 0, 512}, 100);
    CHECK_THAT(error_of(), Catch::Contains("vocab_size = 0"));
    write_header({64, 172, 5, 7, 7, 512, 512}, 100);
    CHECK_THAT(error_of(), Catch::Contains("not a multiple of n_heads"));
    write_header({64, 172, 5, 8, 3, 512, 512}, 100);
    CHECK_THAT(error_of(), Catch::Contains("not a multiple of n_kv_heads"));
    write_header({64, 172, 5, 8, 4, 512, 512}, 100);
    CHECK_THAT(error_of(), Catch::Contains("truncated"));
    write_header({64, 172, 5, 8, 4, 512, 512}, 264128 + 1);  // stories260K's size + 1 float
    CHECK_THAT(error_of(), Catch::Contains("trailing bytes"));
    CHECK_THROWS_AS(Model::load(temp_path("does_not_exist.bin")), ggml::Error);

    // A real checkpoint cut short.
    if (fs::exists(kStories)) {
        std::ifstream in(kStories, std::ios::binary);
        std::vector<char> bytes(600000);
        in.read(bytes.data(), (std::streamsize)bytes.size());
        std::ofstream(f.path, std::ios::binary).write(bytes.data(), (std::streamsize)bytes.size());
        CHECK_THAT(error_of(), Catch::Contains("truncated"));
    }
}

TEST_CASE("llama: stories260K greedy ids match llama2.c", "[llama]") {
    if (!fs::exists(kStories) || !fs::exists(kStoriesGreedy)) {
        WARN("skipped: " << kStories << " or its greedy ids are absent (../shared not present)");
        return;
    }
    const std::vector<int32_t> expect = read_ids(kStoriesGreedy);
    REQUIRE(expect.size() == 64);
    REQUIRE(std::vector<int32_t>(expect.begin(), expect.begin() + 8) ==
            std::vector<int32_t>{403, 407, 261, 378, 432, 383, 286, 261});
    auto backend = cpu();

    auto m = Model::load(kStories);
    CHECK(m->hp.dim == 64);
    CHECK(m->hp.n_layers == 5);
    CHECK(m->hp.n_heads == 8);
    CHECK(m->hp.n_kv_heads == 4);
    CHECK(m->hp.vocab == 512);
    {
        Session s(*m, {backend.get()});
        CHECK(greedy(s, {1}, 64) == expect);
    }
    SECTION("f16 KV cache keeps the first 16 ids") {
        SessionOptions o;
        o.kv_type = ggml::DType::F16;
        Session s(*m, {backend.get()}, o);
        CHECK(greedy(s, {1}, 16) == std::vector<int32_t>(expect.begin(), expect.begin() + 16));
    }
    SECTION("every other available backend gives the same ids") {
        // Vulkan (lavapipe in CI) and CUDA run the same graph with their own kernels; greedy
        // ids must not move (the smallest top-1/top-2 margin along this sequence is large
        // against f32 summation-order differences).
        for (const std::string& name : ggml::available_backends()) {
            if (name == "cpu") continue;
            auto dev = ggml::make_backend(name);
            auto md = Model::load(kStories);
            md->upload(*dev);
            Session s(*md, {dev.get(), backend.get()});
            INFO("backend " << name);
            CHECK(greedy(s, {1}, 64) == expect);
        }
    }
    SECTION("converted to GGUF") {
        TempFile out("stories260K.gguf");
        save_gguf(*m, out.path);
        const ggml::GgufFile f = ggml::GgufFile::open(out.path);
        CHECK(f.get_str("general.architecture") == "llama");
        CHECK(f.get_integer("llama.context_length") == 512);
        CHECK(f.get_integer("llama.embedding_length") == 64);
        CHECK(f.get_integer("llama.block_count") == 5);
        CHECK(f.get_integer("llama.feed_forward_length") == 172);
        CHECK(f.get_integer("llama.attention.head_count") == 8);
        CHECK(f.get_integer("llama.attention.head_count_kv") == 4);
        CHECK(f.get_integer("llama.rope.dimension_count") == 8);
        CHECK(f.get_f32("llama.rope.freq_base") == 10000.0f);
        CHECK(f.get_f32("llama.attention.layer_norm_rms_epsilon") == 1e-5f);
        CHECK(f.get_integer("general.file_type") == 0);
        CHECK(f.find_tensor("output.weight") == nullptr);  // tied
        CHECK(f.get_tensor("blk.4.ffn_down.weight").shape_str() == "[172, 64]");
        CHECK(f.get_arr_str("tokenizer.ggml.tokens").size() == 512);

        auto g = Model::load(out.path);
        REQUIRE(g->format == Format::GGUF);
        Session s(*g, {backend.get()});
        CHECK(greedy(s, {1}, 64) == expect);
        // The placeholder vocabulary decodes ids as "<tok_N>" and hides control tokens.
        const ggml::Tokenizer tok(g->vocab);
        CHECK(tok.decode({1, 403, 2}) == "<tok_403>");
    }
}

TEST_CASE("llama: sampler", "[llama]") {
    const std::vector<float> logits = {0.0f, 2.0f, 1.0f, 2.0f, -1.0f};
    Sampler greedy_s(0.0f);
    CHECK(greedy_s.sample(logits.data(), 5) == 1);  // first maximum
    CHECK(argmax_index(logits.data(), 5) == 1);

    // A tiny top-p keeps only the most likely token (ties: the lower id).
    Sampler narrow(1.0f, 1e-6f, 5);
    for (int i = 0; i < 20; ++i) CHECK(narrow.sample(logits.data(), 5) == 1);

    // Same seed, same sequence; frequencies follow softmax(logits / T) without top-p.
    Sampler a(0.7f, 1.0f, 99), b(0.7f, 1.0f, 99);
    std::vector<int> count(5, 0);
    const int N = 20000;
    for (int i = 0; i < N; ++i) {
        const int32_t x = a.sample(logits.data(), 5);
        CHECK(x == b.sample(logits.data(), 5));
        ++count[(size_t)x];
    }
    double z = 0;
    for (float l : logits) z += std::exp(l / 0.7);
    for (int i = 0; i < 5; ++i) {
        const double p = std::exp(logits[(size_t)i] / 0.7) / z;
        // 5 binomial standard deviations: fails by chance with probability < 1e-6.
        CHECK(std::fabs(count[(size_t)i] / (double)N - p) < 5 * std::sqrt(p * (1 - p) / N) + 1e-9);
    }
    // top-p 0.5: mass of {1, 3} is 2 * 0.39.. > 0.5 so only ids 1 and 3 can appear.
    Sampler nucleus(0.7f, 0.5f, 3);
    for (int i = 0; i < 200; ++i) {
        const int32_t x = nucleus.sample(logits.data(), 5);
        CHECK((x == 1 || x == 3));
    }
}

// ---- reference logits from PyTorch (models/*.ref.json) --------------------------------------

namespace {

// A minimal JSON reader for the reference files: objects, arrays, numbers, strings, literals.
struct Json {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    double num = 0;
    std::string str;
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> fields;

    const Json* get(const std::string& k) const {
        for (const auto& f : fields)
            if (f.first == k) return &f.second;
        return nullptr;
    }
    std::string keys() const {
        std::string s;
        for (const auto& f : fields) s += (s.empty() ? "" : ", ") + f.first;
        return s;
    }
};

struct JsonParser {
    const std::string& s;
    size_t i = 0;
    void ws() {
        while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
    }
    [[noreturn]] void bad(const char* what) {
        throw std::runtime_error(std::string("json: ") + what + " at byte " + std::to_string(i));
    }
    std::string string() {
        if (s[i] != '"') bad("expected a string");
        std::string r;
        for (++i; i < s.size() && s[i] != '"'; ++i) {
            if (s[i] != '\\') {
                r += s[i];
                continue;
            }
            const char e = s[++i];
            if (e == 'u') {
                const uint32_t cp = (uint32_t)std::stoul(s.substr(i + 1, 4), nullptr, 16);
                i += 4;
                if (cp < 0x80) {
                    r += (char)cp;
                } else if (cp < 0x800) {
                    r += (char)(0xC0 | (cp >> 6));
                    r += (char)(0x80 | (cp & 0x3F));
                } else {  // surrogate pairs are not needed for the reference prompts
                    r += (char)(0xE0 | (cp >> 12));
                    r += (char)(0x80 | ((cp >> 6) & 0x3F));
                    r += (char)(0x80 | (cp & 0x3F));
                }
            } else {
                const char* from = "nrtbf\"\\/";
                const char* to = "\n\r\t\b\f\"\\/";
                const char* p = std::strchr(from, e);
                r += p ? to[p - from] : e;
            }
        }
        ++i;
        return r;
    }
    Json value() {
        ws();
        if (i >= s.size()) bad("unexpected end");
        Json v;
        const char c = s[i];
        if (c == '{') {
            v.kind = Json::Object;
            ++i;
            ws();
            if (s[i] == '}') return ++i, v;
            for (;;) {
                ws();
                std::string k = string();
                ws();
                if (s[i++] != ':') bad("expected ':'");
                v.fields.emplace_back(k, value());
                ws();
                if (s[i] == ',') {
                    ++i;
                    continue;
                }
                if (s[i++] != '}') bad("expected '}'");
                return v;
            }
        }
        if (c == '[') {
            v.kind = Json::Array;
            ++i;
            ws();
            if (s[i] == ']') return ++i, v;
            for (;;) {
                v.items.push_back(value());
                ws();
                if (s[i] == ',') {
                    ++i;
                    continue;
                }
                if (s[i++] != ']') bad("expected ']'");
                return v;
            }
        }
        if (c == '"') {
            v.kind = Json::String;
            v.str = string();
            return v;
        }
        for (const char* lit : {"true", "false", "null", "NaN", "Infinity", "-Infinity"}) {
            if (s.compare(i, std::strlen(lit), lit) == 0) {
                i += std::strlen(lit);
                v.kind = lit[0] == 't' || lit[0] == 'f' ? Json::Bool
                         : lit[0] == 'n'                ? Json::Null
                                                        : Json::Number;
                v.num = lit[0] == 't'   ? 1
                        : lit[0] == 'N' ? NAN
                        : lit[0] == 'I' ? INFINITY
                        : lit[0] == '-' ? -INFINITY
                                        : 0;
                return v;
            }
        }
        char* end = nullptr;
        v.kind = Json::Number;
        v.num = std::strtod(s.c_str() + i, &end);
        if (end == s.c_str() + i) bad("unexpected character");
        i = (size_t)(end - s.c_str());
        return v;
    }
};

// Numbers of a (possibly nested) array, flattened in order.
void flatten(const Json& j, std::vector<double>& out) {
    if (j.kind == Json::Number) out.push_back(j.num);
    for (const Json& x : j.items) flatten(x, out);
}

}  // namespace

TEST_CASE("llama: bundled models match PyTorch reference logits", "[llama]") {
    // Each models/X.ref.json (written by the training script) names a model, a prompt as text
    // and ids, PyTorch's logits for every prompt position (inline "logits" or a little-endian
    // f32 "logits_file" [n_prompt][n_vocab]) and PyTorch's greedy continuation with its
    // top-1/top-2 margins.
    // Both sides are f32 with different summation orders (blocked matmuls, online softmax):
    // differences are a few ulps per op compounded over the layers, ~1e-6..1e-5 of the logit
    // scale for these small models; 1e-4 of max |logit| leaves margin while a wrong rotation,
    // head mapping or norm shows up as O(1).
    const fs::path dir = GGML_SOURCE_DIR "/models";
    int n_files = 0;
    if (fs::exists(dir))
        for (const auto& e : fs::directory_iterator(dir)) {
            const std::string name = e.path().filename().string();
            const std::string suffix = ".ref.json";
            if (name.size() <= suffix.size() ||
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            ++n_files;
            std::ifstream in(e.path());
            const std::string text((std::istreambuf_iterator<char>(in)), {});
            JsonParser jparser{text};
            const Json ref = jparser.value();
            REQUIRE(ref.kind == Json::Object);
            auto str_field = [&](std::initializer_list<const char*> keys) -> const Json* {
                for (const char* k : keys)
                    if (const Json* j = ref.get(k); j && j->kind == Json::String) return j;
                return nullptr;
            };
            auto ids_field = [&](std::initializer_list<const char*> keys) {
                std::vector<int32_t> ids;
                for (const char* k : keys)
                    if (const Json* j = ref.get(k)) {
                        std::vector<double> v;
                        flatten(*j, v);
                        for (double x : v) ids.push_back((int32_t)x);
                        break;
                    }
                return ids;
            };
            const Json* jm = str_field({"model"});
            const fs::path model =
                dir / (jm ? jm->str : name.substr(0, name.size() - suffix.size()) + ".gguf");
            INFO("reference " << e.path() << " (keys: " << ref.keys() << "), model " << model);
            REQUIRE(fs::exists(model));
            auto m = Model::load(model.string());
            const size_t V = (size_t)m->hp.vocab;
            if (const Json* nv = ref.get("n_vocab")) REQUIRE(nv->num == (double)V);

            std::vector<int32_t> toks = ids_field({"prompt_ids", "tokens", "input_ids"});
            std::unique_ptr<ggml::Tokenizer> tok;
            if (!m->vocab.empty()) tok = std::make_unique<ggml::Tokenizer>(m->vocab);
            if (const Json* pt = str_field({"prompt_text", "prompt", "text"}); pt && tok) {
                // The reference tokenisation checks our tokenizer against the trainer's.
                const std::vector<int32_t> ours = tok->encode(pt->str, true);
                if (toks.empty()) toks = ours;
                CHECK(ours == toks);
            }
            REQUIRE(!toks.empty());

            std::vector<double> want;
            if (const Json* jl = ref.get("logits")) {
                flatten(*jl, want);
            } else if (const Json* lf = str_field({"logits_file"})) {
                std::ifstream bin((dir / lf->str).string(), std::ios::binary);
                REQUIRE(bin.good());
                std::vector<float> f(toks.size() * V);
                bin.read((char*)f.data(), (std::streamsize)(f.size() * 4));
                REQUIRE(bin.gcount() == (std::streamsize)(f.size() * 4));
                want.assign(f.begin(), f.end());
            }
            REQUIRE(want.size() == toks.size() * V);

            auto backend = cpu();
            Session s(*m, {backend.get()});
            const std::vector<float> got = s.eval(toks, true);
            double scale = 1.0, diff = 0.0;
            for (size_t i = 0; i < want.size(); ++i) {
                scale = std::max(scale, std::fabs(want[i]));
                diff = std::max(diff, std::fabs((double)got[i] - want[i]));
            }
            INFO("max |ours - torch| = " << diff << ", max |logit| = " << scale);
            CHECK(diff <= 1e-4 * scale);

            // Greedy continuation: ids must agree while PyTorch's top-1 leads its top-2 by more
            // than our logit error could flip (10x the tolerance above); after the first
            // closer call the sequences may legitimately part.
            const std::vector<int32_t> greedy_ref = ids_field({"greedy_ids"});
            if (greedy_ref.empty()) continue;
            std::vector<double> margin;
            if (const Json* jmg = ref.get("greedy_top1_minus_top2")) flatten(*jmg, margin);
            Session g(*m, {backend.get()});
            const std::vector<int32_t> ours = greedy(g, toks, (int)greedy_ref.size());
            size_t n_sure = 0;
            while (n_sure < greedy_ref.size() &&
                   (margin.size() <= n_sure || margin[n_sure] > 1e-3 * scale))
                ++n_sure;
            INFO("greedy ids compared: " << n_sure << " of " << greedy_ref.size());
            CHECK(std::vector<int32_t>(ours.begin(), ours.begin() + (long)n_sure) ==
                  std::vector<int32_t>(greedy_ref.begin(), greedy_ref.begin() + (long)n_sure));
            if (const Json* gt = str_field({"greedy_text"}); gt && tok && n_sure == ours.size()) {
                std::string streamed;
                int32_t prev = toks.back();
                for (int32_t id : ours) {
                    streamed += tok->piece(prev, id);
                    prev = id;
                }
                CHECK(streamed == gt->str);
            }
        }
    if (n_files == 0) WARN("skipped: no models/*.ref.json in " << dir);
}
