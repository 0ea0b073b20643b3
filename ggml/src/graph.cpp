// Graph building: a depth-first walk from the outputs gives a topological order.
#include "ggml/graph.h"

#include <unordered_set>

namespace ggml {

namespace {

void visit(Graph& g, std::unordered_set<const Tensor*>& seen, Tensor* t) {
    // Iterative post-order walk: deep graphs (hundreds of layers) must not overflow the stack.
    struct Frame {
        Tensor* t;
        int next;
    };
    std::vector<Frame> stack;
    if (seen.count(t)) return;
    seen.insert(t);
    stack.push_back({t, 0});
    while (!stack.empty()) {
        Frame& f = stack.back();
        // Sources first, then the view source (a view's memory owner must exist before it).
        Tensor* child = nullptr;
        while (f.next <= kMaxSrc && !child) {
            Tensor* c = f.next < kMaxSrc ? f.t->src[f.next] : f.t->view_src;
            ++f.next;
            if (c && !seen.count(c)) child = c;
        }
        if (child) {
            seen.insert(child);
            stack.push_back({child, 0});
            continue;
        }
        Tensor* done = f.t;
        stack.pop_back();
        if (done->op == Op::NONE)
            g.leafs.push_back(done);
        else
            g.nodes.push_back(done);
    }
}

}  // namespace

void Graph::build(Tensor* out) {
    std::unordered_set<const Tensor*> seen(leafs.begin(), leafs.end());
    seen.insert(nodes.begin(), nodes.end());
    visit(*this, seen, out);
    out->flags |= kFlagOutput;
    outputs.push_back(out);
}

bool Graph::contains(const Tensor* t) const {
    for (const Tensor* n : nodes)
        if (n == t) return true;
    for (const Tensor* n : leafs)
        if (n == t) return true;
    return false;
}

Graph build_graph(std::initializer_list<Tensor*> outputs) {
    Graph g;
    for (Tensor* t : outputs) g.build(t);
    return g;
}

}  // namespace ggml
