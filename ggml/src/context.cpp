// Context: the metadata arena.
#include "ggml/context.h"

#include <string>

namespace ggml {

void set_contiguous_strides(Tensor* t) {
    t->nb[0] = dtype_size(t->type);
    t->nb[1] = row_bytes(t->type, t->ne[0]);
    for (int i = 2; i < kMaxDims; ++i) t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
}

Tensor* Context::new_tensor(DType type, int n_dims, const int64_t* ne) {
    if (n_dims < 1 || n_dims > kMaxDims)
        throw Error("new_tensor: " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    if ((int)type >= (int)DType::COUNT) throw Error("new_tensor: invalid dtype");
    if (ne[0] % dtype_blck(type) != 0)
        throw Error(std::string("new_tensor: ") + dtype_name(type) + " rows are blocks of " +
                    std::to_string(dtype_blck(type)) + " elements; ne0 = " + std::to_string(ne[0]) +
                    " is not a multiple");
    const int64_t rows = dtype_info(type).rows;
    if (rows > 1 && (n_dims < 2 || ne[1] % rows != 0))
        throw Error(std::string("new_tensor: ") + dtype_name(type) +
                    " interleaves rows in groups of " + std::to_string(rows) +
                    "; ne1 = " + std::to_string(n_dims < 2 ? 1 : ne[1]) + " is not a multiple");
    tensors_.emplace_back();
    Tensor* t = &tensors_.back();
    t->type = type;
    for (int i = 0; i < n_dims; ++i) {
        if (ne[i] <= 0)
            throw Error("new_tensor: dimension " + std::to_string(i) + " is " +
                        std::to_string(ne[i]) + " (must be > 0)");
        t->ne[i] = ne[i];
    }

    set_contiguous_strides(t);
    return t;
}

Tensor* Context::new_tensor(DType type, std::initializer_list<int64_t> ne) {
    return new_tensor(type, (int)ne.size(), ne.begin());
}

Tensor* Context::new_input(DType type, std::initializer_list<int64_t> ne, const char* name) {
    Tensor* t = new_tensor(type, ne);
    t->flags |= kFlagInput;
    if (name) t->set_name(name);
    return t;
}

Tensor* Context::new_like(const Tensor* src) {
    Tensor* t = new_tensor(src->type, kMaxDims, src->ne);
    return t;
}

Tensor* Context::dup_meta(const Tensor* src) {
    tensors_.push_back(*src);
    return &tensors_.back();
}

}  // namespace ggml
