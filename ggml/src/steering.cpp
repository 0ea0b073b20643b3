// Attention steering (PASTA, Zhang et al. 2023): SteeringSpec -> per-key bias + head sets,
// the head-config JSON format, a float64 host forward pass (reference and heatmaps), head
// profiling, and a PNG writer.
//
// PASTA multiplies the attention probability of non-emphasised keys by alpha and renormalises
// each row: p'_ij = p_ij w_j / sum_k p_ik w_k = softmax_j(s_ij + log w_j). So steering is the
// additive score bias log(alpha) outside the spans (Exclude) or log(1/alpha) inside them
// (Include), applied by flash_attn to the selected query heads.
#include "ggml/steering.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "ggml/backend.h"

namespace ggml {
namespace llama {

namespace {

[[noreturn]] void fail(const std::string& msg) {
    throw Error("steering: " + msg);
}

std::string span_str(const TokenSpan& s) {
    return "[" + std::to_string(s.begin) + ", " + std::to_string(s.end) + ")";
}

bool in_spans(const std::vector<TokenSpan>& spans, int32_t j) {
    for (const TokenSpan& s : spans)
        if (j >= s.begin && j < s.end) return true;
    return false;
}

}  // namespace

// ---- spec ------------------------------------------------------------------------------------

void SteeringSpec::validate(const HParams& hp, int32_t n_prompt) const {
    if (n_prompt <= 0) fail("the prompt is empty");
    if (spans.empty()) fail("no emphasised span given");
    for (const TokenSpan& s : spans) {
        if (s.begin >= s.end) fail("span " + span_str(s) + " is empty");
        if (s.begin < 0 || s.end > n_prompt)
            fail("span " + span_str(s) + " is outside the prompt of " + std::to_string(n_prompt) +
                 " tokens [0, " + std::to_string(n_prompt) + ")");
    }
    if (!std::isfinite(alpha) || !(alpha > 0.0f))
        fail("alpha must be a finite number > 0, got " + std::to_string(alpha));
    if (mode == SteerMode::Exclude && !(alpha < 1.0f))
        fail("alpha must be in (0, 1) in exclude mode, got " + std::to_string(alpha));
    if (all_heads) return;
    if ((int32_t)heads.size() != hp.n_layers)
        fail("head sets given for " + std::to_string(heads.size()) + " layers, the model has " +
             std::to_string(hp.n_layers));
    size_t total = 0;
    for (size_t l = 0; l < heads.size(); ++l) {
        for (size_t h = (size_t)std::max(hp.n_heads, 0); h < heads[l].size(); ++h)
            if (heads[l][h])
                fail("layer " + std::to_string(l) + " head " + std::to_string(h) +
                     " does not exist: the model has " + std::to_string(hp.n_heads) +
                     " query heads per layer");
        total += heads[l].count();
    }
    if (total == 0) fail("no head selected");
}

Steering SteeringSpec::to_steering(const HParams& hp, int32_t n_prompt, int32_t n_ctx) const {
    validate(hp, n_prompt);
    if (n_ctx < n_prompt)
        fail("context of " + std::to_string(n_ctx) + " is shorter than the prompt of " +
             std::to_string(n_prompt));
    Steering s;
    s.bias.assign((size_t)n_ctx, 0.0f);
    const float down = std::log(alpha), up = -std::log(alpha);
    for (int32_t j = 0; j < n_prompt; ++j) {
        const bool inside = in_spans(spans, j);
        if (mode == SteerMode::Exclude && !inside) s.bias[(size_t)j] = down;
        if (mode == SteerMode::Include && inside) s.bias[(size_t)j] = up;
    }
    if (all_heads) {
        HeadSet all;
        for (int32_t h = 0; h < hp.n_heads; ++h) all.set((size_t)h);
        s.heads.assign((size_t)hp.n_layers, all);
    } else {
        s.heads = heads;
    }
    return s;
}

// ---- head config JSON ------------------------------------------------------------------------

namespace {

// A tiny JSON reader for the head-config shape: objects, arrays, numbers, strings, literals.
struct Json {
    enum Kind { Null, Bool, Num, Str, Arr, Obj } kind = Null;
    double num = 0;
    std::string str;
    std::vector<Json> arr;
    std::vector<std::pair<std::string, Json>> obj;
};

class JsonParser {
  public:
    JsonParser(const std::string& s, const std::string& where) : s_(s), where_(where) {}
    Json parse() {
        Json v = value(0);
        ws();
        if (i_ != s_.size()) err("trailing characters");
        return v;
    }

