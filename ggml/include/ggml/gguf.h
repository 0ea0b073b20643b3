// GGUF v3 files: reading (memory-mapped, zero copy, strictly validated) and writing.
//
// Layout (all little-endian; ggml's docs/gguf.md):
//   "GGUF" | u32 version (3; 2 is read too) | u64 n_tensors | u64 n_kv
//   n_kv    x { string key | u32 value type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }
//   zero padding to `general.alignment` (default 32) | data section
// A string is u64 length + bytes (no terminator). An array value is u32 element type +
// u64 count + elements; its elements may themselves be arrays. Tensor offsets are relative to
// the data section and multiples of the alignment.
//
// Everything read from a file is untrusted: every count, length, size and offset is checked
// against the bytes that remain before anything is read or allocated, and every failure is a
// ggml::Error of the form
//   "gguf: [file: ]<where>: <field> (at file offset N) <what is wrong>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "ggml/quant.h"
#include "ggml/types.h"

namespace ggml {

class Context;
struct Tensor;

// ---------------------------------------------------------------------------------------------
// ggml tensor type ids (the numbers stored in GGUF tensor infos).

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
};

struct GgmlTypeInfo {
    uint32_t id;
    const char* name;    // "f32", "q8_0", ...
    int64_t block_size;  // elements per block (1 for plain types)
    size_t block_bytes;  // bytes per block
    bool quantized;
};

// The table entry for a ggml type id, or nullptr when the id is unknown.
const GgmlTypeInfo* ggml_type_info(uint32_t id);
inline const GgmlTypeInfo* ggml_type_info(GgmlType t) {
    return ggml_type_info((uint32_t)t);
}
// "q8_0", or "unknown(99)" for an id not in the table.
std::string ggml_type_name(uint32_t id);
// Bytes of `n` elements of type `id`. Throws when the id is unknown or n is not a multiple of
// the block size.
size_t ggml_type_nbytes(uint32_t id, int64_t n);
// The tensor dtype a ggml type maps onto (f32, f16, bf16, i32), if any.
std::optional<DType> ggml_type_to_dtype(uint32_t id);
GgmlType dtype_to_ggml_type(DType t);

// ---------------------------------------------------------------------------------------------
// Block quantization (BlockQ8_0, quantize_q8_0, ...) is declared in ggml/quant.h.

// Converts n elements of type `id` to f32: f32, f16, bf16, q8_0, q4_0. Throws for others.
void dequantize_row(uint32_t id, const void* src, float* dst, int64_t n);

// ---------------------------------------------------------------------------------------------
// Metadata values.

enum class GgufType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};
constexpr uint32_t kGgufTypeCount = 13;

// "uint32", or "unknown(13)".
std::string gguf_type_name(GgufType t);
// Bytes of one scalar of this type; 0 for STRING and ARRAY.
size_t gguf_scalar_size(GgufType t);

// The GGUF type of a C++ scalar type used for arrays and typed access.
template <typename T>
struct GgufTypeOf;
#define GGML_GGUF_TYPE_OF(T, G)                        \
    template <>                                        \
    struct GgufTypeOf<T> {                             \
        static constexpr GgufType value = GgufType::G; \
    };
GGML_GGUF_TYPE_OF(uint8_t, UINT8)
GGML_GGUF_TYPE_OF(int8_t, INT8)
GGML_GGUF_TYPE_OF(uint16_t, UINT16)
GGML_GGUF_TYPE_OF(int16_t, INT16)
GGML_GGUF_TYPE_OF(uint32_t, UINT32)
GGML_GGUF_TYPE_OF(int32_t, INT32)
GGML_GGUF_TYPE_OF(float, FLOAT32)
GGML_GGUF_TYPE_OF(bool, BOOL)
GGML_GGUF_TYPE_OF(uint64_t, UINT64)
GGML_GGUF_TYPE_OF(int64_t, INT64)
GGML_GGUF_TYPE_OF(double, FLOAT64)
#undef GGML_GGUF_TYPE_OF

