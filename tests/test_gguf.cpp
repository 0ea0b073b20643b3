// GGUF reading and writing: round trips of every metadata type and tensor type, the block
// quantizers against their stated error bounds, and malformed files built byte by byte here
// (so no test depends on a checked-in binary), each of which must give a ggml::Error naming
// the broken field, never a crash or an out-of-bounds read.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ggml/context.h"
#include "ggml/gguf.h"
#include "ggml/tensor.h"

using namespace ggml;

namespace {

// Little-endian byte builder for hand-made files.
struct Bytes {
    std::vector<uint8_t> b;
    Bytes& raw(const void* p, size_t n) {
        b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n);
        return *this;
    }
    Bytes& u8(uint8_t v) { return raw(&v, 1); }
    Bytes& u32(uint32_t v) { return raw(&v, 4); }
    Bytes& i32(int32_t v) { return raw(&v, 4); }
    Bytes& u64(uint64_t v) { return raw(&v, 8); }
    Bytes& f32(float v) { return raw(&v, 4); }
    Bytes& str(const std::string& s) { return u64(s.size()).raw(s.data(), s.size()); }
    Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        return raw("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
    }
    Bytes& pad(size_t align) {
        b.resize((b.size() + align - 1) / align * align, 0);
        return *this;
    }
    // One tensor info: name, dims, ggml type id, offset.
    Bytes& tinfo(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offs) {
        str(name).u32((uint32_t)ne.size());
        for (uint64_t n : ne) u64(n);
        return u32(type).u64(offs);
    }
    Bytes& zeros(size_t n) {
        b.resize(b.size() + n, 0);
        return *this;
    }
};

// Parses from an exactly-sized heap copy so that any read past the end is caught by ASan.
GgufFile parse_copy(const std::vector<uint8_t>& bytes, size_t len) {
    return GgufFile::parse(std::vector<uint8_t>(bytes.begin(), bytes.begin() + (long)len));
}

// The error message from parsing, or "" when parsing succeeded.
std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        parse_copy(bytes, bytes.size());
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

void expect_error(const Bytes& f, std::initializer_list<const char*> parts) {
    const std::string msg = parse_error(f.b);
    INFO("message: " << msg);
    REQUIRE(!msg.empty());
    CHECK(msg.rfind("gguf: ", 0) == 0);
    CHECK(msg.find("(at file offset ") != std::string::npos);
    for (const char* p : parts) CHECK(msg.find(p) != std::string::npos);
}

