// ggml-llama: generates text with a llama-family model (GGUF or a llama2.c checkpoint).
//
//   ggml-llama -m MODEL [-p TEXT | --tokens 1,400,200] [-n N] [--temp T] [--top-p P]
//              [--seed S] [-t THREADS] [--backend cpu|vulkan|cuda] [--kv-type f32|f16]
//              [-c CTX] [--ids-out FILE] [--logits-out FILE] [-q] [-v]
//              [--steer-span A:B]... [--steer-text TEXT]... [--steer-heads all|L:H,..|@F.json]
//              [--steer-alpha A] [--steer-mode exclude|include]
//              [--attn-png FILE --attn-layer L --attn-head H]
//
// Steering (PASTA, see ggml/steering.h) biases the prompt keys of the selected heads for the
// whole run: prefill (whose logits --logits-out writes) and every decode step.
// The prompt is processed as one batch (prefill), then one token per step (decode) with a
// single plan reused for every step; the two speeds are reported separately.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ggml/ggml.h"
#include "ggml/llama.h"
#include "ggml/steering.h"
#include "ggml/tokenizer.h"

namespace {

using ggml::Error;
using Clock = std::chrono::steady_clock;

struct Args {
    std::string model;
    std::optional<std::string> prompt;
    std::optional<std::vector<int32_t>> tokens;
    int n_predict = 64;
    float temp = 0.0f;
    float top_p = 0.9f;
    uint64_t seed = 42;
    int threads = 0;
    std::string backend = "cpu";
    ggml::DType kv_type = ggml::DType::F32;
    int n_ctx = 0;
    size_t mem_budget = 0;  // 0 = unlimited
    std::string ids_out, logits_out;
    bool quiet = false, verbose = false;
    // Steering.
    std::vector<ggml::llama::TokenSpan> steer_spans;
    std::vector<std::string> steer_texts;
    std::optional<std::string> steer_heads;
    std::optional<float> steer_alpha;
    ggml::llama::SteerMode steer_mode = ggml::llama::SteerMode::Exclude;
    std::string attn_png;
    int attn_layer = -1, attn_head = -1;
    bool repack = true;
    bool steering() const { return !steer_spans.empty() || !steer_texts.empty(); }
};

const char* kUsage =
    "usage: ggml-llama -m MODEL [options]\n"
    "  -m FILE            model: GGUF, or a llama2.c .bin checkpoint\n"
    "  -p TEXT            prompt (needs the model's tokenizer; BOS is added)\n"
    "  --tokens IDS       prompt as comma-separated token ids (no BOS added)\n"
    "  -n N               tokens to generate (default 64)\n"
    "  --temp T           temperature, 0 = greedy (default 0)\n"
    "  --top-p P          nucleus sampling mass (default 0.9)\n"
    "  --seed S           sampling seed (default 42)\n"
    "  -t N               CPU threads (default: all)\n"
    "  --backend NAME     cpu, vulkan or cuda (default cpu)\n"
    "  --kv-type T        KV cache type f32 or f16 (default f32)\n"
    "  --no-repack        keep q4_0 matrices in the file's layout on the CPU (default: q4_0x8)\n"
    "  --mem-budget N     fail (before allocating) if KV cache + planned arenas exceed N bytes\n"
    "  -c N               KV capacity (default: prompt + n, at most the model's context)\n"
    "  --ids-out FILE     write the generated ids, one per line\n"
    "  --logits-out FILE  write every prompt position's logits, f32 [n_prompt x vocab]\n"
    "  -q                 quiet: print only the speeds\n"
    "  -v                 verbose: model and plan details\n"
    "attention steering (PASTA):\n"
    "  --steer-span A:B   emphasise prompt tokens [A, B) (repeatable)\n"
    "  --steer-text TEXT  emphasise the tokens covering TEXT in the prompt (repeatable)\n"
    "  --steer-heads H    all (default), L:H,L:H,... or @heads.json\n"
    "  --steer-alpha A    weight of the other prompt keys, 0 < A < 1 (default 0.01)\n"
    "  --steer-mode M     exclude (down-weight the rest, default) or include (up-weight\n"
    "                     the spans by 1/A)\n"
    "  --attn-png FILE    PNG of the prompt's attention (softmax) for --attn-layer L\n"
    "                     --attn-head H: unsteered left, steered right\n";

long long parse_int(const std::string& flag, const std::string& s, long long lo, long long hi) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != 0 || errno != 0 || v < lo || v > hi)
        throw Error(flag + ": '" + s + "' is not an integer in [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    return v;
}

