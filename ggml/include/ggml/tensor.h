// Tensor: plain data describing one node of a computation graph.
//
// Shapes follow ggml: ne[0] is the innermost dimension, nb[i] is the byte stride of
// dimension i. A contiguous tensor has nb[0] = dtype size and nb[i] = nb[i-1] * ne[i-1].
// Ops never allocate or touch data: `data` and `buffer` are filled in by allocation
// (a weight buffer, or the executor binding a plan's arenas).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "ggml/types.h"

namespace ggml {

enum class Op : uint8_t {
#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) id,
#include "ggml/ops.def"
#undef GGML_OP
    COUNT
};

constexpr int kOpCount = (int)Op::COUNT;
constexpr int kMaxDims = 4;
constexpr int kMaxSrc = 6;
constexpr int kMaxOpParams = 128;  // bytes of POD parameters per node
constexpr int kMaxName = 64;

// Static facts about an op, expanded from ops.def.
struct OpInfo {
    const char* name;
    int min_src, max_src;
    bool inplace;     // may reuse src[0]'s memory when src[0] dies here
    bool view;        // no kernel; aliases src[0]
    bool decomposed;  // fused op with a decomposition
};
const OpInfo& op_info(Op op);
inline const char* op_name(Op op) {
    return op_info(op).name;
}

class Buffer;

enum TensorFlags : uint32_t {
    kFlagInput = 1u << 0,   // set by the caller before each run; never overwritten
    kFlagOutput = 1u << 1,  // read by the caller after a run; never overwritten
    kFlagWeight = 1u << 2,  // persistent data owned by a weight buffer
};

struct Tensor {
    DType type = DType::F32;
    int64_t ne[kMaxDims] = {1, 1, 1, 1};  // elements per dimension, ne[0] innermost
    size_t nb[kMaxDims] = {0, 0, 0, 0};   // byte stride per dimension
    Op op = Op::NONE;
    alignas(8) uint8_t op_params[kMaxOpParams] = {};  // POD parameters, see get/set_params
    Tensor* src[kMaxSrc] = {};                        // operands; unused entries are null
    Tensor* view_src = nullptr;  // the tensor whose memory this one aliases (views, set_rows)
    size_t view_offs = 0;        // byte offset of this tensor inside view_src's memory
    uint32_t flags = 0;          // TensorFlags
    void* data = nullptr;        // filled by allocation, never by op builders
    Buffer* buffer = nullptr;    // the buffer holding `data`, when known
    char name[kMaxName] = {};

    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
    // Bytes spanned from the first to one past the last element (strides respected).
    size_t nbytes() const;
    bool is_contiguous() const;
    // Rows (dimension 0) are packed: nb[0] equals the element size.
    bool rows_contiguous() const { return nb[0] == dtype_size(type); }
    int n_dims() const;  // number of dimensions up to the last one with ne > 1 (at least 1)
    // "f32[4,3,1,1]" style description used in error messages.
    std::string shape_str() const;

    template <typename T>
    void set_params(const T& p) {
        static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= kMaxOpParams,
                      "op params must be small POD");
        std::memcpy(op_params, &p, sizeof(T));
    }
    template <typename T>
    T params() const {
        static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= kMaxOpParams,
                      "op params must be small POD");
        T p;
        std::memcpy(&p, op_params, sizeof(T));
        return p;
    }
    void set_name(const std::string& n);

    // Element address from indices (no bounds check: kernels stay inside ne by construction).
    uint8_t* ptr(int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) const {
        return (uint8_t*)data + i0 * nb[0] + i1 * nb[1] + i2 * nb[2] + i3 * nb[3];
    }
};

// The tensor that owns the memory `t` lives in (follows view_src to the root).
inline const Tensor* view_root(const Tensor* t) {
    while (t->view_src) t = t->view_src;
    return t;
}
inline Tensor* view_root(Tensor* t) {
    while (t->view_src) t = t->view_src;
    return t;
}

bool same_shape(const Tensor* a, const Tensor* b);

}  // namespace ggml
