// The static planner: backend assignment, fused-op lowering, segments and copies, lifetimes,
// in-place reuse and greedy arena packing. Everything here runs once per graph shape; the
// executor only follows the resulting plain-data Plan.
//
// Memory packing is the classic offline "dynamic storage allocation" heuristic used by ggml's
// gallocr and TFLite's arena planner: blocks are sorted by size (largest first) and each is
// put at the lowest aligned offset that does not overlap a block already placed whose lifetime
// [first, last] (node indices, closed) intersects its own. Largest-first keeps big activations
// at low offsets so that the many small tensors fill the holes between them.
#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "ggml/ops.h"
#include "ggml/plan.h"

namespace ggml {

namespace {

// Memory locations that are not one of the plan's backends.
constexpr int kLocHost = -2;     // caller-owned host memory (data set, no buffer)
constexpr int kLocForeign = -3;  // a buffer of a backend object not in the plan's list

size_t align_up(size_t x, size_t a) {
    return a > 1 ? (x + a - 1) / a * a : x;
}

bool is_view_op(const Tensor* t) {
    return op_info(t->op).view;
}

// The quoted name, or "(unnamed)", for error messages.
std::string tname(const Tensor* t) {
    if (t->name[0]) return std::string("'") + t->name + "'";
    return "(unnamed)";
}

std::string describe_node(const Tensor* t) {
    std::string s = std::string(op_name(t->op)) + " node " + tname(t) + " " + t->shape_str();
    bool first = true;
    for (int i = 0; i < kMaxSrc; ++i) {
        if (!t->src[i]) continue;
        s += (first ? " <- " : ", ") + t->src[i]->shape_str();
        first = false;
    }
    return s;
}

// Leaves the caller filled before planning (weights). Inputs keep kFlagInput even after an
// executor has bound them, so a graph can be planned again (e.g. real and naive plans).
bool is_external_leaf(const Tensor* t) {
    return t->op == Op::NONE && !t->view_src && t->data && !(t->flags & kFlagInput);
}

class Planner {
  public:
    Planner(Context& ctx, const Graph& g, const std::vector<Backend*>& backends,
            const PlanOptions& opt)
        : ctx_(ctx), graph_(g), be_(backends), opt_(opt) {}

    Plan run();

  private:
    // ---- step 1: assignment and lowering
    void add_node(Tensor* t, int depth);
    int holder_of(const Tensor* root) const;
    int pick_backend(Tensor* t) const;
    void assign_input_backends();
    // ---- step 2: segments and copies
    void make_segments();
    void make_copies();
    // ---- step 3/4: tensors, lifetimes, blocks, packing
    int tensor_index(Tensor* t);
    Tensor* mem_root(Tensor* t) const;
    int location(Tensor* root) const;
    bool host_loc(int loc) const { return loc == kLocHost || (loc >= 0 && be_[loc]->is_host()); }
    void register_tensors();
    void compute_lifetimes();
    void make_blocks();
    int new_block(int backend, size_t size, int first, int last, bool scratch);
    void pack();
    void check_budget() const;

    Context& ctx_;
    const Graph& graph_;
    const std::vector<Backend*>& be_;
    PlanOptions opt_;
    Plan plan_;

