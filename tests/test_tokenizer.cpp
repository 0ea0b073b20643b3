// SentencePiece-style BPE tokenizer: merge order checked by hand on tiny vocabularies, byte
// fallback, decode rules, encode -> decode round trips, and the bundled model's vocabulary.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "ggml/gguf.h"
#include "ggml/tokenizer.h"
#include "ggml/types.h"

using ggml::Tokenizer;
using ggml::TokenizerData;
using ggml::TokenType;

namespace {

const std::string kSp = "\xE2\x96\x81";  // "▁"

// <unk>, <s>, </s> at 0, 1, 2, the 256 byte tokens at 3..258 (SentencePiece's byte_fallback
// layout), then `pieces` with their scores from id 259 on.
TokenizerData make_vocab(const std::vector<std::pair<std::string, float>>& pieces,
                         bool add_space_prefix = true) {
    TokenizerData d;
    d.model = "llama";
    auto add = [&](const std::string& t, float s, TokenType ty) {
        d.tokens.push_back(t);
        d.scores.push_back(s);
        d.types.push_back((int32_t)ty);
    };
    add("<unk>", 0, TokenType::Unknown);
    add("<s>", 0, TokenType::Control);
    add("</s>", 0, TokenType::Control);
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        add(buf, 0, TokenType::Byte);
    }
    for (const auto& [t, s] : pieces) add(t, s, TokenType::Normal);
    d.unk = 0;
    d.bos = 1;
    d.eos = 2;
    d.add_space_prefix = add_space_prefix;
    return d;
}

constexpr int32_t kFirstPiece = 259;
int32_t byte_id(unsigned char b) {
    return 3 + b;
}

std::vector<std::string> texts(const Tokenizer& t, const std::vector<int32_t>& ids) {
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(t.token_text(id));
    return out;
}

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += (char)cp;
    } else if (cp < 0x800) {
        s += (char)(0xC0 | (cp >> 6));
        s += (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += (char)(0xE0 | (cp >> 12));
        s += (char)(0x80 | ((cp >> 6) & 0x3F));
        s += (char)(0x80 | (cp & 0x3F));
    } else {
        s += (char)(0xF0 | (cp >> 18));
        s += (char)(0x80 | ((cp >> 12) & 0x3F));
        s += (char)(0x80 | ((cp >> 6) & 0x3F));
        s += (char)(0x80 | (cp & 0x3F));
    }
    return s;
}

// A vocabulary with every printable ASCII character, "▁", é, a few merges, but no other
// non-ASCII characters (so those go through byte fallback).
TokenizerData ascii_vocab(bool add_space_prefix = true) {
    std::vector<std::pair<std::string, float>> p;
    p.push_back({kSp, -1.0f});
    for (int c = 33; c < 127; ++c) p.push_back({std::string(1, (char)c), -1.0f});
    p.push_back({"\xC3\xA9", -1.0f});  // é
    const char* merges[] = {"th",  "he",    "the", "in", "ing",   "an", "and", "er", "ll",
                            "llo", "hello", "wor", "ld", "world", "e,", "is",  "it"};
    float s = -2.0f;
    for (const char* m : merges) p.push_back({m, s -= 0.5f});
    p.push_back({kSp + "t", -1.5f});
    p.push_back({kSp + "the", -1.2f});
    p.push_back({kSp + kSp, -3.0f});
    p.push_back({kSp + "h\xC3\xA9", -2.2f});
    return make_vocab(p, add_space_prefix);
}

}  // namespace

