// ggml-steer-demo: a measurable attention-steering (PASTA) experiment on the associative-recall
// model (models/recall.gguf, trained by tools/train/train_recall.py).
//
// Prompts bind keys to values, "a=3 q=Z a=7 ? a=", and the model learned that the LAST binding
// of the queried key wins (answer 7). Every generated prompt here binds the queried key twice
// with different values. Emphasising the FIRST binding's span (the tokens of its "k=v") with
// PASTA should move the answer to that binding's value (3). The table reports, over n
// examples, how often the answer is the emphasised binding's value, the last binding's value,
// or something else:
//   - without steering,
//   - steering all heads (and all heads of one layer at a time),
//   - steering only the top-k heads found by profiling each (layer, head) alone on a separate
//     set of prompts (PASTA's model profiling),
//   - emphasising a WRONG span (a binding of another key): how often the answer changes.
//
//   ggml-steer-demo [-m models/recall.gguf] [-n 500] [--profile-n 200] [-k 2] [--alpha 0.01]
//                   [--seed 7] [-t THREADS (1)] [--heads-out FILE] [--tasks-out FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
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
    std::string model = "models/recall.gguf";
    int n = 500, profile_n = 200, k = 2, threads = 1;  // a tiny model: one thread is fastest
    float alpha = 0.01f;
    uint64_t seed = 7;
    std::string heads_out, tasks_out;
};

// One conflicting-binding prompt.
struct Example {
    std::vector<int32_t> ids;
    L::TokenSpan first, last, other;  // first / last binding of the queried key; another key's
    int32_t first_val = 0, last_val = 0, other_val = 0;
    bool has_other = false;
};

// The answer tokens: one vocabulary token per value character.
struct Vocab {
    std::string values;           // the value characters
    std::vector<int32_t> val_id;  // their token ids
};

Vocab task_vocab(const L::Model& m) {
    std::map<std::string, int32_t> id;
    for (size_t i = 0; i < m.vocab.tokens.size(); ++i) id.emplace(m.vocab.tokens[i], (int32_t)i);
    Vocab v;
    v.values = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (char c : v.values) {
        auto it = id.find(std::string(1, c));
        if (it == id.end())
            throw Error(std::string("the model's vocabulary lacks the value token '") + c +
                        "': is it the associative-recall model (models/recall.gguf)?");
        v.val_id.push_back(it->second);
    }
    return v;
}

// The training generator's distribution (train_recall.py Task.sample, force_conflict=True, one
// extra binding): 2..10 distinct keys, the queried key bound again later with another value,
// sometimes a second binding of a distractor key. The prompt is text, tokenised by the model's
// tokenizer, and each binding's token span is found from its byte range in the text, so the
// demo follows whatever pieces the vocabulary has (one token per character, or per binding).
Example make_example(const Vocab& v, const ggml::Tokenizer& tok, std::mt19937_64& rng) {
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi - 1)(rng); };
    const int n = uni(2, 11), nv = (int)v.values.size();
    std::vector<int> keys(26);
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = (int)i;
    std::shuffle(keys.begin(), keys.end(), rng);
    keys.resize((size_t)n);
    std::vector<std::pair<int, int>> binds;
    for (int k : keys) binds.emplace_back(k, uni(0, nv));
    const int qk = keys[(size_t)uni(0, n)];
    int first_v = 0, last_pos = 0;
    for (size_t i = 0; i < binds.size(); ++i)
        if (binds[i].first == qk) first_v = binds[i].second, last_pos = (int)i;
    int nvv = uni(0, nv - 1);
    if (nvv >= first_v) ++nvv;  // a different value
    binds.insert(binds.begin() + uni(last_pos + 1, (int)binds.size() + 1), {qk, nvv});
    if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.3) {
        const int dk = keys[(size_t)uni(0, n)];
        if (dk != qk) {
            int lp = 0;
            for (size_t i = 0; i < binds.size(); ++i)
                if (binds[i].first == dk) lp = (int)i;
            binds.insert(binds.begin() + uni(lp + 1, (int)binds.size() + 1), {dk, uni(0, nv)});
        }
    }
    // "a=3 q=Z a=7 ? a=" with each binding's byte range.
    std::string text;
    std::vector<std::pair<size_t, size_t>> range;
    for (const auto& [k, val] : binds) {
        if (!text.empty()) text += ' ';
        range.emplace_back(text.size(), text.size() + 3);
        text += std::string(1, (char)('a' + k)) + "=" + v.values[(size_t)val];
    }
    text += std::string(" ? ") + (char)('a' + qk) + "=";
    Example e;
    e.ids = tok.encode(text, true);
    if (tok.decode(e.ids) != text)
        throw Error("the tokenizer does not round-trip the prompt '" + text + "'");
    auto span = [&](size_t i) {
        return L::text_range_span(tok, e.ids, range[i].first, range[i].second);
    };
    std::vector<size_t> others;
    bool seen = false;
    for (size_t i = 0; i < binds.size(); ++i) {
        const int32_t val = v.val_id[(size_t)binds[i].second];
        if (binds[i].first == qk) {
            if (!seen) e.first = span(i), e.first_val = val;
            e.last = span(i);
            e.last_val = val;
            seen = true;
        } else {
            others.push_back(i);
        }
    }
    // A binding of another key whose value differs from the query's values.
    std::shuffle(others.begin(), others.end(), rng);
    for (size_t i : others) {
        const int32_t val = v.val_id[(size_t)binds[i].second];
        if (val == e.first_val || val == e.last_val) continue;
        e.other = span(i);
        e.other_val = val;
        e.has_other = true;
        break;
    }
    return e;
}

