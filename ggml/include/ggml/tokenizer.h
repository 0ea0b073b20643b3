// SentencePiece-style BPE tokenizer with scores and byte fallback, built from the tables that
// llama.cpp stores in GGUF metadata (tokenizer.ggml.model = "llama").
//
// Encoding (what SentencePiece's BPE model does at inference time):
//   1. prepend one space when add_space_prefix is set and the text is not empty, then write
//      every ' ' as "▁" (U+2581);
//   2. split into UTF-8 characters, one symbol each;
//   3. repeatedly merge the adjacent pair whose concatenation is a vocabulary token with the
//      highest score (ties: the leftmost pair), until no pair is a token;
//   4. a symbol that is a token becomes its id; any other symbol (a character absent from the
//      vocabulary) becomes one byte token <0xXX> per UTF-8 byte (or unk without them).
// Decoding maps "▁" back to ' ', byte tokens to their raw byte and control tokens to nothing,
// and drops the one space the prefix added (at the start of the text or right after BOS).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace ggml {

class GgufFile;

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

// The tokenizer tables as stored in GGUF metadata.
struct TokenizerData {
    std::string model;                // tokenizer.ggml.model; empty when the file has none
    std::vector<std::string> tokens;  // [vocab] token text, "▁" for spaces, "<0x41>" for bytes
    std::vector<float> scores;        // [vocab] merge priority, higher merges first
    std::vector<int32_t> types;       // [vocab] TokenType
    int32_t bos = -1, eos = -1, unk = -1;
    bool add_space_prefix = true;

    bool empty() const { return tokens.empty(); }
    // Reads the tokenizer.ggml.* keys; returns empty data when tokenizer.ggml.model is absent.
    // Throws ggml::Error naming the key when the tables are inconsistent.
    static TokenizerData from_gguf(const GgufFile& f);
};

class Tokenizer {
  public:
    // Throws ggml::Error when the model is not "llama" or the tables are inconsistent.
    explicit Tokenizer(TokenizerData data);

    std::vector<int32_t> encode(const std::string& text, bool add_bos) const;
    // The text of `ids` (see the header comment for the rules).
    std::string decode(const std::vector<int32_t>& ids) const;
    // The text of `id` when it follows `prev` (-1 at the start), for streaming output.
    std::string piece(int32_t prev, int32_t id) const;

    int32_t vocab_size() const { return (int32_t)data_.tokens.size(); }
    int32_t bos() const { return data_.bos; }
    int32_t eos() const { return data_.eos; }
    const std::string& token_text(int32_t id) const { return data_.tokens.at((size_t)id); }
    TokenType type(int32_t id) const { return (TokenType)data_.types[(size_t)id]; }

  private:
    int32_t lookup(const std::string& s) const;  // a mergeable token's id, or -1
    TokenizerData data_;
    std::unordered_map<std::string, int32_t> index_;  // text -> id (normal/user tokens)
    int32_t byte_ids_[256];                           // <0xXX> ids, -1 when absent
};

}  // namespace ggml
