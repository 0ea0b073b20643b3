// Attention steering (PASTA): spec validation, bias vectors, head-config JSON, text spans, the
// steered session against a float64 host forward pass, and the PNG writer.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ggml/ggml.h"
#include "ggml/llama.h"
#include "ggml/steering.h"
#include "ggml/tokenizer.h"

using namespace ggml::llama;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

HParams small_hp() {
    HParams hp;
    hp.n_layers = 3;
    hp.n_heads = 4;
    return hp;
}

std::unique_ptr<ggml::Backend> cpu_backend() {
    ggml::BackendOptions o;
    o.n_threads = 2;
    return ggml::make_backend("cpu", o);
}

const std::string kModels = GGML_SOURCE_DIR "/models/";

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs((double)a[i] - b[i]));
    return m;
}

uint32_t be32(const std::vector<uint8_t>& d, size_t at) {
    return (uint32_t)d[at] << 24 | (uint32_t)d[at + 1] << 16 | (uint32_t)d[at + 2] << 8 | d[at + 3];
}

// A small independent inflate (RFC 1951) for stored and fixed-Huffman blocks.
struct BitReader {
    const std::vector<uint8_t>& d;
    size_t pos;  // bit position
    uint32_t bit() {
        if (pos / 8 >= d.size()) FAIL("deflate data ends early");
        const uint32_t b = (d[pos / 8] >> (pos % 8)) & 1u;
        ++pos;
        return b;
    }
    uint32_t bits(int n) {
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) v |= bit() << i;
        return v;
    }
};

int fixed_litlen(BitReader& r) {
    uint32_t code = 0;
    for (int len = 1; len <= 9; ++len) {
        code = code << 1 | r.bit();
        if (len == 7 && code <= 23) return 256 + (int)code;
        if (len == 8 && code >= 0x30 && code <= 0xBF) return (int)code - 0x30;
        if (len == 8 && code >= 0xC0 && code <= 0xC7) return 280 + (int)code - 0xC0;
        if (len == 9 && code >= 0x190) return 144 + (int)code - 0x190;
    }
    FAIL("bad fixed Huffman code");
    return -1;
}

// Returns the inflated bytes and sets *end to the byte after the deflate data.
std::vector<uint8_t> inflate(const std::vector<uint8_t>& d, size_t start, size_t* end) {
    static const int lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                  31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const int lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const int dbase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                  33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    std::vector<uint8_t> out;
    BitReader r{d, start * 8};
    bool last = false;
    while (!last) {
        last = r.bits(1);
        const uint32_t type = r.bits(2);
        if (type == 0) {
            r.pos = (r.pos + 7) / 8 * 8;
            const uint32_t len = r.bits(16), nlen = r.bits(16);
            REQUIRE((uint16_t)~len == nlen);
            for (uint32_t i = 0; i < len; ++i) out.push_back((uint8_t)r.bits(8));
        } else {
            REQUIRE(type == 1);
            while (true) {
                const int sym = fixed_litlen(r);
                if (sym < 256) {
                    out.push_back((uint8_t)sym);
                    continue;
                }
                if (sym == 256) break;
                REQUIRE(sym - 257 < 29);
                const int len = lbase[sym - 257] + (int)r.bits(lext[sym - 257]);
                uint32_t dc = 0;
                for (int i = 0; i < 5; ++i) dc = dc << 1 | r.bit();
                REQUIRE(dc < 30);
                const int ext = dc < 4 ? 0 : (int)dc / 2 - 1;
                const size_t dist = (size_t)dbase[dc] + r.bits(ext);
                REQUIRE(dist <= out.size());
                for (int i = 0; i < len; ++i) out.push_back(out[out.size() - dist]);
            }
        }
    }
    *end = (r.pos + 7) / 8;
    return out;
}

}  // namespace

