// SentencePiece-style BPE (Kudo & Richardson 2018, "SentencePiece"; BPE of Sennrich et al.
// 2016) with byte fallback, as llama.cpp runs it for tokenizer.ggml.model = "llama": merges
// are chosen by token score (not by a merge list), and characters outside the vocabulary are
// spelled as <0xXX> byte tokens.
#include "ggml/tokenizer.h"

#include <algorithm>
#include <optional>
#include <queue>

#include "ggml/gguf.h"
#include "ggml/types.h"

namespace ggml {

namespace {

const char* const kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space

[[noreturn]] void fail(const std::string& msg) {
    throw Error("tokenizer: " + msg);
}

// Bytes in the UTF-8 sequence led by `c`; 1 for stray continuation or invalid lead bytes so
// that malformed input still splits into symbols (and reaches byte fallback).
size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

// "<0x41>" -> 0x41, else -1.
int parse_byte_token(const std::string& s) {
    if (s.size() != 6 || s.compare(0, 3, "<0x") != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; ++i) {
        const char c = s[(size_t)i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
    return s;
}

std::optional<int32_t> find_id(const GgufFile& f, const char* key, size_t vocab) {
    const std::optional<int64_t> v = f.find_integer(key);
    if (!v) return std::nullopt;
    if (*v < 0 || (size_t)*v >= vocab)
        fail(std::string(key) + " = " + std::to_string(*v) + " is outside the vocabulary of " +
             std::to_string(vocab) + " tokens");
    return (int32_t)*v;
}

}  // namespace

TokenizerData TokenizerData::from_gguf(const GgufFile& f) {
    TokenizerData d;
    const std::optional<std::string> model = f.find_str("tokenizer.ggml.model");
    if (!model) return d;
    d.model = *model;
    d.tokens = f.get_arr_str("tokenizer.ggml.tokens");
    const size_t n = d.tokens.size();
    if (f.has("tokenizer.ggml.scores")) {
        d.scores = f.get_arr_as<float>("tokenizer.ggml.scores");
        if (d.scores.size() != n)
            fail("tokenizer.ggml.scores has " + std::to_string(d.scores.size()) + " entries for " +
                 std::to_string(n) + " tokens");
    }
    if (f.has("tokenizer.ggml.token_type")) {
        const GgufValue& tv = f.get_arr("tokenizer.ggml.token_type");
        if (tv.array_type() == GgufType::UINT32) {
            for (uint32_t t : tv.array_as<uint32_t>()) d.types.push_back((int32_t)t);
        } else {
            d.types = f.get_arr_as<int32_t>("tokenizer.ggml.token_type");
        }
        if (d.types.size() != n)
            fail("tokenizer.ggml.token_type has " + std::to_string(d.types.size()) +
                 " entries for " + std::to_string(n) + " tokens");
    }
    d.bos = find_id(f, "tokenizer.ggml.bos_token_id", n).value_or(-1);
    d.eos = find_id(f, "tokenizer.ggml.eos_token_id", n).value_or(-1);
    d.unk = find_id(f, "tokenizer.ggml.unknown_token_id", n).value_or(-1);
    d.add_space_prefix = f.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    return d;
}

Tokenizer::Tokenizer(TokenizerData data) : data_(std::move(data)) {
    if (data_.model != "llama")
        fail("unsupported tokenizer model '" + data_.model +
             "' (only SentencePiece BPE, tokenizer.ggml.model = \"llama\")");
    const size_t n = data_.tokens.size();
    if (n == 0) fail("the vocabulary is empty");
    if (data_.scores.empty()) data_.scores.assign(n, 0.0f);
    if (data_.types.empty()) {
        // Without a type table, "<0xXX>" spellings are the byte tokens and the rest are normal.
        data_.types.assign(n, (int32_t)TokenType::Normal);
        for (size_t i = 0; i < n; ++i)
            if (parse_byte_token(data_.tokens[i]) >= 0) data_.types[i] = (int32_t)TokenType::Byte;
    }
    if (data_.scores.size() != n || data_.types.size() != n)
        fail(std::to_string(n) + " tokens but " + std::to_string(data_.scores.size()) +
             " scores and " + std::to_string(data_.types.size()) + " types");
    for (int32_t id : {data_.bos, data_.eos, data_.unk})
        if (id < -1 || id >= (int32_t)n)
            fail("special token id " + std::to_string(id) + " outside the vocabulary of " +
                 std::to_string(n));

    for (int i = 0; i < 256; ++i) byte_ids_[i] = -1;
    index_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const TokenType t = (TokenType)data_.types[i];
        if (t == TokenType::Byte) {
            const int b = parse_byte_token(data_.tokens[i]);
            if (b < 0) fail("byte token " + std::to_string(i) + " is '" + data_.tokens[i] + "'");
            if (byte_ids_[b] < 0) byte_ids_[b] = (int32_t)i;
        } else if (t == TokenType::Normal || t == TokenType::UserDefined ||
                   t == TokenType::Undefined) {
            // Control, unknown and unused tokens are never produced from text.
            index_.emplace(data_.tokens[i], (int32_t)i);  // first of duplicates wins
        }
    }
}

int32_t Tokenizer::lookup(const std::string& s) const {
    auto it = index_.find(s);
    return it == index_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
    std::vector<int32_t> out;
    if (add_bos) {
        if (data_.bos < 0) fail("BOS requested but the vocabulary has no BOS token");
        out.push_back(data_.bos);
    }
    if (text.empty()) return out;

    const std::string s =
        replace_all((data_.add_space_prefix ? " " : "") + text, " ", std::string(kSpace));

    // Symbols form a linked list over s; a merge grows the left symbol and empties the right.
    struct Sym {
        size_t start, len;
        int prev, next;
    };
    std::vector<Sym> sym;
    for (size_t i = 0; i < s.size();) {
        const size_t len = std::min(utf8_len((unsigned char)s[i]), s.size() - i);
        const int idx = (int)sym.size();
        sym.push_back({i, len, idx - 1, idx + 1});
        i += len;
    }
    sym.back().next = -1;

    struct Bigram {
        int left, right;
        float score;
        size_t len;
    };
    // Highest score first; on ties the leftmost pair.
    auto worse = [](const Bigram& a, const Bigram& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
    auto try_pair = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const size_t len = sym[(size_t)l].len + sym[(size_t)r].len;
        const int32_t id = lookup(s.substr(sym[(size_t)l].start, len));
        if (id >= 0) queue.push({l, r, data_.scores[(size_t)id], len});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_pair((int)i - 1, (int)i);

    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Sym& l = sym[(size_t)b.left];
        Sym& r = sym[(size_t)b.right];
        // Stale entry: one side was merged into something else since it was queued.
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) sym[(size_t)r.next].prev = b.left;
        try_pair(l.prev, b.left);
        try_pair(b.left, l.next);
    }

