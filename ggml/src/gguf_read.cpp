// GGUF reading: a strict parser over a byte span, and the memory-mapped file around it.
//
// The file is untrusted input. Before anything is read, copied or allocated, its size is
// checked against the bytes that remain: a count n of items that each take at least m bytes
// in the file is rejected when n > remaining / m (a division, so 2^62 cannot overflow), which
// bounds every allocation by a small multiple of the file size and every loop by its length.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <numeric>

#include "ggml/context.h"
#include "ggml/gguf.h"
#include "ggml/tensor.h"
#include "gguf_internal.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define GGML_GGUF_MMAP 1
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF reading assumes a little-endian host"
#endif

namespace ggml {

namespace {

constexpr uint32_t kMaxKeyLen = 65535;   // spec: keys are at most 2^16 - 1 bytes
constexpr uint64_t kMaxTensorName = 64;  // spec: tensor names are at most 64 bytes
constexpr int kMaxArrayDepth = 64;       // nested arrays deeper than this are rejected
// Smallest possible records, for bounding counts by the remaining bytes.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;  // key length, value type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes =
    8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne[0], type, offset

bool is_pow2(uint64_t x) {
    return x && !(x & (x - 1));
}

std::string quoted(const std::string& s) {
    // Names in messages are printed raw but bounded, so a 1 MB key cannot flood a log.
    std::string r;
    for (size_t i = 0; i < s.size() && i < 96; ++i) {
        const unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c >= 0x80) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            r += buf;
        } else {
            r += (char)c;
        }
    }
    if (s.size() > 96) r += "...";
    return "'" + r + "'";
}

}  // namespace

// Reads one GGUF image into a GgufFile. `where_` names the record being read (kv 3 'key',
// tensor 'name') so every error says which field of which record is wrong.
class GgufParser {
  public:
    GgufParser(const uint8_t* p, size_t n, const std::string& src) : p_(p), n_(n), src_(src) {}

    void parse(GgufFile& f);