TEST_CASE("steering spec rejects bad input with clear errors", "[steering]") {
    const HParams hp = small_hp();
    SteeringSpec s;
    s.spans = {{1, 3}};
    REQUIRE_NOTHROW(s.validate(hp, 6));

    SteeringSpec e = s;
    e.spans.clear();
    CHECK_THROWS_WITH(e.validate(hp, 6), Contains("no emphasised span"));
    e.spans = {{3, 3}};
    CHECK_THROWS_WITH(e.validate(hp, 6), Contains("span [3, 3) is empty"));
    e.spans = {{4, 7}};
    CHECK_THROWS_WITH(e.validate(hp, 6), Contains("span [4, 7) is outside the prompt of 6"));
    e.spans = {{-1, 2}};
    CHECK_THROWS_WITH(e.validate(hp, 6), Contains("outside the prompt"));

    for (float bad : {0.0f, -0.5f, 1.0f, 2.0f, NAN, INFINITY}) {
        SteeringSpec a = s;
        a.alpha = bad;
        CHECK_THROWS_WITH(a.validate(hp, 6), Contains("alpha"));
    }
    SteeringSpec inc = s;
    inc.mode = SteerMode::Include;
    inc.alpha = 1.0f;  // include mode: any alpha > 0 (1 = no change)
    CHECK_NOTHROW(inc.validate(hp, 6));
    inc.alpha = 0.0f;
    CHECK_THROWS_WITH(inc.validate(hp, 6), Contains("alpha"));

    SteeringSpec h = s;
    h.all_heads = false;
    h.heads.assign(3, ggml::HeadSet());
    CHECK_THROWS_WITH(h.validate(hp, 6), Contains("no head selected"));
    h.heads[2].set(4);
    CHECK_THROWS_WITH(h.validate(hp, 6), Contains("layer 2 head 4 does not exist"));
    h.heads.assign(2, ggml::HeadSet());
    CHECK_THROWS_WITH(h.validate(hp, 6), Contains("2 layers, the model has 3"));

    HeadConfig hc;
    hc.heads = {{0, 1}, {3, 0}};
    CHECK_THROWS_WITH(head_sets(hc, hp), Contains("layer 3, the model has 3 layers"));
    hc.heads = {{1, 4}};
    CHECK_THROWS_WITH(head_sets(hc, hp), Contains("head 4 of layer 1"));
    hc.heads = {{1, 3}, {0, 0}};
    const auto sets = head_sets(hc, hp);
    REQUIRE(sets.size() == 3);
    CHECK(sets[0].count() == 1);
    CHECK(sets[0][0]);
    CHECK(sets[1][3]);
    CHECK(sets[2].none());

    CHECK_THROWS_WITH(parse_span("5"), Contains("A:B"));
    CHECK_THROWS_WITH(parse_span("5:5"), Contains("empty"));
    CHECK_THROWS_WITH(parse_span("x:5"), Contains("span start"));
    CHECK(parse_span("2:9").begin == 2);
    CHECK(parse_span("2:9").end == 9);
    CHECK_THROWS_WITH(parse_steer_mode("both"), Contains("exclude or include"));
    CHECK_THROWS_WITH(parse_heads_arg("1-2"), Contains("LAYER:HEAD"));
    CHECK(parse_heads_arg("all").all_heads);
    const HeadConfig lst = parse_heads_arg("0:1,2:3");
    REQUIRE(lst.heads.size() == 2);
    CHECK(lst.heads[1] == std::make_pair(2, 3));
}

