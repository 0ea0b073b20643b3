// Static tables (dtypes, ops) and the small helpers of Tensor.
#include "ggml/tensor.h"

#include <cstdio>
#include <sstream>

namespace ggml {

const DTypeInfo& dtype_info(DType t) {
    static const DTypeInfo kInfo[(int)DType::COUNT] = {
        {"f32", 4, true},
        {"f16", 2, true},
        {"bf16", 2, true},
        {"i32", 4, false},
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

size_t Tensor::nbytes() const {
    if (nelements() == 0) return 0;
    size_t n = dtype_size(type);
    for (int i = 0; i < kMaxDims; ++i) n += (size_t)(ne[i] - 1) * nb[i];
    return n;
}

bool Tensor::is_contiguous() const {
    size_t expect = dtype_size(type);
    for (int i = 0; i < kMaxDims; ++i) {
        if (ne[i] != 1 && nb[i] != expect) return false;
        expect *= (size_t)ne[i];
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
