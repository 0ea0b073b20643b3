// A llama inference session: the KV cache, the forward graph for a batch of tokens, its plans,
// and token sampling.
//
// Forward pass for tokens t at positions p (x has shape [dim, n]):
//   x = embed(t)
//   per layer:  h = rmsnorm(x) * attn_norm
//               q, k, v = Wq h, Wk h, Wv h;  q, k = rope(q, p), rope(k, p)
//               K[:, p], V[:, p] = k, v                 (cache holds only the KV heads)
//               x += Wo attention(q, K, V, causal mask)  (GQA: query head h reads KV head
//                                                         h / (n_heads / n_kv_heads))
//               h = rmsnorm(x) * ffn_norm
//               x += W2 (silu(W1 h) * W3 h)
//   logits = Wout (rmsnorm(x) * output_norm)
// The cache has its full capacity as a static shape and the mask hides every key position
// after the query's, so one plan for n = 1 serves every decode step.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "ggml/graph.h"
#include "ggml/llama.h"

namespace ggml {
namespace llama {

namespace {
[[noreturn]] void fail(const std::string& msg) {
    throw Error("llama: " + msg);
}
}  // namespace

// One planned graph for a batch shape.
struct Session::Step {
    int32_t n = 0;
    bool all_logits = false;
    bool steered = false;
    Context ctx;
    Tensor* tokens = nullptr;      // i32 [n]
    Tensor* pos = nullptr;         // i32 [n], absolute positions
    Tensor* mask = nullptr;        // f32 [n_ctx, n]: 0 where key j <= pos[i], else -inf
    Tensor* steer_bias = nullptr;  // f32 [n_ctx] when steered
    Tensor* logits = nullptr;      // f32 [vocab, n or 1]
    std::vector<HeadSet> heads;    // steered heads per layer, when steered
    std::unique_ptr<Executor> exec;
};

Session::Session(const Model& model, std::vector<Backend*> backends, const SessionOptions& opt)
    : model_(model), backends_(std::move(backends)) {
    if (backends_.empty() || !backends_[0]) fail("session needs at least one backend");
    const HParams& hp = model_.hp;
    n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : hp.n_ctx;
    if (opt.kv_type != DType::F32 && opt.kv_type != DType::F16 && opt.kv_type != DType::BF16)
        fail(std::string("KV cache type must be f32, f16 or bf16, got ") + dtype_name(opt.kv_type));
    kv_type_ = opt.kv_type;
    std::vector<Tensor*> cache;
    for (int32_t l = 0; l < hp.n_layers; ++l) {
        Tensor* k = cache_ctx_.new_tensor(kv_type_, {hp.kv_dim(), n_ctx_});
        Tensor* v = cache_ctx_.new_tensor(kv_type_, {hp.kv_dim(), n_ctx_});
        k->set_name("cache_k." + std::to_string(l));
        v->set_name("cache_v." + std::to_string(l));
        k_cache_.push_back(k);
        v_cache_.push_back(v);
        cache.push_back(k);
        cache.push_back(v);
    }
    memory_budget_ = opt.memory_budget;
    size_t kv = 0;
    for (const Tensor* t : cache) kv += t->nbytes();
    if (memory_budget_ > 0 && kv > memory_budget_)
        fail("KV cache needs " + std::to_string(kv) + " bytes (" + std::to_string(n_ctx_) +
             " tokens), over the memory budget of " + std::to_string(memory_budget_) + " bytes");
    cache_buf_ = alloc_tensors(*backends_[0], cache);
    // Masked slots get probability exactly 0, but 0 * NaN is NaN: unwritten slots must hold
    // finite values.
    cache_buf_->fill(0);
}

Session::~Session() = default;

void Session::set_steering(Steering s) {
    if (s.active()) {
        if ((int32_t)s.bias.size() != n_ctx_)
            fail("steering bias has " + std::to_string(s.bias.size()) + " entries, the context " +
                 std::to_string(n_ctx_));
        if ((int32_t)s.heads.size() != model_.hp.n_layers)
            fail("steering names heads for " + std::to_string(s.heads.size()) +
                 " layers, the model has " + std::to_string(model_.hp.n_layers));
    }
    steering_ = std::move(s);
}

std::unique_ptr<Session::Step> Session::build_step(int32_t n, bool all_logits, bool steered) {
    const HParams& hp = model_.hp;
    auto st = std::make_unique<Step>();
    st->n = n;
    st->all_logits = all_logits;
    st->steered = steered;
    if (steered) st->heads = steering_.heads;
    Context& c = st->ctx;

    st->tokens = c.new_input(DType::I32, {n}, "tokens");
    st->pos = c.new_input(DType::I32, {n}, "pos");
    st->mask = c.new_input(DType::F32, {n_ctx_, n}, "kq_mask");
    if (steered) st->steer_bias = c.new_input(DType::F32, {n_ctx_}, "steer_bias");

    const int64_t D = hp.dim, HD = hp.head_dim, H = hp.n_heads, HKV = hp.n_kv_heads;
    const int64_t KV = hp.kv_dim();
    const size_t es = dtype_size(kv_type_);
    RopeParams rp;
    rp.n_dims = hp.rope_dims;
    rp.mode = hp.rope_mode;
    rp.freq_base = hp.rope_freq_base;
    FlashAttnParams fa;
    fa.scale = 1.0f / std::sqrt((float)HD);

    Tensor* x = get_rows(c, model_.token_embd, st->tokens);  // [D, n]
    for (int32_t l = 0; l < hp.n_layers; ++l) {
        const LayerWeights& w = model_.layers[(size_t)l];

        // Attention.
        Tensor* h = mul(c, rms_norm(c, x, hp.rms_eps), w.attn_norm);
        Tensor* q = reshape(c, mul_mat(c, w.wq, h), {HD, H, n});
        Tensor* k = reshape(c, mul_mat(c, w.wk, h), {HD, HKV, n});
        Tensor* v = mul_mat(c, w.wv, h);  // [KV, n]
        q = rope(c, q, st->pos, rp);
        k = rope(c, k, st->pos, rp);
        // Write this batch into the cache and read the cache through set_rows' result, which
        // orders the write before the attention reads it.
        Tensor* kc = set_rows(c, k_cache_[(size_t)l], reshape(c, k, {KV, n}), st->pos);
        Tensor* vc = set_rows(c, v_cache_[(size_t)l], v, st->pos);
        // [HD, n_ctx, HKV] windows: position stride KV elements, head stride HD elements.
        Tensor* K = view(c, kc, {HD, n_ctx_, HKV}, {(size_t)KV * es, (size_t)HD * es}, 0);
        Tensor* V = view(c, vc, {HD, n_ctx_, HKV}, {(size_t)KV * es, (size_t)HD * es}, 0);
        Tensor* Q = permute(c, q, 0, 2, 1, 3);  // [HD, n, H]
        FlashAttnParams fl = fa;
        if (steered) fl.steer.set(steering_.heads[(size_t)l]);
        Tensor* a = flash_attn(c, Q, K, V, st->mask, fl, steered ? st->steer_bias : nullptr);
        a = reshape(c, a, {HD * H, n});  // heads adjacent: [HD, H, n] -> [HD*H, n]
        x = add(c, x, mul_mat(c, w.wo, a));

        // Feed-forward.
        h = mul(c, rms_norm(c, x, hp.rms_eps), w.ffn_norm);
        Tensor* f = swiglu(c, mul_mat(c, w.w1, h), mul_mat(c, w.w3, h));
        x = add(c, x, mul_mat(c, w.w2, f));
    }
    // Only the last position's logits are needed to sample: cut the batch before the head.
    if (!all_logits && n > 1) x = view(c, x, {D, 1}, {x->nb[1]}, (size_t)(n - 1) * x->nb[1]);
    x = mul(c, rms_norm(c, x, hp.rms_eps), model_.output_norm);
    st->logits = mul_mat(c, model_.output, x);  // [vocab, n or 1]
    st->logits->set_name("logits");

    Graph g;
    g.build(st->logits);
    PlanOptions po;
    if (memory_budget_ > 0) {
        // The cache is already allocated: the graph gets what remains of the budget.
        po.memory_budget = memory_budget_ > kv_bytes() ? memory_budget_ - kv_bytes() : 1;
    }
    st->exec = std::make_unique<Executor>(make_plan(c, g, backends_, po), backends_);
    return st;
}

Session::Step& Session::step_for(int32_t n, bool all_logits) {
    if (n == 1) all_logits = true;  // the same graph either way
    const bool steered = steering_.active();
    for (auto& s : steps_) {
        if (s->n != n || s->all_logits != all_logits || s->steered != steered) continue;
        // Steered graphs carry their head sets as op parameters: replan when they change.
        if (steered && s->heads != steering_.heads) s = build_step(n, all_logits, steered);
        return *s;
    }
    // Keep the decode plan and a few prompt shapes; drop the oldest others.
    if (steps_.size() >= 4) {
        auto it = std::find_if(steps_.begin(), steps_.end(),
                               [](const std::unique_ptr<Step>& s) { return s->n != 1; });
        steps_.erase(it == steps_.end() ? steps_.begin() : it);
    }
    steps_.push_back(build_step(n, all_logits, steered));
    return *steps_.back();
}

const std::vector<float>& Session::eval(const std::vector<int32_t>& tokens, bool all_logits) {
    const HParams& hp = model_.hp;
    const int32_t n = (int32_t)tokens.size();
    if (n == 0) fail("eval needs at least one token");
    if ((int64_t)n_past_ + n > n_ctx_)
        fail(std::to_string(n) + " tokens at position " + std::to_string(n_past_) +
             " do not fit the context of " + std::to_string(n_ctx_));
    for (int32_t i = 0; i < n; ++i)
        if (tokens[(size_t)i] < 0 || tokens[(size_t)i] >= hp.vocab)
            fail("token id " + std::to_string(tokens[(size_t)i]) + " at index " +
                 std::to_string(i) + " is outside the vocabulary of " + std::to_string(hp.vocab));

    Step& st = step_for(n, all_logits);
    pos_.resize((size_t)n);
    std::iota(pos_.begin(), pos_.end(), n_past_);
    // Row i sees keys 0..n_past+i: earlier tokens and itself; later slots are unwritten or
    // belong to the future.
    mask_.resize((size_t)n * (size_t)n_ctx_);
    for (int32_t i = 0; i < n; ++i) {
        float* row = mask_.data() + (size_t)i * (size_t)n_ctx_;
        const int32_t last = n_past_ + i;
        std::fill(row, row + last + 1, 0.0f);
        std::fill(row + last + 1, row + n_ctx_, -INFINITY);
    }
    tensor_set(st.tokens, tokens.data(), 0, (size_t)n * 4);
    tensor_set(st.pos, pos_.data(), 0, (size_t)n * 4);
    tensor_set(st.mask, mask_.data(), 0, mask_.size() * 4);
    if (st.steer_bias)
        tensor_set(st.steer_bias, steering_.bias.data(), 0, steering_.bias.size() * 4);
    st.exec->run();
    n_past_ += n;

    const size_t n_out = (size_t)st.logits->ne[1] * (size_t)hp.vocab;
    logits_.resize(n_out);
    tensor_get(st.logits, logits_.data(), 0, n_out * 4);
    return logits_;
}

std::string Session::plan_summary() const {
    std::ostringstream s;
    for (const auto& st : steps_)
        s << "n=" << st->n << (st->steered ? " steered" : "") << ": " << st->exec->plan().summary();
    return s.str();
}

size_t Session::kv_bytes() const {
    size_t n = 0;
    for (const Tensor* t : k_cache_) n += t->nbytes();
    for (const Tensor* t : v_cache_) n += t->nbytes();
    return n;
}

size_t Session::plan_peak_bytes() const {
    size_t peak = 0;
    for (const auto& st : steps_) peak = std::max(peak, st->exec->plan().peak_bytes());
    return peak;
}

// ---- sampling --------------------------------------------------------------------------------

int32_t argmax_index(const float* x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

int32_t Sampler::sample(const float* logits, int32_t vocab) {
    if (!(temp_ > 0.0f)) return argmax_index(logits, vocab);
    // p_i = softmax(logits / temp); then nucleus sampling (Holtzman et al. 2020): the
    // smallest set of most likely tokens whose mass reaches top_p, renormalised.
    const float mx = logits[argmax_index(logits, vocab)];
    cand_.resize((size_t)vocab);
    double sum = 0.0;
    for (int32_t i = 0; i < vocab; ++i) {
        const float p = std::exp((logits[i] - mx) / temp_);
        cand_[(size_t)i] = {p, i};
        sum += p;
    }
    size_t n_keep = cand_.size();
    double mass = sum;
    if (top_p_ > 0.0f && top_p_ < 1.0f) {
        std::sort(cand_.begin(), cand_.end(), [](const auto& a, const auto& b) {
            return a.first > b.first || (a.first == b.first && a.second < b.second);
        });
        double acc = 0.0;
        for (size_t i = 0; i < cand_.size(); ++i) {
            acc += cand_[i].first;
            if (acc >= top_p_ * sum) {
                n_keep = i + 1;
                break;
            }
        }
        mass = acc;
    }
    // 53 random bits -> uniform double in [0, 1).
    const double r = (double)(rng_() >> 11) * (1.0 / 9007199254740992.0) * mass;
    double acc = 0.0;
    for (size_t i = 0; i < n_keep; ++i) {
        acc += cand_[i].first;
        if (r < acc) return cand_[i].second;
    }
    return cand_[n_keep - 1].second;
}

}  // namespace llama
}  // namespace ggml