float parse_float(const std::string& flag, const std::string& s, float lo, float hi) {
    char* end = nullptr;
    const float v = std::strtof(s.c_str(), &end);
    if (s.empty() || *end != 0 || !(v >= lo && v <= hi))
        throw Error(flag + ": '" + s + "' is not a number in [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    return v;
}

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw Error(f + " needs a value");
            return argv[++i];
        };
        if (f == "-m")
            a.model = value();
        else if (f == "-p")
            a.prompt = value();
        else if (f == "--tokens") {
            std::vector<int32_t> ids;
            const std::string s = value();
            size_t start = 0;
            while (start <= s.size()) {
                const size_t comma = std::min(s.find(',', start), s.size());
                ids.push_back(
                    (int32_t)parse_int("--tokens", s.substr(start, comma - start), 0, INT32_MAX));
                start = comma + 1;
            }
            a.tokens = ids;
        } else if (f == "-n")
            a.n_predict = (int)parse_int(f, value(), 0, INT32_MAX);
        else if (f == "--temp")
            a.temp = parse_float(f, value(), 0.0f, 100.0f);
        else if (f == "--top-p")
            a.top_p = parse_float(f, value(), 0.0f, 1.0f);
        else if (f == "--seed")
            a.seed = (uint64_t)parse_int(f, value(), 0, INT64_MAX);
        else if (f == "-t")
            a.threads = (int)parse_int(f, value(), 1, 4096);
        else if (f == "--backend")
            a.backend = value();
        else if (f == "--mem-budget")
            a.mem_budget = (size_t)parse_int(f, value(), 1, INT64_MAX);
        else if (f == "--kv-type") {
            const std::string t = value();
            if (t == "f32")
                a.kv_type = ggml::DType::F32;
            else if (t == "f16")
                a.kv_type = ggml::DType::F16;
            else
                throw Error("--kv-type: '" + t + "' is not f32 or f16");
        } else if (f == "-c")
            a.n_ctx = (int)parse_int(f, value(), 1, INT32_MAX);
        else if (f == "--ids-out")
            a.ids_out = value();
        else if (f == "--logits-out")
            a.logits_out = value();
        else if (f == "--steer-span")
            a.steer_spans.push_back(ggml::llama::parse_span(value()));
        else if (f == "--steer-text")
            a.steer_texts.push_back(value());
        else if (f == "--steer-heads")
            a.steer_heads = value();
        else if (f == "--steer-alpha")
            a.steer_alpha = parse_float(f, value(), 0.0f, 1e30f);
        else if (f == "--steer-mode")
            a.steer_mode = ggml::llama::parse_steer_mode(value());
        else if (f == "--attn-png")
            a.attn_png = value();
        else if (f == "--attn-layer")
            a.attn_layer = (int)parse_int(f, value(), 0, INT32_MAX);
        else if (f == "--attn-head")
            a.attn_head = (int)parse_int(f, value(), 0, INT32_MAX);
        else if (f == "--no-repack")
            a.repack = false;
        else if (f == "-q")
            a.quiet = true;
        else if (f == "-v")
            a.verbose = true;
        else if (f == "-h" || f == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else
            throw Error("unknown flag '" + f + "' (see --help)");
    }
    if (a.model.empty()) throw Error("no model given (-m FILE)");
    if (a.prompt && a.tokens) throw Error("give either -p or --tokens, not both");
    if (!a.steering() && (a.steer_heads || a.steer_alpha || !a.attn_png.empty()))
        throw Error(
            "--steer-heads, --steer-alpha and --attn-png need --steer-span or --steer-text");
    if (!a.attn_png.empty() && (a.attn_layer < 0 || a.attn_head < 0))
        throw Error("--attn-png needs --attn-layer L and --attn-head H");
    return a;
}

