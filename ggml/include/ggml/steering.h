// Attention steering (PASTA: Zhang et al., "Tell Your Model Where to Attend: Post-hoc
// Attention Steering for LLMs", 2023) for llama sessions.
//
// For the selected query heads, the attention probability of every prompt key outside the
// emphasised spans is multiplied by alpha (0 < alpha < 1) and each row is renormalised:
//   p'_ij = p_ij * w_j / sum_k p_ik * w_k,  w_j = alpha outside the spans, 1 inside,
// which is softmax(s_ij + log w_j): a per-key additive bias before the softmax. That bias is
// what flash_attn takes (src[4]), so a SteeringSpec becomes a llama::Steering: one bias value
// per cache position plus, per layer, the set of query heads that receive it.
//
//   mode Exclude (default): bias log(alpha) on prompt keys OUTSIDE the spans, 0 inside.
//   mode Include:           bias log(1/alpha) on prompt keys INSIDE the spans, 0 outside.
// Over the prompt the two give the same probabilities (a row-constant shift cancels in the
// softmax); they differ only against keys after the prompt (generated tokens), which always get
// bias 0: generated tokens are never down-weighted in Exclude mode, while in Include mode the
// spans are up-weighted against them too.
//
// Also here: the head-config JSON file ({"alpha":0.01,"heads":[[layer,head],...]}), the runner's
// --steer-* argument forms, a float64 host forward pass that returns the attention matrix of
// one head (for heatmaps and as the test reference), head profiling, and a small PNG writer.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ggml/llama.h"

namespace ggml {
namespace llama {

enum class SteerMode { Exclude, Include };

// Half-open token-position range [begin, end) of the prompt.
struct TokenSpan {
    int32_t begin = 0;
    int32_t end = 0;
};

struct SteeringSpec {
    std::vector<TokenSpan> spans;  // emphasised key spans; at least one
    bool all_heads = true;         // every query head of every layer
    std::vector<HeadSet> heads;    // [n_layers] query heads per layer, when !all_heads
    float alpha = 0.01f;           // Exclude: 0 < alpha < 1; Include: alpha > 0
    SteerMode mode = SteerMode::Exclude;

    // Throws ggml::Error naming the offending span / alpha / layer / head.
    void validate(const HParams& hp, int32_t n_prompt) const;
    // Bias over n_ctx cache positions (prompt keys only; positions >= n_prompt get 0) and the
    // per-layer head sets. Validates first.
    Steering to_steering(const HParams& hp, int32_t n_prompt, int32_t n_ctx) const;
};

// Head configuration as stored in the JSON file read by the runner and written by profiling.
struct HeadConfig {
    float alpha = 0.01f;
    bool all_heads = false;                          // "heads": "all"
    std::vector<std::pair<int32_t, int32_t>> heads;  // (layer, query head) pairs
};
// {"alpha":0.01,"heads":[[0,1],[2,3]]}  (or "heads":"all"; unknown keys are an error).
std::string head_config_to_json(const HeadConfig& c);
HeadConfig parse_head_config(const std::string& json, const std::string& where = "head config");
HeadConfig read_head_config(const std::string& path);
void write_head_config(const std::string& path, const HeadConfig& c);
// Per-layer head sets; throws when a pair names a layer or head the model does not have.
std::vector<HeadSet> head_sets(const HeadConfig& c, const HParams& hp);

// Runner argument forms.
TokenSpan parse_span(const std::string& s);  // "A:B"
// "all", "L:H,L:H,..." or "@file.json". When the file gives an alpha, *file_alpha gets it.
HeadConfig parse_heads_arg(const std::string& s, float* file_alpha = nullptr);
SteerMode parse_steer_mode(const std::string& s);  // "exclude" | "include"

// The token span of `ids` whose decoded text covers the first occurrence of `substring`: the
// pieces are decoded one by one (piece(prev, id)) and their byte ranges intersected with the
// match. Throws when the substring is empty or not in the decoded prompt.
TokenSpan find_text_span(const Tokenizer& tok, const std::vector<int32_t>& ids,
                         const std::string& substring);
// The token span covering bytes [begin, end) of the decoded prompt text (the concatenated
// pieces, which is the prompt text itself for text the tokenizer round-trips).
TokenSpan text_range_span(const Tokenizer& tok, const std::vector<int32_t>& ids, size_t begin,
                          size_t end);

// Float64 forward pass on the host (weights read through tensor_get; f32/f16/bf16), written
// independently of the graph code: the reference for tests and the source of heatmaps.
// Returns logits [n, vocab] row-major. With steering (bias over >= n positions) the bias is
// added to the scores of the steered heads. When probs is given, it receives the attention
// probabilities [n, n] (query rows, key columns) of (layer, head).
std::vector<double> reference_forward(const Model& m, const std::vector<int32_t>& tokens,
                                      const Steering* steering = nullptr, int32_t layer = -1,
                                      int32_t head = -1, std::vector<double>* probs = nullptr);

// One profiling example: a prompt, its emphasised spans and the expected next token.
struct SteerTask {
    std::vector<int32_t> ids;
    std::vector<TokenSpan> spans;
    int32_t answer = 0;
};
struct TaskScore {
    double accuracy = 0;   // fraction whose greedy next token is the answer
    double mean_logp = 0;  // mean log-probability of the answer
};
// Scores `tasks` on `session` with `spec`'s heads/alpha/mode (its spans are replaced by each
// task's); spec == nullptr scores without steering. Prompts are right-padded to one length so
// every example shares one plan (causal attention: padding never changes earlier rows).
TaskScore score_tasks(Session& session, const Model& m, const std::vector<SteerTask>& tasks,
                      const SteeringSpec* spec);
// PASTA's model profiling: steers each (layer, head) alone and scores the tasks. Returns the
// scores in layer-major order, [n_layers * n_heads].
std::vector<TaskScore> profile_heads(Session& session, const Model& m,
                                     const std::vector<SteerTask>& tasks, float alpha,
                                     SteerMode mode);
// The k best (layer, head) pairs by accuracy, then mean log-probability.
std::vector<std::pair<int32_t, int32_t>> top_heads(const std::vector<TaskScore>& scores,
                                                   int32_t n_heads, int32_t k);

// 8-bit RGB PNG with its own deflate: stored blocks, or (compress) one fixed-Huffman block with
// run matches, small for flat-colour pictures; CRC-32 and Adler-32 computed here.
// rgb: [height][width][3]. Throws on a size mismatch or a write failure.
std::vector<uint8_t> encode_png(int32_t width, int32_t height, const std::vector<uint8_t>& rgb,
                                bool compress = true);
void write_png(const std::string& path, int32_t width, int32_t height,
               const std::vector<uint8_t>& rgb);
uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0);
// Two n x n attention matrices (row-major [n][n]) side by side: `cell` pixels per entry, a gap
// between them, colour = probability^0.5 on a white-to-dark-blue scale.
std::vector<uint8_t> render_attention_pair(const std::vector<double>& a,
                                           const std::vector<double>& b, int32_t n, int32_t cell,
                                           int32_t* width, int32_t* height);

}  // namespace llama
}  // namespace ggml
