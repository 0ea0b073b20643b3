// Graph: the topologically ordered list of nodes needed to compute a set of outputs.
#pragma once

#include <vector>

#include "ggml/tensor.h"

namespace ggml {

struct Graph {
    std::vector<Tensor*> leafs;    // tensors with op NONE (inputs, weights), in discovery order
    std::vector<Tensor*> nodes;    // every other tensor, sources before users
    std::vector<Tensor*> outputs;  // what the graph was built from (flagged kFlagOutput)

    // Adds `out` and everything it depends on; flags it as an output.
    void build(Tensor* out);
    bool contains(const Tensor* t) const;
};

// Convenience: a graph from one or more outputs.
Graph build_graph(std::initializer_list<Tensor*> outputs);

}  // namespace ggml