std::string temp_path(const char* tag) {
    return "/tmp/ggml_test_gguf_" + std::to_string((long)getpid()) + "_" + tag + ".gguf";
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// A writer holding every metadata type and a tensor of each supported type.
struct Sample {
    GgufWriter w;
    std::vector<uint8_t> f32, f16, bf16, q8, q4, i32;

    Sample() {
        w.set_str("general.architecture", "llama");
        w.set_u8("t.u8", 250);
        w.set_i8("t.i8", -120);
        w.set_u16("t.u16", 65000);
        w.set_i16("t.i16", -32000);
        w.set_u32("t.u32", 4000000000u);
        w.set_i32("t.i32", -2000000000);
        w.set_f32("t.f32", 3.25f);
        w.set_bool("t.bool_true", true);
        w.set_bool("t.bool_false", false);
        w.set_str("t.str", "h\xc3\xa9llo w\xe2\x82\xacrld");  // UTF-8 payload
        w.set_str("t.str_empty", "");
        w.set_u64("t.u64", 0xfedcba9876543210ull);
        w.set_i64("t.i64", INT64_MIN + 7);
        w.set_f64("t.f64", -1.0e300);
        w.set_arr<uint8_t>("a.u8", {0, 1, 255});
        w.set_arr<int8_t>("a.i8", {-128, 0, 127});
        w.set_arr<uint16_t>("a.u16", {1, 65535});
        w.set_arr<int16_t>("a.i16", {-32768, 32767});
        w.set_arr<uint32_t>("a.u32", {7, 0xffffffffu});
        w.set_arr<int32_t>("a.i32", {-5, 6, -7});
        w.set_arr<float>("a.f32", {0.5f, -0.0f, 1e-40f, INFINITY});
        w.set_arr<bool>("a.bool", {true, false, true});
        w.set_arr<uint64_t>("a.u64", {~0ull, 1});
        w.set_arr<int64_t>("a.i64", {INT64_MIN, INT64_MAX});
        w.set_arr<double>("a.f64", {3.141592653589793, -2.5e-310});
        w.set_arr_str("a.str", {"<s>", "", "\xe2\x96\x81the", "</s>"});
        w.set_arr<int32_t>("a.empty", {});
        w.set("a.empty_str", GgufValue::empty_array(GgufType::STRING));
        w.set("a.nested",
              GgufValue::array_nested(
                  {GgufValue::array<int32_t>({1, 2, 3}), GgufValue::array_str({"x", "yz"}),
                   GgufValue::array_nested({GgufValue::array<float>({9.5f}),
                                            GgufValue::empty_array(GgufType::UINT8)})}));

        f32 = as_bytes(random_floats(7 * 3, 1, -4, 4));
        std::vector<f16_t> h(5 * 2 * 3);
        for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16((float)i * 0.37f - 3);
        f16 = as_bytes(h);
        std::vector<bf16_t> bh(4);
        for (size_t i = 0; i < bh.size(); ++i) bh[i] = f32_to_bf16((float)i * 1.5f + 0.1f);
        bf16 = as_bytes(bh);
        const std::vector<float> src = random_floats(64 * 2, 2, -1, 1);
        q8.resize(4 * sizeof(BlockQ8_0));
        quantize_q8_0(src.data(), q8.data(), 128);
        const std::vector<float> src4 = random_floats(32 * 3, 3, -2, 2);
        q4.resize(3 * sizeof(BlockQ4_0));
        quantize_q4_0(src4.data(), q4.data(), 96);
        std::vector<int32_t> iv(3 * 2 * 2 * 2);
        for (size_t i = 0; i < iv.size(); ++i) iv[i] = (int32_t)(i * 1000003u) - 7;
        i32 = as_bytes(iv);

        w.add_tensor("w.f32", GgmlType::F32, {7, 3}, f32.data(), f32.size());
        w.add_tensor("w.f16", GgmlType::F16, {5, 2, 3}, f16.data(), f16.size());
        w.add_tensor("w.bf16", GgmlType::BF16, {4}, bf16.data(), bf16.size());
        w.add_tensor("blk.0.attn_q.weight", GgmlType::Q8_0, {64, 2}, q8.data(), q8.size());
        w.add_tensor("w.q4_0", GgmlType::Q4_0, {32, 3}, q4.data(), q4.size());
        w.add_tensor("w.i32", GgmlType::I32, {3, 2, 2, 2}, i32.data(), i32.size());
    }
};

void check_sample(const GgufFile& f, const Sample& s) {
    REQUIRE(f.version() == 3);
    REQUIRE(f.kvs().size() == s.w.n_kv());
    CHECK(f.get_str("general.architecture") == "llama");
    CHECK(f.get_u8("t.u8") == 250);
    CHECK(f.get_i8("t.i8") == -120);
    CHECK(f.get_u16("t.u16") == 65000);
    CHECK(f.get_i16("t.i16") == -32000);
    CHECK(f.get_u32("t.u32") == 4000000000u);
    CHECK(f.get_i32("t.i32") == -2000000000);
    CHECK(f.get_f32("t.f32") == 3.25f);
    CHECK(f.get_bool("t.bool_true"));
    CHECK(!f.get_bool("t.bool_false"));
    CHECK(f.get_str("t.str") == "h\xc3\xa9llo w\xe2\x82\xacrld");
    CHECK(f.get_str("t.str_empty").empty());
    CHECK(f.get_u64("t.u64") == 0xfedcba9876543210ull);
    CHECK(f.get_i64("t.i64") == INT64_MIN + 7);
    CHECK(f.get_f64("t.f64") == -1.0e300);
    CHECK(f.get_arr_as<uint8_t>("a.u8") == std::vector<uint8_t>{0, 1, 255});
    CHECK(f.get_arr_as<int8_t>("a.i8") == std::vector<int8_t>{-128, 0, 127});
    CHECK(f.get_arr_as<uint16_t>("a.u16") == std::vector<uint16_t>{1, 65535});
    CHECK(f.get_arr_as<int16_t>("a.i16") == std::vector<int16_t>{-32768, 32767});
    CHECK(f.get_arr_as<uint32_t>("a.u32") == std::vector<uint32_t>{7, 0xffffffffu});
    CHECK(f.get_arr_as<int32_t>("a.i32") == std::vector<int32_t>{-5, 6, -7});
    const std::vector<float> af = f.get_arr_as<float>("a.f32");
    REQUIRE(af.size() == 4);
    CHECK(af[0] == 0.5f);
    CHECK(std::signbit(af[1]));
    CHECK(af[2] == 1e-40f);  // subnormal survives bit-exact
    CHECK(std::isinf(af[3]));
    CHECK(f.get_arr_as<bool>("a.bool") == std::vector<bool>{true, false, true});
    CHECK(f.get_arr_as<uint64_t>("a.u64") == std::vector<uint64_t>{~0ull, 1});
    CHECK(f.get_arr_as<int64_t>("a.i64") == std::vector<int64_t>{INT64_MIN, INT64_MAX});
    CHECK(f.get_arr_as<double>("a.f64") == std::vector<double>{3.141592653589793, -2.5e-310});
    CHECK(f.get_arr_str("a.str") == std::vector<std::string>{"<s>", "", "\xe2\x96\x81the", "</s>"});
    CHECK(f.get_arr("a.empty").array_size() == 0);
    CHECK(f.get_arr("a.empty").array_type() == GgufType::INT32);
    CHECK(f.get_arr("a.empty_str").array_type() == GgufType::STRING);
    const GgufValue& nested = f.get_arr("a.nested");
    REQUIRE(nested.array_type() == GgufType::ARRAY);
    const std::vector<GgufValue>& items = nested.array_items();
    REQUIRE(items.size() == 3);
    CHECK(items[0].array_as<int32_t>() == std::vector<int32_t>{1, 2, 3});
    CHECK(items[1].array_strings() == std::vector<std::string>{"x", "yz"});
    REQUIRE(items[2].array_items().size() == 2);
    CHECK(items[2].array_items()[0].array_as<float>() == std::vector<float>{9.5f});
    CHECK(items[2].array_items()[1].array_type() == GgufType::UINT8);
    CHECK(items[2].array_items()[1].array_size() == 0);
    CHECK(f.kvs().front().key == "general.architecture");  // file order kept
    CHECK(f.kvs()[1].key == "t.u8");

    struct Want {
        const char* name;
        GgmlType type;
        std::vector<int64_t> ne;
        const std::vector<uint8_t>* bytes;
    };
    const Want want[] = {{"w.f32", GgmlType::F32, {7, 3}, &s.f32},
                         {"w.f16", GgmlType::F16, {5, 2, 3}, &s.f16},
                         {"w.bf16", GgmlType::BF16, {4}, &s.bf16},
                         {"blk.0.attn_q.weight", GgmlType::Q8_0, {64, 2}, &s.q8},
                         {"w.q4_0", GgmlType::Q4_0, {32, 3}, &s.q4},
                         {"w.i32", GgmlType::I32, {3, 2, 2, 2}, &s.i32}};
    REQUIRE(f.tensors().size() == 6);
    for (size_t k = 0; k < 6; ++k) {
        const Want& w = want[k];
        const GgufTensorInfo& t = f.tensors()[k];
        INFO("tensor " << w.name);
        CHECK(t.name == w.name);
        CHECK(&f.get_tensor(w.name) == &t);
        CHECK(t.type == (uint32_t)w.type);
        REQUIRE(t.n_dims == (int)w.ne.size());
        for (int d = 0; d < 4; ++d) CHECK(t.ne[d] == (d < t.n_dims ? w.ne[(size_t)d] : 1));
        REQUIRE(t.nbytes == w.bytes->size());
        CHECK(std::memcmp(t.data, w.bytes->data(), t.nbytes) == 0);
        CHECK((size_t)(t.data - f.bytes()) % f.alignment() == 0);
        CHECK(t.data + t.nbytes <= f.bytes() + f.size());
    }
}

}  // namespace