// Greedy next token after each prompt (right-padded batches share one plan).
std::vector<int32_t> answers(L::Session& s, const L::Model& m, const std::vector<Example>& ex,
                             const L::SteeringSpec* spec, int which /*0 first, 1 last, 2 other*/) {
    std::vector<int32_t> out;
    size_t len = 0;
    for (const Example& e : ex) len = std::max(len, e.ids.size());
    std::vector<int32_t> padded;
    for (const Example& e : ex) {
        s.reset();
        if (spec) {
            L::SteeringSpec sp = *spec;
            sp.spans = {which == 2 ? e.other : which == 1 ? e.last : e.first};
            s.set_steering(sp.to_steering(m.hp, (int32_t)e.ids.size(), s.n_ctx()));
        } else {
            s.set_steering({});
        }
        padded = e.ids;
        padded.resize(len, e.ids.back());
        const std::vector<float>& lg = s.eval(padded, true);
        out.push_back(
            L::argmax_index(lg.data() + (e.ids.size() - 1) * (size_t)m.hp.vocab, m.hp.vocab));
    }
    s.set_steering({});
    return out;
}

void row(const char* name, const std::vector<Example>& ex, const std::vector<int32_t>& got,
         int which) {
    int emph = 0, last = 0, other = 0;
    for (size_t i = 0; i < ex.size(); ++i) {
        const int32_t target = which == 2   ? ex[i].other_val
                               : which == 1 ? ex[i].last_val
                                            : ex[i].first_val;
        emph += got[i] == target;
        last += got[i] == ex[i].last_val;
        other += got[i] != target && got[i] != ex[i].last_val;
    }
    const double n = (double)ex.size();
    std::printf("| %-43s | %4zu | %21.1f%% | %18.1f%% | %6.1f%% |\n", name, ex.size(),
                100.0 * emph / n, 100.0 * last / n, 100.0 * other / n);
}