  private:
    [[noreturn]] void fail(uint64_t at, const std::string& field, const std::string& what) const {
        std::string m = "gguf: ";
        if (!src_.empty()) m += src_ + ": ";
        if (!where_.empty()) m += where_ + ": ";
        m += field + " (at file offset " + std::to_string(at) + ") " + what;
        throw Error(m);
    }
    size_t left() const { return n_ - pos_; }
    void need(uint64_t bytes, const char* field) const {
        if (bytes > left()) {
            fail(pos_, field,
                 "needs " + std::to_string(bytes) + " bytes but the file ends after " +
                     std::to_string(left()) + " (file size " + std::to_string(n_) + ")");
        }
    }
    template <typename T>
    T rd(const char* field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    // A count of items that each occupy at least `min_bytes` in the rest of the file.
    void check_count(uint64_t count, uint64_t count_at, uint64_t min_bytes, const char* field) {
        if (count > left() / min_bytes) {
            fail(count_at, std::string(field) + " " + std::to_string(count),
                 "is impossible: that many items need at least " + std::to_string(min_bytes) +
                     " bytes each, only " + std::to_string(left()) + " bytes remain");
        }
    }
    std::string rd_str(const char* field, uint64_t max_len);
    GgufValue rd_value(GgufType t, uint64_t type_at, int depth);

    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
    std::string src_;
    std::string where_;
};

std::string GgufParser::rd_str(const char* field, uint64_t max_len) {
    const uint64_t at = pos_;
    const uint64_t len = rd<uint64_t>(field);
    if (len > left()) {
        fail(at, std::string(field) + " " + std::to_string(len),
             "exceeds the " + std::to_string(left()) + " bytes left in the file");
    }
    if (len > max_len) {
        fail(at, std::string(field) + " " + std::to_string(len),
             "exceeds the limit of " + std::to_string(max_len) + " bytes");
    }
    std::string s((const char*)p_ + pos_, (size_t)len);
    pos_ += (size_t)len;
    return s;
}

GgufValue GgufParser::rd_value(GgufType t, uint64_t type_at, int depth) {
    const uint64_t at = pos_;
    switch (t) {
        case GgufType::UINT8:
            return GgufValue::u8(rd<uint8_t>("uint8 value"));
        case GgufType::INT8:
            return GgufValue::i8(rd<int8_t>("int8 value"));
        case GgufType::UINT16:
            return GgufValue::u16(rd<uint16_t>("uint16 value"));
        case GgufType::INT16:
            return GgufValue::i16(rd<int16_t>("int16 value"));
        case GgufType::UINT32:
            return GgufValue::u32(rd<uint32_t>("uint32 value"));
        case GgufType::INT32:
            return GgufValue::i32(rd<int32_t>("int32 value"));
        case GgufType::FLOAT32:
            return GgufValue::f32(rd<float>("float32 value"));
        case GgufType::UINT64:
            return GgufValue::u64(rd<uint64_t>("uint64 value"));
        case GgufType::INT64:
            return GgufValue::i64(rd<int64_t>("int64 value"));
        case GgufType::FLOAT64:
            return GgufValue::f64(rd<double>("float64 value"));
        case GgufType::BOOL: {
            const uint8_t b = rd<uint8_t>("bool value");
            if (b > 1) fail(at, "bool value " + std::to_string(b), "is neither 0 nor 1");
            return GgufValue::boolean(b != 0);
        }
        case GgufType::STRING:
            return GgufValue::str(
                rd_str("string value length", std::numeric_limits<uint64_t>::max()));
        case GgufType::ARRAY:
            break;
        default:
            fail(type_at, "value type " + std::to_string((uint32_t)t),
                 "is unknown (valid: 0.." + std::to_string(kGgufTypeCount - 1) + ")");
    }

    if (depth >= kMaxArrayDepth) {
        fail(at, "array", "nests deeper than " + std::to_string(kMaxArrayDepth) + " levels");
    }
    const uint64_t elem_at = pos_;
    const uint32_t et = rd<uint32_t>("array element type");
    if (et >= kGgufTypeCount) {
        fail(elem_at, "array element type " + std::to_string(et),
             "is unknown (valid: 0.." + std::to_string(kGgufTypeCount - 1) + ")");
    }
    const GgufType elem = (GgufType)et;
    const uint64_t count_at = pos_;
    const uint64_t count = rd<uint64_t>("array length");
    const size_t es = gguf_scalar_size(elem);
    // Strings take at least their 8-byte length, arrays their 4-byte type and 8-byte count.
    const uint64_t min_elem = es ? es : (elem == GgufType::STRING ? 8 : 12);
    check_count(count, count_at, min_elem, "array length");

    GgufValue v;
    v.type_ = GgufType::ARRAY;
    v.elem_ = elem;
    v.count_ = (size_t)count;
    if (es) {
        const size_t bytes = (size_t)count * es;  // <= left(): checked above
        if (elem == GgufType::BOOL) {
            for (size_t i = 0; i < bytes; ++i) {
                if (p_[pos_ + i] > 1) {
                    fail(pos_ + i,
                         "bool array element " + std::to_string(i) + " = " +
                             std::to_string(p_[pos_ + i]),
                         "is neither 0 nor 1");
                }
            }
        }
        v.raw_.assign(p_ + pos_, p_ + pos_ + bytes);
        pos_ += bytes;
    } else if (elem == GgufType::STRING) {
        v.strs_.reserve((size_t)count);
        for (uint64_t i = 0; i < count; ++i) {
            v.strs_.push_back(rd_str("array string length", std::numeric_limits<uint64_t>::max()));
        }
    } else {
        v.items_.reserve((size_t)count);
        for (uint64_t i = 0; i < count; ++i) {
            v.items_.push_back(rd_value(GgufType::ARRAY, elem_at, depth + 1));
        }
    }
    return v;
}

void GgufParser::parse(GgufFile& f) {
    where_ = "header";
    if (n_ == 0) fail(0, "magic", "is missing: the file is empty");
    need(4, "magic");
    if (std::memcmp(p_, "GGUF", 4) != 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "is %02x %02x %02x %02x, expected 'GGUF' (47 47 55 46)",
                      p_[0], p_[1], p_[2], p_[3]);
        fail(0, "magic", buf);
    }
    pos_ = 4;
    const uint32_t version = rd<uint32_t>("version");
    if (version != 2 && version != 3) {
        std::string why = "is not supported (expected 3, or 2)";
        if (version == 0x03000000u || version == 0x02000000u) why += "; big-endian files are not";
        fail(4, "version " + std::to_string(version), why);
    }
    f.version_ = version;
    const uint64_t n_tensors = rd<uint64_t>("tensor count");
    const uint64_t n_kv = rd<uint64_t>("kv count");
    check_count(n_kv, 16, kMinKvBytes, "kv count");
    check_count(n_tensors, 8, kMinTensorInfoBytes, "tensor count");

