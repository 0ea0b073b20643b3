// Llama-family model files: hyper-parameters and weights from GGUF (llama.cpp's keys and tensor
// names, weights zero-copy from the file mapping) or from a legacy llama2.c checkpoint, and
// writing a model back as GGUF.
//
// The architecture (Touvron et al. 2023, "LLaMA"): pre-norm decoder blocks with RMSNorm
// (Zhang & Sennrich 2019), rotary position embedding (Su et al. 2021), grouped-query attention
// (Ainslie et al. 2023) and a SwiGLU feed-forward network (Shazeer 2020).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "ggml/gguf.h"
#include "ggml/llama.h"
#include "ggml/quant.h"

namespace ggml {
namespace llama {

namespace {

[[noreturn]] void fail(const std::string& msg) {
    throw Error("llama: " + msg);
}

// 64-byte aligned owned bytes for weights that cannot be used in place (converted or read).
struct AlignedBytes {
    explicit AlignedBytes(size_t n) : size(n) {
        const size_t rounded = (n + 63) / 64 * 64;
        ptr = static_cast<uint8_t*>(std::aligned_alloc(64, rounded ? rounded : 64));
        if (!ptr) fail("out of memory allocating " + std::to_string(n) + " bytes of weights");
    }
    ~AlignedBytes() { std::free(ptr); }
    AlignedBytes(const AlignedBytes&) = delete;
    AlignedBytes& operator=(const AlignedBytes&) = delete;
    uint8_t* ptr = nullptr;
    size_t size = 0;
};

std::string ne_str(const int64_t* ne, int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

}  // namespace

struct Model::Storage {
    std::unique_ptr<GgufFile> gguf;                    // GGUF: the mapping weights point into
    std::vector<std::unique_ptr<AlignedBytes>> owned;  // converted or read weights
    std::vector<std::pair<Tensor*, void*>> host_data;  // host copies kept across upload()