TEST_CASE("gguf: type table and dtype mapping", "[gguf]") {
    struct Row {
        uint32_t id;
        int64_t blck;
        size_t bytes;
    };
    const Row rows[] = {{0, 1, 4},  {1, 1, 2},  {2, 32, 18}, {8, 32, 34}, {24, 1, 1},
                        {25, 1, 2}, {26, 1, 4}, {27, 1, 8},  {28, 1, 8},  {30, 1, 2}};
    for (const Row& r : rows) {
        INFO("id " << r.id);
        const GgmlTypeInfo* t = ggml_type_info(r.id);
        REQUIRE(t);
        CHECK(t->block_size == r.blck);
        CHECK(t->block_bytes == r.bytes);
    }
    CHECK(ggml_type_info(4) == nullptr);  // removed q4_2
    CHECK(ggml_type_info(99) == nullptr);
    CHECK(ggml_type_nbytes(8, 64) == 68);
    CHECK_THROWS_AS(ggml_type_nbytes(8, 33), Error);
    CHECK_THROWS_AS(ggml_type_nbytes(99, 1), Error);
    CHECK(ggml_type_to_dtype(0) == DType::F32);
    CHECK(ggml_type_to_dtype(1) == DType::F16);
    CHECK(ggml_type_to_dtype(30) == DType::BF16);
    CHECK(ggml_type_to_dtype(26) == DType::I32);
    CHECK(ggml_type_to_dtype(8) == DType::Q8_0);
    CHECK(ggml_type_to_dtype(2) == DType::Q4_0);
    CHECK(!ggml_type_to_dtype(3).has_value());  // q4_1 is not a tensor dtype
    for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::Q8_0, DType::Q4_0}) {
        // Block sizes and bytes agree between the dtype table and GGUF's type table.
        const GgmlTypeInfo* gi = ggml_type_info((uint32_t)dtype_to_ggml_type(d));
        REQUIRE(gi != nullptr);
        CHECK(gi->block_size == dtype_blck(d));
        CHECK(gi->block_bytes == dtype_size(d));
        CHECK(ggml_type_to_dtype((uint32_t)dtype_to_ggml_type(d)) == d);
    }
}

TEST_CASE("gguf: writer layout matches the spec byte for byte", "[gguf]") {
    // Independent reference: the expected bytes are assembled by hand from the spec.
    GgufWriter w;
    w.set_u32("k", 7);
    const float data[2] = {1.0f, -2.0f};
    w.add_tensor("t", GgmlType::F32, {2}, data, sizeof data);
    Bytes want;
    want.header(1, 1).str("k").u32((uint32_t)GgufType::UINT32).u32(7);
    want.tinfo("t", {2}, 0, 0).pad(32).raw(data, sizeof data);
    CHECK(w.to_bytes() == want.b);
}