  private:
    [[noreturn]] void err(const std::string& what) const {
        fail(where_ + ": invalid JSON at byte " + std::to_string(i_) + ": " + what);
    }
    void ws() {
        while (i_ < s_.size() && std::isspace((unsigned char)s_[i_])) ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    std::string string_body() {
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (c == '\\') {
                if (i_ >= s_.size()) err("unterminated escape");
                const char e = s_[i_++];
                switch (e) {
                    case 'n':
                        c = '\n';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 'b':
                        c = '\b';
                        break;
                    case 'f':
                        c = '\f';
                        break;
                    case '"':
                    case '\\':
                    case '/':
                        c = e;
                        break;
                    default:
                        err(std::string("unsupported escape \\") + e);
                }
            }
            out += c;
        }
        if (i_ >= s_.size()) err("unterminated string");
        ++i_;
        return out;
    }
    Json value(int depth) {
        if (depth > 32) err("nested too deeply");
        ws();
        if (i_ >= s_.size()) err("unexpected end");
        Json v;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.kind = Json::Obj;
            if (eat('}')) return v;
            do {
                if (!eat('"')) err("expected a key string");
                std::string k = string_body();
                if (!eat(':')) err("expected ':'");
                v.obj.emplace_back(k, value(depth + 1));
            } while (eat(','));
            if (!eat('}')) err("expected ',' or '}'");
        } else if (c == '[') {
            ++i_;
            v.kind = Json::Arr;
            if (eat(']')) return v;
            do v.arr.push_back(value(depth + 1));
            while (eat(','));
            if (!eat(']')) err("expected ',' or ']'");
        } else if (c == '"') {
            ++i_;
            v.kind = Json::Str;
            v.str = string_body();
        } else if (s_.compare(i_, 4, "true") == 0 || s_.compare(i_, 5, "false") == 0) {
            v.kind = Json::Bool;
            v.num = s_[i_] == 't';
            i_ += s_[i_] == 't' ? 4 : 5;
        } else if (s_.compare(i_, 4, "null") == 0) {
            i_ += 4;
        } else {
            const char* b = s_.c_str() + i_;
            char* e = nullptr;
            v.num = std::strtod(b, &e);
            if (e == b) err("unexpected character");
            v.kind = Json::Num;
            i_ += (size_t)(e - b);
        }
        return v;
    }
    const std::string& s_;
    std::string where_;
    size_t i_ = 0;
};

int32_t json_int(const Json& v, const std::string& what, const std::string& where) {
    if (v.kind != Json::Num || v.num != std::floor(v.num) || std::fabs(v.num) > 1e9)
        fail(where + ": " + what + " must be an integer");
    return (int32_t)v.num;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::string head_config_to_json(const HeadConfig& c) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.7g", (double)c.alpha);
    std::string s = std::string("{\"alpha\":") + buf + ",\"heads\":";
    if (c.all_heads) return s + "\"all\"}\n";
    s += "[";
    for (size_t i = 0; i < c.heads.size(); ++i)
        s += (i ? "," : "") + std::string("[") + std::to_string(c.heads[i].first) + "," +
             std::to_string(c.heads[i].second) + "]";
    return s + "]}\n";
}

HeadConfig parse_head_config(const std::string& json, const std::string& where) {
    const Json root = JsonParser(json, where).parse();
    if (root.kind != Json::Obj) fail(where + ": expected a JSON object");
    HeadConfig c;
    bool have_heads = false;
    for (const auto& [key, v] : root.obj) {
        if (key == "alpha") {
            if (v.kind != Json::Num) fail(where + ": \"alpha\" must be a number");
            c.alpha = (float)v.num;
        } else if (key == "heads") {
            have_heads = true;
            if (v.kind == Json::Str && v.str == "all") {
                c.all_heads = true;
                continue;
            }
            if (v.kind != Json::Arr)
                fail(where + ": \"heads\" must be \"all\" or [[layer,head],...]");
            for (const Json& p : v.arr) {
                if (p.kind != Json::Arr || p.arr.size() != 2)
                    fail(where + ": each entry of \"heads\" must be [layer, head]");
                c.heads.emplace_back(json_int(p.arr[0], "a layer", where),
                                     json_int(p.arr[1], "a head", where));
            }
        } else {
            fail(where + ": unknown key \"" + key + "\" (expected \"alpha\" and \"heads\")");
        }
    }
    if (!have_heads) fail(where + ": no \"heads\" key");
    return c;
}

HeadConfig read_head_config(const std::string& path) {
    return parse_head_config(read_text(path), "'" + path + "'");
}

void write_head_config(const std::string& path, const HeadConfig& c) {
    std::ofstream out(path, std::ios::binary);
    out << head_config_to_json(c);
    if (!out) fail("cannot write '" + path + "'");
}

std::vector<HeadSet> head_sets(const HeadConfig& c, const HParams& hp) {
    std::vector<HeadSet> sets((size_t)std::max(hp.n_layers, 0));
    for (const auto& [l, h] : c.heads) {
        if (l < 0 || l >= hp.n_layers)
            fail("head config names layer " + std::to_string(l) + ", the model has " +
                 std::to_string(hp.n_layers) + " layers");
        if (h < 0 || h >= hp.n_heads || h >= 256)
            fail("head config names head " + std::to_string(h) + " of layer " + std::to_string(l) +
                 ", the model has " + std::to_string(hp.n_heads) + " query heads per layer");
        sets[(size_t)l].set((size_t)h);
    }
    return sets;
}

// ---- argument forms --------------------------------------------------------------------------

namespace {
int32_t parse_index(const std::string& s, const std::string& what) {
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != 0 || v < 0 || v > 1000000000)
        fail(what + ": '" + s + "' is not a non-negative integer");
    return (int32_t)v;
}
}  // namespace

TokenSpan parse_span(const std::string& s) {
    const size_t c = s.find(':');
    if (c == std::string::npos) fail("span '" + s + "' is not of the form A:B");
    TokenSpan t{parse_index(s.substr(0, c), "span start"),
                parse_index(s.substr(c + 1), "span end")};
    if (t.begin >= t.end) fail("span '" + s + "' is empty (A:B is the half-open range [A, B))");
    return t;
}

HeadConfig parse_heads_arg(const std::string& s, float* file_alpha) {
    if (s == "all") {
        HeadConfig c;
        c.all_heads = true;
        return c;
    }
    if (!s.empty() && s[0] == '@') {
        HeadConfig c = read_head_config(s.substr(1));
        if (file_alpha) *file_alpha = c.alpha;
        return c;
    }
    HeadConfig c;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = std::min(s.find(',', start), s.size());
        const std::string item = s.substr(start, comma - start);
        const size_t colon = item.find(':');
        if (colon == std::string::npos)
            fail("heads: '" + item + "' is not of the form LAYER:HEAD (or use all / @file.json)");
        c.heads.emplace_back(parse_index(item.substr(0, colon), "heads layer"),
                             parse_index(item.substr(colon + 1), "heads head"));
        start = comma + 1;
    }
    return c;
}