    // Metadata.
    f.kvs_.reserve((size_t)n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t rec_at = pos_;
        where_ = "kv " + std::to_string(i);
        std::string key = rd_str("key length", kMaxKeyLen);
        if (key.empty()) fail(rec_at, "key", "is empty");
        const size_t bad = utf8_invalid_at(key);
        if (bad != std::string::npos) {
            fail(rec_at + 8 + bad, "key " + quoted(key),
                 "is not valid UTF-8 (byte " + std::to_string(bad) + " of the key)");
        }
        if (key.find('\0') != std::string::npos)
            fail(rec_at, "key " + quoted(key), "contains a NUL byte");
        where_ += " " + quoted(key);
        if (f.kv_index_.count(key)) {
            const uint64_t first = f.kvs_[f.kv_index_[key]].file_offset;
            fail(rec_at, "key", "duplicates the key at file offset " + std::to_string(first));
        }
        const uint64_t type_at = pos_;
        const uint32_t type = rd<uint32_t>("value type");
        GgufValue v = rd_value((GgufType)type, type_at, 0);
        f.kv_index_.emplace(key, f.kvs_.size());
        f.kvs_.push_back(GgufKv{std::move(key), std::move(v), rec_at});
    }

    // Alignment.
    where_ = "kv 'general.alignment'";
    f.alignment_ = 32;
    if (const GgufValue* a = f.find("general.alignment")) {
        const uint64_t at = f.kvs_[f.kv_index_["general.alignment"]].file_offset;
        if (a->type() != GgufType::UINT32) {
            fail(at, "value type " + gguf_type_name(a->type()), "is not uint32");
        }
        if (!is_pow2(a->as_u32())) {
            fail(at, "value " + std::to_string(a->as_u32()), "is not a power of two");
        }
        f.alignment_ = a->as_u32();
    }
    const uint64_t align = f.alignment_;

