// GGUF support shared by reading and writing: the ggml type table, metadata values and
// tensors made over mapped bytes. Block quantization itself is in quant.cpp.
#include "ggml/gguf.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ggml/context.h"
#include "ggml/tensor.h"
#include "gguf_internal.h"

namespace ggml {

// ---------------------------------------------------------------------------------------------
// Type table.

namespace {

// Block sizes and bytes from ggml's block structs (K-quants use 256-element super-blocks).
const GgmlTypeInfo kTypes[] = {
    {0, "f32", 1, 4, false},      {1, "f16", 1, 2, false},      {2, "q4_0", 32, 18, true},
    {3, "q4_1", 32, 20, true},    {6, "q5_0", 32, 22, true},    {7, "q5_1", 32, 24, true},
    {8, "q8_0", 32, 34, true},    {9, "q8_1", 32, 36, true},    {10, "q2_K", 256, 84, true},
    {11, "q3_K", 256, 110, true}, {12, "q4_K", 256, 144, true}, {13, "q5_K", 256, 176, true},
    {14, "q6_K", 256, 210, true}, {15, "q8_K", 256, 292, true}, {24, "i8", 1, 1, false},
    {25, "i16", 1, 2, false},     {26, "i32", 1, 4, false},     {27, "i64", 1, 8, false},
    {28, "f64", 1, 8, false},     {30, "bf16", 1, 2, false},
};

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
    for (const GgmlTypeInfo& t : kTypes) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

std::string ggml_type_name(uint32_t id) {
    const GgmlTypeInfo* t = ggml_type_info(id);
    return t ? std::string(t->name) : "unknown(" + std::to_string(id) + ")";
}

size_t ggml_type_nbytes(uint32_t id, int64_t n) {
    const GgmlTypeInfo* t = ggml_type_info(id);
    if (!t) throw Error("ggml_type_nbytes: unknown ggml type id " + std::to_string(id));
    if (n < 0 || n % t->block_size != 0) {
        throw Error("ggml_type_nbytes: " + std::to_string(n) + " elements of " + t->name +
                    " is not a multiple of the block size " + std::to_string(t->block_size));
    }
    const uint64_t blocks = (uint64_t)(n / t->block_size);
    if (blocks > std::numeric_limits<size_t>::max() / t->block_bytes) {
        throw Error("ggml_type_nbytes: " + std::to_string(n) + " elements of " + t->name +
                    " overflow size_t");
    }
    return (size_t)blocks * t->block_bytes;
}

std::optional<DType> ggml_type_to_dtype(uint32_t id) {
    switch ((GgmlType)id) {
        case GgmlType::F32:
            return DType::F32;
        case GgmlType::F16:
            return DType::F16;
        case GgmlType::BF16:
            return DType::BF16;
        case GgmlType::I32:
            return DType::I32;
        case GgmlType::Q8_0:
            return DType::Q8_0;
        case GgmlType::Q4_0:
            return DType::Q4_0;
        default:
            return std::nullopt;
    }
}

GgmlType dtype_to_ggml_type(DType t) {
    switch (t) {
        case DType::F32:
            return GgmlType::F32;
        case DType::F16:
            return GgmlType::F16;
        case DType::BF16:
            return GgmlType::BF16;
        case DType::I32:
            return GgmlType::I32;
        case DType::Q8_0:
            return GgmlType::Q8_0;
        case DType::Q4_0:
            return GgmlType::Q4_0;
        default:
            break;
    }
    if (t == DType::Q4_0X8)
        throw Error(
            "dtype_to_ggml_type: q4_0x8 is an in-memory layout with no GGUF type "
            "(unpack_q4_0x8 restores q4_0)");
    throw Error("dtype_to_ggml_type: dtype " + std::to_string((int)t) + " has no ggml type id");
}

void dequantize_row(uint32_t id, const void* src, float* dst, int64_t n) {
    const std::optional<DType> dt = ggml_type_to_dtype(id);
    if (dt && *dt != DType::I32) return to_float_row(*dt, src, dst, n);
    throw Error("dequantize_row: no conversion from ggml type " + ggml_type_name(id) + " to f32");
}

// ---------------------------------------------------------------------------------------------
// Metadata values.

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. Returns the byte
// index of the first invalid sequence, or npos.
size_t utf8_invalid_at(const std::string& s) {
    const auto* p = (const unsigned char*)s.data();
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned c = p[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len > n - i) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return std::string::npos;
}

std::string gguf_type_name(GgufType t) {
    static const char* const names[kGgufTypeCount] = {
        "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
        "bool",  "string", "array",  "uint64", "int64",  "float64"};
    const uint32_t i = (uint32_t)t;
    return i < kGgufTypeCount ? std::string(names[i]) : "unknown(" + std::to_string(i) + ")";
}

size_t gguf_scalar_size(GgufType t) {
    switch (t) {
        case GgufType::UINT8:
        case GgufType::INT8:
        case GgufType::BOOL:
            return 1;
        case GgufType::UINT16:
        case GgufType::INT16:
            return 2;
        case GgufType::UINT32:
        case GgufType::INT32:
        case GgufType::FLOAT32:
            return 4;
        case GgufType::UINT64:
        case GgufType::INT64:
        case GgufType::FLOAT64:
            return 8;
        default:
            return 0;
    }
}

GgufValue GgufValue::str(std::string s) {
    GgufValue v;
    v.type_ = GgufType::STRING;
    v.str_ = std::move(s);
    return v;
}

GgufValue GgufValue::array_str(std::vector<std::string> s) {
    GgufValue v;
    v.type_ = GgufType::ARRAY;
    v.elem_ = GgufType::STRING;
    v.count_ = s.size();
    v.strs_ = std::move(s);
    return v;
}

GgufValue GgufValue::array_nested(std::vector<GgufValue> items) {
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_array()) {
            throw Error("GgufValue::array_nested: item " + std::to_string(i) + " is a " +
                        gguf_type_name(items[i].type()) + ", expected an array");
        }
    }
    GgufValue v;
    v.type_ = GgufType::ARRAY;
    v.elem_ = GgufType::ARRAY;
    v.count_ = items.size();
    v.items_ = std::move(items);
    return v;
}