SteerMode parse_steer_mode(const std::string& s) {
    if (s == "exclude") return SteerMode::Exclude;
    if (s == "include") return SteerMode::Include;
    fail("mode '" + s + "' is not exclude or include");
}

namespace {
// The decoded text of ids piece by piece, and each token's byte range in it.
std::string piece_offsets(const Tokenizer& tok, const std::vector<int32_t>& ids,
                          std::vector<size_t>* start, std::vector<size_t>* end) {
    std::string text;
    start->resize(ids.size());
    end->resize(ids.size());
    int32_t prev = -1;
    for (size_t i = 0; i < ids.size(); ++i) {
        (*start)[i] = text.size();
        text += tok.piece(prev, ids[i]);
        (*end)[i] = text.size();
        prev = ids[i];
    }
    return text;
}

TokenSpan overlap_span(const std::vector<size_t>& start, const std::vector<size_t>& end,
                       size_t begin, size_t stop) {
    TokenSpan s{-1, -1};
    for (size_t i = 0; i < start.size(); ++i) {
        if (end[i] <= start[i] || end[i] <= begin || start[i] >= stop) continue;  // no overlap
        if (s.begin < 0) s.begin = (int32_t)i;
        s.end = (int32_t)i + 1;
    }
    return s;
}
}  // namespace