TEST_CASE("gguf: round trip of every metadata and tensor type", "[gguf]") {
    Sample s;
    const std::vector<uint8_t> bytes = s.w.to_bytes();

    SECTION("from memory") {
        GgufFile f = GgufFile::parse(bytes.data(), bytes.size());
        check_sample(f, s);
        CHECK(f.alignment() == 32);
        CHECK(!f.is_mmapped());
        // Re-serialising the parsed metadata and tensors reproduces the file exactly.
        GgufWriter w2;
        for (const GgufKv& kv : f.kvs()) w2.set(kv.key, kv.value);
        for (const GgufTensorInfo& t : f.tensors()) {
            w2.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data,
                          t.nbytes);
        }
        CHECK(w2.to_bytes() == bytes);
        // Values compare equal to the writer's, in order.
        GgufFile f2 = GgufFile::parse(w2.to_bytes());
        REQUIRE(f2.kvs().size() == f.kvs().size());
        for (size_t i = 0; i < f.kvs().size(); ++i) {
            CHECK(f2.kvs()[i].key == f.kvs()[i].key);
            CHECK(f2.kvs()[i].value == f.kvs()[i].value);
        }
    }
    SECTION("from a memory-mapped file") {
        const std::string path = temp_path("roundtrip");
        s.w.write(path);
        {
            GgufFile f = GgufFile::open(path);
            CHECK(f.is_mmapped());
            REQUIRE(f.size() == bytes.size());
            CHECK(std::memcmp(f.bytes(), bytes.data(), bytes.size()) == 0);
            check_sample(f, s);
        }
        std::remove(path.c_str());
    }
    SECTION("with a 64-byte alignment") {
        s.w.set_alignment(64);
        GgufFile f = GgufFile::parse(s.w.to_bytes());
        CHECK(f.alignment() == 64);
        CHECK(f.data_offset() % 64 == 0);
        check_sample(f, s);
    }
}

TEST_CASE("gguf: typed accessors", "[gguf]") {
    GgufWriter w;
    w.set_i32("n", -3);
    w.set_u64("big", ~0ull);
    w.set_arr<int32_t>("ids", {1, 2});
    w.set_str("name", "x");
    GgufFile f = GgufFile::parse(w.to_bytes());

    CHECK_THROWS_WITH(f.get_u32("absent"), Catch::Contains("key 'absent' is missing"));
    CHECK_THROWS_WITH(f.get_u32("n"), Catch::Contains("key 'n' has type int32, expected uint32"));
    CHECK_THROWS_WITH(f.get_str("n"), Catch::Contains("key 'n' has type int32"));
    CHECK_THROWS_WITH(f.get_arr("n"), Catch::Contains("expected array"));
    CHECK_THROWS_WITH(f.get_arr_as<float>("ids"),
                      Catch::Contains("array of int32, expected an array of float32"));
    CHECK_THROWS_WITH(f.get_arr_str("ids"), Catch::Contains("expected an array of string"));
    CHECK(f.get_i32("n") == -3);
    CHECK(f.get_integer("n") == -3);
    CHECK_THROWS_WITH(f.get_integer("big"), Catch::Contains("does not fit in int64"));
    CHECK_THROWS_WITH(f.get_integer("name"), Catch::Contains("key 'name'"));
    CHECK(!f.find_u32("absent").has_value());
    CHECK(!f.find_str("absent").has_value());
    CHECK(f.find_str("name") == std::string("x"));
    CHECK(f.find_i32("n") == -3);
    CHECK_THROWS_AS(f.find_u32("n"), Error);  // present with another type is still an error
    CHECK(f.find_tensor("nope") == nullptr);
    CHECK_THROWS_WITH(f.get_tensor("nope"), Catch::Contains("tensor 'nope' is missing"));
}