GgufValue GgufValue::empty_array(GgufType elem) {
    if ((uint32_t)elem >= kGgufTypeCount) {
        throw Error("GgufValue::empty_array: unknown element type " + gguf_type_name(elem));
    }
    GgufValue v;
    v.type_ = GgufType::ARRAY;
    v.elem_ = elem;
    return v;
}

void GgufValue::type_error(const char* wanted) const {
    throw Error("gguf value: has type " + gguf_type_name(type_) + ", expected " + wanted);
}

const std::string& GgufValue::as_str() const {
    if (type_ != GgufType::STRING) type_error("string");
    return str_;
}

int64_t GgufValue::as_integer() const {
    switch (type_) {
        case GgufType::UINT8:
            return as_u8();
        case GgufType::INT8:
            return as_i8();
        case GgufType::UINT16:
            return as_u16();
        case GgufType::INT16:
            return as_i16();
        case GgufType::UINT32:
            return as_u32();
        case GgufType::INT32:
            return as_i32();
        case GgufType::INT64:
            return as_i64();
        case GgufType::UINT64:
            if (as_u64() > (uint64_t)std::numeric_limits<int64_t>::max()) {
                throw Error("gguf value: uint64 " + std::to_string(as_u64()) +
                            " does not fit in int64");
            }
            return (int64_t)as_u64();
        default:
            type_error("an integer");
    }
}

void GgufValue::check_array(GgufType elem) const {
    if (type_ != GgufType::ARRAY) type_error("array");
    if (elem_ != elem) {
        throw Error("gguf value: is an array of " + gguf_type_name(elem_) +
                    ", expected an array of " + gguf_type_name(elem));
    }
}

GgufType GgufValue::array_type() const {
    if (type_ != GgufType::ARRAY) type_error("array");
    return elem_;
}

size_t GgufValue::array_size() const {
    if (type_ != GgufType::ARRAY) type_error("array");
    return count_;
}

const std::vector<std::string>& GgufValue::array_strings() const {
    check_array(GgufType::STRING);
    return strs_;
}

const std::vector<GgufValue>& GgufValue::array_items() const {
    check_array(GgufType::ARRAY);
    return items_;
}