TokenSpan find_text_span(const Tokenizer& tok, const std::vector<int32_t>& ids,
                         const std::string& substring) {
    if (substring.empty()) fail("the text to emphasise is empty");
    std::vector<size_t> start, end;
    const std::string text = piece_offsets(tok, ids, &start, &end);
    const size_t at = text.find(substring);
    if (at == std::string::npos) fail("'" + substring + "' does not occur in the prompt text");
    const TokenSpan s = overlap_span(start, end, at, at + substring.size());
    if (s.begin < 0) fail("'" + substring + "' matches no token of the prompt");
    return s;
}

TokenSpan text_range_span(const Tokenizer& tok, const std::vector<int32_t>& ids, size_t begin,
                          size_t end) {
    std::vector<size_t> st, en;
    const std::string text = piece_offsets(tok, ids, &st, &en);
    if (begin >= end || end > text.size())
        fail("byte range [" + std::to_string(begin) + ", " + std::to_string(end) +
             ") is empty or outside the prompt text of " + std::to_string(text.size()) + " bytes");
    const TokenSpan s = overlap_span(st, en, begin, end);
    if (s.begin < 0) fail("byte range matches no token of the prompt");
    return s;
}

// ---- float64 host forward pass ---------------------------------------------------------------

namespace {

std::vector<double> load(const Tensor* t) {
    if (!t) fail("reference forward: a weight is missing");
    const size_t n = (size_t)t->nelements();
    std::vector<double> out(n);
    if (t->type == DType::F32) {
        std::vector<float> tmp(n);
        tensor_get(t, tmp.data(), 0, n * 4);
        for (size_t i = 0; i < n; ++i) out[i] = tmp[i];
    } else if (t->type == DType::F16 || t->type == DType::BF16) {
        std::vector<uint16_t> tmp(n);
        tensor_get(t, tmp.data(), 0, n * 2);
        for (size_t i = 0; i < n; ++i)
            out[i] = t->type == DType::F16 ? f16_to_f32(tmp[i]) : bf16_to_f32(tmp[i]);
    } else {
        fail(std::string("reference forward: weight '") + t->name + "' has unsupported type " +
             dtype_name(t->type));
    }
    return out;
}

// y[o] = sum_i W[o][i] x[i]; W is ggml [in, out] = PyTorch [out, in] row-major.
void matvec(const std::vector<double>& W, const double* x, int64_t in, int64_t out, double* y) {
    for (int64_t o = 0; o < out; ++o) {
        const double* w = W.data() + o * in;
        double acc = 0;
        for (int64_t i = 0; i < in; ++i) acc += w[i] * x[i];
        y[o] = acc;
    }
}

void rmsnorm(const double* x, const std::vector<double>& g, int64_t d, double eps, double* y) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
    const double r = 1.0 / std::sqrt(ss / (double)d + eps);
    for (int64_t i = 0; i < d; ++i) y[i] = x[i] * r * g[(size_t)i];
}

void rope_head(double* x, int32_t pos, const HParams& hp) {
    const int32_t nd = hp.rope_dims;
    for (int32_t i = 0; i < nd / 2; ++i) {
        const double theta = pos * std::pow((double)hp.rope_freq_base, -2.0 * i / nd);
        const double c = std::cos(theta), s = std::sin(theta);
        const int32_t a = hp.rope_mode == RopeMode::Neox ? i : 2 * i;
        const int32_t b = hp.rope_mode == RopeMode::Neox ? i + nd / 2 : 2 * i + 1;
        const double x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}

}  // namespace

