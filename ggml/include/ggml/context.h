// Context: an arena that owns tensor metadata only. Building ops allocates no tensor data;
// every Tensor* handed out stays valid until the Context is destroyed.
#pragma once

#include <deque>
#include <initializer_list>

#include "ggml/tensor.h"

namespace ggml {

class Context {
  public:
    Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // A new contiguous tensor with no data and no op (a leaf). Unused trailing dims are 1.
    Tensor* new_tensor(DType type, std::initializer_list<int64_t> ne);
    Tensor* new_tensor(DType type, int n_dims, const int64_t* ne);
    // Leaves flagged as graph inputs (set by the caller before each run).
    Tensor* new_input(DType type, std::initializer_list<int64_t> ne, const char* name = nullptr);
    // A copy of `t`'s metadata with fresh contiguous strides, no op, no data.
    Tensor* new_like(const Tensor* t);
    // Internal: a node with every field copied from `t` (used by view builders).
    Tensor* dup_meta(const Tensor* t);

    size_t n_tensors() const { return tensors_.size(); }

  private:
    std::deque<Tensor> tensors_;  // deque: stable addresses as it grows
};

// Sets nb[] for a contiguous layout of t->ne and t->type.
void set_contiguous_strides(Tensor* t);

}  // namespace ggml
