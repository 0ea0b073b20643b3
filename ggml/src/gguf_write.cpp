// GGUF writing: serialises collected metadata and tensors as a GGUF v3 image.
//
// Tensor data are laid out in insertion order, each at the next multiple of the alignment
// after the previous one, with zero padding between; offsets are relative to the data
// section, which itself starts at the first multiple of the alignment after the tensor infos.
// Nothing is padded after the last tensor, so every strict prefix of the output is invalid.
#include <cerrno>
#include <cstdint>
#include <cstdio>

#include "ggml/gguf.h"
#include "ggml/tensor.h"
#include "gguf_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF writing assumes a little-endian host"
#endif

namespace ggml {

namespace {

void check_name(const char* what, const std::string& s) {
    if (s.empty()) throw Error(std::string("GgufWriter: ") + what + " is empty");
    if (s.find('\0') != std::string::npos) {
        throw Error(std::string("GgufWriter: ") + what + " '" + s + "' contains a NUL byte");
    }
}

class Out {
  public:
    explicit Out(std::vector<uint8_t>& b) : b_(b) {}
    template <typename T>
    void put(T v) {
        const size_t at = b_.size();
        b_.resize(at + sizeof(T));
        std::memcpy(b_.data() + at, &v, sizeof(T));
    }
    void bytes(const void* p, size_t n) {
        if (n == 0) return;
        const size_t at = b_.size();
        b_.resize(at + n);
        std::memcpy(b_.data() + at, p, n);
    }
    void str(const std::string& s) {
        put<uint64_t>(s.size());
        bytes(s.data(), s.size());
    }
    void pad_to(size_t align) { b_.resize((b_.size() + align - 1) / align * align, 0); }
    void value(const GgufValue& v) {
        switch (v.type()) {
            case GgufType::STRING:
                str(v.as_str());
                return;
            case GgufType::ARRAY: {
                put<uint32_t>((uint32_t)v.array_type());
                put<uint64_t>(v.array_size());
                if (v.array_type() == GgufType::STRING) {
                    for (const std::string& s : v.array_strings()) str(s);
                } else if (v.array_type() == GgufType::ARRAY) {
                    for (const GgufValue& item : v.array_items()) value(item);
                } else {
                    bytes(v.array_data(), v.array_size() * gguf_scalar_size(v.array_type()));
                }
                return;
            }
            case GgufType::UINT8:
                put(v.as_u8());
                return;
            case GgufType::INT8:
                put(v.as_i8());
                return;
            case GgufType::UINT16:
                put(v.as_u16());
                return;
            case GgufType::INT16:
                put(v.as_i16());
                return;
            case GgufType::UINT32:
                put(v.as_u32());
                return;
            case GgufType::INT32:
                put(v.as_i32());
                return;
            case GgufType::FLOAT32:
                put(v.as_f32());
                return;
            case GgufType::BOOL:
                put<uint8_t>(v.as_bool() ? 1 : 0);
                return;
            case GgufType::UINT64:
                put(v.as_u64());
                return;
            case GgufType::INT64:
                put(v.as_i64());
                return;
            case GgufType::FLOAT64:
                put(v.as_f64());
                return;
        }
        throw Error("GgufWriter: value of unknown type " + gguf_type_name(v.type()));
    }