TEST_CASE("tokenizer: merge order follows scores, ties go left", "[tokenizer]") {
    SECTION("the higher-scoring pair merges first") {
        Tokenizer t(make_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"ab", 1}, {"bc", 2}}, false));
        CHECK(texts(t, t.encode("abc", false)) == std::vector<std::string>{"a", "bc"});
    }
    SECTION("and the other way round") {
        Tokenizer t(make_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"ab", 2}, {"bc", 1}}, false));
        CHECK(texts(t, t.encode("abc", false)) == std::vector<std::string>{"ab", "c"});
    }
    SECTION("equal scores: the leftmost pair") {
        Tokenizer t(make_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"ab", 1}, {"bc", 1}}, false));
        CHECK(texts(t, t.encode("abc", false)) == std::vector<std::string>{"ab", "c"});
        Tokenizer u(make_vocab({{"a", 0}, {"aa", 1}}, false));
        // Pairs (0,1), (1,2), (2,3) tie: (0,1) merges, (1,2) is then stale, (2,3) merges.
        CHECK(texts(u, u.encode("aaaaa", false)) == std::vector<std::string>{"aa", "aa", "a"});
    }
    SECTION("merges chain into longer tokens") {
        Tokenizer t(
            make_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"ab", 1}, {"bc", 2}, {"abc", 0.5f}}, false));
        // bc first (score 2), then a+bc = abc.
        CHECK(texts(t, t.encode("abc", false)) == std::vector<std::string>{"abc"});
    }
    SECTION("a merge only happens when the concatenation is a token") {
        Tokenizer t(make_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"bc", 1}, {"abc", 5}}, false));
        // "ab" is not a token, so "abc" (reachable only through a+bc) still forms via bc.
        CHECK(texts(t, t.encode("abc", false)) == std::vector<std::string>{"abc"});
        Tokenizer u(make_vocab({{"a", 0}, {"b", 0}, {"c", 0}, {"abc", 5}}, false));
        CHECK(texts(u, u.encode("abc", false)) == std::vector<std::string>{"a", "b", "c"});
    }
    SECTION("space prefix and spaces as U+2581") {
        Tokenizer t(make_vocab({{kSp, 0}, {"a", 0}, {"b", 0}, {kSp + "a", 1}}));
        CHECK(texts(t, t.encode("a b", false)) == std::vector<std::string>{kSp + "a", kSp, "b"});
        CHECK(t.encode("a", true) == std::vector<int32_t>{1, kFirstPiece + 3});
        CHECK(t.encode("", true) == std::vector<int32_t>{1});
        CHECK(t.encode("", false).empty());
    }
    SECTION("control tokens are never produced from text") {
        Tokenizer t(make_vocab({{"<", 0}, {"s", 0}, {">", 0}, {"<s", 1}}, false));
        CHECK(texts(t, t.encode("<s>", false)) == std::vector<std::string>{"<s", ">"});
    }
}

TEST_CASE("tokenizer: byte fallback", "[tokenizer]") {
    Tokenizer t(make_vocab({{kSp, 0}, {"a", 0}}, false));
    // é = C3 A9 is not in the vocabulary: one byte token per UTF-8 byte.
    CHECK(t.encode("a\xC3\xA9", false) ==
          std::vector<int32_t>{kFirstPiece + 1, byte_id(0xC3), byte_id(0xA9)});
    CHECK(t.decode({kFirstPiece + 1, byte_id(0xC3), byte_id(0xA9)}) == "a\xC3\xA9");
    // A 4-byte character (U+1F642) becomes four byte tokens.
    CHECK(t.encode(utf8(0x1F642), false).size() == 4);

    SECTION("without byte tokens an unknown character is one <unk>") {
        TokenizerData d;
        d.model = "llama";
        d.tokens = {"<unk>", "a"};
        d.types = {(int32_t)TokenType::Unknown, (int32_t)TokenType::Normal};
        d.unk = 0;
        d.add_space_prefix = false;
        Tokenizer u(d);
        CHECK(u.encode("a\xC3\xA9"
                       "a",
                       false) == std::vector<int32_t>{1, 0, 1});
    }
}

TEST_CASE("tokenizer: decode rules", "[tokenizer]") {
    Tokenizer t(ascii_vocab());
    const std::vector<int32_t> ids = t.encode("hello world", true);
    REQUIRE(ids.front() == 1);
    CHECK(t.decode(ids) == "hello world");  // the prefix space after BOS is dropped once
    // Control tokens (BOS, EOS) decode to nothing; each BOS starts a new text.
    std::vector<int32_t> two = ids;
    two.push_back(2);
    const std::vector<int32_t> again = t.encode("hello", true);
    two.insert(two.end(), again.begin(), again.end());
    CHECK(t.decode(two) == "hello worldhello");
    // Streaming pieces concatenate to the decoded text.
    std::string streamed;
    int32_t prev = -1;
    for (int32_t id : ids) {
        streamed += t.piece(prev, id);
        prev = id;
    }
    CHECK(streamed == "hello world");
    CHECK_THROWS_AS(t.decode({100000}), ggml::Error);
    CHECK_THROWS_AS(t.piece(-1, -5), ggml::Error);
}

