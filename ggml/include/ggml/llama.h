// Llama-family decoder models: hyper-parameters, weights, loading (GGUF and llama2.c
// checkpoints), an inference session with a KV cache, and token sampling.
//
// The data path, top to bottom:
//   file --Model::load--> HParams + weights (ggml::Tensor*, zero copy from the file mapping)
//        --Session::eval(tokens)--> one graph per batch shape, planned once, run many times
//        --> logits [vocab] per position --Sampler--> next token.
//
// Weight layout follows ggml: a linear map y = W x with PyTorch weight W [out, in] (row-major)
// is the tensor [in, out] (ne[0] = in), so mul_mat(W, x) with x [in, n] gives y [out, n] and
// the bytes of a PyTorch / llama2.c matrix are used as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ggml/backend.h"
#include "ggml/context.h"
#include "ggml/ops.h"
#include "ggml/plan.h"
#include "ggml/tokenizer.h"

namespace ggml {

class GgufFile;

namespace llama {

struct HParams {
    int32_t dim = 0;  // model width (embedding length)
    int32_t n_layers = 0;
    int32_t n_heads = 0;     // query heads
    int32_t n_kv_heads = 0;  // key/value heads; n_heads % n_kv_heads == 0 (GQA/MQA)
    int32_t head_dim = 0;    // dim / n_heads
    int32_t hidden = 0;      // feed-forward width
    int32_t vocab = 0;
    int32_t n_ctx = 0;  // context length the model was trained for
    float rms_eps = 1e-5f;
    float rope_freq_base = 10000.0f;
    int32_t rope_dims = 0;  // leading elements of each head that rotate (= head_dim usually)
    RopeMode rope_mode = RopeMode::Interleaved;

    int32_t kv_dim() const { return head_dim * n_kv_heads; }
    // Throws ggml::Error naming the first inconsistent field.
    void validate() const;
    std::string to_string() const;
};

struct LayerWeights {
    Tensor* attn_norm = nullptr;  // f32 [dim]
    Tensor* wq = nullptr;         // [dim, n_heads*head_dim]
    Tensor* wk = nullptr;         // [dim, kv_dim]
    Tensor* wv = nullptr;         // [dim, kv_dim]
    Tensor* wo = nullptr;         // [n_heads*head_dim, dim]
    Tensor* ffn_norm = nullptr;   // f32 [dim]
    Tensor* w1 = nullptr;         // gate [dim, hidden]
    Tensor* w2 = nullptr;         // down [hidden, dim]
    Tensor* w3 = nullptr;         // up   [dim, hidden]
};

// Which file a model came from.
enum class Format { GGUF, Llama2c };

class Model {
  public:
    // Detects the format: "GGUF" magic, else a llama2.c checkpoint. Throws ggml::Error with
    // the path and the offending field for anything malformed.
    static std::unique_ptr<Model> load(const std::string& path);
    static std::unique_ptr<Model> load_gguf(const std::string& path);
    static std::unique_ptr<Model> load_llama2c(const std::string& path);

    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    HParams hp;
    Format format = Format::GGUF;
    std::string arch = "llama";
    Tensor* token_embd = nullptr;  // [dim, vocab]
    std::vector<LayerWeights> layers;
    Tensor* output_norm = nullptr;  // f32 [dim]
    Tensor* output = nullptr;       // [dim, vocab]; == token_embd when tied
    TokenizerData vocab;            // tokenizer tables (empty for llama2.c files)

    bool tied_output() const { return output == token_embd; }
    // Every weight tensor, once each.
    std::vector<Tensor*> weights() const;
    // Copies the weights into a buffer of `backend` when its memory is not host memory, so
    // graphs read them in place there. A host backend keeps the zero-copy mapping, except that
    // on the CPU backend (with `repack`) the q4_0 matrices read only by mul_mat (not the token
    // embedding) whose row count is a multiple of 8 become q4_0x8 copies (ggml/quant.h), the
    // layout of the CPU's fastest q4_0 kernel (not after an upload to a device, whose copy
    // keeps q4_0). Call before creating sessions: it changes the tensors' dtype.
    void upload(Backend& backend, bool repack = true);
    // The CPU part of upload(): converts the remaining such q4_0 matrices, returns how many
    // (0 once done, or after an upload to a device).
    int repack_for_cpu();
    // How many matrices have been turned into q4_0x8.
    int n_repacked() const { return n_repacked_; }