  private:
    std::vector<uint8_t>& b_;
};

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue v) {
    check_name("key", key);
    if (key.size() > 65535) throw Error("GgufWriter: key is longer than 65535 bytes");
    if (utf8_invalid_at(key) != std::string::npos)
        throw Error("GgufWriter: key '" + key + "' is not valid UTF-8");
    if (key == "general.alignment") {
        if (v.type() != GgufType::UINT32) {
            throw Error("GgufWriter: general.alignment must be uint32, got " +
                        gguf_type_name(v.type()));
        }
        const uint32_t a = v.as_u32();
        if (a == 0 || (a & (a - 1))) {
            throw Error("GgufWriter: general.alignment " + std::to_string(a) +
                        " is not a power of two");
        }
    }
    for (GgufKv& kv : kvs_) {
        if (kv.key == key) {
            kv.value = std::move(v);
            return;
        }
    }
    kvs_.push_back(GgufKv{key, std::move(v), 0});
}

size_t GgufWriter::alignment() const {
    for (const GgufKv& kv : kvs_) {
        if (kv.key == "general.alignment") return kv.value.as_u32();
    }
    return 32;
}

void GgufWriter::add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne,
                            const void* data, size_t nbytes) {
    check_name("tensor name", name);
    const std::string what = "GgufWriter: tensor '" + name + "': ";
    if (name.size() > 64) throw Error(what + "name is longer than 64 bytes");
    if (utf8_invalid_at(name) != std::string::npos) throw Error(what + "name is not valid UTF-8");
    for (const PendingTensor& t : tensors_) {
        if (t.name == name) throw Error(what + "duplicate tensor name");
    }
    const GgmlTypeInfo* ti = ggml_type_info(type);
    if (!ti) throw Error(what + "unknown ggml type id " + std::to_string(type));
    if (ne.empty() || ne.size() > (size_t)kMaxDims) {
        throw Error(what + std::to_string(ne.size()) + " dimensions, expected 1.." +
                    std::to_string(kMaxDims));
    }
    int64_t n = 1;
    for (size_t i = 0; i < ne.size(); ++i) {
        if (ne[i] <= 0) {
            throw Error(what + "ne[" + std::to_string(i) + "] = " + std::to_string(ne[i]) +
                        " must be > 0");
        }
        if (ne[i] > INT64_MAX / n) throw Error(what + "element count overflows int64");
        n *= ne[i];
    }
    if (ne[0] % ti->block_size != 0) {
        throw Error(what + "ne[0] = " + std::to_string(ne[0]) +
                    " is not a multiple of the block size " + std::to_string(ti->block_size) +
                    " of " + ti->name);
    }
    const size_t want = ggml_type_nbytes(type, n);
    if (nbytes != want) {
        throw Error(what + std::to_string(nbytes) + " bytes given, " + ti->name + " of " +
                    std::to_string(n) + " elements needs " + std::to_string(want));
    }
    if (!data) throw Error(what + "data is null");
    PendingTensor t{name, type, ne,
                    std::vector<uint8_t>((const uint8_t*)data, (const uint8_t*)data + nbytes)};
    tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(const Tensor* t, const std::string& name) {
    const std::string nm = name.empty() ? std::string(t->name) : name;
    if (!t->data) throw Error("GgufWriter: tensor '" + nm + "' has no data");
    if (!t->is_contiguous()) {
        throw Error("GgufWriter: tensor '" + nm + "' " + t->shape_str() + " is not contiguous");
    }
    const int nd = t->n_dims();
    std::vector<int64_t> ne(t->ne, t->ne + nd);
    add_tensor(nm, (uint32_t)dtype_to_ggml_type(t->type), ne, t->data,
               t->nbytes());
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
    const size_t align = alignment();
    std::vector<uint8_t> buf;
    Out o(buf);
    o.put<uint32_t>(0x46554747u);  // "GGUF" read as a little-endian u32
    o.put<uint32_t>(3);
    o.put<uint64_t>(tensors_.size());
    o.put<uint64_t>(kvs_.size());
    for (const GgufKv& kv : kvs_) {
        o.str(kv.key);
        o.put<uint32_t>((uint32_t)kv.value.type());
        o.value(kv.value);
    }
    uint64_t offset = 0;
    for (const PendingTensor& t : tensors_) {
        o.str(t.name);
        o.put<uint32_t>((uint32_t)t.ne.size());
        for (int64_t ne : t.ne) o.put<uint64_t>((uint64_t)ne);
        o.put<uint32_t>(t.type);
        o.put<uint64_t>(offset);
        offset = (offset + t.bytes.size() + align - 1) / align * align;
    }
    if (!tensors_.empty()) {
        o.pad_to(align);
        for (const PendingTensor& t : tensors_) {
            o.pad_to(align);  // the data section starts aligned, so relative == absolute
            o.bytes(t.bytes.data(), t.bytes.size());
        }
    }
    return buf;
}

void GgufWriter::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = to_bytes();
    FILE* fp = std::fopen(path.c_str(), "wb");
    if (!fp) {
        throw Error("GgufWriter: cannot create '" + path + "': " + std::strerror(errno));
    }
    const size_t put = std::fwrite(bytes.data(), 1, bytes.size(), fp);
    const bool ok = put == bytes.size() && std::fflush(fp) == 0;
    const int e = errno;
    if (std::fclose(fp) != 0 || !ok) {
        throw Error("GgufWriter: cannot write '" + path + "': " + std::strerror(e));
    }
}

}  // namespace ggml