// One metadata value: a scalar, a string, or a typed array (of scalars, of strings, or of
// arrays). Arrays of scalars are kept packed (little-endian, as in the file) so that large
// tables such as token scores cost one allocation.
class GgufValue {
  public:
    GgufValue() = default;  // uint8 0

    static GgufValue u8(uint8_t v) { return scalar(GgufType::UINT8, &v, 1); }
    static GgufValue i8(int8_t v) { return scalar(GgufType::INT8, &v, 1); }
    static GgufValue u16(uint16_t v) { return scalar(GgufType::UINT16, &v, 2); }
    static GgufValue i16(int16_t v) { return scalar(GgufType::INT16, &v, 2); }
    static GgufValue u32(uint32_t v) { return scalar(GgufType::UINT32, &v, 4); }
    static GgufValue i32(int32_t v) { return scalar(GgufType::INT32, &v, 4); }
    static GgufValue f32(float v) { return scalar(GgufType::FLOAT32, &v, 4); }
    static GgufValue boolean(bool v) {
        uint8_t b = v ? 1 : 0;
        return scalar(GgufType::BOOL, &b, 1);
    }
    static GgufValue u64(uint64_t v) { return scalar(GgufType::UINT64, &v, 8); }
    static GgufValue i64(int64_t v) { return scalar(GgufType::INT64, &v, 8); }
    static GgufValue f64(double v) { return scalar(GgufType::FLOAT64, &v, 8); }
    static GgufValue str(std::string s);
    // Array of scalars; T is one of the GgufTypeOf types.
    template <typename T>
    static GgufValue array(const std::vector<T>& v);
    static GgufValue array_str(std::vector<std::string> v);
    // Array of arrays; throws unless every item is an array.
    static GgufValue array_nested(std::vector<GgufValue> items);
    // An empty array whose element type is `elem` (any type, ARRAY included).
    static GgufValue empty_array(GgufType elem);

    GgufType type() const { return type_; }
    bool is_array() const { return type_ == GgufType::ARRAY; }

    // Scalar access: the stored type must be exactly the requested one (throws otherwise).
    uint8_t as_u8() const { return get_scalar<uint8_t>(); }
    int8_t as_i8() const { return get_scalar<int8_t>(); }
    uint16_t as_u16() const { return get_scalar<uint16_t>(); }
    int16_t as_i16() const { return get_scalar<int16_t>(); }
    uint32_t as_u32() const { return get_scalar<uint32_t>(); }
    int32_t as_i32() const { return get_scalar<int32_t>(); }
    float as_f32() const { return get_scalar<float>(); }
    bool as_bool() const { return get_scalar<bool>(); }
    uint64_t as_u64() const { return get_scalar<uint64_t>(); }
    int64_t as_i64() const { return get_scalar<int64_t>(); }
    double as_f64() const { return get_scalar<double>(); }
    const std::string& as_str() const;
    // Any integer type, range-checked into int64 (throws for non-integers and u64 > INT64_MAX).
    int64_t as_integer() const;
    template <typename T>
    T get_scalar() const;

    // Array access (throws if this is not an array or the element type differs).
    GgufType array_type() const;
    size_t array_size() const;
    template <typename T>
    std::vector<T> array_as() const;
    const std::vector<std::string>& array_strings() const;
    const std::vector<GgufValue>& array_items() const;  // array of arrays
    // Packed little-endian elements of an array of scalars (array_size() * scalar size bytes).
    const uint8_t* array_data() const;

    // Short human-readable form; long arrays are elided.
    std::string to_string() const;
    bool operator==(const GgufValue& o) const;
    bool operator!=(const GgufValue& o) const { return !(*this == o); }

  private:
    friend class GgufParser;
    static GgufValue scalar(GgufType t, const void* p, size_t n) {
        GgufValue v;
        v.type_ = t;
        std::memcpy(&v.bits_, p, n);
        return v;
    }
    [[noreturn]] void type_error(const char* wanted) const;
    void check_array(GgufType elem) const;

    GgufType type_ = GgufType::UINT8;
    GgufType elem_ = GgufType::UINT8;  // element type of an array
    uint64_t bits_ = 0;                // scalar payload, little-endian, zero-extended
    size_t count_ = 0;                 // array length
    std::string str_;
    std::vector<uint8_t> raw_;       // array of scalars
    std::vector<std::string> strs_;  // array of strings
    std::vector<GgufValue> items_;   // array of arrays
};