    for (int i = 0; i >= 0; i = sym[(size_t)i].next) {
        const Sym& x = sym[(size_t)i];
        const int32_t id = lookup(s.substr(x.start, x.len));
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        for (size_t k = 0; k < x.len; ++k) {
            const int32_t bid = byte_ids_[(unsigned char)s[x.start + k]];
            if (bid >= 0) {
                out.push_back(bid);
            } else if (data_.unk >= 0) {
                out.push_back(data_.unk);
                break;  // one unk per unknown character
            } else {
                fail("character at byte " + std::to_string(x.start) +
                     " has no token, no byte token and the vocabulary has no unk");
            }
        }
    }
    return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
    // Each stretch since the start or a BOS is assembled as raw bytes first, so that a space
    // spelled by byte tokens is still mapped back and the prefix space is dropped once.
    std::string out, seg;
    auto flush = [&]() {
        std::string t = replace_all(seg, std::string(kSpace), " ");
        if (data_.add_space_prefix && !t.empty() && t[0] == ' ') t.erase(0, 1);
        out += t;
        seg.clear();
    };
    for (int32_t id : ids) {
        if (id < 0 || id >= vocab_size())
            fail("token id " + std::to_string(id) + " outside the vocabulary of " +
                 std::to_string(vocab_size()));
        if (id == data_.bos) {
            flush();
            continue;
        }
        switch ((TokenType)data_.types[(size_t)id]) {
            case TokenType::Control:
            case TokenType::Unused:
                break;
            case TokenType::Unknown:
                seg += " \xE2\x81\x87 ";  // " ⁇ ", as SentencePiece shows unknown pieces
                break;
            case TokenType::Byte:
                seg += (char)parse_byte_token(data_.tokens[(size_t)id]);
                break;
            default:
                seg += data_.tokens[(size_t)id];
        }
    }
    flush();
    return out;
}

std::string Tokenizer::piece(int32_t prev, int32_t id) const {
    if (id < 0 || id >= vocab_size())
        fail("token id " + std::to_string(id) + " outside the vocabulary of " +
             std::to_string(vocab_size()));
    const TokenType t = (TokenType)data_.types[(size_t)id];
    if (id == data_.bos || t == TokenType::Control || t == TokenType::Unused) return "";
    if (t == TokenType::Unknown) return " \xE2\x81\x87 ";
    if (t == TokenType::Byte) return std::string(1, (char)parse_byte_token(token_text(id)));
    std::string s = replace_all(data_.tokens[(size_t)id], std::string(kSpace), " ");
    if (data_.add_space_prefix && (prev < 0 || prev == data_.bos) && !s.empty() && s[0] == ' ')
        s.erase(0, 1);
    return s;
}

}  // namespace ggml