TEST_CASE("gguf: tensors in a Context point into the mapping", "[gguf]") {
    Sample s;
    const std::string path = temp_path("ctx");
    s.w.write(path);
    {
        GgufFile f = GgufFile::open(path);
        Context ctx;
        Tensor* t = f.new_tensor(ctx, "w.f16");
        CHECK(t->type == DType::F16);
        CHECK(t->ne[0] == 5);
        CHECK(t->ne[1] == 2);
        CHECK(t->ne[2] == 3);
        CHECK(t->ne[3] == 1);
        CHECK(t->nb[0] == 2);
        CHECK(t->nb[1] == 10);
        CHECK(t->nb[2] == 20);
        CHECK(t->data == f.get_tensor("w.f16").data);  // zero copy
        CHECK((t->flags & kFlagWeight) != 0);
        CHECK(std::string(t->name) == "w.f16");
        Tensor* ti = f.new_tensor(ctx, "w.i32");
        CHECK(ti->type == DType::I32);
        CHECK(std::memcmp(ti->data, s.i32.data(), s.i32.size()) == 0);
        CHECK(f.new_tensor(ctx, "w.bf16")->type == DType::BF16);
        CHECK(f.new_tensor(ctx, "w.f32")->type == DType::F32);
        // Quantized tensors map zero-copy too: 32-element blocks, nb[0] = block bytes.
        Tensor* tq = f.new_tensor(ctx, "blk.0.attn_q.weight");
        CHECK(tq->type == DType::Q8_0);
        CHECK(tq->nb[0] == 34);
        CHECK(tq->nb[1] == (size_t)(tq->ne[0] / 32 * 34));
        CHECK(tq->nbytes() == f.get_tensor("blk.0.attn_q.weight").nbytes);
        CHECK(tq->data == f.get_tensor("blk.0.attn_q.weight").data);
        // A tensor with data can be written back.
        GgufWriter w;
        w.add_tensor(t);
        GgufFile g = GgufFile::parse(w.to_bytes());
        CHECK(g.get_tensor("w.f16").type == (uint32_t)GgmlType::F16);
        CHECK(std::memcmp(g.get_tensor("w.f16").data, t->data, 60) == 0);
    }
    std::remove(path.c_str());
}

TEST_CASE("gguf: q8_0 and q4_0 layouts and error bounds", "[gguf]") {
    SECTION("q4_0 nibble order, hand-made block") {
        // d = 0.5; byte j holds element j (low nibble) and element j + 16 (high nibble).
        BlockQ4_0 b;
        b.d = f32_to_f16(0.5f);
        for (int j = 0; j < 16; ++j) b.qs[j] = (uint8_t)((j & 15) | ((15 - j) << 4));
        float y[32];
        dequantize_q4_0(&b, y, 32);
        for (int j = 0; j < 16; ++j) {
            CHECK(y[j] == 0.5f * (float)(j - 8));
            CHECK(y[j + 16] == 0.5f * (float)(15 - j - 8));
        }
    }
    SECTION("q8_0 hand-made block") {
        BlockQ8_0 b;
        b.d = f32_to_f16(0.25f);
        for (int j = 0; j < 32; ++j) b.qs[j] = (int8_t)(j * 8 - 127);
        float y[32];
        dequantize_q8_0(&b, y, 32);
        for (int j = 0; j < 32; ++j) CHECK(y[j] == 0.25f * (float)(j * 8 - 127));
    }
    SECTION("values on the grid round-trip exactly") {
        // d a power of two is exact in f16, so grid points k*d are reproduced exactly.
        std::vector<float> x8(32), x4(32);
        for (int j = 0; j < 32; ++j) {
            x8[(size_t)j] = 0.125f * (float)((j * 37) % 255 - 127);
            x4[(size_t)j] = 0.5f * (float)((j * 5) % 16 - 8);
        }
        x8[3] = 0.125f * 127;  // amax pins d = 0.125
        x4[0] = -4.0f;         // the signed extreme pins d = 0.5
        BlockQ8_0 b8;
        BlockQ4_0 b4;
        quantize_q8_0(x8.data(), &b8, 32);
        quantize_q4_0(x4.data(), &b4, 32);
        float y8[32], y4[32];
        dequantize_q8_0(&b8, y8, 32);
        dequantize_q4_0(&b4, y4, 32);
        for (int j = 0; j < 32; ++j) {
            CHECK(y8[j] == x8[(size_t)j]);
            CHECK(y4[j] == x4[(size_t)j]);
        }
    }
    SECTION("random data stays within the format's resolution") {
        // Bounds per block with amax = max|x| and the stored f16 scale d:
        //   q8_0: |err| <= d/2 (round to nearest on a grid of step d = amax/127), plus
        //         amax * 2^-11 for d's f16 rounding (which can saturate the extreme at 127);
        //   q4_0: |err| <= |d| = amax/8: the signed extreme maps to -8 exactly, values of
        //         the other sign saturate at +7, one step short; elsewhere |err| <= |d|/2.
        const int64_t n = 32 * 64;
        const std::vector<float> x = random_floats((size_t)n, 11, -3, 3);
        std::vector<uint8_t> q8((size_t)(n / 32) * 34), q4((size_t)(n / 32) * 18);
        quantize_q8_0(x.data(), q8.data(), n);
        quantize_q4_0(x.data(), q4.data(), n);
        std::vector<float> y8((size_t)n), y4((size_t)n);
        dequantize_row((uint32_t)GgmlType::Q8_0, q8.data(), y8.data(), n);
        dequantize_row((uint32_t)GgmlType::Q4_0, q4.data(), y4.data(), n);
        double sum4 = 0;
        for (int64_t b = 0; b < n / 32; ++b) {
            float amax = 0;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[(size_t)(b * 32 + j)]));
            BlockQ8_0 blk8;
            BlockQ4_0 blk4;
            std::memcpy(&blk8, q8.data() + b * 34, 34);
            std::memcpy(&blk4, q4.data() + b * 18, 18);
            const float d8 = f16_to_f32(blk8.d), d4 = std::fabs(f16_to_f32(blk4.d));
            CHECK(std::fabs(d8 - amax / 127) <= amax / 127 * 0x1p-11f);
            CHECK(std::fabs(d4 - amax / 8) <= amax / 8 * 0x1p-11f);
            for (int j = 0; j < 32; ++j) {
                const size_t i = (size_t)(b * 32 + j);
                CHECK(std::fabs(y8[i] - x[i]) <= 0.5f * d8 + amax * 0x1p-11f + 1e-7f);
                CHECK(std::fabs(y4[i] - x[i]) <= d4 * (1 + 0x1p-10f));
                sum4 += std::fabs(y4[i] - x[i]) / d4;
            }
        }
        // Round to nearest averages |err| = d/4 on uniform data; a truncating or off-by-one
        // quantizer would average d/2 or more.
        CHECK(sum4 / (double)n < 0.3);
    }
    SECTION("dequantize() of a GGUF tensor") {
        Sample s;
        GgufFile f = GgufFile::parse(s.w.to_bytes());
        const std::vector<float> src = random_floats(64 * 2, 2, -1, 1);
        const std::vector<float> y = dequantize(f.get_tensor("blk.0.attn_q.weight"));
        REQUIRE(y.size() == src.size());
        for (size_t i = 0; i < y.size(); ++i) CHECK(std::fabs(y[i] - src[i]) <= 1.0f / 127);
        const std::vector<float> yf = dequantize(f.get_tensor("w.f32"));
        CHECK(std::memcmp(yf.data(), s.f32.data(), s.f32.size()) == 0);
        CHECK_THROWS_AS(dequantize(f.get_tensor("w.i32")), Error);
    }
    CHECK_THROWS_AS(quantize_q8_0(nullptr, nullptr, 31), Error);
}