TEST_CASE("steering bias vectors: exclude and include", "[steering]") {
    const HParams hp = small_hp();
    SteeringSpec s;
    s.spans = {{1, 3}, {4, 5}};
    s.alpha = 0.01f;
    const float d = std::log(0.01f), u = -std::log(0.01f);
    // Prompt of 6 tokens in a cache of 10: positions 6..9 (generated tokens) always get 0.
    Steering ex = s.to_steering(hp, 6, 10);
    CHECK(ex.bias == std::vector<float>{d, 0, 0, d, 0, d, 0, 0, 0, 0});
    REQUIRE(ex.heads.size() == 3);
    for (const auto& hs : ex.heads) CHECK(hs.to_ulong() == 0xFu);  // all 4 query heads

    s.mode = SteerMode::Include;
    Steering in = s.to_steering(hp, 6, 10);
    CHECK(in.bias == std::vector<float>{0, u, u, 0, u, 0, 0, 0, 0, 0});

    s.all_heads = false;
    s.heads.assign(3, ggml::HeadSet());
    s.heads[1].set(2);
    Steering some = s.to_steering(hp, 6, 10);
    CHECK(some.heads[0].none());
    CHECK(some.heads[1].to_ulong() == 4u);
    CHECK_THROWS_WITH(s.to_steering(hp, 6, 5), Contains("shorter than the prompt"));
}

TEST_CASE("head config JSON round trip and errors", "[steering]") {
    HeadConfig c;
    c.alpha = 0.05f;
    c.heads = {{0, 3}, {2, 1}};
    const std::string j = head_config_to_json(c);
    CHECK(j == "{\"alpha\":0.05,\"heads\":[[0,3],[2,1]]}\n");
    const HeadConfig r = parse_head_config(j);
    CHECK(r.alpha == 0.05f);
    CHECK(r.heads == c.heads);
    CHECK_FALSE(r.all_heads);

    const HeadConfig w = parse_head_config(" { \"heads\" : [ [1 , 2] ] , \"alpha\" : 1e-3 } ");
    CHECK(w.alpha == Approx(1e-3f));
    CHECK(w.heads == std::vector<std::pair<int32_t, int32_t>>{{1, 2}});
    CHECK(parse_head_config("{\"heads\":\"all\"}").all_heads);

    CHECK_THROWS_WITH(parse_head_config("{\"alpha\":0.1}"), Contains("no \"heads\""));
    CHECK_THROWS_WITH(parse_head_config("{\"heads\":[[1]]}"), Contains("[layer, head]"));
    CHECK_THROWS_WITH(parse_head_config("{\"heads\":[[1,0.5]]}"), Contains("integer"));
    CHECK_THROWS_WITH(parse_head_config("{\"head\":[]}"), Contains("unknown key"));
    CHECK_THROWS_WITH(parse_head_config("{\"heads\":[[1,2]"), Contains("invalid JSON"));
    CHECK_THROWS_WITH(parse_head_config("[]"), Contains("JSON object"));

    const std::string path = (fs::temp_directory_path() / "ggml_test_steer_heads.json").string();
    write_head_config(path, c);
    float alpha = 0;
    const HeadConfig f = parse_heads_arg("@" + path, &alpha);
    CHECK(alpha == 0.05f);
    CHECK(f.heads == c.heads);
    fs::remove(path);
    CHECK_THROWS_WITH(read_head_config(path), Contains("cannot open"));
}

