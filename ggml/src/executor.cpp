// The executor: binds a Plan to one buffer per backend once, then runs it segment by segment.
// run() allocates nothing: node lists, scratch pointers and the copy staging buffer are all
// prepared by the constructor.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "ggml/plan.h"

namespace ggml {

namespace {

bool is_view_op(const Tensor* t) {
    return op_info(t->op).view;
}

// Host-side gather of a strided tensor (its bytes from the first to the last element, as
// tensor_get returns them) into a contiguous row-major copy.
void gather(const Tensor* t, const uint8_t* span, uint8_t* dst) {
    const size_t es = dtype_size(t->type);
    const size_t row = (size_t)t->ne[0] * es;
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1) {
                const uint8_t* s = span + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                if (t->nb[0] == es) {
                    std::memcpy(dst, s, row);
                } else {
                    for (int64_t i0 = 0; i0 < t->ne[0]; ++i0)
                        std::memcpy(dst + i0 * es, s + i0 * t->nb[0], es);
                }
                dst += row;
            }
}

}  // namespace

Executor::Executor(Plan plan, std::vector<Backend*> backends)
    : plan_(std::move(plan)), backends_(std::move(backends)) {
    const size_t nb = plan_.backend_names.size();
    if (backends_.size() != nb)
        throw Error("executor: plan made for " + std::to_string(nb) + " backends, given " +
                    std::to_string(backends_.size()));
    for (size_t b = 0; b < nb; ++b)
        if (!backends_[b] || plan_.backend_names[b] != backends_[b]->name())
            throw Error("executor: backend " + std::to_string(b) + " is '" +
                        (backends_[b] ? backends_[b]->name() : "null") + "', the plan expects '" +
                        plan_.backend_names[b] + "'");
    arenas_.resize(nb);
    for (size_t b = 0; b < nb; ++b)
        if (b < plan_.arena_size.size() && plan_.arena_size[b] > 0)
            arenas_[b] = backends_[b]->alloc_buffer(plan_.arena_size[b]);

    // Arena and in-place tensors first: their addresses come straight from their block.
    std::unordered_map<const Tensor*, const PlanTensor*> by_tensor;
    for (const PlanTensor& pt : plan_.tensors) {
        by_tensor[pt.tensor] = &pt;
        if (pt.placement != Placement::Arena && pt.placement != Placement::InPlace) continue;
        // Arena leaves are graph inputs; the flag keeps them inputs (not weights) if the graph
        // is planned again now that they have data.
        if (pt.tensor->op == Op::NONE) pt.tensor->flags |= kFlagInput;
        const PlanBlock& blk = plan_.blocks.at(pt.block);
        Buffer* buf = arenas_[blk.backend].get();
        pt.tensor->data = (uint8_t*)buf->device_base() + blk.offset;
        pt.tensor->buffer = buf;
    }
    // Views and lowered nodes alias what they share; resolve chains in dependency order.
    std::unordered_map<const Tensor*, bool> done;
    std::vector<const PlanTensor*> stack;
    for (const PlanTensor& top : plan_.tensors) {
        if (top.placement != Placement::View && top.placement != Placement::Lowered) continue;
        stack.push_back(&top);
        while (!stack.empty()) {
            const PlanTensor* pt = stack.back();
            if (done[pt->tensor]) {
                stack.pop_back();
                continue;
            }
            const Tensor* sh = pt->shares;
            auto it = by_tensor.find(sh);
            const bool alias =
                it != by_tensor.end() && (it->second->placement == Placement::View ||
                                          it->second->placement == Placement::Lowered);
            if (alias && !done[sh]) {
                if (stack.size() > plan_.tensors.size())
                    throw Error("executor: cyclic view chain at '" + std::string(sh->name) + "'");
                stack.push_back(it->second);
                continue;
            }
            Tensor* t = pt->tensor;
            if (!sh->data)
                throw Error("executor: '" + std::string(t->name) + "' aliases '" + sh->name +
                            "', which has no data");
            const size_t offs = pt->placement == Placement::View ? t->view_offs : 0;
            t->data = (uint8_t*)sh->data + offs;
            t->buffer = sh->buffer;
            done[t] = true;
            stack.pop_back();
        }
    }

    // Per segment: the nodes the backend runs (views and lowered fused nodes have no kernel)
    // and their scratch.
    seg_nodes_.resize(plan_.segments.size());
    seg_work_.resize(plan_.segments.size());
    for (size_t s = 0; s < plan_.segments.size(); ++s) {
        const PlanSegment& seg = plan_.segments[s];
        for (int i = seg.first_node; i < seg.end_node; ++i) {
            const PlanNode& pn = plan_.nodes[i];
            if (pn.lowered_to || is_view_op(pn.tensor)) continue;
            seg_nodes_[s].push_back(pn.tensor);
            void* w = nullptr;
            if (pn.work_size > 0)
                w = (uint8_t*)arenas_[seg.backend]->device_base() + pn.work_offset;
            seg_work_[s].push_back(w);
        }
    }
    size_t staging = 0;
    for (const PlanCopy& c : plan_.copies) {
        const size_t n = c.src->nbytes() + (c.src->is_contiguous() ? 0 : c.dst->nbytes());
        staging = std::max(staging, n);
    }
    staging_.resize(staging);
}

