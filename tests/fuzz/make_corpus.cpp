// Writes the seed corpus for fuzz_gguf into a directory: small valid GGUF files made with
// GgufWriter, and malformed variants made by patching one field of a valid file at the offset
// the reader reports for it. Every file stays under 4 KB.
//
//   fuzz-gguf-corpus DIR
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "ggml/gguf.h"

using Bytes = std::vector<uint8_t>;
using ggml::GgmlType;
using ggml::GgufWriter;

namespace {

std::string g_dir;
int g_count = 0;

void emit(const std::string& name, const Bytes& b) {
    if (b.size() >= 4096) {
        std::fprintf(stderr, "%s: %zu bytes, over the 4 KB limit\n", name.c_str(), b.size());
        std::exit(1);
    }
    std::ofstream(g_dir + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), (std::streamsize)b.size());
    ++g_count;
}

template <typename T>
Bytes patch(Bytes b, size_t off, T v) {
    if (off + sizeof v <= b.size()) std::memcpy(b.data() + off, &v, sizeof v);
    return b;
}

Bytes cut(const Bytes& b, size_t n) {
    return Bytes(b.begin(), b.begin() + std::min(n, b.size()));
}

// Offset of a key's value type field: record = key length (8), key bytes, type (4), value.
size_t kv_type_off(const ggml::GgufFile& f, const std::string& key) {
    for (const auto& kv : f.kvs())
        if (kv.key == key) return kv.file_offset + 8 + kv.key.size();
    std::fprintf(stderr, "no key %s\n", key.c_str());
    std::exit(1);
}