    // Tensor infos.
    where_.clear();
    check_count(n_tensors, 8, kMinTensorInfoBytes, "tensor count");
    f.tensors_.reserve((size_t)n_tensors);
    std::vector<uint64_t> offset_at((size_t)n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t;
        t.info_file_offset = pos_;
        where_ = "tensor " + std::to_string(i);
        t.name = rd_str("name length", kMaxTensorName);
        if (t.name.empty()) fail(t.info_file_offset, "name", "is empty");
        const size_t bad = utf8_invalid_at(t.name);
        if (bad != std::string::npos) {
            fail(t.info_file_offset + 8 + bad, "name " + quoted(t.name), "is not valid UTF-8");
        }
        where_ = "tensor " + quoted(t.name);
        if (f.tensor_index_.count(t.name)) {
            const uint64_t first = f.tensors_[f.tensor_index_[t.name]].info_file_offset;
            fail(t.info_file_offset, "name",
                 "duplicates the tensor at file offset " + std::to_string(first));
        }
        const uint64_t nd_at = pos_;
        const uint32_t n_dims = rd<uint32_t>("n_dims");
        if (n_dims < 1 || n_dims > (uint32_t)kMaxDims) {
            fail(nd_at, "n_dims " + std::to_string(n_dims),
                 "is outside 1.." + std::to_string(kMaxDims));
        }
        t.n_dims = (int)n_dims;
        uint64_t nel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t at = pos_;
            const std::string field = "ne[" + std::to_string(d) + "]";
            const uint64_t ne = rd<uint64_t>(field.c_str());
            if (ne == 0) fail(at, field + " 0", "is not allowed: dimensions must be > 0");
            if (ne > (uint64_t)std::numeric_limits<int64_t>::max() / nel) {
                fail(at, field + " " + std::to_string(ne),
                     "makes the element count overflow int64");
            }
            nel *= ne;
            t.ne[d] = (int64_t)ne;
        }
        const uint64_t type_at = pos_;
        t.type = rd<uint32_t>("type");
        const GgmlTypeInfo* ti = ggml_type_info(t.type);
        if (!ti) fail(type_at, "type id " + std::to_string(t.type), "is not a known ggml type");
        if (t.ne[0] % ti->block_size != 0) {
            fail(nd_at + 4, "ne[0] " + std::to_string(t.ne[0]),
                 "is not a multiple of the block size " + std::to_string(ti->block_size) + " of " +
                     ti->name);
        }
        const uint64_t blocks = nel / (uint64_t)ti->block_size;
        if (blocks > (uint64_t)n_ / ti->block_bytes) {
            fail(nd_at, "shape " + t.shape_str(),
                 "needs " + std::to_string(blocks) + " blocks of " + ti->name +
                     ", more than the whole file (size " + std::to_string(n_) + ")");
        }
        t.nbytes = (size_t)(blocks * ti->block_bytes);
        offset_at[(size_t)i] = pos_;
        t.offset = rd<uint64_t>("data offset");
        if (t.offset % align != 0) {
            fail(offset_at[(size_t)i], "data offset " + std::to_string(t.offset),
                 "is not aligned to " + std::to_string(align));
        }
        f.tensor_index_.emplace(t.name, f.tensors_.size());
        f.tensors_.push_back(std::move(t));
    }

    // Data section: starts at the next multiple of the alignment (pos_ <= n_, align <= 2^31).
    const uint64_t data_at = (pos_ + align - 1) / align * align;
    f.data_offset_ = (size_t)data_at;
    if (!f.tensors_.empty() && data_at > n_) {
        where_ = "data section";
        fail(pos_, "padding",
             "to alignment " + std::to_string(align) + " ends at " + std::to_string(data_at) +
                 ", past the end of the file (size " + std::to_string(n_) + ")");
    }
    const uint64_t data_size = f.tensors_.empty() ? 0 : n_ - data_at;
    for (size_t i = 0; i < f.tensors_.size(); ++i) {
        GgufTensorInfo& t = f.tensors_[i];
        where_ = "tensor " + quoted(t.name);
        if (t.offset > data_size || t.nbytes > data_size - t.offset) {
            fail(offset_at[i], "data offset " + std::to_string(t.offset),
                 "+ " + std::to_string(t.nbytes) +
                     " bytes runs past the end of the file: the data section (file offset " +
                     std::to_string(data_at) + ") holds " + std::to_string(data_size) + " bytes");
        }
        t.data = p_ + data_at + t.offset;
    }
    // Overlaps: sorted by offset, each tensor must end before the next begins.
    std::vector<size_t> order(f.tensors_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
        const GgufTensorInfo& a = f.tensors_[order[k - 1]];
        const GgufTensorInfo& b = f.tensors_[order[k]];
        if (a.offset + a.nbytes > b.offset) {
            where_ = "tensor " + quoted(b.name);
            fail(offset_at[order[k]], "data offset " + std::to_string(b.offset),
                 "overlaps tensor " + quoted(a.name) + " at [" + std::to_string(a.offset) + ", " +
                     std::to_string(a.offset + a.nbytes) + ")");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GgufFile.

struct GgufFile::Storage {
    std::vector<uint8_t> owned;
    void* map = nullptr;
    size_t map_size = 0;
    ~Storage() {
#ifdef GGML_GGUF_MMAP
        if (map) munmap(map, map_size);
#endif
    }
};

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

bool GgufFile::is_mmapped() const {
    return storage_ && storage_->map;
}

GgufFile GgufFile::parse(const void* data, size_t size) {
    GgufFile f;
    f.base_ = (const uint8_t*)data;
    f.size_ = size;
    GgufParser(f.base_, size, "").parse(f);
    return f;
}

GgufFile GgufFile::parse(std::vector<uint8_t> bytes) {
    GgufFile f;
    f.storage_ = std::make_unique<Storage>();
    f.storage_->owned = std::move(bytes);
    f.base_ = f.storage_->owned.data();
    f.size_ = f.storage_->owned.size();
    GgufParser(f.base_, f.size_, "").parse(f);
    return f;
}

GgufFile GgufFile::open(const std::string& path) {
    GgufFile f;
    f.path_ = path;
    f.storage_ = std::make_unique<Storage>();
    Storage& s = *f.storage_;
    const std::string src = "'" + path + "'";
#ifdef GGML_GGUF_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error("gguf: cannot open " + src + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw Error("gguf: cannot stat " + src + ": " + std::strerror(e));
    }
    const size_t size = (size_t)st.st_size;
    if (size > 0) {
        // Private and writable: a stray write lands in a private copy, never in the file.
        void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            s.map = m;
            s.map_size = size;
        }
    }
    if (!s.map && size > 0) {
        s.owned.resize(size);
        size_t got = 0;
        while (got < size) {
            const ssize_t r = ::read(fd, s.owned.data() + got, size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                const int e = errno;
                ::close(fd);
                throw Error("gguf: cannot read " + src + ": " +
                            (r == 0 ? std::string("unexpected end of file") : std::strerror(e)));
            }
            got += (size_t)r;
        }
    }
    ::close(fd);
    f.base_ = s.map ? (const uint8_t*)s.map : s.owned.data();
    f.size_ = size;
#else
    FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) throw Error("gguf: cannot open " + src + ": " + std::strerror(errno));
    std::vector<uint8_t> buf;
    uint8_t chunk[1 << 16];
    size_t r;
    while ((r = std::fread(chunk, 1, sizeof chunk, fp)) > 0)
        buf.insert(buf.end(), chunk, chunk + r);
    const bool err = std::ferror(fp);
    std::fclose(fp);
    if (err) throw Error("gguf: cannot read " + src);
    s.owned = std::move(buf);
    f.base_ = s.owned.data();
    f.size_ = s.owned.size();