int run(const Args& a) {
    const auto t0 = std::chrono::steady_clock::now();
    auto model = L::Model::load(a.model);
    const L::HParams& hp = model->hp;
    const Vocab v = task_vocab(*model);
    if (model->vocab.empty()) throw Error("'" + a.model + "' has no tokenizer");
    const ggml::Tokenizer tok(model->vocab);
    ggml::BackendOptions bo;
    bo.n_threads = a.threads;
    auto cpu = ggml::make_backend("cpu", bo);
    model->upload(*cpu);
    L::Session session(*model, {cpu.get()});

    std::mt19937_64 rng_eval(a.seed), rng_prof(a.seed + 1000003);
    std::vector<Example> eval, prof;
    for (int i = 0; i < a.n; ++i) eval.push_back(make_example(v, tok, rng_eval));
    for (int i = 0; i < a.profile_n; ++i) prof.push_back(make_example(v, tok, rng_prof));

    // Profiling on the separate set: emphasise the first binding, expect its value.
    std::vector<L::SteerTask> tasks;
    for (const Example& e : prof) tasks.push_back({e.ids, {e.first}, e.first_val});
    if (!a.tasks_out.empty()) {
        std::ofstream out(a.tasks_out);
        out << "# prompt ids\tspans\tanswer (associative recall, emphasise the first binding)\n";
        for (const L::SteerTask& t : tasks) {
            out << "ids:";
            for (size_t i = 0; i < t.ids.size(); ++i) out << (i ? "," : "") << t.ids[i];
            out << "\t" << t.spans[0].begin << ":" << t.spans[0].end << "\tid:" << t.answer << "\n";
        }
        if (!out) throw Error("cannot write '" + a.tasks_out + "'");
    }
    const auto scores = L::profile_heads(session, *model, tasks, a.alpha, L::SteerMode::Exclude);
    L::HeadConfig hc;
    hc.alpha = a.alpha;
    hc.heads = L::top_heads(scores, hp.n_heads, a.k);
    if (!a.heads_out.empty()) L::write_head_config(a.heads_out, hc);

    std::printf("model %s: %d layers x %d query heads (%d KV heads); alpha %g, exclude mode\n",
                a.model.c_str(), hp.n_layers, hp.n_heads, hp.n_kv_heads, (double)a.alpha);
    std::printf(
        "\nhead profile on %d separate prompts (emphasise the first binding; %% answering "
        "its value):\n",
        a.profile_n);
    for (int32_t l = 0; l < hp.n_layers; ++l) {
        std::printf("  layer %d:", l);
        for (int32_t h = 0; h < hp.n_heads; ++h) {
            const L::TaskScore& s = scores[(size_t)(l * hp.n_heads + h)];
            std::printf("  h%d %5.1f%% (logp %6.2f)", h, 100.0 * s.accuracy, s.mean_logp);
        }
        std::printf("\n");
    }
    std::printf("  top-%d heads: %s", a.k, L::head_config_to_json(hc).c_str());

    L::SteeringSpec all;
    all.alpha = a.alpha;
    L::SteeringSpec prof_spec = all;
    prof_spec.all_heads = false;
    prof_spec.heads = L::head_sets(hc, hp);

    std::printf(
        "\n%d conflicting prompts (queried key bound twice; the model's rule: the last "
        "binding wins).\n\n",
        a.n);
    std::printf("| %-43s | %4s | %22s | %19s | %7s |\n", "condition", "n", "answer = emphasised",
                "answer = last", "other");
    std::printf(
        "|---------------------------------------------|------|------------------------|"
        "---------------------|---------|\n");
    const auto base = answers(session, *model, eval, nullptr, 0);
    row("no steering (emphasised: first binding)", eval, base, 0);
    row("steer first binding, all heads", eval, answers(session, *model, eval, &all, 0), 0);
    for (int32_t l = 0; l < hp.n_layers; ++l) {
        L::SteeringSpec one = prof_spec;
        one.heads.assign((size_t)hp.n_layers, ggml::HeadSet());
        for (int32_t h = 0; h < hp.n_heads; ++h) one.heads[(size_t)l].set((size_t)h);
        const std::string name = "steer first binding, layer " + std::to_string(l) + " heads";
        row(name.c_str(), eval, answers(session, *model, eval, &one, 0), 0);
    }
    const std::string pname = "steer first binding, profiled top-" + std::to_string(a.k);
    const auto profd = answers(session, *model, eval, &prof_spec, 0);
    row(pname.c_str(), eval, profd, 0);
    // Control: emphasising the span the rule already uses keeps the answer.
    row("steer last binding, all heads", eval, answers(session, *model, eval, &all, 1), 1);

    // Wrong span: a binding of another key.
    std::vector<Example> wr;
    std::vector<int32_t> wr_base;
    for (size_t i = 0; i < eval.size(); ++i)
        if (eval[i].has_other) wr.push_back(eval[i]), wr_base.push_back(base[i]);
    const auto wr_all = answers(session, *model, wr, &all, 2);
    row("no steering (emphasised: other key)", wr, wr_base, 2);
    row("steer other key's binding, all heads", wr, wr_all, 2);
    const std::string wname = "steer other key's binding, profiled top-" + std::to_string(a.k);
    row(wname.c_str(), wr, answers(session, *model, wr, &prof_spec, 2), 2);
    int changed = 0;
    for (size_t i = 0; i < wr.size(); ++i) changed += wr_all[i] != wr_base[i];
    std::printf(
        "\nemphasising a wrong span (another key's binding, all heads) changed the "
        "answer on %d of %zu prompts (%.1f%%).\n",
        changed, wr.size(), wr.empty() ? 0.0 : 100.0 * changed / (double)wr.size());
    std::printf("time %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
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
        auto num = [&](long lo, long hi) {
            const std::string s = val();
            char* e = nullptr;
            const long x = std::strtol(s.c_str(), &e, 10);
            if (s.empty() || *e || x < lo || x > hi)
                throw Error(f + ": '" + s + "' is not an integer in [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
            return x;
        };
        if (f == "-m")
            a.model = val();
        else if (f == "-n")
            a.n = (int)num(1, 1000000);
        else if (f == "--profile-n")
            a.profile_n = (int)num(1, 1000000);
        else if (f == "-k")
            a.k = (int)num(1, 1 << 20);
        else if (f == "--seed")
            a.seed = (uint64_t)num(0, 1L << 40);
        else if (f == "-t")
            a.threads = (int)num(1, 4096);
        else if (f == "--alpha") {
            const std::string s = val();
            char* e = nullptr;
            a.alpha = std::strtof(s.c_str(), &e);
            if (s.empty() || *e || !(a.alpha > 0 && a.alpha < 1))
                throw Error("--alpha: '" + s + "' is not in (0, 1)");
        } else if (f == "--heads-out")
            a.heads_out = val();
        else if (f == "--tasks-out")
            a.tasks_out = val();
        else if (f == "-h" || f == "--help") {
            std::puts(
                "usage: ggml-steer-demo [-m models/recall.gguf] [-n 500] [--profile-n 200] "
                "[-k 2] [--alpha 0.01] [--seed 7] [-t N] [--heads-out F] [--tasks-out F]");
            std::exit(0);
        } else
            throw Error("unknown flag '" + f + "' (see --help)");
    }
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