// Offsets inside a tensor info: name length (8), name, n_dims (4), ne (8 each), type (4),
// offset (8).
struct InfoOffs {
    size_t n_dims, ne0, type, offset;
};
InfoOffs info_offs(const ggml::GgufFile& f, size_t i) {
    const ggml::GgufTensorInfo& t = f.tensors()[i];
    InfoOffs o;
    o.n_dims = t.info_file_offset + 8 + t.name.size();
    o.ne0 = o.n_dims + 4;
    o.type = o.ne0 + 8 * (size_t)t.n_dims;
    o.offset = o.type + 4;
    return o;
}

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = (float)i * 0.25f - 3.0f;
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];

    // ---- valid files ----
    const Bytes empty = GgufWriter().to_bytes();
    emit("valid_empty.gguf", empty);

    GgufWriter ws;
    ws.set_u8("t.u8", 200);
    ws.set_i8("t.i8", -5);
    ws.set_u16("t.u16", 60000);
    ws.set_i16("t.i16", -30000);
    ws.set_u32("t.u32", 4000000000u);
    ws.set_i32("t.i32", -2000000000);
    ws.set_f32("t.f32", 1.5f);
    ws.set_bool("t.bool", true);
    ws.set_str("t.str", "hello \xe2\x96\x81world");
    ws.set_u64("t.u64", 1ull << 60);
    ws.set_i64("t.i64", -(1ll << 60));
    ws.set_f64("t.f64", -2.25);
    const Bytes scalars = ws.to_bytes();
    emit("valid_scalars.gguf", scalars);

    GgufWriter wa;
    wa.set_arr("a.i32", std::vector<int32_t>{1, -2, 3});
    wa.set_arr("a.f32", std::vector<float>{0.5f, 1.5f});
    wa.set_arr_str("a.str", {"x", "", "\xe2\x96\x81yz"});
    wa.set("a.nested",
           ggml::GgufValue::array_nested({ggml::GgufValue::array(std::vector<uint8_t>{1, 2}),
                                          ggml::GgufValue::array(std::vector<uint8_t>{3})}));
    wa.set("a.empty", ggml::GgufValue::empty_array(ggml::GgufType::INT64));
    wa.set_arr("a.bool", std::vector<bool>{true, false, true});
    const Bytes arrays = wa.to_bytes();
    emit("valid_arrays.gguf", arrays);

    GgufWriter wt;
    wt.set_alignment(64);
    wt.set_str("general.architecture", "test");
    {
        const std::vector<float> a = ramp(24);
        wt.add_tensor("a.f32", GgmlType::F32, {6, 4}, a.data(), a.size() * 4);
        const std::vector<uint16_t> h = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x3555};
        wt.add_tensor("b.f16", GgmlType::F16, {3, 2}, h.data(), h.size() * 2);
        wt.add_tensor("c.bf16", GgmlType::BF16, {6}, h.data(), h.size() * 2);
        const std::vector<int32_t> ids = {7, -1, 0, 3};
        wt.add_tensor("d.i32", GgmlType::I32, {2, 1, 2}, ids.data(), ids.size() * 4);
    }
    const Bytes tensors = wt.to_bytes();
    emit("valid_tensors.gguf", tensors);

    GgufWriter wq;
    {
        const std::vector<float> x = ramp(64);
        std::vector<uint8_t> q8(2 * 34), q4(2 * 18);
        ggml::quantize_q8_0(x.data(), q8.data(), 64);
        ggml::quantize_q4_0(x.data(), q4.data(), 64);
        wq.add_tensor("q8", GgmlType::Q8_0, {64}, q8.data(), q8.size());
        wq.add_tensor("q4", GgmlType::Q4_0, {32, 2}, q4.data(), q4.size());
    }
    const Bytes quant = wq.to_bytes();
    emit("valid_quant.gguf", quant);

    GgufWriter wk;
    {
        std::vector<std::string> toks = {"<unk>",
                                         "<s>",
                                         "</s>",
                                         "\xe2\x96\x81",
                                         "a",
                                         "b",
                                         "ab",
                                         "\xe2\x96\x81"
                                         "ab"};
        std::vector<float> scores = {0, 0, 0, -1, -2, -2, -0.5f, -0.25f};
        std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1};
        for (int b = 0; b < 4; ++b) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "<0x%02X>", b + 0x41);
            toks.push_back(buf);
            scores.push_back(0);
            types.push_back(6);
        }
        wk.set_str("tokenizer.ggml.model", "llama");
        wk.set_arr_str("tokenizer.ggml.tokens", toks);
        wk.set_arr("tokenizer.ggml.scores", scores);
        wk.set_arr("tokenizer.ggml.token_type", types);
        wk.set_u32("tokenizer.ggml.bos_token_id", 1);
        wk.set_u32("tokenizer.ggml.eos_token_id", 2);
        wk.set_u32("tokenizer.ggml.unknown_token_id", 0);
        wk.set_bool("tokenizer.ggml.add_space_prefix", true);
    }
    const Bytes tok = wk.to_bytes();
    emit("valid_tokenizer.gguf", tok);

    // ---- malformed: header ----
    emit("bad_magic.gguf", patch(scalars, 0, (uint32_t)0x46554747u ^ 0x20u));
    emit("bad_version_1.gguf", patch(scalars, 4, (uint32_t)1));
    emit("bad_version_4.gguf", patch(scalars, 4, (uint32_t)4));
    emit("trunc_header.gguf", cut(scalars, 13));
    emit("trunc_4.gguf", cut(scalars, 4));
    emit("huge_tensor_count.gguf", patch(scalars, 8, (uint64_t)0xffffffffffffull));
    emit("huge_kv_count.gguf", patch(scalars, 16, ~(uint64_t)0));
    emit("kv_count_plus_one.gguf", patch(scalars, 16, (uint64_t)13));

    // ---- malformed: metadata ----
    {
        const ggml::GgufFile fs = ggml::GgufFile::parse(scalars);
        emit("huge_key_len.gguf", patch(scalars, 24, (uint64_t)1 << 62));
        emit("zero_key_len.gguf", patch(scalars, 24, (uint64_t)0));
        emit("bad_value_type.gguf", patch(scalars, kv_type_off(fs, "t.u16"), (uint32_t)13));
        const size_t str_len = kv_type_off(fs, "t.str") + 4;
        emit("huge_string_len.gguf", patch(scalars, str_len, (uint64_t)1 << 40));
        emit("string_past_end.gguf", patch(scalars, str_len, (uint64_t)scalars.size()));
        Bytes dup = scalars;  // "t.i8" -> "t.u8": a duplicate key
        const size_t k = fs.kvs()[1].file_offset + 8;
        dup[k + 2] = 'u';
        emit("duplicate_key.gguf", dup);
        Bytes utf = scalars;  // a key that is not UTF-8
        utf[fs.kvs()[0].file_offset + 8] = 0xff;
        emit("key_not_utf8.gguf", utf);
        emit("trunc_kvs.gguf", cut(scalars, scalars.size() - 5));
    }
    {
        const ggml::GgufFile fa = ggml::GgufFile::parse(arrays);
        const size_t t = kv_type_off(fa, "a.i32");  // ARRAY, elem type, count
        emit("array_huge_count.gguf", patch(arrays, t + 8, (uint64_t)1 << 61));
        emit("array_count_past_end.gguf", patch(arrays, t + 8, (uint64_t)100000));
        emit("array_bad_elem_type.gguf", patch(arrays, t + 4, (uint32_t)77));
        const size_t s = kv_type_off(fa, "a.str");
        emit("array_str_huge_len.gguf", patch(arrays, s + 4 + 4 + 8, ~(uint64_t)0 >> 1));
        const size_t n = kv_type_off(fa, "a.nested");
        emit("array_nested_huge.gguf", patch(arrays, n + 4 + 4 + 8 + 4 + 4, (uint64_t)1 << 50));
        emit("array_bool_value_2.gguf", patch(arrays, arrays.size() - 3, (uint8_t)2));
    }

    // ---- malformed: tensor infos and data ----
    {
        const ggml::GgufFile ft = ggml::GgufFile::parse(tensors);
        const InfoOffs a = info_offs(ft, 0), b = info_offs(ft, 1);
        emit("tensor_ndims_0.gguf", patch(tensors, a.n_dims, (uint32_t)0));
        emit("tensor_ndims_5.gguf", patch(tensors, a.n_dims, (uint32_t)5));
        emit("tensor_ne_zero.gguf", patch(tensors, a.ne0, (int64_t)0));
        emit("tensor_ne_negative.gguf", patch(tensors, a.ne0, (int64_t)-6));
        emit("tensor_ne_overflow.gguf", patch(tensors, a.ne0, (int64_t)1 << 62));
        emit("tensor_bad_type.gguf", patch(tensors, a.type, (uint32_t)99));
        emit("tensor_type_q8_unaligned.gguf", patch(tensors, a.type, (uint32_t)8));
        emit("tensor_offset_misaligned.gguf", patch(tensors, b.offset, (uint64_t)65));
        emit("tensor_offset_past_end.gguf", patch(tensors, b.offset, (uint64_t)1 << 20));
        emit("tensor_offset_huge.gguf", patch(tensors, b.offset, ~(uint64_t)0 - 63));
        emit("tensor_overlap.gguf", patch(tensors, b.offset, (uint64_t)0));
        Bytes dupn = tensors;  // "b.f16" -> "a.f16"? same length as "a.f32": rename to it
        std::memcpy(dupn.data() + ft.tensors()[1].info_file_offset + 8, "a.f32", 5);
        emit("tensor_duplicate_name.gguf", dupn);
        const size_t align = kv_type_off(ft, "general.alignment") + 4;
        emit("alignment_3.gguf", patch(tensors, align, (uint32_t)3));
        emit("alignment_0.gguf", patch(tensors, align, (uint32_t)0));
        emit("alignment_type_u64.gguf",
             patch(tensors, align - 4, (uint32_t)ggml::GgufType::UINT64));
        emit("trunc_data.gguf", cut(tensors, tensors.size() - 7));
        emit("trunc_infos.gguf", cut(tensors, b.offset + 3));
    }
    {
        const ggml::GgufFile fq = ggml::GgufFile::parse(quant);
        const InfoOffs q = info_offs(fq, 0);
        emit("quant_ne_not_block.gguf", patch(quant, q.ne0, (int64_t)48));
        emit("quant_type_q4_1.gguf", patch(quant, q.type, (uint32_t)3));
    }
    {
        const ggml::GgufFile fk = ggml::GgufFile::parse(tok);
        emit("tok_bos_out_of_range.gguf",
             patch(tok, kv_type_off(fk, "tokenizer.ggml.bos_token_id") + 4, (uint32_t)1000));
        emit("tok_scores_short.gguf",
             patch(tok, kv_type_off(fk, "tokenizer.ggml.scores") + 8, (uint64_t)3));
    }
    std::printf("wrote %d files to %s\n", g_count, g_dir.c_str());
    return 0;
}