    std::unordered_set<const Tensor*> known_;  // graph tensors and nodes added so far
    std::unordered_map<const Tensor*, int> node_backend_;
    std::unordered_map<const Tensor*, int> input_backend_;
    std::unordered_map<const Tensor*, Tensor*> lowered_;  // fused node -> decomposition output
    std::unordered_map<const Tensor*, int> tindex_;
    std::unordered_set<const Tensor*> copy_dsts_;
    std::unordered_set<const Tensor*> pinned_roots_;  // memory of inputs and outputs
    std::vector<bool> pinned_;  // per block: holds an input or output (whole-plan lifetime)
    int n_ = 0;                 // number of plan nodes
};

// ---- step 1 ------------------------------------------------------------------------------------

// Which plan backend holds an external (weight) root, or kLocHost / kLocForeign.
int Planner::holder_of(const Tensor* root) const {
    if (!root->buffer) return kLocHost;
    const Backend* owner = &root->buffer->backend();
    for (size_t b = 0; b < be_.size(); ++b)
        if (be_[b] == owner) return (int)b;
    return owner->is_host() ? kLocHost : kLocForeign;
}

// The backend already holding one of the node's weights if it can run the node, else the
// first backend (in preference order) that can. -1 when none can.
int Planner::pick_backend(Tensor* t) const {
    // A node writing into another tensor's memory (set_rows) must run where that memory is.
    if (t->view_src) {
        Tensor* root = mem_root(t);
        int loc = -1;
        if (is_external_leaf(root)) {
            loc = holder_of(root);
        } else {
            auto it = node_backend_.find(root);
            if (it != node_backend_.end()) loc = it->second;
        }
        if (loc >= 0) return be_[loc]->supports(t) ? loc : -1;
        if (loc == kLocForeign) return -1;
        if (loc == kLocHost) {  // caller-owned host memory: only a host backend can write it
            for (size_t b = 0; b < be_.size(); ++b)
                if (be_[b]->is_host() && be_[b]->supports(t)) return (int)b;
            return -1;
        }
    }
    for (int i = 0; i < kMaxSrc; ++i) {
        const Tensor* s = t->src[i];
        if (!s) continue;
        const Tensor* root = view_root(s);
        const bool weight = root->data && (root->op == Op::NONE) &&
                            (root->buffer || (root->flags & kFlagWeight)) &&
                            !(root->flags & kFlagInput);
        if (!weight) continue;
        const int h = holder_of(root);
        if (h >= 0 && be_[h]->supports(t)) return h;
    }
    for (size_t b = 0; b < be_.size(); ++b)
        if (be_[b]->supports(t)) return (int)b;
    return -1;
}

void Planner::add_node(Tensor* t, int depth) {
    known_.insert(t);
    PlanNode pn;
    pn.tensor = t;
    if (is_view_op(t)) {
        // No kernel: the memory owner decides where the bytes are; the segment is decided later.
        plan_.nodes.push_back(pn);
        return;
    }
    int b = pick_backend(t);
    if (b < 0 && op_info(t->op).decomposed && depth < 4) {
        Tensor* out = decompose(ctx_, t);
        if (!out->is_contiguous() || !same_shape(out, t) || out->type != t->type)
            out = cont(ctx_, out);
        // Post-order walk from the decomposition output, stopping at known tensors.
        std::vector<Tensor*> order;
        std::vector<std::pair<Tensor*, int>> stack;
        std::unordered_set<const Tensor*> seen;
        if (!known_.count(out)) stack.push_back({out, 0});
        seen.insert(out);
        while (!stack.empty()) {
            auto& f = stack.back();
            Tensor* child = nullptr;
            while (f.second <= kMaxSrc && !child) {
                Tensor* c = f.second < kMaxSrc ? f.first->src[f.second] : f.first->view_src;
                ++f.second;
                if (c && !known_.count(c) && !seen.count(c)) child = c;
            }
            if (child) {
                seen.insert(child);
                stack.push_back({child, 0});
                continue;
            }
            order.push_back(f.first);
            stack.pop_back();
        }
        for (Tensor* d : order) {
            if (d->op == Op::NONE)
                throw Error("plan: the decomposition of " + describe_node(t) +
                            " introduced a leaf " + tname(d) + " with no data");
            add_node(d, depth + 1);
        }
        lowered_[t] = out;
        pn.lowered_to = out;
        plan_.nodes.push_back(pn);
        return;
    }
    if (b < 0) {
        std::string names;
        for (size_t i = 0; i < be_.size(); ++i)
            names += (i ? ", " : "") + std::string(be_[i]->name());
        throw Error("plan: no backend supports " + describe_node(t) + " (backends: " + names +
                    (op_info(t->op).decomposed ? "; its decomposition failed too)" : ")"));
    }
    node_backend_[t] = b;
    pn.backend = b;
    plan_.nodes.push_back(pn);
}

// Graph inputs live where their first reader runs, so the common single-consumer case never
// needs a copy. Inputs read by nobody (or only by views) go to the first host backend.
void Planner::assign_input_backends() {
    auto is_input = [](const Tensor* r) {
        return r->op == Op::NONE && !r->view_src && !is_external_leaf(r);
    };
    for (const PlanNode& pn : plan_.nodes) {
        if (pn.backend < 0) continue;
        Tensor* t = pn.tensor;
        for (int i = 0; i <= kMaxSrc; ++i) {
            Tensor* s = i < kMaxSrc ? t->src[i] : t->view_src;
            if (!s) continue;
            Tensor* r = mem_root(s);
            if (is_input(r) && !input_backend_.count(r)) input_backend_[r] = pn.backend;
        }
    }
    int fallback = 0;
    for (size_t b = 0; b < be_.size(); ++b)
        if (be_[b]->is_host()) {
            fallback = (int)b;
            break;
        }
    for (Tensor* l : graph_.leafs)
        if (is_input(l) && !input_backend_.count(l)) input_backend_[l] = fallback;
    // Leaves reached only through node sources (not listed in graph.leafs).
    for (const PlanNode& pn : plan_.nodes)
        for (int i = 0; i <= kMaxSrc; ++i) {
            Tensor* s = i < kMaxSrc ? pn.tensor->src[i] : pn.tensor->view_src;
            if (s && is_input(s) && !input_backend_.count(s)) input_backend_[s] = fallback;
        }
}

// ---- step 2 ------------------------------------------------------------------------------------

// Views and lowered nodes run no kernel, so they never cut a segment: they join the segment of
// the compute node before them (or after them, at the start of the plan).
void Planner::make_segments() {
    n_ = (int)plan_.nodes.size();
    int cur = -1;
    for (int i = 0; i < n_; ++i) {
        PlanNode& pn = plan_.nodes[i];
        const bool compute = pn.backend >= 0 && !pn.lowered_to;
        if (compute && (cur < 0 || plan_.segments[cur].backend != pn.backend)) {
            PlanSegment s;
            s.backend = pn.backend;
            s.first_node = cur < 0 ? 0 : i;
            if (cur >= 0) plan_.segments[cur].end_node = i;
            plan_.segments.push_back(s);
            cur = (int)plan_.segments.size() - 1;
        }
    }
    if (plan_.segments.empty() && n_ > 0) {
        PlanSegment s;
        s.backend = 0;
        plan_.segments.push_back(s);
        cur = 0;
    }
    if (cur >= 0) plan_.segments[cur].end_node = n_;
    for (int s = 0; s < (int)plan_.segments.size(); ++s)
        for (int i = plan_.segments[s].first_node; i < plan_.segments[s].end_node; ++i) {
            plan_.nodes[i].segment = s;
            if (plan_.nodes[i].backend < 0 || plan_.nodes[i].lowered_to)
                plan_.nodes[i].backend = plan_.segments[s].backend;
        }
}

Tensor* Planner::mem_root(Tensor* t) const {
    for (;;) {
        if (t->view_src) {
            t = t->view_src;
            continue;
        }
        auto it = lowered_.find(t);
        if (it == lowered_.end()) return t;
        t = it->second;
    }
}

// Where a memory root's bytes live: a backend index, kLocHost or kLocForeign.
int Planner::location(Tensor* root) const {
    if (is_external_leaf(root)) return holder_of(root);
    auto it = node_backend_.find(root);
    if (it != node_backend_.end()) return it->second;
    auto in = input_backend_.find(root);
    if (in != input_backend_.end()) return in->second;
    return 0;
}

void Planner::make_copies() {
    for (int s = 0; s < (int)plan_.segments.size(); ++s) {
        PlanSegment& seg = plan_.segments[s];
        const int b = seg.backend;
        std::unordered_map<const Tensor*, Tensor*> made;  // source -> its copy in this segment
        for (int i = seg.first_node; i < seg.end_node; ++i) {
            PlanNode& pn = plan_.nodes[i];
            Tensor* t = pn.tensor;
            if (is_view_op(t) || pn.lowered_to) continue;
            const Tensor* own_root = t->view_src ? view_root(t) : nullptr;
            for (int k = 0; k < kMaxSrc; ++k) {
                Tensor* src = t->src[k];
                if (!src) continue;
                Tensor* root = mem_root(src);
                if (root == own_root) continue;  // the memory this node writes into
                const int loc = location(root);
                if (loc == b || (host_loc(loc) && be_[b]->is_host())) continue;
                auto it = made.find(src);
                if (it == made.end()) {
                    // Marked as a CONT of its source: it says what the bytes are, and lets a
                    // later make_plan over the same graph undo the rewiring (see run()).
                    Tensor* dst = ctx_.new_like(src);
                    dst->flags = 0;
                    dst->op = Op::CONT;
                    dst->src[0] = src;
                    std::string nm = std::string(src->name[0] ? src->name : op_name(src->op)) +
                                     "@" + be_[b]->name();
                    dst->set_name(nm);
                    PlanCopy c;
                    c.src = src;
                    c.dst = dst;
                    c.segment = s;
                    seg.copies.push_back((int)plan_.copies.size());
                    plan_.copies.push_back(c);
                    node_backend_[dst] = b;  // its memory is on the segment's backend
                    copy_dsts_.insert(dst);
                    it = made.emplace(src, dst).first;
                }
                t->src[k] = it->second;
            }
        }
    }
}

// ---- step 3 ------------------------------------------------------------------------------------

int Planner::tensor_index(Tensor* t) {
    auto it = tindex_.find(t);
    if (it != tindex_.end()) return it->second;
    PlanTensor pt;
    pt.tensor = t;
    const int idx = (int)plan_.tensors.size();
    plan_.tensors.push_back(pt);
    tindex_[t] = idx;
    return idx;
}

void Planner::register_tensors() {
    for (Tensor* l : graph_.leafs) tensor_index(l);
    for (const PlanCopy& c : plan_.copies) tensor_index(c.dst);
    for (const PlanNode& pn : plan_.nodes) {
        for (int k = 0; k < kMaxSrc; ++k)
            if (pn.tensor->src[k]) tensor_index(pn.tensor->src[k]);
        if (pn.tensor->view_src) tensor_index(pn.tensor->view_src);
        tensor_index(pn.tensor);
    }
    for (const PlanCopy& c : plan_.copies) tensor_index(c.src);
    for (PlanTensor& pt : plan_.tensors) {
        Tensor* t = pt.tensor;
        pt.first = n_;
        pt.last = -1;
        auto lw = lowered_.find(t);
        if (lw != lowered_.end()) {
            pt.placement = Placement::Lowered;
            pt.shares = lw->second;
        } else if (t->view_src) {
            pt.placement = Placement::View;
            pt.shares = t->view_src;
        } else if (is_external_leaf(t)) {
            pt.placement = Placement::External;
        } else {
            pt.placement = Placement::Arena;
        }
        const int loc = location(mem_root(t));
        pt.backend = loc >= 0 ? loc : -1;
    }
}

void Planner::compute_lifetimes() {
    auto touch = [&](Tensor* t, int i) {
        PlanTensor& pt = plan_.tensors[tindex_.at(t)];
        pt.first = std::min(pt.first, i);
        pt.last = std::max(pt.last, i);
    };
    auto touch_root = [&](Tensor* t, int i) {
        touch(t, i);
        Tensor* r = mem_root(t);
        if (r != t) touch(r, i);
    };
    for (int i = 0; i < n_; ++i) {
        const PlanNode& pn = plan_.nodes[i];
        Tensor* t = pn.tensor;
        if (is_view_op(t) || pn.lowered_to) {
            touch(t, i);  // defined here; its root is kept alive by its readers
            continue;
        }
        touch_root(t, i);
        for (int k = 0; k < kMaxSrc; ++k)
            if (t->src[k]) touch_root(t->src[k], i);
    }
    for (const PlanCopy& c : plan_.copies) {
        const int at = plan_.segments[c.segment].first_node;
        touch_root(c.src, at);
        touch(c.dst, at);
    }
    // Inputs and outputs: the whole plan, so the caller's data is never overwritten. An
    // output that aliases other memory pins that memory instead.
    const int end = std::max(n_ - 1, 0);
    for (PlanTensor& pt : plan_.tensors) {
        Tensor* t = pt.tensor;
        const bool input =
            t->op == Op::NONE && pt.placement == Placement::Arena && !copy_dsts_.count(t);
        const bool output = (t->flags & kFlagOutput) != 0;
        if (!input && !output) continue;
        pt.first = 0;
        pt.last = end;
        Tensor* r = mem_root(t);
        pinned_roots_.insert(r);
        if (r != t) {
            PlanTensor& rt = plan_.tensors[tindex_.at(r)];
            rt.first = 0;
            rt.last = end;
        }
    }
    for (PlanTensor& pt : plan_.tensors)
        if (pt.last < pt.first) pt.first = pt.last = 0;  // never touched (cannot happen)
}

int Planner::new_block(int backend, size_t size, int first, int last, bool scratch) {
    PlanBlock b;
    b.backend = backend;
    b.size = size;
    b.first = first;
    b.last = last;
    b.scratch = scratch;
    plan_.blocks.push_back(b);
    pinned_.push_back(false);
    return (int)plan_.blocks.size() - 1;
}

void Planner::make_blocks() {
    auto block_for = [&](PlanTensor& pt) {
        pt.block = new_block(pt.backend, pt.tensor->nbytes(), pt.first, pt.last, false);
        pinned_[pt.block] = pinned_roots_.count(pt.tensor) > 0;
    };
    // Inputs first, then every root in the order it is defined.
    for (PlanTensor& pt : plan_.tensors)
        if (pt.placement == Placement::Arena && pt.tensor->op == Op::NONE &&
            !node_backend_.count(pt.tensor))
            block_for(pt);
    int seg = -1;
    for (int i = 0; i < n_; ++i) {
        PlanNode& pn = plan_.nodes[i];
        if (pn.segment != seg) {
            seg = pn.segment;
            for (int c : plan_.segments[seg].copies)
                block_for(plan_.tensors[tindex_.at(plan_.copies[c].dst)]);
        }
        Tensor* t = pn.tensor;
        PlanTensor& pt = plan_.tensors[tindex_.at(t)];
        if (pt.placement == Placement::Arena && pt.block < 0) {
            bool joined = false;
            Tensor* s0 = t->src[0];
            if (opt_.reuse && op_info(t->op).inplace && s0 && !pinned_roots_.count(t)) {
                PlanTensor& ps = plan_.tensors[tindex_.at(s0)];
                const int blk = ps.block;
                bool ok =
                    blk >= 0 &&
                    (ps.placement == Placement::Arena || ps.placement == Placement::InPlace) &&
                    !pinned_[blk] && plan_.blocks[blk].last == i &&
                    plan_.blocks[blk].backend == pt.backend && s0->type == t->type &&
                    s0->nbytes() == t->nbytes() && s0->is_contiguous() && t->is_contiguous();
                // Another operand in the same memory would be read after being overwritten.
                for (int k = 1; ok && k < kMaxSrc; ++k) {
                    Tensor* o = t->src[k];
                    if (!o || o == s0) continue;
                    auto po = tindex_.find(mem_root(o));
                    if (po == tindex_.end() || plan_.tensors[po->second].block == blk) ok = false;
                }
                if (ok) {
                    pt.placement = Placement::InPlace;
                    pt.shares = s0;
                    pt.block = blk;
                    PlanBlock& b = plan_.blocks[blk];
                    b.first = std::min(b.first, pt.first);
                    b.last = std::max(b.last, pt.last);
                    joined = true;
                }
            }
            if (!joined) block_for(pt);
        }
        if (!is_view_op(t) && !pn.lowered_to) {
            const size_t ws = be_[pn.backend]->work_size(t);
            if (ws > 0) {
                const int blk = new_block(pn.backend, ws, i, i, true);
                pn.work_size = ws;
                pn.work_offset = (size_t)blk;  // block index until packing resolves it
            } else {
                pn.work_offset = SIZE_MAX;
            }
        } else {
            pn.work_offset = SIZE_MAX;
        }
    }
    // Arena roots not defined by a node (should not exist, but never leave one unplanned).
    for (PlanTensor& pt : plan_.tensors)
        if (pt.placement == Placement::Arena && pt.block < 0) block_for(pt);
}

// ---- step 4 ------------------------------------------------------------------------------------

void Planner::pack() {
    const size_t g = opt_.guard_bytes;
    plan_.arena_size.assign(be_.size(), 0);
    for (int b = 0; b < (int)be_.size(); ++b) {
        const size_t align = std::max<size_t>(be_[b]->alignment(), 1);
        std::vector<int> order;
        for (int k = 0; k < (int)plan_.blocks.size(); ++k)
            if (plan_.blocks[k].backend == b) order.push_back(k);
        std::stable_sort(order.begin(), order.end(),
                         [&](int x, int y) { return plan_.blocks[x].size > plan_.blocks[y].size; });
        std::vector<int> placed;
        std::vector<std::pair<size_t, size_t>> busy;  // forbidden [lo, hi) for block footprints
        size_t top = 0;
        for (int k : order) {
            PlanBlock& blk = plan_.blocks[k];
            // Footprint = guard + data + guard. Without reuse, or with guards (so that no
            // legitimate write ever lands in another block's guard bytes), every placed block
            // conflicts; otherwise only those whose lifetimes intersect.
            busy.clear();
            for (int p : placed) {
                const PlanBlock& o = plan_.blocks[p];
                const bool conflict =
                    !opt_.reuse || g > 0 || (blk.first <= o.last && o.first <= blk.last);
                if (conflict) busy.push_back({o.offset - g, o.offset + o.size + g});
            }
            std::sort(busy.begin(), busy.end());
            size_t off = align_up(g, align);
            for (const auto& iv : busy) {
                if (off + blk.size + g <= iv.first) break;  // fits before this and all later
                if (off - g < iv.second) off = align_up(iv.second + g, align);
            }
            blk.offset = off;
            top = std::max(top, off + blk.size + g);
            placed.push_back(k);
        }
        plan_.arena_size[b] = align_up(top, align);
    }
    for (PlanNode& pn : plan_.nodes) {
        if (pn.work_offset == SIZE_MAX) {
            pn.work_offset = 0;
            continue;
        }
        pn.work_offset = plan_.blocks[pn.work_offset].offset;
    }
}

void Planner::check_budget() const {
    if (opt_.memory_budget == 0) return;
    const size_t total = plan_.peak_bytes();
    if (total <= opt_.memory_budget) return;
    std::string parts;
    for (size_t b = 0; b < be_.size(); ++b)
        parts += (b ? ", arena " : "arena ") + std::string(be_[b]->name()) + ": " +
                 std::to_string(plan_.arena_size[b]);
    throw Error("plan: needs " + std::to_string(total) + " bytes (" + parts +
                "), over the memory budget of " + std::to_string(opt_.memory_budget) + " bytes");
}

Plan Planner::run() {
    if (be_.empty()) throw Error("plan: no backends given");
    for (Backend* b : be_)
        if (!b) throw Error("plan: null backend in the list");
    plan_.guard_bytes = opt_.guard_bytes;
    for (Backend* b : be_) plan_.backend_names.push_back(b->name());
    for (Tensor* t : graph_.leafs) known_.insert(t);
    for (Tensor* t : graph_.nodes) known_.insert(t);
    // A graph planned before has sources rewired to copies; those are the only sources
    // outside the graph. Point them back at the originals so planning starts afresh.
    for (Tensor* t : graph_.nodes)
        for (Tensor*& s : t->src)
            while (s && !known_.count(s) && s->op == Op::CONT && s->src[0]) s = s->src[0];
    for (Tensor* t : graph_.nodes) add_node(t, 0);
    assign_input_backends();
    make_segments();
    make_copies();
    register_tensors();
    compute_lifetimes();
    make_blocks();
    pack();
    check_budget();
    return std::move(plan_);
}

}  // namespace

size_t Plan::peak_bytes() const {
    return std::accumulate(arena_size.begin(), arena_size.end(), size_t(0));
}

const PlanTensor* Plan::find(const Tensor* t) const {
    for (const PlanTensor& pt : tensors)
        if (pt.tensor == t) return &pt;
    return nullptr;
}

Plan make_plan(Context& ctx, const Graph& graph, const std::vector<Backend*>& backends,
               const PlanOptions& options) {
    Planner p(ctx, graph, backends, options);
    return p.run();
}

}  // namespace ggml
