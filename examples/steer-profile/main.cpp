// ggml-steer-profile: PASTA's model profiling. Steers each (layer, head) alone on a task file,
// scores it (accuracy of the expected next token, then its mean log-probability) and writes
// the k best heads as the head-config JSON that `ggml-llama --steer-heads @FILE` reads.
//
//   ggml-steer-profile -m MODEL --tasks FILE [-k 4] [--alpha 0.01] [--mode exclude|include]
//                      [-o heads.json] [-t THREADS (1)]
//
// Task file: one example per line, three tab-separated columns (blank lines and lines starting
// with '#' are skipped):
//   prompt   "ids:1,324,260,..." (token ids as they are), or text (tokenised, BOS added)
//   spans    "A:B" or "A:B,C:D" (token positions), or "text:SUBSTRING" (found in the prompt)
//   answer   "id:N", or the text of exactly one vocabulary token ("7", " a" for "▁a")
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ggml/ggml.h"
#include "ggml/llama.h"
#include "ggml/steering.h"
#include "ggml/tokenizer.h"

namespace {

using ggml::Error;
namespace L = ggml::llama;

struct Args {
    std::string model, tasks, out = "heads.json";
    int k = 4, threads = 1;  // small models: one thread avoids OpenMP spin-waits
    float alpha = 0.01f;
    L::SteerMode mode = L::SteerMode::Exclude;
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> r;
    size_t start = 0;
    while (true) {
        const size_t p = s.find(sep, start);
        r.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) return r;
        start = p + 1;
    }
}

int32_t parse_id(const std::string& s, const std::string& where) {
    char* e = nullptr;
    const long v = std::strtol(s.c_str(), &e, 10);
    if (s.empty() || *e || v < 0 || v > INT32_MAX)
        throw Error(where + ": '" + s + "' is not a token id");
    return (int32_t)v;
}

std::vector<L::SteerTask> read_tasks(const std::string& path, const L::Model& m,
                                     const ggml::Tokenizer* tok) {
    std::ifstream in(path);
    if (!in) throw Error("cannot open task file '" + path + "'");
    std::map<std::string, int32_t> by_text;
    for (size_t i = 0; i < m.vocab.tokens.size(); ++i)
        by_text.emplace(m.vocab.tokens[i], (int32_t)i);
    std::vector<L::SteerTask> tasks;
    std::string line;
    for (int ln = 1; std::getline(in, line); ++ln) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const std::string where = path + ":" + std::to_string(ln);
        const auto cols = split(line, '\t');
        if (cols.size() != 3)
            throw Error(where + ": expected 3 tab-separated columns (prompt, spans, answer), got " +
                        std::to_string(cols.size()));
        L::SteerTask t;
        if (cols[0].rfind("ids:", 0) == 0) {
            for (const std::string& s : split(cols[0].substr(4), ','))
                t.ids.push_back(parse_id(s, where));
        } else {
            if (!tok) throw Error(where + ": a text prompt needs the model's tokenizer; use ids:");
            t.ids = tok->encode(cols[0], true);
        }
        for (int32_t id : t.ids)
            if (id >= m.hp.vocab)
                throw Error(where + ": token id " + std::to_string(id) +
                            " is outside the vocabulary");
        if (cols[1].rfind("text:", 0) == 0) {
            if (!tok) throw Error(where + ": a text span needs the model's tokenizer");
            t.spans.push_back(L::find_text_span(*tok, t.ids, cols[1].substr(5)));
        } else {
            for (const std::string& s : split(cols[1], ',')) t.spans.push_back(L::parse_span(s));
        }
        if (cols[2].rfind("id:", 0) == 0) {
            t.answer = parse_id(cols[2].substr(3), where);
        } else {
            std::string piece;
            for (char c : cols[2])
                piece += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
            auto it = by_text.find(piece);
            if (it == by_text.end())
                throw Error(where + ": answer '" + cols[2] +
                            "' is not one vocabulary token; give id:N");
            t.answer = it->second;
        }
        if (t.answer >= m.hp.vocab)
            throw Error(where + ": answer id " + std::to_string(t.answer) +
                        " is outside the vocabulary");
        // Validate the spans against this prompt now, so the error names the line.
        L::SteeringSpec spec;
        spec.spans = t.spans;
        try {
            spec.validate(m.hp, (int32_t)t.ids.size());
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        tasks.push_back(std::move(t));
    }
    if (tasks.empty()) throw Error("task file '" + path + "' has no examples");
    return tasks;
}

int run(const Args& a) {
    auto model = L::Model::load(a.model);
    const L::HParams& hp = model->hp;
    std::unique_ptr<ggml::Tokenizer> tok;
    if (!model->vocab.empty()) tok = std::make_unique<ggml::Tokenizer>(model->vocab);
    const auto tasks = read_tasks(a.tasks, *model, tok.get());
    ggml::BackendOptions bo;
    bo.n_threads = a.threads;
    auto cpu = ggml::make_backend("cpu", bo);
    model->upload(*cpu);
    L::Session session(*model, {cpu.get()});

    const L::TaskScore base = L::score_tasks(session, *model, tasks, nullptr);
    std::printf("%zu tasks; unsteered: accuracy %.1f%%, mean log p %.3f\n", tasks.size(),
                100.0 * base.accuracy, base.mean_logp);
    const auto scores = L::profile_heads(session, *model, tasks, a.alpha, a.mode);
    std::printf("%-6s %-5s %9s %10s\n", "layer", "head", "accuracy", "mean logp");
    for (size_t i = 0; i < scores.size(); ++i)
        std::printf("%-6d %-5d %8.1f%% %10.3f\n", (int)i / hp.n_heads, (int)i % hp.n_heads,
                    100.0 * scores[i].accuracy, scores[i].mean_logp);
    L::HeadConfig hc;
    hc.alpha = a.alpha;
    hc.heads = L::top_heads(scores, hp.n_heads, a.k);
    L::write_head_config(a.out, hc);
    std::printf("top-%d heads -> %s: %s", a.k, a.out.c_str(), L::head_config_to_json(hc).c_str());
    return 0;
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) throw Error(f + " needs a value");
            return argv[++i];
        };
        if (f == "-m")
            a.model = val();
        else if (f == "--tasks")
            a.tasks = val();
        else if (f == "-o")
            a.out = val();
        else if (f == "-k") {
            const std::string s = val();
            a.k = (int)parse_id(s, "-k");
            if (a.k < 1) throw Error("-k must be at least 1");
        } else if (f == "-t") {
            a.threads = (int)parse_id(val(), "-t");
        } else if (f == "--alpha") {
            const std::string s = val();
            char* e = nullptr;
            a.alpha = std::strtof(s.c_str(), &e);
            if (s.empty() || *e) throw Error("--alpha: '" + s + "' is not a number");
        } else if (f == "--mode")
            a.mode = L::parse_steer_mode(val());
        else if (f == "-h" || f == "--help") {
            std::puts(
                "usage: ggml-steer-profile -m MODEL --tasks FILE [-k 4] [--alpha 0.01] "
                "[--mode exclude|include] [-o heads.json] [-t N]");
            std::exit(0);
        } else
            throw Error("unknown flag '" + f + "' (see --help)");
    }
    if (a.model.empty() || a.tasks.empty()) throw Error("need -m MODEL and --tasks FILE");
    // alpha is checked by the spec (range depends on the mode); check once up front.
    L::SteeringSpec probe;
    probe.spans = {{0, 1}};
    probe.alpha = a.alpha;
    probe.mode = a.mode;
    L::HParams hp;
    hp.n_layers = 1;
    hp.n_heads = 1;
    probe.validate(hp, 1);
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