std::vector<double> reference_forward(const Model& m, const std::vector<int32_t>& tokens,
                                      const Steering* steering, int32_t layer, int32_t head,
                                      std::vector<double>* probs) {
    const HParams& hp = m.hp;
    const int64_t n = (int64_t)tokens.size(), D = hp.dim, HD = hp.head_dim, H = hp.n_heads;
    const int64_t HKV = hp.n_kv_heads, KV = hp.kv_dim(), F = hp.hidden, V = hp.vocab;
    if (n == 0) fail("reference forward: no tokens");
    if (steering && steering->active() &&
        ((int64_t)steering->bias.size() < n || (int32_t)steering->heads.size() != hp.n_layers))
        fail("reference forward: steering covers " + std::to_string(steering->bias.size()) +
             " positions and " + std::to_string(steering->heads.size()) + " layers, need " +
             std::to_string(n) + " and " + std::to_string(hp.n_layers));
    if (probs && (layer < 0 || layer >= hp.n_layers || head < 0 || head >= hp.n_heads))
        fail("attention capture: layer " + std::to_string(layer) + " head " + std::to_string(head) +
             " does not exist (the model has " + std::to_string(hp.n_layers) + " layers of " +
             std::to_string(hp.n_heads) + " heads)");
    const bool steered = steering && steering->active();

    std::vector<double> x((size_t)(n * D)), h((size_t)D), q((size_t)(n * H * HD));
    std::vector<double> k((size_t)(n * KV)), v((size_t)(n * KV)), a((size_t)(H * HD));
    std::vector<double> o((size_t)D), g((size_t)F), u((size_t)F), s((size_t)n);
    {
        const std::vector<double> emb = load(m.token_embd);
        for (int64_t i = 0; i < n; ++i) {
            const int32_t t = tokens[(size_t)i];
            if (t < 0 || t >= V)
                fail("reference forward: token id " + std::to_string(t) +
                     " is outside the vocabulary");
            std::copy_n(emb.begin() + t * D, D, x.begin() + i * D);
        }
    }
    if (probs) probs->assign((size_t)(n * n), 0.0);
    for (int32_t l = 0; l < hp.n_layers; ++l) {
        const LayerWeights& w = m.layers[(size_t)l];
        const auto an = load(w.attn_norm), wq = load(w.wq), wk = load(w.wk), wv = load(w.wv);
        const auto wo = load(w.wo), fn = load(w.ffn_norm), w1 = load(w.w1), w2 = load(w.w2),
                   w3 = load(w.w3);
        for (int64_t i = 0; i < n; ++i) {
            rmsnorm(&x[(size_t)(i * D)], an, D, hp.rms_eps, h.data());
            matvec(wq, h.data(), D, H * HD, &q[(size_t)(i * H * HD)]);
            matvec(wk, h.data(), D, KV, &k[(size_t)(i * KV)]);
            matvec(wv, h.data(), D, KV, &v[(size_t)(i * KV)]);
            for (int64_t hh = 0; hh < H; ++hh)
                rope_head(&q[(size_t)((i * H + hh) * HD)], (int32_t)i, hp);
            for (int64_t hh = 0; hh < HKV; ++hh)
                rope_head(&k[(size_t)(i * KV + hh * HD)], (int32_t)i, hp);
        }
        const double scale = 1.0 / std::sqrt((double)HD);
        for (int64_t i = 0; i < n; ++i) {
            for (int64_t hq = 0; hq < H; ++hq) {
                const int64_t hk = hq / (H / HKV);
                const bool st = steered && steering->heads[(size_t)l][(size_t)hq];
                double mx = -INFINITY;
                for (int64_t j = 0; j <= i; ++j) {
                    double d = 0;
                    for (int64_t c = 0; c < HD; ++c)
                        d += q[(size_t)((i * H + hq) * HD + c)] * k[(size_t)(j * KV + hk * HD + c)];
                    s[(size_t)j] = d * scale + (st ? (double)steering->bias[(size_t)j] : 0.0);
                    mx = std::max(mx, s[(size_t)j]);
                }
                double sum = 0;
                for (int64_t j = 0; j <= i; ++j)
                    sum += (s[(size_t)j] = std::exp(s[(size_t)j] - mx));
                for (int64_t c = 0; c < HD; ++c) a[(size_t)(hq * HD + c)] = 0;
                for (int64_t j = 0; j <= i; ++j) {
                    const double p = s[(size_t)j] / sum;
                    if (probs && l == layer && hq == head) (*probs)[(size_t)(i * n + j)] = p;
                    for (int64_t c = 0; c < HD; ++c)
                        a[(size_t)(hq * HD + c)] += p * v[(size_t)(j * KV + hk * HD + c)];
                }
            }
            matvec(wo, a.data(), H * HD, D, o.data());
            for (int64_t c = 0; c < D; ++c) x[(size_t)(i * D + c)] += o[(size_t)c];
        }
        for (int64_t i = 0; i < n; ++i) {
            rmsnorm(&x[(size_t)(i * D)], fn, D, hp.rms_eps, h.data());
            matvec(w1, h.data(), D, F, g.data());
            matvec(w3, h.data(), D, F, u.data());
            for (int64_t c = 0; c < F; ++c)
                g[(size_t)c] = g[(size_t)c] / (1.0 + std::exp(-g[(size_t)c])) * u[(size_t)c];
            matvec(w2, g.data(), F, D, o.data());
            for (int64_t c = 0; c < D; ++c) x[(size_t)(i * D + c)] += o[(size_t)c];
        }
    }
    std::vector<double> logits((size_t)(n * V));
    const auto on = load(m.output_norm), out = load(m.output);
    for (int64_t i = 0; i < n; ++i) {
        rmsnorm(&x[(size_t)(i * D)], on, D, hp.rms_eps, h.data());
        matvec(out, h.data(), D, V, &logits[(size_t)(i * V)]);
    }
    return logits;
}

