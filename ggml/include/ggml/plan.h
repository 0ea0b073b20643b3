// The static planner and the executor.
//
// make_plan() turns a graph and an ordered list of backends (most preferred first) into a
// Plan: plain data computed before anything runs. It
//   1. assigns a backend to every node (the backend already holding the node's weights if it
//      supports the op, else the first that does), lowering fused ops a backend lacks into
//      their decomposition first;
//   2. cuts the node list into segments of consecutive nodes on one backend, and makes the
//      copies between backends explicit (a copy tensor per (source, segment backend));
//   3. computes every tensor's lifetime [first node, last node] (views extend their root's);
//   4. packs intermediates, inputs, outputs, copies and per-node scratch into one arena per
//      backend, greedily by size over overlapping lifetimes, reusing src[0]'s memory in place
//      where ops.def allows and src[0] dies at that node. Inputs and outputs live for the
//      whole plan, so they are never overwritten.
// The Executor binds a plan to real buffers once and then runs it any number of times with no
// allocation and no planning on the hot path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ggml/backend.h"
#include "ggml/context.h"
#include "ggml/graph.h"

namespace ggml {

struct PlanOptions {
    bool reuse = true;         // false: the naive oracle, every block its own memory
    size_t memory_budget = 0;  // > 0: planning throws ggml::Error when arenas exceed it
    size_t guard_bytes = 0;    // padding around every block, for out-of-bounds checks
};

struct PlanNode {
    Tensor* tensor = nullptr;
    int backend = -1;              // index into Plan::backend_names
    int segment = -1;              // index into Plan::segments
    Tensor* lowered_to = nullptr;  // fused node computed by its decomposition; not run itself
    size_t work_offset = 0;        // scratch inside the backend's arena
    size_t work_size = 0;
};

// Where a tensor's bytes live.
enum class Placement : uint8_t {
    Arena,     // a block of the plan's arena on `backend`
    External,  // data set by the caller before planning (weights); not planned
    View,      // aliases its view_src (views, set_rows)
    InPlace,   // shares the block of `shares` (an in-place op's src[0])
    Lowered,   // a fused node: aliases `shares`, the output of its decomposition
};

struct PlanTensor {
    Tensor* tensor = nullptr;
    Placement placement = Placement::Arena;
    int backend = -1;  // backend whose memory holds it
    int first = 0;     // first node index that needs the memory (defines or reads it)
    int last = 0;      // last node index that needs it
    int block = -1;    // index into Plan::blocks for Arena/InPlace tensors
    const Tensor* shares = nullptr;
};

// A run of memory in one arena, shared by one tensor or by an in-place chain.
struct PlanBlock {
    int backend = -1;
    size_t offset = 0;  // inside the arena (guard bytes excluded)
    size_t size = 0;
    int first = 0, last = 0;  // union of the lifetimes of the tensors in it
    bool scratch = false;     // a node's work space
};

struct PlanCopy {
    Tensor* src = nullptr;  // lives on another backend
    Tensor* dst = nullptr;  // planner-made contiguous tensor on the segment's backend
    int segment = -1;       // performed before this segment runs
};

struct PlanSegment {
    int backend = -1;
    int first_node = 0, end_node = 0;  // [first, end) in Plan::nodes
    std::vector<int> copies;           // indices into Plan::copies
};

struct Plan {
    std::vector<std::string> backend_names;
    std::vector<PlanNode> nodes;  // execution order, decompositions inserted
    std::vector<PlanSegment> segments;
    std::vector<PlanCopy> copies;
    std::vector<PlanTensor> tensors;  // every tensor the plan touches, leaves included
    std::vector<PlanBlock> blocks;
    std::vector<size_t> arena_size;  // bytes per backend, guard bytes included
    size_t guard_bytes = 0;

    size_t peak_bytes() const;  // sum of the arenas
    const PlanTensor* find(const Tensor* t) const;
    std::string to_text() const;  // one line per node: backend, op, shape, offset, lifetime
    std::string to_dot() const;   // Graphviz: nodes coloured by backend, copies as edges
    std::string summary() const;  // a few lines: nodes, segments, copies, arenas, peak
};

// Plans `graph` over `backends` (most preferred first). May add tensors to ctx (copies and
// decompositions) and rewires node sources to the copies it inserts. Throws ggml::Error when
// no backend can run a node, or when the arenas exceed options.memory_budget.
Plan make_plan(Context& ctx, const Graph& graph, const std::vector<Backend*>& backends,
               const PlanOptions& options = {});

class Executor {
  public:
    // Allocates one arena per backend and points every planned tensor's data into it.
    Executor(Plan plan, std::vector<Backend*> backends);
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // Runs every segment in order (copies first). Throws ggml::Error on a kernel's run-time
    // error (e.g. a row id out of range).
    void run();

    const Plan& plan() const { return plan_; }
    Buffer* arena(int backend) const { return arenas_[backend].get(); }

    // Guard bytes: fill every arena with `pattern` (call before setting inputs), and after a
    // run list the tensors whose guard bytes changed.
    void arm_guards(uint8_t pattern);
    std::vector<std::string> check_guards() const;

  private:
    void do_copy(const PlanCopy& c);
    Plan plan_;
    std::vector<Backend*> backends_;
    std::vector<std::unique_ptr<Buffer>> arenas_;
    std::vector<std::vector<Tensor*>> seg_nodes_;  // per segment: nodes to run
    std::vector<std::vector<void*>> seg_work_;     // per segment: their scratch pointers
    std::vector<uint8_t> staging_;                 // host bounce buffer for copies
    uint8_t guard_pattern_ = 0;
    KernelErrors errors_;
};

}  // namespace ggml