  private:
    Model();
    struct Storage;  // the file mapping and any converted weights
    std::unique_ptr<Storage> storage_;
    Context ctx_;  // weight tensor metadata
    std::unique_ptr<Buffer> device_weights_;
    int n_repacked_ = 0;
};

// Writes `m` as a llama-architecture GGUF (f32/f16/bf16 weights as they are, llama.cpp's keys
// and tensor names). Without tokenizer tables a placeholder vocabulary is written (see .cpp).
void save_gguf(const Model& m, const std::string& path);

struct SessionOptions {
    int32_t n_ctx = 0;           // KV capacity in tokens; 0 = the model's context length
    DType kv_type = DType::F32;  // F32 or F16 (BF16 also accepted)
    // > 0: the KV cache plus every planned graph's arena must fit in this many bytes; the
    // constructor (for the cache) or the first eval of a batch shape (for its plan) throws
    // ggml::Error naming the sizes instead of allocating. Weights are not counted: they are
    // the model's (mmapped on the CPU).
    size_t memory_budget = 0;
};

// Optional attention steering for one evaluation, applied through flash_attn's per-key bias:
// bias [n_ctx] is added to the scores of the heads in heads[layer].
struct Steering {
    std::vector<float> bias;     // [n_ctx]; e.g. log(alpha) outside emphasised spans, else 0
    std::vector<HeadSet> heads;  // [n_layers]
    bool active() const { return !bias.empty(); }
};

// An inference session: owns the KV cache (per layer K and V [kv_dim, n_ctx], only the KV
// heads) and one planned graph per batch shape. Decode steps reuse one plan for n = 1: the
// cache has its full capacity as a static shape and positions, mask and tokens are inputs.
class Session {
  public:
    // backends: most preferred first (the KV cache lives on the first); they must outlive the
    // session, as must the model.
    Session(const Model& model, std::vector<Backend*> backends, const SessionOptions& opt = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Appends `tokens` at positions [n_past, n_past + n) and returns their logits: row-major
    // [n, vocab] when all_logits, else [vocab] of the last token. Throws when the tokens do
    // not fit the context or an id is out of range.
    const std::vector<float>& eval(const std::vector<int32_t>& tokens, bool all_logits = false);

    // Plans the graph for batches of n tokens now, so that a timed loop measures only runs.
    void prepare(int32_t n, bool all_logits = false) { step_for(n, all_logits); }

    int32_t n_past() const { return n_past_; }
    int32_t n_ctx() const { return n_ctx_; }
    void reset() { n_past_ = 0; }
    // Steering applied to every following eval (an empty Steering turns it off). Graphs with
    // and without steering are planned separately, each once.
    void set_steering(Steering s);
    // Plan summaries of the graphs built so far (for -v output and tests).
    std::string plan_summary() const;
    // Bytes of the KV cache, and the largest arena of the graphs planned so far.
    size_t kv_bytes() const;
    size_t plan_peak_bytes() const;

  private:
    struct Step;  // one planned graph: inputs, output, executor
    Step& step_for(int32_t n, bool all_logits);
    std::unique_ptr<Step> build_step(int32_t n, bool all_logits, bool steered);

    const Model& model_;
    std::vector<Backend*> backends_;
    int32_t n_ctx_ = 0;
    DType kv_type_ = DType::F32;
    size_t memory_budget_ = 0;
    int32_t n_past_ = 0;
    Context cache_ctx_;                       // KV cache tensor metadata
    std::vector<Tensor*> k_cache_, v_cache_;  // per layer [kv_dim, n_ctx]
    std::unique_ptr<Buffer> cache_buf_;
    std::vector<std::unique_ptr<Step>> steps_;
    Steering steering_;
    std::vector<float> logits_;
    std::vector<int32_t> pos_;
    std::vector<float> mask_;
};

// Next-token choice: greedy (temp 0: the first maximum) or temperature + nucleus (top-p)
// sampling with a seeded RNG.
class Sampler {
  public:
    Sampler(float temp = 0.0f, float top_p = 0.9f, uint64_t seed = 0)
        : temp_(temp), top_p_(top_p), rng_(seed) {}
    int32_t sample(const float* logits, int32_t vocab);

  private:
    float temp_, top_p_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;
};

// Index of the first maximum of x[0..n).
int32_t argmax_index(const float* x, int32_t n);

}  // namespace llama
}  // namespace ggml