// ---- scoring and profiling -------------------------------------------------------------------

TaskScore score_tasks(Session& session, const Model& m, const std::vector<SteerTask>& tasks,
                      const SteeringSpec* spec) {
    const HParams& hp = m.hp;
    TaskScore r;
    if (tasks.empty()) return r;
    size_t len = 0;
    for (const SteerTask& t : tasks) len = std::max(len, t.ids.size());
    if ((int64_t)len > session.n_ctx())
        fail("a task prompt has " + std::to_string(len) + " tokens, more than the context of " +
             std::to_string(session.n_ctx()));
    std::vector<int32_t> padded;
    for (size_t ti = 0; ti < tasks.size(); ++ti) {
        const SteerTask& t = tasks[ti];
        const int32_t np = (int32_t)t.ids.size();
        if (np == 0) fail("task " + std::to_string(ti) + " has an empty prompt");
        if (t.answer < 0 || t.answer >= hp.vocab)
            fail("task " + std::to_string(ti) + ": answer id " + std::to_string(t.answer) +
                 " is outside the vocabulary");
        session.reset();
        if (spec) {
            SteeringSpec s = *spec;
            s.spans = t.spans;
            session.set_steering(s.to_steering(hp, np, session.n_ctx()));
        } else {
            session.set_steering(Steering{});
        }
        padded = t.ids;
        padded.resize(len, t.ids.back());
        const std::vector<float>& lg = session.eval(padded, true);
        const float* row = lg.data() + (size_t)(np - 1) * (size_t)hp.vocab;
        const int32_t best = argmax_index(row, hp.vocab);
        double mx = row[best], se = 0;
        for (int32_t i = 0; i < hp.vocab; ++i) se += std::exp((double)row[i] - mx);
        r.accuracy += best == t.answer;
        r.mean_logp += (double)row[t.answer] - mx - std::log(se);
    }
    session.reset();
    session.set_steering(Steering{});
    r.accuracy /= (double)tasks.size();
    r.mean_logp /= (double)tasks.size();
    return r;
}

std::vector<TaskScore> profile_heads(Session& session, const Model& m,
                                     const std::vector<SteerTask>& tasks, float alpha,
                                     SteerMode mode) {
    const HParams& hp = m.hp;
    std::vector<TaskScore> out;
    for (int32_t l = 0; l < hp.n_layers; ++l)
        for (int32_t h = 0; h < hp.n_heads; ++h) {
            SteeringSpec s;
            s.all_heads = false;
            s.heads.assign((size_t)hp.n_layers, HeadSet());
            s.heads[(size_t)l].set((size_t)h);
            s.alpha = alpha;
            s.mode = mode;
            out.push_back(score_tasks(session, m, tasks, &s));
        }
    return out;
}

std::vector<std::pair<int32_t, int32_t>> top_heads(const std::vector<TaskScore>& scores,
                                                   int32_t n_heads, int32_t k) {
    std::vector<size_t> order(scores.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (scores[a].accuracy != scores[b].accuracy)
            return scores[a].accuracy > scores[b].accuracy;
        return scores[a].mean_logp > scores[b].mean_logp;
    });
    std::vector<std::pair<int32_t, int32_t>> r;
    for (size_t i = 0; i < order.size() && (int32_t)r.size() < k; ++i)
        r.emplace_back((int32_t)order[i] / n_heads, (int32_t)order[i] % n_heads);
    return r;
}