    uint8_t* alloc(size_t n) {
        owned.push_back(std::make_unique<AlignedBytes>(n));
        return owned.back()->ptr;
    }
};

Model::Model() : storage_(std::make_unique<Storage>()) {}
Model::~Model() = default;

void HParams::validate() const {
    auto positive = [](const char* name, int64_t v) {
        if (v <= 0) fail(std::string(name) + " = " + std::to_string(v) + " must be positive");
    };
    positive("dim", dim);
    positive("n_layers", n_layers);
    positive("n_heads", n_heads);
    positive("n_kv_heads", n_kv_heads);
    positive("head_dim", head_dim);
    positive("hidden", hidden);
    positive("vocab", vocab);
    positive("n_ctx", n_ctx);
    if (n_heads % n_kv_heads != 0)
        fail("n_heads = " + std::to_string(n_heads) +
             " is not a multiple of n_kv_heads = " + std::to_string(n_kv_heads));
    if (rope_dims <= 0 || rope_dims % 2 != 0 || rope_dims > head_dim)
        fail("rope dimension count " + std::to_string(rope_dims) + " must be even and in (0, " +
             std::to_string(head_dim) + "]");
    if (!(rms_eps >= 0.0f) || !std::isfinite(rms_eps))
        fail("rms eps " + std::to_string(rms_eps) + " must be finite and >= 0");
    if (!(rope_freq_base > 0.0f) || !std::isfinite(rope_freq_base))
        fail("rope freq base " + std::to_string(rope_freq_base) + " must be > 0");
}

std::string HParams::to_string() const {
    std::ostringstream s;
    s << "dim " << dim << ", layers " << n_layers << ", heads " << n_heads << " (kv " << n_kv_heads
      << ", head_dim " << head_dim << "), hidden " << hidden << ", vocab " << vocab << ", ctx "
      << n_ctx << ", rope " << (rope_mode == RopeMode::Interleaved ? "interleaved" : "neox")
      << " dims " << rope_dims << " base " << rope_freq_base << ", rms eps " << rms_eps;
    return s.str();
}

std::vector<Tensor*> Model::weights() const {
    std::vector<Tensor*> w = {token_embd};
    for (const LayerWeights& l : layers)
        for (Tensor* t : {l.attn_norm, l.wq, l.wk, l.wv, l.wo, l.ffn_norm, l.w1, l.w2, l.w3})
            w.push_back(t);
    w.push_back(output_norm);
    if (!tied_output()) w.push_back(output);
    return w;
}

int Model::repack_for_cpu() {
    // Weights already on a device stay as they are: their tensors point at device memory.
    if (device_weights_) return 0;
    std::vector<Tensor*> mats;
    for (const LayerWeights& l : layers)
        for (Tensor* t : {l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3}) mats.push_back(t);
    if (!tied_output()) mats.push_back(output);
    int n = 0;
    for (Tensor* t : mats) {
        if (t->type != DType::Q4_0 || t->ne[1] % 8 != 0 || !t->is_contiguous()) continue;
        uint8_t* packed = storage_->alloc(t->nbytes());
        repack_q4_0x8(t->data, packed, t->ne[0], t->nrows());
        t->data = packed;
        t->type = DType::Q4_0X8;
        ++n;
    }
    n_repacked_ += n;
    return n;
}

void Model::upload(Backend& backend, bool repack) {
    if (backend.is_host()) {
        if (repack && std::string(backend.name()) == "cpu") repack_for_cpu();
        return;
    }
    if (device_weights_) return;
    if (n_repacked_ > 0)
        throw Error(
            "Model::upload: the weights were repacked for the CPU backend; load the "
            "model again to upload it to '" +
            std::string(backend.name()) + "'");
    std::vector<Tensor*> ws = weights();
    for (Tensor* t : ws) storage_->host_data.emplace_back(t, t->data);
    device_weights_ = alloc_tensors(backend, ws);
    for (auto& [t, host] : storage_->host_data) tensor_set(t, host, 0, t->nbytes());
}

// ---- format detection ------------------------------------------------------------------------

std::unique_ptr<Model> Model::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open model file '" + path + "'");
    char magic[4] = {0, 0, 0, 0};
    in.read(magic, 4);
    if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return load_gguf(path);
    return load_llama2c(path);
}

// ---- llama2.c checkpoints --------------------------------------------------------------------
//
// Legacy (version 0) export of karpathy/llama2.c: seven int32 header fields, then f32 arrays
// with PyTorch's [out, in] row-major layout, layer index outermost:
//   token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
//   wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim],
//   w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
//   freq_cis_real, freq_cis_imag [seq_len, head_dim/2] (unused: RoPE is recomputed),
//   wcls [vocab, dim] only when the header's vocab_size is negative (untied classifier).

std::unique_ptr<Model> Model::load_llama2c(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) fail("cannot open model file '" + path + "'");
    const int64_t file_size = (int64_t)in.tellg();
    in.seekg(0);
    const std::string where = "llama2.c checkpoint '" + path + "'";
    constexpr int64_t kHeader = 7 * 4;
    if (file_size < kHeader)
        fail(where + ": file is " + std::to_string(file_size) +
             " bytes, shorter than the 28-byte header (dim, hidden_dim, n_layers, n_heads, "
             "n_kv_heads, vocab_size, seq_len)");
    int32_t h[7];
    in.read(reinterpret_cast<char*>(h), sizeof h);
    if (h[0] == 0x616b3432)  // "ak42": the versioned export
        fail(where +
             ": versioned llama2.c export (magic \"ak42\") is not supported; use the "
             "legacy (version 0) format");
    static const char* const kNames[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                          "n_kv_heads", "vocab_size", "seq_len"};
    // Bounds that keep every size product far from overflow; real checkpoints are well inside.
    static const int64_t kLimit[7] = {1 << 16, 1 << 18, 1 << 10, 1 << 10,
                                      1 << 10, 1 << 22, 1 << 22};
    for (int i = 0; i < 7; ++i) {
        const int64_t v = i == 5 ? std::llabs((int64_t)h[i]) : (int64_t)h[i];
        if (v <= 0 || v > kLimit[i])
            fail(where + ": header field " + kNames[i] + " = " + std::to_string(h[i]) +
                 (v <= 0 ? " must be positive" : " is implausibly large (not a checkpoint?)"));
    }
    const bool shared_classifier = h[5] > 0;
    HParams hp;
    hp.dim = h[0];
    hp.hidden = h[1];
    hp.n_layers = h[2];
    hp.n_heads = h[3];
    hp.n_kv_heads = h[4];
    hp.vocab = std::abs(h[5]);
    hp.n_ctx = h[6];
    if (hp.dim % hp.n_heads != 0)
        fail(where + ": dim = " + std::to_string(hp.dim) +
             " is not a multiple of n_heads = " + std::to_string(hp.n_heads));
    if (hp.n_heads % hp.n_kv_heads != 0)
        fail(where + ": n_heads = " + std::to_string(hp.n_heads) +
             " is not a multiple of n_kv_heads = " + std::to_string(hp.n_kv_heads));
    hp.head_dim = hp.dim / hp.n_heads;
    if (hp.head_dim % 2 != 0)
        fail(where + ": head size dim / n_heads = " + std::to_string(hp.head_dim) +
             " is odd, RoPE needs pairs");
    hp.rope_dims = hp.head_dim;
    hp.rope_mode = RopeMode::Interleaved;  // llama2.c rotates adjacent pairs
    hp.rope_freq_base = 10000.0f;
    hp.rms_eps = 1e-5f;
    hp.validate();