ggml::llama::Steering make_steering(const Args& a, const ggml::llama::Model& model,
                                    const ggml::Tokenizer* tok, const std::vector<int32_t>& prompt,
                                    int n_ctx) {
    namespace L = ggml::llama;
    L::SteeringSpec spec;
    spec.spans = a.steer_spans;
    for (const std::string& t : a.steer_texts) {
        if (!tok) throw Error("--steer-text needs the model's tokenizer; use --steer-span");
        spec.spans.push_back(L::find_text_span(*tok, prompt, t));
    }
    float file_alpha = -1.0f;
    if (a.steer_heads) {
        const L::HeadConfig hc = L::parse_heads_arg(*a.steer_heads, &file_alpha);
        spec.all_heads = hc.all_heads;
        if (!hc.all_heads) spec.heads = L::head_sets(hc, model.hp);
    }
    spec.alpha = a.steer_alpha ? *a.steer_alpha : file_alpha > 0 ? file_alpha : 0.01f;
    spec.mode = a.steer_mode;
    L::Steering s = spec.to_steering(model.hp, (int32_t)prompt.size(), n_ctx);
    if (a.verbose) {
        std::string spans;
        for (const L::TokenSpan& sp : spec.spans)
            spans += " [" + std::to_string(sp.begin) + "," + std::to_string(sp.end) + ")";
        std::fprintf(stderr, "steering: spans%s, alpha %g, %s mode\n", spans.c_str(),
                     (double)spec.alpha,
                     a.steer_mode == L::SteerMode::Exclude ? "exclude" : "include");
    }
    return s;
}