// ---- PNG -------------------------------------------------------------------------------------

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc) {
    // Reflected CRC-32 (polynomial 0xEDB88320) as PNG and zlib define it.
    struct Table {
        uint32_t t[256];
        Table() {
            for (uint32_t i = 0; i < 256; ++i) {
                uint32_t c = i;
                for (int b = 0; b < 8; ++b) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[i] = c;
            }
        }
    };
    static const Table tab;  // initialised once, thread-safe (C++11 statics)
    const uint32_t* table = tab.t;
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

namespace {
void put32(std::vector<uint8_t>& o, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) o.push_back((uint8_t)(v >> s));
}
void chunk(std::vector<uint8_t>& o, const char* type, const std::vector<uint8_t>& body) {
    put32(o, (uint32_t)body.size());
    const size_t at = o.size();
    o.insert(o.end(), type, type + 4);
    o.insert(o.end(), body.begin(), body.end());
    put32(o, crc32(o.data() + at, o.size() - at));
}
}  // namespace

namespace {

// LSB-first bit writer for deflate.
struct BitWriter {
    std::vector<uint8_t>& out;
    uint32_t acc = 0;
    int n = 0;
    void bits(uint32_t v, int count) {  // value bits, least significant first
        for (int i = 0; i < count; ++i) {
            acc |= ((v >> i) & 1u) << n;
            if (++n == 8) out.push_back((uint8_t)acc), acc = 0, n = 0;
        }
    }
    void huff(uint32_t code, int len) {  // Huffman codes go most significant bit first
        for (int i = len - 1; i >= 0; --i) bits((code >> i) & 1u, 1);
    }
    void flush() {
        if (n) out.push_back((uint8_t)acc), acc = 0, n = 0;
    }
};

// Fixed-Huffman literal/length symbol (RFC 1951 3.2.6).
void put_litlen(BitWriter& w, int sym) {
    if (sym < 144)
        w.huff(0x30 + (uint32_t)sym, 8);
    else if (sym < 256)
        w.huff(0x190 + (uint32_t)(sym - 144), 9);
    else if (sym < 280)
        w.huff((uint32_t)(sym - 256), 7);
    else
        w.huff(0xC0 + (uint32_t)(sym - 280), 8);
}

void put_match(BitWriter& w, int len, int dist) {
    static const int lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                  31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const int lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    int c = 28;
    while (lbase[c] > len) --c;
    put_litlen(w, 257 + c);
    w.bits((uint32_t)(len - lbase[c]), lext[c]);
    // Distances used here are 1..4 (codes 0..3, no extra bits) or one row (general form).
    int dc = 0, base = 1, ext = 0;
    for (int code = 0; code < 30; ++code) {
        const int e = code < 4 ? 0 : code / 2 - 1;
        const int b = code < 4 ? code + 1 : ((2 + (code & 1)) << e) + 1;
        if (b > dist) break;
        dc = code, base = b, ext = e;
    }
    w.huff((uint32_t)dc, 5);
    w.bits((uint32_t)(dist - base), ext);
}

// zlib stream: stored blocks, or one fixed-Huffman block with matches at distance 1, 3 (one
// RGB pixel back) and one scanline back, which is what flat-colour heatmaps need.
std::vector<uint8_t> zlib_stream(const std::vector<uint8_t>& raw, bool compress, size_t row) {
    std::vector<uint8_t> z = {0x78, 0x01};
    if (!compress) {
        size_t at = 0;
        do {
            const size_t len = std::min<size_t>(65535, raw.size() - at);
            const bool last = at + len == raw.size();
            z.push_back(last ? 1 : 0);
            z.push_back((uint8_t)len);
            z.push_back((uint8_t)(len >> 8));
            z.push_back((uint8_t)~len);
            z.push_back((uint8_t)(~len >> 8));
            z.insert(z.end(), raw.begin() + (ptrdiff_t)at, raw.begin() + (ptrdiff_t)(at + len));
            at += len;
        } while (at < raw.size());
    } else {
        BitWriter w{z};
        w.bits(1, 1);  // BFINAL
        w.bits(1, 2);  // BTYPE 01: fixed Huffman
        const size_t dists[3] = {1, 3, row};
        for (size_t i = 0; i < raw.size();) {
            int best = 0;
            size_t best_d = 0;
            for (size_t d : dists) {
                if (d == 0 || d > i || d > 32768) continue;
                int len = 0;
                while (len < 258 && i + (size_t)len < raw.size() &&
                       raw[i + (size_t)len] == raw[i + (size_t)len - d])
                    ++len;
                if (len > best) best = len, best_d = d;
            }
            if (best >= 3) {
                put_match(w, best, (int)best_d);
                i += (size_t)best;
            } else {
                put_litlen(w, raw[i++]);
            }
        }
        put_litlen(w, 256);  // end of block
        w.flush();
    }
    uint32_t s1 = 1, s2 = 0;
    for (uint8_t b : raw) {
        s1 = (s1 + b) % 65521;
        s2 = (s2 + s1) % 65521;
    }
    put32(z, (s2 << 16) | s1);
    return z;
}

}  // namespace