TEST_CASE("gguf: writer rejects invalid input", "[gguf]") {
    GgufWriter w;
    const float d[64] = {};
    CHECK_THROWS_WITH(w.set_u32("", 1), Catch::Contains("key is empty"));
    CHECK_THROWS_WITH(w.set_u32("\xff", 1), Catch::Contains("UTF-8"));
    CHECK_THROWS_WITH(w.set_alignment(24), Catch::Contains("power of two"));
    CHECK_THROWS_WITH(w.set_i32("general.alignment", 32), Catch::Contains("uint32"));
    CHECK_THROWS_WITH(w.add_tensor("x", 99u, {1}, d, 4), Catch::Contains("unknown ggml type"));
    CHECK_THROWS_WITH(w.add_tensor("x", GgmlType::F32, {2, 0}, d, 0), Catch::Contains("ne[1]"));
    CHECK_THROWS_WITH(w.add_tensor("x", GgmlType::F32, {1, 1, 1, 1, 1}, d, 4),
                      Catch::Contains("5 dimensions"));
    CHECK_THROWS_WITH(w.add_tensor("x", GgmlType::Q8_0, {16, 2}, d, 34),
                      Catch::Contains("block size"));
    CHECK_THROWS_WITH(w.add_tensor("x", GgmlType::F32, {4}, d, 8), Catch::Contains("needs 16"));
    CHECK_THROWS_WITH(w.add_tensor(std::string(65, 'n'), GgmlType::F32, {1}, d, 4),
                      Catch::Contains("64 bytes"));
    w.add_tensor("x", GgmlType::F32, {4}, d, 16);
    CHECK_THROWS_WITH(w.add_tensor("x", GgmlType::F32, {4}, d, 16), Catch::Contains("duplicate"));
    // set() replaces in place.
    w.set_u32("a", 1);
    w.set_u32("b", 2);
    w.set_str("a", "z");
    GgufFile f = GgufFile::parse(w.to_bytes());
    REQUIRE(f.kvs().size() == 2);
    CHECK(f.kvs()[0].key == "a");
    CHECK(f.get_str("a") == "z");
}

TEST_CASE("gguf: every truncation of a valid file is an error", "[gguf]") {
    Sample s;
    s.w.set_alignment(64);  // padding before the data section and between tensors
    const std::vector<uint8_t> bytes = s.w.to_bytes();
    REQUIRE_NOTHROW(parse_copy(bytes, bytes.size()));
    size_t not_thrown = 0, wrong_kind = 0;
    for (size_t len = 0; len < bytes.size(); ++len) {
        try {
            parse_copy(bytes, len);
            ++not_thrown;
            WARN("prefix of " << len << " bytes parsed");
        } catch (const Error& e) {
            if (std::string(e.what()).rfind("gguf: ", 0) != 0) ++wrong_kind;
        }
    }
    CHECK(not_thrown == 0);
    CHECK(wrong_kind == 0);
}

