// A float64 reference interpreter for graphs: the oracle the cross-backend harness compares
// every backend against.
//
// It is written for clarity, not speed, and shares no code with any backend or with the
// decomposition of fused ops: every op is evaluated straight from the semantics documented in
// ggml/ops.h, in double precision, on dense arrays in logical index order.
//
// Memory is modelled like the real thing so that aliasing behaves the same way: every root
// tensor (one without view_src) owns a "storage" array of doubles indexed by element offset
// (byte offset / element size). Views, permutes, transposes and reshapes address their root's
// storage through their own strides and offset; set_rows writes into its destination's root
// storage in place and its result aliases it. Values stored into f16/bf16 storage are rounded
// to that type, exactly as a real copy would round them.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "ggml/graph.h"
#include "ggml/tensor.h"

namespace ggml {
namespace test {

// Raw contents of the graph's leaves, as written by tensor_set (leaf->nbytes() bytes each).
using LeafBytes = std::map<const Tensor*, std::vector<uint8_t>>;

// Dense values of `t` in logical order (i0 fastest) decoded from bytes laid out with t's strides.
std::vector<double> decode_tensor(const Tensor* t, const uint8_t* bytes, size_t n);
// Encodes dense logical values into contiguous bytes of t's dtype (f16/bf16 rounded).
std::vector<uint8_t> encode_dense(DType type, const std::vector<double>& values);
// q4_0 rows (M rows of K elements) to the q4_0x8 layout and back, from quant.h's description.
std::vector<uint8_t> q4_0_to_q4_0x8(const std::vector<uint8_t>& q, int64_t K, int64_t M);
std::vector<uint8_t> q4_0x8_to_q4_0(const std::vector<uint8_t>& x8, int64_t K, int64_t M);
// The value a double becomes when stored in `type` (f32: kept in double precision; the
// reference does not model f32 rounding; f16/bf16: rounded through f32; i32: truncated).
double store_as(DType type, double x);

class Reference {
  public:
    // Evaluates every node of `graph` in order. Throws ggml::Error for a missing leaf, an
    // out-of-range row id, or a node whose metadata contradicts its op's semantics.
    Reference(const Graph& graph, const LeafBytes& leaves);

    // Dense values of any tensor of the graph (i0 fastest), read from storage after the whole
    // graph has run (so a view of a set_rows destination sees the update).
    std::vector<double> values(const Tensor* t) const;

  private:
    std::vector<double> read(const Tensor* t) const;
    void write(const Tensor* t, const std::vector<double>& dense);
    void eval(const Tensor* node);
    std::vector<double>& storage_of(const Tensor* t);
    const std::vector<double>& storage_of(const Tensor* t) const;

    std::map<const Tensor*, std::vector<double>> storage_;  // per root tensor
};

}  // namespace test
}  // namespace ggml