void Executor::do_copy(const PlanCopy& c) {
    const size_t span = c.src->nbytes();
    tensor_get(c.src, staging_.data(), 0, span);
    if (c.src->is_contiguous()) {
        tensor_set(c.dst, staging_.data(), 0, span);
        return;
    }
    uint8_t* packed = staging_.data() + span;
    gather(c.src, staging_.data(), packed);
    tensor_set(c.dst, packed, 0, c.dst->nbytes());
}

void Executor::run() {
    for (size_t s = 0; s < plan_.segments.size(); ++s) {
        const PlanSegment& seg = plan_.segments[s];
        for (int c : seg.copies) do_copy(plan_.copies[c]);
        if (seg_nodes_[s].empty()) continue;
        Backend* b = backends_[seg.backend];
        b->compute(seg_nodes_[s], seg_work_[s], errors_);
        // Copies out of this segment's memory read it from the host side next.
        if (plan_.segments.size() > 1) b->synchronize();
        if (errors_.any()) throw Error(errors_.take());
    }
    for (Backend* b : backends_) b->synchronize();
}

void Executor::arm_guards(uint8_t pattern) {
    guard_pattern_ = pattern;
    for (auto& a : arenas_)
        if (a) a->fill(pattern);
}

std::vector<std::string> Executor::check_guards() const {
    std::vector<std::string> bad;
    const size_t g = plan_.guard_bytes;
    if (g == 0) return bad;
    std::vector<uint8_t> bytes(g);
    for (size_t k = 0; k < plan_.blocks.size(); ++k) {
        const PlanBlock& blk = plan_.blocks[k];
        const Buffer* a = arenas_[blk.backend].get();
        if (!a) continue;
        const size_t where[2] = {blk.offset - g, blk.offset + blk.size};
        for (int side = 0; side < 2; ++side) {
            a->read(where[side], bytes.data(), g);
            size_t first_bad = g;
            for (size_t j = 0; j < g && first_bad == g; ++j)
                if (bytes[j] != guard_pattern_) first_bad = j;
            if (first_bad == g) continue;
            std::string who;
            if (blk.scratch) {
                for (const PlanNode& pn : plan_.nodes)
                    if (pn.work_size > 0 && pn.work_offset == blk.offset &&
                        pn.backend == blk.backend && pn.work_size == blk.size)
                        who += std::string(who.empty() ? "" : ", ") + "scratch of '" +
                               pn.tensor->name + "'";
            } else {
                for (const PlanTensor& pt : plan_.tensors)
                    if (pt.block == (int)k)
                        who += std::string(who.empty() ? "" : ", ") + "'" + pt.tensor->name + "' " +
                               pt.tensor->shape_str();
            }
            bad.push_back(std::string("guard bytes ") + (side ? "after" : "before") + " block " +
                          std::to_string(k) + " on " + plan_.backend_names[blk.backend] +
                          " changed at byte " + std::to_string(first_bad) + " (" + who + ")");
        }
    }
    return bad;
}

}  // namespace ggml