std::vector<uint8_t> encode_png(int32_t width, int32_t height, const std::vector<uint8_t>& rgb,
                                bool compress) {
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
        fail("png: bad size " + std::to_string(width) + "x" + std::to_string(height));
    if (rgb.size() != (size_t)width * (size_t)height * 3)
        fail("png: " + std::to_string(rgb.size()) + " bytes of pixels for " +
             std::to_string(width) + "x" + std::to_string(height) + " RGB");
    // Scanlines, each with filter byte 0 (None).
    std::vector<uint8_t> raw;
    const size_t row = (size_t)width * 3 + 1;
    raw.reserve((size_t)height * row);
    for (int32_t y = 0; y < height; ++y) {
        raw.push_back(0);
        raw.insert(raw.end(), rgb.begin() + (ptrdiff_t)y * width * 3,
                   rgb.begin() + (ptrdiff_t)(y + 1) * width * 3);
    }
    const std::vector<uint8_t> z = zlib_stream(raw, compress, row);

    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    std::vector<uint8_t> ihdr;
    put32(ihdr, (uint32_t)width);
    put32(ihdr, (uint32_t)height);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB, deflate, filter 0, no interlace
    chunk(png, "IHDR", ihdr);
    chunk(png, "IDAT", z);
    chunk(png, "IEND", {});
    return png;
}

void write_png(const std::string& path, int32_t width, int32_t height,
               const std::vector<uint8_t>& rgb) {
    const std::vector<uint8_t> png = encode_png(width, height, rgb);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(png.data()), (std::streamsize)png.size());
    if (!out) fail("cannot write '" + path + "'");
}

std::vector<uint8_t> render_attention_pair(const std::vector<double>& a,
                                           const std::vector<double>& b, int32_t n, int32_t cell,
                                           int32_t* width, int32_t* height) {
    if (n <= 0 || cell <= 0 || a.size() != (size_t)n * (size_t)n || b.size() != a.size())
        fail("render: matrices must be " + std::to_string(n) + "x" + std::to_string(n));
    const int32_t gap = std::max(4, cell), side = n * cell;
    const int32_t W = 2 * side + 3 * gap, Hh = side + 2 * gap;
    std::vector<uint8_t> img((size_t)W * (size_t)Hh * 3, 160);  // grey frame
    const std::vector<double>* mats[2] = {&a, &b};
    for (int p = 0; p < 2; ++p) {
        const int32_t x0 = gap + p * (side + gap);
        for (int32_t i = 0; i < n; ++i)
            for (int32_t j = 0; j < n; ++j) {
                uint8_t c[3] = {225, 225, 225};  // causal mask: key after the query
                if (j <= i) {
                    // sqrt spreads the small probabilities that dominate long rows.
                    const double t =
                        std::sqrt(std::clamp((*mats[p])[(size_t)(i * n + j)], 0.0, 1.0));
                    const double lo[3] = {255, 255, 255}, hi[3] = {8, 48, 107};
                    for (int k = 0; k < 3; ++k)
                        c[k] = (uint8_t)std::lround(lo[k] + (hi[k] - lo[k]) * t);
                }
                for (int32_t y = 0; y < cell; ++y)
                    for (int32_t x = 0; x < cell; ++x) {
                        uint8_t* px = &img[((size_t)(gap + i * cell + y) * (size_t)W +
                                            (size_t)(x0 + j * cell + x)) *
                                           3];
                        std::memcpy(px, c, 3);
                    }
            }
    }
    *width = W;
    *height = Hh;
    return img;
}

}  // namespace llama
}  // namespace ggml
