// Static tables (dtypes, ops) and the small helpers of Tensor.
#include "ggml/tensor.h"

#include <cstdio>
#include <sstream>

namespace ggml {

const DTypeInfo& dtype_info(DType t) {
    static const DTypeInfo kInfo[(int)DType::COUNT] = {
        {"f32", 4, true, 1, 1},           {"f16", 2, true, 1, 1},
        {"bf16", 2, true, 1, 1},          {"i32", 4, false, 1, 1},
        {"q8_0", 34, true, kQK8_0, 1},    {"q4_0", 18, true, kQK4_0, 1},
        {"q4_0x8", 18, false, kQK4_0, 8},
    };
    if ((int)t >= (int)DType::COUNT)
        throw Error("dtype_info: invalid dtype id " + std::to_string((int)t));
    return kInfo[(int)t];
}

const OpInfo& op_info(Op op) {
    static const OpInfo kInfo[kOpCount] = {
#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) \
    {name, min_src, max_src, inplace, view, decomposed},
#include "ggml/ops.def"
#undef GGML_OP
    };
    if ((int)op >= kOpCount) throw Error("op_info: invalid op id " + std::to_string((int)op));
    return kInfo[(int)op];
}

// Dim 0 counts blocks, not elements, for the quantized types (blck 32, nb[0] = block bytes).
size_t Tensor::nbytes() const {
    if (nelements() == 0) return 0;
    const int64_t blck = dtype_blck(type);
    size_t n = dtype_size(type) + (size_t)(ne[0] / blck - 1) * nb[0];
    for (int i = 1; i < kMaxDims; ++i) n += (size_t)(ne[i] - 1) * nb[i];
    return n;
}

bool Tensor::is_contiguous() const {
    size_t expect = dtype_size(type);
    for (int i = 0; i < kMaxDims; ++i) {
        const int64_t n = i == 0 ? ne[0] / dtype_blck(type) : ne[i];
        if (n != 1 && nb[i] != expect) return false;
        expect *= (size_t)n;
    }
    return true;
}

int Tensor::n_dims() const {
    for (int i = kMaxDims - 1; i > 0; --i)
        if (ne[i] > 1) return i + 1;
    return 1;
}

std::string Tensor::shape_str() const {
    std::ostringstream s;
    s << dtype_name(type) << "[" << ne[0];
    for (int i = 1; i < n_dims(); ++i) s << "," << ne[i];
    s << "]";
    return s.str();
}

void Tensor::set_name(const std::string& n) {
    std::snprintf(name, sizeof(name), "%s", n.c_str());
}

bool same_shape(const Tensor* a, const Tensor* b) {
    for (int i = 0; i < kMaxDims; ++i)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

}  // namespace ggml