#endif
    GgufParser(f.base_, f.size_, src).parse(f);
    return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

void GgufFile::missing_key(const std::string& key) const {
    throw Error("gguf: " + (path_.empty() ? std::string() : "'" + path_ + "': ") + "key '" + key +
                "' is missing");
}

const GgufValue& GgufFile::get(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) missing_key(key);
    return *v;
}

void GgufFile::check_key_type(const std::string& key, const GgufValue& v, GgufType want) const {
    if (v.type() != want) {
        throw Error("gguf: " + (path_.empty() ? std::string() : "'" + path_ + "': ") + "key '" +
                    key + "' has type " + gguf_type_name(v.type()) + ", expected " +
                    gguf_type_name(want));
    }
}

const std::string& GgufFile::get_str(const std::string& key) const {
    const GgufValue& v = get(key);
    check_key_type(key, v, GgufType::STRING);
    return v.as_str();
}

int64_t GgufFile::get_integer(const std::string& key) const {
    const GgufValue& v = get(key);
    try {
        return v.as_integer();
    } catch (const Error& e) {
        throw Error("gguf: key '" + key + "': " + e.what());
    }
}

const GgufValue& GgufFile::get_arr(const std::string& key) const {
    const GgufValue& v = get(key);
    check_key_type(key, v, GgufType::ARRAY);
    return v;
}

const std::vector<std::string>& GgufFile::get_arr_str(const std::string& key) const {
    const GgufValue& v = get_arr(key);
    if (v.array_type() != GgufType::STRING) {
        throw Error("gguf: key '" + key + "' is an array of " + gguf_type_name(v.array_type()) +
                    ", expected an array of string");
    }
    return v.array_strings();
}

std::optional<std::string> GgufFile::find_str(const std::string& key) const {
    if (!find(key)) return std::nullopt;
    return get_str(key);
}

std::optional<int64_t> GgufFile::find_integer(const std::string& key) const {
    if (!find(key)) return std::nullopt;
    return get_integer(key);
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::get_tensor(const std::string& name) const {
    const GgufTensorInfo* t = find_tensor(name);
    if (!t) {
        throw Error("gguf: " + (path_.empty() ? std::string() : "'" + path_ + "': ") + "tensor '" +
                    name + "' is missing");
    }
    return *t;
}

Tensor* GgufFile::new_tensor(Context& ctx, const std::string& name) const {
    return gguf_new_tensor(ctx, get_tensor(name));
}

}  // namespace ggml