// The prompt's attention probabilities for one head from the float64 host forward pass, without
// and with steering, side by side.
void write_attention_png(const Args& a, const ggml::llama::Model& model,
                         const std::vector<int32_t>& prompt, const ggml::llama::Steering& s) {
    namespace L = ggml::llama;
    std::vector<double> before, after;
    L::reference_forward(model, prompt, nullptr, a.attn_layer, a.attn_head, &before);
    L::reference_forward(model, prompt, &s, a.attn_layer, a.attn_head, &after);
    const int32_t n = (int32_t)prompt.size();
    const int32_t cell = std::max(1, std::min(32, 512 / n));
    int32_t w = 0, h = 0;
    const std::vector<uint8_t> img = L::render_attention_pair(before, after, n, cell, &w, &h);
    L::write_png(a.attn_png, w, h, img);
    std::fprintf(stderr, "attention: layer %d head %d, %dx%d png -> %s\n", a.attn_layer,
                 a.attn_head, w, h, a.attn_png.c_str());
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int run(const Args& a) {
    auto model = ggml::llama::Model::load(a.model);
    const ggml::llama::HParams& hp = model->hp;
    std::unique_ptr<ggml::Tokenizer> tok;
    if (!model->vocab.empty()) tok = std::make_unique<ggml::Tokenizer>(model->vocab);
    if (a.verbose) std::fprintf(stderr, "model: %s\n", hp.to_string().c_str());

    // The prompt.
    std::vector<int32_t> prompt;
    if (a.prompt) {
        if (!tok) throw Error("-p needs a tokenizer, and '" + a.model + "' has none; use --tokens");
        prompt = tok->encode(*a.prompt, true);
    } else if (a.tokens) {
        prompt = *a.tokens;
    } else {
        prompt = {tok && tok->bos() >= 0 ? tok->bos() : 1};  // llama2.c's BOS is 1
    }
    for (int32_t id : prompt)
        if (id >= hp.vocab)
            throw Error("prompt token " + std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(hp.vocab));
    const int n_prompt = (int)prompt.size();
    if (n_prompt > hp.n_ctx)
        throw Error("the prompt has " + std::to_string(n_prompt) +
                    " tokens, more than the model's context of " + std::to_string(hp.n_ctx));
    int n_ctx = a.n_ctx > 0 ? a.n_ctx
                            : (int)std::min<long long>(hp.n_ctx, (long long)n_prompt + a.n_predict);
    if (n_ctx > hp.n_ctx)
        throw Error("-c " + std::to_string(n_ctx) + " exceeds the model's context of " +
                    std::to_string(hp.n_ctx));
    if (n_prompt > n_ctx)
        throw Error("the prompt has " + std::to_string(n_prompt) + " tokens, more than -c " +
                    std::to_string(n_ctx));

    // Backends: the requested one first, the CPU behind it for any op it lacks.
    ggml::BackendOptions bo;
    bo.n_threads = a.threads;
    std::vector<std::unique_ptr<ggml::Backend>> owned;
    owned.push_back(ggml::make_backend(a.backend, bo));
    if (a.backend != "cpu") owned.push_back(ggml::make_backend("cpu", bo));
    std::vector<ggml::Backend*> backends;
    for (auto& b : owned) backends.push_back(b.get());
    model->upload(*backends[0], a.repack);
    if (a.verbose && model->n_repacked() > 0)
        std::fprintf(stderr, "repacked %d q4_0 matrices to q4_0x8 for the CPU\n",
                     model->n_repacked());

    ggml::llama::SessionOptions so;
    so.n_ctx = n_ctx;
    so.kv_type = a.kv_type;
    so.memory_budget = a.mem_budget;
    ggml::llama::Session session(*model, backends, so);

    std::optional<ggml::llama::Steering> steering;
    if (a.steering()) {
        steering = make_steering(a, *model, tok.get(), prompt, n_ctx);
        session.set_steering(*steering);
    }
    if (!a.attn_png.empty()) write_attention_png(a, *model, prompt, *steering);

    // Plan both graphs (the prompt batch and the reused n = 1 step) before anything runs, so the
    // memory they need is known, checked against --mem-budget and reported up front.
    const bool all_logits = !a.logits_out.empty();
    auto tp = Clock::now();
    session.prepare(n_prompt, all_logits);
    if (a.n_predict > 1 && n_prompt < n_ctx) session.prepare(1);
    const double t_plan = seconds_since(tp);
    if (!a.quiet) {
        size_t wbytes = 0;
        for (const ggml::Tensor* w : model->weights()) wbytes += w->nbytes();
        std::fprintf(stderr, "memory: weights %.2f MiB, KV cache %.2f MiB, plan arena %.2f MiB\n",
                     wbytes / 1048576.0, session.kv_bytes() / 1048576.0,
                     session.plan_peak_bytes() / 1048576.0);
    }

    // Prefill: the whole prompt as one batch.
    auto t0 = Clock::now();
    std::vector<float> logits = session.eval(prompt, all_logits);
    const double t_prefill = seconds_since(t0);
    if (all_logits) {
        std::ofstream out(a.logits_out, std::ios::binary);
        out.write(reinterpret_cast<const char*>(logits.data()),
                  (std::streamsize)(logits.size() * sizeof(float)));
        if (!out) throw Error("cannot write '" + a.logits_out + "'");
        logits.erase(logits.begin(), logits.end() - hp.vocab);
    }

    // Decode: one token per step through one reused plan.
    if (!a.quiet && tok) std::printf("%s", tok->decode(prompt).c_str());
    ggml::llama::Sampler sampler(a.temp, a.top_p, a.seed);
    std::vector<int32_t> generated;
    int32_t prev = prompt.back();
    int n_decode = 0;
    bool truncated = false;
    auto t2 = Clock::now();
    for (int i = 0; i < a.n_predict; ++i) {
        const int32_t next = sampler.sample(logits.data(), hp.vocab);
        generated.push_back(next);
        if (!a.quiet) {
            if (tok)
                std::printf("%s", tok->piece(prev, next).c_str());
            else
                std::printf("%s%d", i ? " " : "", next);
            std::fflush(stdout);
        }
        prev = next;
        if (tok && next == tok->eos()) break;
        if (i + 1 == a.n_predict) break;
        if (session.n_past() >= session.n_ctx()) {
            truncated = true;
            break;
        }
        logits = session.eval({next});
        ++n_decode;
    }
    const double t_decode = seconds_since(t2);
    if (!a.quiet) std::printf("\n");
    std::fflush(stdout);  // the timings go to stderr; keep them after the text
    if (truncated)
        std::fprintf(stderr, "note: stopped at the context limit of %d tokens\n", session.n_ctx());

    if (!a.ids_out.empty()) {
        std::ofstream out(a.ids_out);
        for (int32_t id : generated) out << id << "\n";
        if (!out) throw Error("cannot write '" + a.ids_out + "'");
    }
    if (a.verbose) std::fprintf(stderr, "%s", session.plan_summary().c_str());
    std::fprintf(stderr, "prefill: %d tokens in %.3f ms, %.1f tokens/s\n", n_prompt,
                 t_prefill * 1e3, n_prompt / t_prefill);
    std::fprintf(stderr, "decode: %d tokens in %.3f ms, %.1f tokens/s (planning %.3f ms, once)\n",
                 n_decode, t_decode * 1e3, n_decode > 0 ? n_decode / t_decode : 0.0, t_plan * 1e3);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse_args(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