    const int64_t D = hp.dim, L = hp.n_layers, F = hp.hidden, V = hp.vocab, KV = hp.kv_dim();
    const int64_t n_floats = V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D +
                             3 * L * F * D + D + (int64_t)hp.n_ctx * hp.head_dim +
                             (shared_classifier ? 0 : V * D);
    const int64_t expected = kHeader + 4 * n_floats;
    if (file_size != expected)
        fail(where + ": the header (" + hp.to_string() +
             (shared_classifier ? ", tied" : ", untied") + " classifier) needs " +
             std::to_string(expected) + " bytes but the file has " + std::to_string(file_size) +
             (file_size < expected ? " (truncated)" : " (trailing bytes)"));

    std::unique_ptr<Model> m(new Model());
    m->format = Format::Llama2c;
    m->arch = "llama";
    m->hp = hp;
    // One aligned copy of the whole payload: the file's f32 data starts at byte 28, which is
    // not aligned for vector loads.
    uint8_t* base = m->storage_->alloc((size_t)(expected - kHeader));
    in.read(reinterpret_cast<char*>(base), expected - kHeader);
    if (in.gcount() != expected - kHeader) fail(where + ": read failed");

    size_t off = 0;
    auto take = [&](int64_t ne0, int64_t ne1, const std::string& name) {
        Tensor* t = ne1 > 1 ? m->ctx_.new_tensor(DType::F32, {ne0, ne1})
                            : m->ctx_.new_tensor(DType::F32, {ne0});
        t->data = base + off;
        t->flags |= kFlagWeight;
        t->set_name(name);
        off += (size_t)(ne0 * ne1) * 4;
        return t;
    };
    auto blk = [](int64_t l, const char* n) { return "blk." + std::to_string(l) + "." + n; };
    m->layers.resize((size_t)L);
    m->token_embd = take(D, V, "token_embd.weight");
    for (int64_t l = 0; l < L; ++l) m->layers[l].attn_norm = take(D, 1, blk(l, "attn_norm.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].wq = take(D, D, blk(l, "attn_q.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].wk = take(D, KV, blk(l, "attn_k.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].wv = take(D, KV, blk(l, "attn_v.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].wo = take(D, D, blk(l, "attn_output.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].ffn_norm = take(D, 1, blk(l, "ffn_norm.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].w1 = take(D, F, blk(l, "ffn_gate.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].w2 = take(F, D, blk(l, "ffn_down.weight"));
    for (int64_t l = 0; l < L; ++l) m->layers[l].w3 = take(D, F, blk(l, "ffn_up.weight"));
    m->output_norm = take(D, 1, "output_norm.weight");
    off += (size_t)hp.n_ctx * (size_t)hp.head_dim * 4;  // freq_cis_real + freq_cis_imag
    m->output = shared_classifier ? m->token_embd : take(D, V, "output.weight");
    return m;
}

// ---- GGUF ------------------------------------------------------------------------------------

namespace {

// Rotation convention per architecture, as llama.cpp assigns it. Its converters permute the
// Q/K rows of Hugging Face llama checkpoints into Meta's interleaved-pair layout, so "llama"
// files are interleaved; architectures that keep HF's rotate-half layout are NeoX style. Only
// architectures whose blocks are exactly llama's are listed.
std::optional<RopeMode> rope_mode_for(const std::string& arch) {
    if (arch == "llama" || arch == "mistral") return RopeMode::Interleaved;
    if (arch == "exaone") return RopeMode::Neox;
    return std::nullopt;
}

int32_t get_dim(const GgufFile& f, const std::string& key, std::optional<int64_t> def = {}) {
    std::optional<int64_t> v = f.find_integer(key);
    if (!v) {
        if (!def) fail("GGUF key '" + key + "' is missing");
        v = def;
    }
    if (*v <= 0 || *v > std::numeric_limits<int32_t>::max())
        fail("GGUF key '" + key + "' = " + std::to_string(*v) + " must be a positive int32");
    return (int32_t)*v;
}

}  // namespace

std::unique_ptr<Model> Model::load_gguf(const std::string& path) {
    std::unique_ptr<Model> m(new Model());
    m->storage_->gguf = std::make_unique<GgufFile>(GgufFile::open(path));
    const GgufFile& f = *m->storage_->gguf;
    const std::string where = "GGUF '" + path + "'";
    m->format = Format::GGUF;
    m->arch = f.get_str("general.architecture");
    const std::optional<RopeMode> mode = rope_mode_for(m->arch);
    if (!mode)
        fail(where + ": unsupported architecture '" + m->arch + "' (llama, mistral, exaone)");
    auto key = [&](const char* k) { return m->arch + "." + k; };

    HParams& hp = m->hp;
    hp.dim = get_dim(f, key("embedding_length"));
    hp.n_layers = get_dim(f, key("block_count"));
    hp.hidden = get_dim(f, key("feed_forward_length"));
    hp.n_heads = get_dim(f, key("attention.head_count"));
    hp.n_kv_heads = get_dim(f, key("attention.head_count_kv"), hp.n_heads);
    if (!f.has(key("attention.key_length")) && hp.dim % hp.n_heads != 0)
        fail(where + ": embedding_length " + std::to_string(hp.dim) +
             " is not a multiple of head_count " + std::to_string(hp.n_heads));
    hp.head_dim = get_dim(f, key("attention.key_length"), hp.dim / hp.n_heads);
    if (get_dim(f, key("attention.value_length"), hp.head_dim) != hp.head_dim)
        fail(where + ": attention.value_length differs from key_length (unsupported)");
    hp.n_ctx = get_dim(f, key("context_length"));
    hp.rms_eps = f.find_f32(key("attention.layer_norm_rms_epsilon")).value_or(1e-5f);
    hp.rope_freq_base = f.find_f32(key("rope.freq_base")).value_or(10000.0f);
    hp.rope_dims = get_dim(f, key("rope.dimension_count"), hp.head_dim);
    hp.rope_mode = *mode;

    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    if (!embd) fail(where + ": tensor 'token_embd.weight' is missing");
    if (embd->ne[1] <= 0 || embd->ne[1] > std::numeric_limits<int32_t>::max())
        fail(where + ": token_embd.weight has shape " + embd->shape_str());
    hp.vocab = (int32_t)embd->ne[1];
    if (const auto v = f.find_integer(key("vocab_size")); v && *v != hp.vocab)
        fail(where + ": " + key("vocab_size") + " = " + std::to_string(*v) +
             " but token_embd.weight has " + std::to_string(hp.vocab) + " rows");
    hp.validate();

    // Every tensor in the file must be used: an ignored weight (a bias, a rope table) would
    // silently change the model.
    std::vector<bool> used(f.tensors().size(), false);
    auto weight = [&](const std::string& name, std::initializer_list<int64_t> ne,
                      bool need_f32) -> Tensor* {
        const GgufTensorInfo* info = f.find_tensor(name);
        if (!info) fail(where + ": tensor '" + name + "' is missing");
        used[(size_t)(info - f.tensors().data())] = true;
        const int64_t want[4] = {ne.size() > 0 ? ne.begin()[0] : 1,
                                 ne.size() > 1 ? ne.begin()[1] : 1, 1, 1};
        for (int i = 0; i < 4; ++i)
            if (info->ne[i] != want[i])
                fail(where + ": tensor '" + name + "' has shape " + info->shape_str() +
                     ", expected " + ne_str(want, (int)ne.size()));
        const std::optional<DType> dt = ggml_type_to_dtype(info->type);
        // Matrices are used as stored (mul_mat and get_rows take f16/bf16/q8_0/q4_0); norm
        // vectors feed element-wise ops, which take f32 only.
        const bool usable =
            dt && (*dt == DType::F32 || (!need_f32 && (*dt == DType::F16 || *dt == DType::BF16 ||
                                                       *dt == DType::Q8_0 || *dt == DType::Q4_0)));
        if (usable) return f.new_tensor(m->ctx_, name);  // zero copy
        // Other quantized types, and f16 norm vectors, become f32.
        const std::vector<float> vals = dequantize(*info);
        Tensor* t = ne.size() > 1 ? m->ctx_.new_tensor(DType::F32, {want[0], want[1]})
                                  : m->ctx_.new_tensor(DType::F32, {want[0]});
        t->data = m->storage_->alloc(vals.size() * 4);
        std::memcpy(t->data, vals.data(), vals.size() * 4);
        t->flags |= kFlagWeight;
        t->set_name(name);
        return t;
    };

    const int64_t D = hp.dim, Q = (int64_t)hp.n_heads * hp.head_dim, KV = hp.kv_dim(),
                  F = hp.hidden, V = hp.vocab;
    m->token_embd = weight("token_embd.weight", {D, V}, false);
    m->layers.resize((size_t)hp.n_layers);
    for (int32_t l = 0; l < hp.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights& w = m->layers[(size_t)l];
        w.attn_norm = weight(p + "attn_norm.weight", {D}, true);
        w.wq = weight(p + "attn_q.weight", {D, Q}, false);
        w.wk = weight(p + "attn_k.weight", {D, KV}, false);
        w.wv = weight(p + "attn_v.weight", {D, KV}, false);
        w.wo = weight(p + "attn_output.weight", {Q, D}, false);
        w.ffn_norm = weight(p + "ffn_norm.weight", {D}, true);
        w.w1 = weight(p + "ffn_gate.weight", {D, F}, false);
        w.w2 = weight(p + "ffn_down.weight", {F, D}, false);
        w.w3 = weight(p + "ffn_up.weight", {D, F}, false);
    }
    m->output_norm = weight("output_norm.weight", {D}, true);
    m->output = f.find_tensor("output.weight") ? weight("output.weight", {D, V}, false)
                                               : m->token_embd;  // absent: tied to the embedding
    for (size_t i = 0; i < used.size(); ++i)
        if (!used[i])
            fail(where + ": tensor '" + f.tensors()[i].name +
                 "' is not part of the llama architecture (unsupported model variant)");

    m->vocab = TokenizerData::from_gguf(f);
    if (!m->vocab.empty() && (int64_t)m->vocab.tokens.size() != V)
        fail(where + ": the tokenizer has " + std::to_string(m->vocab.tokens.size()) +
             " tokens but the model's vocabulary is " + std::to_string(V));
    return m;
}

// ---- writing ---------------------------------------------------------------------------------

void save_gguf(const Model& m, const std::string& path) {
    const HParams& hp = m.hp;
    GgufWriter w;
    const std::string a = m.arch;
    auto key = [&](const char* k) { return a + "." + k; };
    w.set_str("general.architecture", a);
    w.set_str("general.name", m.format == Format::Llama2c ? "llama2.c" : a);
    w.set_u32(key("context_length"), (uint32_t)hp.n_ctx);
    w.set_u32(key("embedding_length"), (uint32_t)hp.dim);
    w.set_u32(key("block_count"), (uint32_t)hp.n_layers);
    w.set_u32(key("feed_forward_length"), (uint32_t)hp.hidden);
    w.set_u32(key("attention.head_count"), (uint32_t)hp.n_heads);
    w.set_u32(key("attention.head_count_kv"), (uint32_t)hp.n_kv_heads);
    if (hp.head_dim * hp.n_heads != hp.dim) {
        w.set_u32(key("attention.key_length"), (uint32_t)hp.head_dim);
        w.set_u32(key("attention.value_length"), (uint32_t)hp.head_dim);
    }
    w.set_u32(key("rope.dimension_count"), (uint32_t)hp.rope_dims);
    w.set_f32(key("rope.freq_base"), hp.rope_freq_base);
    w.set_f32(key("attention.layer_norm_rms_epsilon"), hp.rms_eps);
    w.set_u32(key("vocab_size"), (uint32_t)hp.vocab);

    // general.file_type: llama.cpp's LLAMA_FTYPE (0 all f32, 1 mostly f16, 32 mostly bf16).
    uint32_t file_type = 0;
    for (const Tensor* t : m.weights()) {
        if (t->type == DType::F16) file_type = 1;
        if (t->type == DType::BF16 && file_type == 0) file_type = 32;
    }
    w.set_u32("general.file_type", file_type);

    if (!m.vocab.empty()) {
        const TokenizerData& v = m.vocab;
        w.set_str("tokenizer.ggml.model", v.model);
        w.set_arr_str("tokenizer.ggml.tokens", v.tokens);
        if (!v.scores.empty()) w.set_arr("tokenizer.ggml.scores", v.scores);
        if (!v.types.empty()) w.set_arr("tokenizer.ggml.token_type", v.types);
        if (v.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", (uint32_t)v.bos);
        if (v.eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", (uint32_t)v.eos);
        if (v.unk >= 0) w.set_u32("tokenizer.ggml.unknown_token_id", (uint32_t)v.unk);
        w.set_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
    } else {
        // No tokenizer travels with a llama2.c checkpoint (its tokenizer.bin is a separate
        // file). Loaders that insist on a vocabulary, llama.cpp's among them, get placeholder
        // tokens "<tok_N>" with score 0, plus <unk>, <s>, </s> at ids 0, 1, 2 as llama2.c's
        // SentencePiece models have them. Text decoded with it is only the token ids.
        std::vector<std::string> toks((size_t)hp.vocab);
        std::vector<float> scores((size_t)hp.vocab, 0.0f);
        std::vector<int32_t> types((size_t)hp.vocab, (int32_t)TokenType::Normal);
        for (int32_t i = 0; i < hp.vocab; ++i) toks[(size_t)i] = "<tok_" + std::to_string(i) + ">";
        const char* special[3] = {"<unk>", "<s>", "</s>"};
        const TokenType special_type[3] = {TokenType::Unknown, TokenType::Control,
                                           TokenType::Control};
        for (int i = 0; i < 3 && i < hp.vocab; ++i) {
            toks[(size_t)i] = special[i];
            types[(size_t)i] = (int32_t)special_type[i];
        }
        w.set_str("tokenizer.ggml.model", "llama");
        w.set_arr_str("tokenizer.ggml.tokens", toks);
        w.set_arr("tokenizer.ggml.scores", scores);
        w.set_arr("tokenizer.ggml.token_type", types);
        if (hp.vocab > 2) {
            w.set_u32("tokenizer.ggml.unknown_token_id", 0);
            w.set_u32("tokenizer.ggml.bos_token_id", 1);
            w.set_u32("tokenizer.ggml.eos_token_id", 2);
        }
    }

    // Tensors: the weights' bytes as they are, read wherever they live.
    std::vector<uint8_t> bytes;
    auto add = [&](const Tensor* t, const std::string& name) {
        bytes.resize(t->nbytes());
        tensor_get(t, bytes.data(), 0, bytes.size());
        std::vector<int64_t> ne(t->ne, t->ne + t->n_dims());
        w.add_tensor(name, dtype_to_ggml_type(t->type), ne, bytes.data(), bytes.size());
    };
    add(m.token_embd, "token_embd.weight");
    for (size_t l = 0; l < m.layers.size(); ++l) {
        const LayerWeights& x = m.layers[l];
        const std::string p = "blk." + std::to_string(l) + ".";
        add(x.attn_norm, p + "attn_norm.weight");
        add(x.wq, p + "attn_q.weight");
        add(x.wk, p + "attn_k.weight");
        add(x.wv, p + "attn_v.weight");
        add(x.wo, p + "attn_output.weight");
        add(x.ffn_norm, p + "ffn_norm.weight");
        add(x.w1, p + "ffn_gate.weight");
        add(x.w2, p + "ffn_down.weight");
        add(x.w3, p + "ffn_up.weight");
    }
    add(m.output_norm, "output_norm.weight");
    if (!m.tied_output()) add(m.output, "output.weight");
    w.write(path);
}

}  // namespace llama
}  // namespace ggml