const uint8_t* GgufValue::array_data() const {
    if (type_ != GgufType::ARRAY) type_error("array");
    if (gguf_scalar_size(elem_) == 0) {
        throw Error("gguf value: array_data needs an array of scalars, not of " +
                    gguf_type_name(elem_));
    }
    return raw_.data();
}

namespace {

std::string scalar_to_string(GgufType t, uint64_t bits) {
    auto as = [&](auto v) {
        std::memcpy(&v, &bits, sizeof v);
        return v;
    };
    switch (t) {
        case GgufType::UINT8:
            return std::to_string(as(uint8_t{}));
        case GgufType::INT8:
            return std::to_string(as(int8_t{}));
        case GgufType::UINT16:
            return std::to_string(as(uint16_t{}));
        case GgufType::INT16:
            return std::to_string(as(int16_t{}));
        case GgufType::UINT32:
            return std::to_string(as(uint32_t{}));
        case GgufType::INT32:
            return std::to_string(as(int32_t{}));
        case GgufType::UINT64:
            return std::to_string(as(uint64_t{}));
        case GgufType::INT64:
            return std::to_string(as(int64_t{}));
        case GgufType::FLOAT32:
            return std::to_string(as(float{}));
        case GgufType::FLOAT64:
            return std::to_string(as(double{}));
        case GgufType::BOOL:
            return bits ? "true" : "false";
        default:
            return "?";
    }
}

}  // namespace

std::string GgufValue::to_string() const {
    constexpr size_t kShow = 8;
    if (type_ == GgufType::STRING) return "\"" + str_ + "\"";
    if (type_ != GgufType::ARRAY) return scalar_to_string(type_, bits_);
    std::string s = gguf_type_name(elem_) + "[" + std::to_string(count_) + "] [";
    const size_t show = std::min(count_, kShow);
    const size_t es = gguf_scalar_size(elem_);
    for (size_t i = 0; i < show; ++i) {
        if (i) s += ", ";
        if (elem_ == GgufType::STRING) {
            s += "\"" + strs_[i] + "\"";
        } else if (elem_ == GgufType::ARRAY) {
            s += items_[i].to_string();
        } else {
            uint64_t bits = 0;
            std::memcpy(&bits, raw_.data() + i * es, es);
            s += scalar_to_string(elem_, bits);
        }
    }
    if (count_ > show) s += ", ...";
    return s + "]";
}

bool GgufValue::operator==(const GgufValue& o) const {
    if (type_ != o.type_) return false;
    if (type_ == GgufType::STRING) return str_ == o.str_;
    if (type_ != GgufType::ARRAY) return bits_ == o.bits_;  // bitwise: NaN equals itself
    return elem_ == o.elem_ && count_ == o.count_ && raw_ == o.raw_ && strs_ == o.strs_ &&
           items_ == o.items_;
}

// ---------------------------------------------------------------------------------------------
// Tensors over file bytes.

std::string GgufTensorInfo::shape_str() const {
    std::string s = "[";
    for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

Tensor* gguf_new_tensor(Context& ctx, const GgufTensorInfo& info) {
    const std::optional<DType> dt = ggml_type_to_dtype(info.type);
    if (!dt) {
        throw Error("gguf: tensor '" + info.name + "': ggml type " + ggml_type_name(info.type) +
                    " has no tensor dtype (use its raw bytes and dequantize_row)");
    }
    if (info.name.size() >= (size_t)kMaxName) {
        throw Error("gguf: tensor '" + info.name + "': name is " +
                    std::to_string(info.name.size()) + " bytes, tensors hold at most " +
                    std::to_string(kMaxName - 1));
    }
    Tensor* t = ctx.new_tensor(*dt, info.n_dims, info.ne);
    t->data = const_cast<uint8_t*>(info.data);  // read-only mapping: weights are never written
    t->flags |= kFlagWeight;
    t->set_name(info.name);
    return t;
}

std::vector<float> dequantize(const GgufTensorInfo& info) {
    std::vector<float> out((size_t)info.nelements());
    dequantize_row(info.type, info.data, out.data(), info.nelements());
    return out;
}

}  // namespace ggml