TEST_CASE("gguf: random byte corruption never crashes", "[gguf]") {
    // Not a correctness oracle (many corruptions are valid files); under the sanitizers this
    // shows that no mutation leads to an out-of-bounds read or an unbounded allocation.
    Sample s;
    const std::vector<uint8_t> bytes = s.w.to_bytes();
    std::mt19937 rng(1234);
    size_t errors = 0;
    for (int it = 0; it < 3000; ++it) {
        std::vector<uint8_t> m = bytes;
        const int flips = 1 + (int)(rng() % 3);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % std::min<size_t>(m.size(), 1200);  // the header region
            m[at] = (uint8_t)(rng() % 4 == 0 ? 0xff : rng());
        }
        try {
            GgufFile::parse(std::move(m));
        } catch (const Error&) {
            ++errors;
        }
    }
    CHECK(errors > 0);
}

TEST_CASE("gguf: malformed files give errors naming the field", "[gguf]") {
    const uint32_t U32 = (uint32_t)GgufType::UINT32, ARR = (uint32_t)GgufType::ARRAY;
    const uint32_t STR = (uint32_t)GgufType::STRING;
    const uint64_t kHuge = 1ull << 62;

    SECTION("empty file") {
        const std::string msg = parse_error({});
        CHECK(msg.find("magic") != std::string::npos);
        CHECK(msg.find("empty") != std::string::npos);
    }
    SECTION("bad magic") {
        expect_error(Bytes().raw("GGML", 4).u32(3).u64(0).u64(0), {"magic"});
    }
    SECTION("wrong version") {
        expect_error(Bytes().header(0, 0, 1), {"version 1", "not supported"});
        expect_error(Bytes().header(0, 0, 4), {"version 4"});
        expect_error(Bytes().header(0, 0, 0x03000000u), {"big-endian"});
    }
    SECTION("version 2 is read") {
        Bytes f;
        f.header(0, 1, 2).str("a").u32(U32).u32(5);
        CHECK(GgufFile::parse(f.b).get_u32("a") == 5);
    }
    SECTION("huge kv count") {
        expect_error(Bytes().header(0, kHuge), {"kv count 4611686018427387904"});
    }
    SECTION("huge tensor count") {
        expect_error(Bytes().header(kHuge, 0), {"tensor count 4611686018427387904"});
    }
    SECTION("huge key length") {
        expect_error(Bytes().header(0, 1).u64(~0ull).u32(0).zeros(16),
                     {"kv 0", "key length 18446744073709551615", "exceeds"});
    }
    SECTION("huge string value length") {
        expect_error(Bytes().header(0, 1).str("s").u32(STR).u64(kHuge),
                     {"kv 0 's'", "string value length 4611686018427387904"});
    }
    SECTION("huge array length") {
        for (uint32_t et : {(uint32_t)GgufType::UINT64, STR, ARR}) {
            INFO("element type " << et);
            expect_error(Bytes().header(0, 1).str("a").u32(ARR).u32(et).u64(kHuge),
                         {"kv 0 'a'", "array length 4611686018427387904", "at file offset 41"});
        }
        // Length whose byte size overflows 64 bits: 2^61 uint64s = 2^64 bytes.
        expect_error(Bytes().header(0, 1).str("a").u32(ARR).u32(10).u64(1ull << 61).u64(0),
                     {"array length"});
    }
    SECTION("huge string inside an array") {
        expect_error(Bytes().header(0, 1).str("a").u32(ARR).u32(STR).u64(1).u64(kHuge),
                     {"kv 0 'a'", "array string length"});
    }
    SECTION("unknown value type") {
        expect_error(Bytes().header(0, 1).str("k").u32(13).u32(0),
                     {"kv 0 'k'", "value type 13", "unknown", "at file offset 33"});
        expect_error(Bytes().header(0, 1).str("k").u32(ARR).u32(77).u64(0),
                     {"array element type 77"});
    }
    SECTION("bool that is neither 0 nor 1") {
        expect_error(Bytes().header(0, 1).str("b").u32(7).u8(2), {"bool value 2"});
        expect_error(Bytes().header(0, 1).str("b").u32(ARR).u32(7).u64(2).u8(1).u8(9),
                     {"bool array element 1"});
    }
    SECTION("arrays nested too deep") {
        Bytes f;
        f.header(0, 1).str("deep").u32(ARR);
        for (int i = 0; i < 200; ++i) f.u32(ARR).u64(1);
        f.u32(U32).u64(0);
        expect_error(f, {"nests deeper"});
    }
    SECTION("non-UTF-8 key") {
        for (const char* k :
             {"bad\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"}) {
            INFO("key bytes " << k);
            expect_error(Bytes().header(0, 1).str(k).u32(U32).u32(1), {"kv 0", "UTF-8"});
        }
    }
    SECTION("empty key") {
        expect_error(Bytes().header(0, 1).str("").u32(U32).u32(1), {"key", "empty"});
    }
    SECTION("duplicate key") {
        expect_error(Bytes().header(0, 2).str("k").u32(U32).u32(1).str("k").u32(U32).u32(2),
                     {"kv 1 'k'", "duplicates the key at file offset 24"});
    }
    SECTION("non-power-of-two alignment") {
        expect_error(Bytes().header(0, 1).str("general.alignment").u32(U32).u32(24),
                     {"general.alignment", "24", "power of two"});
        expect_error(Bytes().header(0, 1).str("general.alignment").u32(U32).u32(0),
                     {"general.alignment", "power of two"});
        expect_error(Bytes().header(0, 1).str("general.alignment").u32(5).i32(32),
                     {"general.alignment", "int32", "not uint32"});
    }

    // Tensor infos: one kv-less file with one tensor, varied.
    auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offs, size_t data) {
        Bytes f;
        f.header(1, 0).tinfo("blk.0.attn_q.weight", std::move(ne), type, offs).pad(32).zeros(data);
        return f;
    };
    SECTION("valid single tensor") {
        GgufFile f = GgufFile::parse(one_tensor({4, 2}, 0, 0, 32).b);
        CHECK(f.get_tensor("blk.0.attn_q.weight").nbytes == 32);
    }
    SECTION("unknown tensor type id") {
        expect_error(one_tensor({4}, 99, 0, 32),
                     {"tensor 'blk.0.attn_q.weight'", "type id 99", "not a known ggml type"});
    }
    SECTION("n_dims 5 and 0") {
        expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 32),
                     {"tensor 'blk.0.attn_q.weight'", "n_dims 5"});
        expect_error(one_tensor({}, 0, 0, 32), {"n_dims 0"});
    }
    SECTION("zero dim") {
        expect_error(one_tensor({4, 0}, 0, 0, 32),
                     {"tensor 'blk.0.attn_q.weight'", "ne[1] 0", "must be > 0"});
    }
    SECTION("element count overflow") {
        expect_error(one_tensor({1ull << 32, 1ull << 32}, 0, 0, 32), {"ne[1]", "overflow"});
    }
    SECTION("shape larger than the file") {
        expect_error(one_tensor({1ull << 40}, 0, 0, 32), {"shape", "more than the whole file"});
    }
    SECTION("ne[0] not a multiple of the block size") {
        expect_error(one_tensor({33}, 8, 0, 64), {"ne[0] 33", "block size 32", "q8_0"});
    }
    SECTION("unaligned tensor offset") {
        // Header 24 + name 8+19 + n_dims 4 + ne 8 + type 4 = 67: the offset field.
        expect_error(one_tensor({4}, 0, 1234, 2000),
                     {"gguf: tensor 'blk.0.attn_q.weight': data offset 1234 (at file offset 67) "
                      "is not aligned to 32"});
    }
    SECTION("tensor data past end of file") {
        expect_error(one_tensor({16}, 0, 0, 63), {"data offset 0", "past the end of the file"});
        expect_error(one_tensor({4}, 0, 1ull << 63, 16), {"past the end of the file"});
        expect_error(one_tensor({4}, 0, ~0ull - 31, 16), {"past the end of the file"});
    }
    SECTION("padding past end of file") {
        Bytes f;
        f.header(1, 0).tinfo("w", {4}, 0, 0);
        expect_error(f, {"padding", "past the end of the file"});
    }
    SECTION("overlapping tensor data") {
        Bytes f;
        f.header(2, 0).tinfo("a", {16}, 0, 0).tinfo("b", {8}, 0, 32).pad(32).zeros(64);
        expect_error(f, {"tensor 'b'", "data offset 32", "overlaps tensor 'a' at [0, 64)"});
        Bytes g;  // same offset, listed in the other order
        g.header(2, 0).tinfo("a", {8}, 0, 0).tinfo("b", {8}, 0, 0).pad(32).zeros(64);
        expect_error(g, {"overlaps"});
    }
    SECTION("duplicate tensor name") {
        Bytes f;
        f.header(2, 0).tinfo("a", {8}, 0, 0).tinfo("a", {8}, 0, 32).pad(32).zeros(64);
        expect_error(f, {"tensor 'a'", "duplicates the tensor at file offset 24"});
    }
    SECTION("tensor name too long or empty") {
        Bytes f;
        f.header(1, 0).tinfo(std::string(65, 'x'), {8}, 0, 0).pad(32).zeros(32);
        expect_error(f, {"tensor 0", "name length 65"});
        Bytes g;
        g.header(1, 0).tinfo("", {8}, 0, 0).pad(32).zeros(32);
        expect_error(g, {"tensor 0", "name", "empty"});
    }
    SECTION("file errors name the path") {
        const std::string path = temp_path("bad");
        FILE* fp = std::fopen(path.c_str(), "wb");
        REQUIRE(fp);
        std::fwrite("GGUF\x07\0\0\0", 1, 8, fp);
        std::fclose(fp);
        CHECK_THROWS_WITH(GgufFile::open(path),
                          Catch::Contains(path) && Catch::Contains("version 7"));
        std::remove(path.c_str());
        CHECK_THROWS_WITH(GgufFile::open(path), Catch::Contains("cannot open"));
        // An empty file cannot be mapped; the fallback still reports the field.
        fp = std::fopen(path.c_str(), "wb");
        std::fclose(fp);
        CHECK_THROWS_WITH(GgufFile::open(path), Catch::Contains("empty"));
        std::remove(path.c_str());
    }
}