namespace {
// Checks signature, chunk CRCs, IHDR and the pixels; returns the filtered scanlines.
std::vector<uint8_t> decode_png_checked(const std::vector<uint8_t>& png, int32_t W, int32_t H,
                                        const std::vector<uint8_t>& rgb) {
    const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    REQUIRE(png.size() > 8 + 25 + 12 + 12);
    CHECK(std::equal(sig, sig + 8, png.begin()));

    // Walk the chunks, checking every CRC; collect IHDR and IDAT.
    size_t at = 8;
    std::vector<std::string> types;
    std::vector<uint8_t> ihdr, idat;
    while (at + 12 <= png.size()) {
        const uint32_t len = be32(png, at);
        REQUIRE(at + 12 + len <= png.size());
        const std::string type(png.begin() + (long)at + 4, png.begin() + (long)at + 8);
        CHECK(crc32(png.data() + at + 4, 4 + len) == be32(png, at + 8 + len));
        std::vector<uint8_t> body(png.begin() + (long)at + 8, png.begin() + (long)(at + 8 + len));
        if (type == "IHDR") ihdr = body;
        if (type == "IDAT") idat.insert(idat.end(), body.begin(), body.end());
        types.push_back(type);
        at += 12 + len;
    }
    CHECK(at == png.size());
    CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
    REQUIRE(ihdr.size() == 13);
    CHECK(be32(ihdr, 0) == (uint32_t)W);
    CHECK(be32(ihdr, 4) == (uint32_t)H);
    CHECK(ihdr[8] == 8);  // bit depth
    CHECK(ihdr[9] == 2);  // RGB

    // zlib: header (CMF*256+FLG divisible by 31), deflate data, Adler-32.
    REQUIRE(idat.size() > 6);
    CHECK(((idat[0] << 8) | idat[1]) % 31 == 0);
    CHECK((idat[0] & 0x0f) == 8);  // deflate
    size_t p = 0;
    const std::vector<uint8_t> raw = inflate(idat, 2, &p);
    REQUIRE(p + 4 == idat.size());
    uint32_t a = 1, b = 0;
    for (uint8_t c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
    CHECK(be32(idat, p) == (b << 16 | a));
    REQUIRE(raw.size() == (size_t)H * (W * 3 + 1));
    for (int32_t y = 0; y < H; ++y) {
        CHECK(raw[(size_t)y * (W * 3 + 1)] == 0);  // filter None
        CHECK(std::equal(rgb.begin() + y * W * 3, rgb.begin() + (y + 1) * W * 3,
                         raw.begin() + (long)y * (W * 3 + 1) + 1));
    }
    return raw;
}

}  // namespace

TEST_CASE("PNG writer output decodes", "[steering]") {
    // The CRC-32 check value of the standard ("123456789" -> 0xCBF43926).
    const std::string chk = "123456789";
    CHECK(crc32((const uint8_t*)chk.data(), chk.size()) == 0xCBF43926u);

    const int32_t W = 5, H = 3;
    std::vector<uint8_t> rgb((size_t)W * H * 3);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = (uint8_t)(i * 37 + 11);
    for (bool compress : {false, true})
        decode_png_checked(encode_png(W, H, rgb, compress), W, H, rgb);
    // Flat regions (what heatmaps are) compress, and still decode exactly; a picture bigger than
    // one stored block (65535 bytes) splits into several.
    std::vector<uint8_t> big((size_t)200 * 150 * 3);
    for (size_t i = 0; i < big.size(); ++i) big[i] = (uint8_t)((i / 3 / 40) % 5 * 50 + i % 3);
    const auto z = encode_png(200, 150, big, true);
    CHECK(z.size() < big.size() / 10);
    decode_png_checked(z, 200, 150, big);
    decode_png_checked(encode_png(200, 150, big, false), 200, 150, big);
    CHECK_THROWS_WITH(encode_png(4, 4, rgb), Contains("bytes of pixels"));
}

TEST_CASE("text spans map to the tokens covering the substring", "[steering]") {
    const std::string path = kModels + "shakespeare.gguf";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    auto m = Model::load(path);
    ggml::Tokenizer tok(m->vocab);
    const std::string text = "ROMEO: But soft, what light through yonder window breaks?";
    const auto ids = tok.encode(text, true);
    for (const std::string sub : {"soft", "yonder window", "ROMEO", "breaks?", "t thr"}) {
        const TokenSpan s = find_text_span(tok, ids, sub);
        REQUIRE(s.begin < s.end);
        const std::vector<int32_t> in(ids.begin() + s.begin, ids.begin() + s.end);
        // Covers the substring, and is minimal: dropping either end token loses it.
        CHECK(tok.decode(in).find(sub) != std::string::npos);
        if (s.end - s.begin > 1) {
            CHECK(tok.decode({in.begin() + 1, in.end()}).find(sub) == std::string::npos);
            CHECK(tok.decode({in.begin(), in.end() - 1}).find(sub) == std::string::npos);
        }
    }
    CHECK_THROWS_WITH(find_text_span(tok, ids, "JULIET"), Contains("does not occur"));
    CHECK_THROWS_WITH(find_text_span(tok, ids, ""), Contains("empty"));
}

TEST_CASE("steered session logits equal the float64 reference", "[steering]") {
    const std::string path = kModels + "shakespeare.gguf";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    auto m = Model::load(path);
    const HParams& hp = m->hp;
    auto be = cpu_backend();
    m->upload(*be);
    ggml::Tokenizer tok(m->vocab);
    const auto ids = tok.encode("KING RICHARD: Now is the winter of our discontent", true);
    const int32_t n = (int32_t)ids.size();
    const size_t V = (size_t)hp.vocab;

    // The reference forward itself against PyTorch's logits (models/*.ref.bin), so that it is
    // an independent check of the graph.
    {
        std::ifstream js(kModels + "shakespeare.ref.json");
        std::ifstream bin(kModels + "shakespeare.ref.bin", std::ios::binary);
        if (js && bin) {
            // The prompt ids are the first "prompt_ids" array of the JSON.
            std::string s((std::istreambuf_iterator<char>(js)), {});
            const size_t a = s.find('[', s.find("\"prompt_ids\"")), b = s.find(']', a);
            std::vector<int32_t> ref_ids;
            for (size_t i = a + 1; i < b;) {
                size_t e = 0;
                ref_ids.push_back(std::stoi(s.substr(i), &e));
                i += e;
                while (i < b && (s[i] == ',' || std::isspace((unsigned char)s[i]))) ++i;
            }
            std::vector<float> torch(ref_ids.size() * V);
            bin.read(reinterpret_cast<char*>(torch.data()), (std::streamsize)(torch.size() * 4));
            REQUIRE(bin);
            const auto r = reference_forward(*m, ref_ids);
            // PyTorch f32 vs float64: the JSON reports ~1e-5 between torch and a float64 numpy
            // pass; allow 1e-3 on logits of magnitude ~20.
            CHECK(max_abs_diff(torch, r) < 1e-3);
        } else {
            WARN("shakespeare.ref.* absent: reference forward not checked against PyTorch");
        }
    }

    SteeringSpec spec;
    spec.spans = {{2, 5}, {n - 3, n - 1}};
    spec.all_heads = false;
    spec.heads.assign((size_t)hp.n_layers, ggml::HeadSet());
    spec.heads[0].set(0);
    spec.heads[0].set((size_t)hp.n_heads - 1);
    spec.heads[(size_t)hp.n_layers - 1].set(1);
    spec.alpha = 0.01f;
    const Steering st = spec.to_steering(hp, n, 64);

    Session s(*m, {be.get()}, SessionOptions{64, ggml::DType::F32});
    const std::vector<float> plain = s.eval(ids, true);
    s.reset();
    s.set_steering(st);
    const std::vector<float> steered = s.eval(ids, true);

    const auto ref_plain = reference_forward(*m, ids);
    const auto ref_steered = reference_forward(*m, ids, &st);
    // f32 session vs float64 host: dot products of length <= hidden with O(1) terms leave
    // ~1e-5 relative error per layer; 2e-3 absolute on logits of magnitude ~20 is ample while
    // far below the steering effect checked next.
    const double tol = 2e-3;
    CHECK(max_abs_diff(plain, ref_plain) < tol);
    CHECK(max_abs_diff(steered, ref_steered) < tol);
    // Steering must change the logits well beyond the tolerance (else the test proves nothing).
    double effect = 0;
    for (size_t i = 0; i < plain.size(); ++i)
        effect = std::max(effect, std::fabs((double)plain[i] - steered[i]));
    CHECK(effect > 50 * tol);

    // PASTA's definition at layer 0, where both passes see the same inputs: steered row =
    // unsteered row times w_j (alpha outside the spans), renormalised.
    std::vector<double> p0, p1;
    reference_forward(*m, ids, nullptr, 0, 0, &p0);
    reference_forward(*m, ids, &st, 0, 0, &p1);
    for (int32_t i = 0; i < n; ++i) {
        double z = 0;
        for (int32_t j = 0; j <= i; ++j)
            z += p0[(size_t)(i * n + j)] * (st.bias[(size_t)j] < 0 ? 0.01 : 1.0);
        for (int32_t j = 0; j <= i; ++j) {
            const double w = st.bias[(size_t)j] < 0 ? 0.01 : 1.0;
            CHECK(p1[(size_t)(i * n + j)] == Approx(p0[(size_t)(i * n + j)] * w / z).margin(1e-9));
        }
    }

    // Include mode adds log(1/alpha) inside the spans instead of log(alpha) outside: over the
    // prompt that is a row-constant shift, so the prefill logits are the same.
    {
        SteeringSpec inc = spec;
        inc.mode = SteerMode::Include;
        s.reset();
        s.set_steering(inc.to_steering(hp, n, 64));
        const std::vector<float> li = s.eval(ids, true);
        double d = 0;
        for (size_t i = 0; i < li.size(); ++i)
            d = std::max(d, std::fabs((double)li[i] - steered[i]));
        CHECK(d < 1e-3);
    }

    // alpha -> 1: exclude with alpha = 1 - 1e-6 (bias ~ -1e-6) and include with alpha = 1
    // (bias exactly 0) equal the unsteered run.
    for (SteerMode mode : {SteerMode::Exclude, SteerMode::Include}) {
        SteeringSpec one = spec;
        one.mode = mode;
        one.alpha = mode == SteerMode::Exclude ? 0.999999f : 1.0f;
        s.reset();
        s.set_steering(one.to_steering(hp, n, 64));
        const std::vector<float> near = s.eval(ids, true);
        double d = 0;
        for (size_t i = 0; i < plain.size(); ++i)
            d = std::max(d, std::fabs((double)plain[i] - near[i]));
        CHECK(d < 1e-4);
    }

    // Decode steps keep steering the prompt keys: one more token, compared with the reference
    // over the whole sequence.
    s.reset();
    s.set_steering(st);
    s.eval(ids);
    const int32_t next = 300;
    const std::vector<float> dec = s.eval({next});
    std::vector<int32_t> all = ids;
    all.push_back(next);
    const auto ref_all = reference_forward(*m, all, &st);
    const std::vector<double> last(ref_all.end() - (long)V, ref_all.end());
    CHECK(max_abs_diff(dec, last) < tol);
}

TEST_CASE("steering all heads moves the recall model's answer to the emphasised binding",
          "[steering]") {
    const std::string path = kModels + "recall.gguf";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    auto m = Model::load(path);
    auto be = cpu_backend();
    m->upload(*be);
    ggml::Tokenizer tok(m->vocab);
    Session s(*m, {be.get()});
    // The queried key is bound twice; the model answers the last binding. Emphasising the
    // first binding ("k=v", 3 tokens) should answer its value instead.
    const char* prompts[][3] = {
        {"a=3 k=Q c=1 a=7 x=5 ? a=", "a=3", "3"}, {"b=K b=2 ? b=", "b=K", "K"},
        {"q=Z m=4 q=8 ? q=", "q=Z", "Z"},         {"d=1 e=2 f=3 d=9 ? d=", "d=1", "1"},
        {"x=P y=Q x=R z=S ? x=", "x=P", "P"},     {"h=5 g=G h=H ? h=", "h=5", "5"},
        {"c=C u=7 w=W c=0 ? c=", "c=C", "C"},     {"r=4 s=T r=M t=2 ? r=", "r=4", "4"},
        {"k=A j=B l=C k=D m=E ? k=", "k=A", "A"}, {"p=9 p=6 ? p=", "p=9", "9"},
        {"v=J n=3 o=Y v=L ? v=", "v=J", "J"},     {"i=2 z=X i=E y=1 ? i=", "i=2", "2"},
    };
    int unsteered = 0, steered = 0;
    for (const auto& p : prompts) {
        const auto ids = tok.encode(p[0], true);
        const auto want = tok.encode(p[2], false);
        REQUIRE(!want.empty());
        const int32_t target = want.back();  // "3" -> ["▁", "3"]: the value token
        s.reset();
        s.set_steering({});
        const auto& l0 = s.eval(ids);
        unsteered += argmax_index(l0.data(), m->hp.vocab) == target;
        SteeringSpec spec;
        spec.spans = {find_text_span(tok, ids, p[1])};
        s.reset();
        s.set_steering(spec.to_steering(m->hp, (int32_t)ids.size(), s.n_ctx()));
        const auto& l1 = s.eval(ids);
        steered += argmax_index(l1.data(), m->hp.vocab) == target;
    }
    INFO("first-binding answers: " << unsteered << " unsteered, " << steered << " steered of 12");
    CHECK(unsteered <= 3);
    CHECK(steered >= 9);
}

TEST_CASE("task scoring pads prompts without changing their logits; top heads order",
          "[steering]") {
    std::vector<TaskScore> sc(6);
    sc[1] = {0.5, -1.0};
    sc[4] = {0.5, -0.5};  // same accuracy, better log-probability: first
    sc[2] = {0.25, -0.1};
    const auto top = top_heads(sc, 3, 3);  // 2 layers x 3 heads
    REQUIRE(top.size() == 3);
    CHECK(top[0] == std::make_pair(1, 1));
    CHECK(top[1] == std::make_pair(0, 1));
    CHECK(top[2] == std::make_pair(0, 2));

    const std::string path = kModels + "shakespeare.gguf";
    if (!fs::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    auto m = Model::load(path);
    auto be = cpu_backend();
    m->upload(*be);
    ggml::Tokenizer tok(m->vocab);
    Session s(*m, {be.get()}, SessionOptions{64, ggml::DType::F32});
    std::vector<SteerTask> tasks = {
        {tok.encode("ROMEO: But soft", true), {{1, 3}}, 300},
        {tok.encode("JULIET: O Romeo, Romeo! wherefore art thou", true), {{2, 5}}, 400},
    };
    SteeringSpec spec;
    spec.alpha = 0.1f;
    for (const SteeringSpec* sp : {(const SteeringSpec*)nullptr, (const SteeringSpec*)&spec}) {
        const TaskScore got = score_tasks(s, *m, tasks, sp);
        // Unpadded logits from the float64 reference.
        double logp = 0;
        for (const SteerTask& t : tasks) {
            SteeringSpec one = spec;
            one.spans = t.spans;
            const Steering st =
                one.to_steering(m->hp, (int32_t)t.ids.size(), (int32_t)t.ids.size());
            const auto r = reference_forward(*m, t.ids, sp ? &st : nullptr);
            const double* row = r.data() + (t.ids.size() - 1) * (size_t)m->hp.vocab;
            double mx = row[0], se = 0;
            for (int32_t i = 0; i < m->hp.vocab; ++i) mx = std::max(mx, row[i]);
            for (int32_t i = 0; i < m->hp.vocab; ++i) se += std::exp(row[i] - mx);
            logp += row[t.answer] - mx - std::log(se);
        }
        CHECK(got.mean_logp == Approx(logp / 2).margin(1e-3));
    }
    CHECK_THROWS_WITH(score_tasks(s, *m, {{std::vector<int32_t>(65, 1), {{0, 1}}, 3}}, nullptr),
                      Contains("more than the context"));
}