template <typename T>
T GgufValue::get_scalar() const {
    static_assert(std::is_arithmetic<T>::value, "scalar types only");
    if (type_ != GgufTypeOf<T>::value) type_error(gguf_type_name(GgufTypeOf<T>::value).c_str());
    if constexpr (std::is_same<T, bool>::value) {
        return bits_ != 0;
    } else {
        T v;
        std::memcpy(&v, &bits_, sizeof(T));
        return v;
    }
}

template <typename T>
GgufValue GgufValue::array(const std::vector<T>& v) {
    static_assert(std::is_arithmetic<T>::value, "use array_str / array_nested");
    GgufValue r;
    r.type_ = GgufType::ARRAY;
    r.elem_ = GgufTypeOf<T>::value;
    r.count_ = v.size();
    if constexpr (std::is_same<T, bool>::value) {
        r.raw_.resize(v.size());
        for (size_t i = 0; i < v.size(); ++i) r.raw_[i] = v[i] ? 1 : 0;
    } else {
        r.raw_.resize(v.size() * sizeof(T));
        if (!v.empty()) std::memcpy(r.raw_.data(), v.data(), r.raw_.size());
    }
    return r;
}

template <typename T>
std::vector<T> GgufValue::array_as() const {
    static_assert(std::is_arithmetic<T>::value, "use array_strings / array_items");
    check_array(GgufTypeOf<T>::value);
    std::vector<T> out(count_);
    if constexpr (std::is_same<T, bool>::value) {
        for (size_t i = 0; i < count_; ++i) out[i] = raw_[i] != 0;
    } else {
        if (count_) std::memcpy(out.data(), raw_.data(), count_ * sizeof(T));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Reading.

struct GgufKv {
    std::string key;
    GgufValue value;
    uint64_t file_offset = 0;  // where the key's record starts
};

struct GgufTensorInfo {
    std::string name;
    int n_dims = 0;                 // as stored, 1..4
    int64_t ne[4] = {1, 1, 1, 1};   // elements per dimension, ne[0] innermost
    uint32_t type = 0;              // ggml type id (GgmlType)
    uint64_t offset = 0;            // relative to the data section, aligned
    size_t nbytes = 0;              // bytes of the tensor's data
    const uint8_t* data = nullptr;  // the bytes, inside the file's mapping
    uint64_t info_file_offset = 0;  // where the tensor's info record starts

    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    // "[4096, 32000]"
    std::string shape_str() const;
};

// A parsed GGUF file. Opening memory-maps the file privately (copy-on-write: a write through
// a tensor pointer never reaches the file); tensor data is never copied. The object is
// move-only; tensor data pointers (and ggml::Tensors made from them) stay valid while it lives.
class GgufFile {
  public:
    // Maps `path` (falls back to reading it into memory when mmap fails). Errors name the path.
    static GgufFile open(const std::string& path);
    // Parses bytes the caller keeps alive for the object's lifetime (no copy).
    static GgufFile parse(const void* data, size_t size);
    // Parses bytes it takes ownership of.
    static GgufFile parse(std::vector<uint8_t> bytes);

    GgufFile(GgufFile&&) noexcept;
    GgufFile& operator=(GgufFile&&) noexcept;
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;
    ~GgufFile();

    uint32_t version() const { return version_; }
    size_t alignment() const { return alignment_; }
    size_t data_offset() const { return data_offset_; }  // file offset of the data section
    const uint8_t* bytes() const { return base_; }       // the whole file
    size_t size() const { return size_; }
    bool is_mmapped() const;

    // Metadata, in file order.
    const std::vector<GgufKv>& kvs() const { return kvs_; }
    bool has(const std::string& key) const { return find(key) != nullptr; }
    const GgufValue* find(const std::string& key) const;  // nullptr when absent
    const GgufValue& get(const std::string& key) const;   // throws when absent

    // Typed access: throws a ggml::Error naming the key when it is missing or has another type.
    uint8_t get_u8(const std::string& key) const { return get_as<uint8_t>(key); }
    int8_t get_i8(const std::string& key) const { return get_as<int8_t>(key); }
    uint16_t get_u16(const std::string& key) const { return get_as<uint16_t>(key); }
    int16_t get_i16(const std::string& key) const { return get_as<int16_t>(key); }
    uint32_t get_u32(const std::string& key) const { return get_as<uint32_t>(key); }
    int32_t get_i32(const std::string& key) const { return get_as<int32_t>(key); }
    uint64_t get_u64(const std::string& key) const { return get_as<uint64_t>(key); }
    int64_t get_i64(const std::string& key) const { return get_as<int64_t>(key); }
    float get_f32(const std::string& key) const { return get_as<float>(key); }
    double get_f64(const std::string& key) const { return get_as<double>(key); }
    bool get_bool(const std::string& key) const { return get_as<bool>(key); }
    const std::string& get_str(const std::string& key) const;
    // Any integer type, range-checked into int64.
    int64_t get_integer(const std::string& key) const;
    // The array value itself (throws when missing or not an array).
    const GgufValue& get_arr(const std::string& key) const;
    // Array of scalars of exactly type T.
    template <typename T>
    std::vector<T> get_arr_as(const std::string& key) const;
    const std::vector<std::string>& get_arr_str(const std::string& key) const;

    // Optional variants: nullopt when the key is absent; still throws on a type mismatch.
    template <typename T>
    std::optional<T> find_as(const std::string& key) const;
    std::optional<uint32_t> find_u32(const std::string& key) const {
        return find_as<uint32_t>(key);
    }
    std::optional<int32_t> find_i32(const std::string& key) const { return find_as<int32_t>(key); }
    std::optional<uint64_t> find_u64(const std::string& key) const {
        return find_as<uint64_t>(key);
    }
    std::optional<float> find_f32(const std::string& key) const { return find_as<float>(key); }
    std::optional<bool> find_bool(const std::string& key) const { return find_as<bool>(key); }
    std::optional<std::string> find_str(const std::string& key) const;
    std::optional<int64_t> find_integer(const std::string& key) const;

    template <typename T>
    T get_as(const std::string& key) const;

    // Tensors, in file order.
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(const std::string& name) const;  // nullptr when absent
    const GgufTensorInfo& get_tensor(const std::string& name) const;   // throws when absent

    // A leaf tensor of the mapped dtype (f32/f16/bf16/i32) whose `data` points into the file
    // (zero copy), flagged kFlagWeight and named after the GGUF tensor. Throws for other types
    // (quantized tensors are read through `data` + dequantize_row / dequantize()).
    Tensor* new_tensor(Context& ctx, const std::string& name) const;

  private:
    friend class GgufParser;
    GgufFile() = default;
    void check_key_type(const std::string& key, const GgufValue& v, GgufType want) const;
    [[noreturn]] void missing_key(const std::string& key) const;

    struct Storage;  // mapping or owned bytes
    std::unique_ptr<Storage> storage_;
    std::string path_;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint32_t version_ = 0;
    size_t alignment_ = 32;
    size_t data_offset_ = 0;
    std::vector<GgufKv> kvs_;
    std::unordered_map<std::string, size_t> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

template <typename T>
T GgufFile::get_as(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) missing_key(key);
    check_key_type(key, *v, GgufTypeOf<T>::value);
    return v->get_scalar<T>();
}

template <typename T>
std::optional<T> GgufFile::find_as(const std::string& key) const {
    if (!find(key)) return std::nullopt;
    return get_as<T>(key);
}

template <typename T>
std::vector<T> GgufFile::get_arr_as(const std::string& key) const {
    const GgufValue& v = get_arr(key);
    if (v.array_type() != GgufTypeOf<T>::value) {
        throw Error("gguf: key '" + key + "' is an array of " + gguf_type_name(v.array_type()) +
                    ", expected an array of " + gguf_type_name(GgufTypeOf<T>::value));
    }
    return v.array_as<T>();
}

// A leaf tensor over `info`'s bytes (see GgufFile::new_tensor).
Tensor* gguf_new_tensor(Context& ctx, const GgufTensorInfo& info);
// The tensor's elements as f32 (f32, f16, bf16, q8_0, q4_0).
std::vector<float> dequantize(const GgufTensorInfo& info);

// ---------------------------------------------------------------------------------------------
// Writing.

// Collects metadata and tensors, then writes a GGUF v3 file. Tensor bytes are copied in, so
// the sources may go away before writing. The alignment is the `general.alignment` value
// (uint32, a power of two) when set, 32 otherwise.
class GgufWriter {
  public:
    // Adds or replaces a key (keeps its first position). Keys must be non-empty UTF-8.
    void set(const std::string& key, GgufValue v);
    void set_u8(const std::string& k, uint8_t v) { set(k, GgufValue::u8(v)); }
    void set_i8(const std::string& k, int8_t v) { set(k, GgufValue::i8(v)); }
    void set_u16(const std::string& k, uint16_t v) { set(k, GgufValue::u16(v)); }
    void set_i16(const std::string& k, int16_t v) { set(k, GgufValue::i16(v)); }
    void set_u32(const std::string& k, uint32_t v) { set(k, GgufValue::u32(v)); }
    void set_i32(const std::string& k, int32_t v) { set(k, GgufValue::i32(v)); }
    void set_u64(const std::string& k, uint64_t v) { set(k, GgufValue::u64(v)); }
    void set_i64(const std::string& k, int64_t v) { set(k, GgufValue::i64(v)); }
    void set_f32(const std::string& k, float v) { set(k, GgufValue::f32(v)); }
    void set_f64(const std::string& k, double v) { set(k, GgufValue::f64(v)); }
    void set_bool(const std::string& k, bool v) { set(k, GgufValue::boolean(v)); }
    void set_str(const std::string& k, const std::string& v) { set(k, GgufValue::str(v)); }
    template <typename T>
    void set_arr(const std::string& k, const std::vector<T>& v) {
        set(k, GgufValue::array(v));
    }
    void set_arr_str(const std::string& k, const std::vector<std::string>& v) {
        set(k, GgufValue::array_str(v));
    }
    void set_alignment(uint32_t a) { set_u32("general.alignment", a); }

    // A tensor of ggml type `type`, shape `ne` (ne[0] innermost, 1..4 dims, each > 0, ne[0] a
    // multiple of the type's block size) and exactly ggml_type_nbytes(type, n) bytes.
    void add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne,
                    const void* data, size_t nbytes);
    void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                    const void* data, size_t nbytes) {
        add_tensor(name, (uint32_t)type, ne, data, nbytes);
    }
    // A contiguous f32/f16/bf16/i32 tensor with data, stored under its own name (or `name`).
    void add_tensor(const Tensor* t, const std::string& name = "");

    size_t n_kv() const { return kvs_.size(); }
    size_t n_tensors() const { return tensors_.size(); }

    // The complete file. No padding follows the last tensor's data.
    std::vector<uint8_t> to_bytes() const;
    void write(const std::string& path) const;

  private:
    struct PendingTensor {
        std::string name;
        uint32_t type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> bytes;
    };
    size_t alignment() const;
    std::vector<GgufKv> kvs_;
    std::vector<PendingTensor> tensors_;
};

// ---------------------------------------------------------------------------------------------
// Model quantization (ggml-quantize).

struct QuantizeReport {
    size_t n_quantized = 0, n_kept = 0;  // tensors converted / copied unchanged
    size_t bytes_in = 0, bytes_out = 0;  // tensor data only
};

// A copy of `in` with every 2-D f32/f16/bf16 matrix named "*.weight" whose rows are whole
// 32-element blocks stored as `type` (q8_0 or q4_0, ggml's reference rounding, ggml/quant.h);
// norms, other tensors and every metadata key are copied unchanged, and general.file_type /
// general.quantization_version are set as llama.cpp sets them (7 = mostly q8_0, 2 = mostly
// q4_0; version 2), so the result loads in llama.cpp too. Throws for any other `type`.
GgufWriter quantize_gguf(const GgufFile& in, DType type, QuantizeReport* report = nullptr);

}  // namespace ggml