TEST_CASE("tokenizer: encode/decode round trip", "[tokenizer]") {
    const std::vector<std::string> fixed = {
        "hello world",
        "Hello, World!",
        "the thing and the other thing",
        "  two leading spaces",
        "trailing spaces   ",
        " ",
        "a",
        "tabs\tand\nnewlines\r\n",
        "punctuation: ;:'\"[]{}()<>?/\\|`~!@#$%^&*-_=+",
        "h\xC3\xA9llo w\xC3\xB6rld",             // é in the vocabulary, ö not
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",  // 日本語: byte fallback only
        "emoji " + utf8(0x1F642) + " and " + utf8(0x1F680),
        "<s> looks like a control token </s>",
        "<0x41> looks like a byte token",
        std::string("nul\0inside", 10),
        "\xE2 stray lead byte, \x80 stray continuation, \xF0\x9F truncated",
    };
    for (bool prefix : {true, false}) {
        Tokenizer t(ascii_vocab(prefix));
        for (const std::string& s : fixed) {
            INFO("text '" << s << "', add_space_prefix " << prefix);
            CHECK(t.decode(t.encode(s, true)) == s);
            CHECK(t.decode(t.encode(s, false)) == s);
        }
        // Random text over ASCII, é, other 2-, 3- and 4-byte characters.
        std::mt19937 rng(1234);
        const uint32_t pool[] = {' ', 'a',  'e',  'h',  'l',   'o',    't',    'w',    ',',
                                 '.', '\n', 0xE9, 0xF6, 0x3B1, 0x4E2D, 0x2581, 0x1F600};
        for (int it = 0; it < 300; ++it) {
            std::string s;
            const int len = (int)(rng() % 24);
            for (int i = 0; i < len; ++i) {
                const uint32_t r = rng() % 4;
                s += utf8(r == 0 ? 32 + rng() % 95 : pool[rng() % (sizeof pool / sizeof pool[0])]);
            }
            // U+2581 in the input reads back as a space: SentencePiece makes them one symbol.
            std::string expect = s;
            for (size_t p; (p = expect.find(kSp)) != std::string::npos;) expect.replace(p, 3, " ");
            INFO("random text '" << s << "', add_space_prefix " << prefix);
            CHECK(t.decode(t.encode(s, true)) == expect);
        }
    }
}

TEST_CASE("tokenizer: inconsistent tables are rejected", "[tokenizer]") {
    TokenizerData d = make_vocab({{"a", 0}});
    d.model = "gpt2";
    CHECK_THROWS_AS(Tokenizer(d), ggml::Error);
    d = make_vocab({{"a", 0}});
    d.scores.pop_back();
    CHECK_THROWS_AS(Tokenizer(d), ggml::Error);
    d = make_vocab({{"a", 0}});
    d.bos = 100000;
    CHECK_THROWS_AS(Tokenizer(d), ggml::Error);
    d = make_vocab({{"a", 0}});
    d.tokens[5] = "not a byte";
    CHECK_THROWS_AS(Tokenizer(d), ggml::Error);
    d = make_vocab({{"a", 0}});
    d.bos = -1;
    CHECK_THROWS_AS(Tokenizer(d).encode("a", true), ggml::Error);
}

TEST_CASE("tokenizer: tables round trip through GGUF metadata", "[tokenizer]") {
    const TokenizerData d = ascii_vocab();
    ggml::GgufWriter w;
    w.set_str("tokenizer.ggml.model", d.model);
    w.set_arr_str("tokenizer.ggml.tokens", d.tokens);
    w.set_arr("tokenizer.ggml.scores", d.scores);
    w.set_arr("tokenizer.ggml.token_type", d.types);
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    w.set_u32("tokenizer.ggml.unknown_token_id", 0);
    w.set_bool("tokenizer.ggml.add_space_prefix", false);
    const ggml::GgufFile f = ggml::GgufFile::parse(w.to_bytes());
    const TokenizerData r = TokenizerData::from_gguf(f);
    CHECK(r.tokens == d.tokens);
    CHECK(r.scores == d.scores);
    CHECK(r.types == d.types);
    CHECK(r.bos == 1);
    CHECK(r.eos == 2);
    CHECK(r.unk == 0);
    CHECK_FALSE(r.add_space_prefix);

    ggml::GgufWriter bad;
    bad.set_str("tokenizer.ggml.model", "llama");
    bad.set_arr_str("tokenizer.ggml.tokens", {"a", "b"});
    bad.set_u32("tokenizer.ggml.bos_token_id", 7);
    CHECK_THROWS_AS(TokenizerData::from_gguf(ggml::GgufFile::parse(bad.to_bytes())), ggml::Error);
}

TEST_CASE("tokenizer: bundled shakespeare model", "[tokenizer]") {
    const std::string path = GGML_SOURCE_DIR "/models/shakespeare.gguf";
    if (!std::filesystem::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    const ggml::GgufFile f = ggml::GgufFile::open(path);
    const Tokenizer t(TokenizerData::from_gguf(f));
    std::vector<std::string> lines = {
        "ROMEO:\nBut, soft! what light through yonder window breaks?",
        "First Citizen:\nBefore we proceed any further, hear me speak.",
        "caf\xC3\xA9 " + utf8(0x1F642)};
    std::ifstream in(GGML_SHARED_DIR "/data/tinyshakespeare.txt");
    std::string line;
    for (int i = 0; i < 2000 && std::getline(in, line); ++i)
        if (i % 50 == 0) lines.push_back(line);
    for (const std::string& s : lines) {
        INFO("text '" << s << "'");
        const std::vector<int32_t> ids = t.encode(s, true);
        CHECK(t.decode(ids) == s);
        for (int32_t id : ids) CHECK(t.type(id) != TokenType::Unknown);
    }
}
