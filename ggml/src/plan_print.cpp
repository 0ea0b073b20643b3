// Human-readable views of a Plan: a text table, a Graphviz graph and a short summary.
#include <cstdarg>
#include <cstdio>
#include <string>
#include <unordered_map>

#include "ggml/plan.h"

namespace ggml {

namespace {

const char* placement_name(Placement p) {
    switch (p) {
        case Placement::Arena:
            return "arena";
        case Placement::External:
            return "external";
        case Placement::View:
            return "view";
        case Placement::InPlace:
            return "inplace";
        case Placement::Lowered:
            return "lowered";
    }
    return "?";
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

std::string label(const Tensor* t) {
    if (t->name[0]) return t->name;
    return fmt("%s@%p", op_name(t->op), (const void*)t);
}

std::string human_bytes(size_t n) {
    if (n >= (size_t)1 << 30) return fmt("%.2f GiB", n / 1073741824.0);
    if (n >= (size_t)1 << 20) return fmt("%.2f MiB", n / 1048576.0);
    if (n >= (size_t)1 << 10) return fmt("%.2f KiB", n / 1024.0);
    return fmt("%zu B", n);
}

std::string escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        o += c;
    }
    return o;
}

std::unordered_map<const Tensor*, const PlanTensor*> index(const Plan& p) {
    std::unordered_map<const Tensor*, const PlanTensor*> m;
    for (const PlanTensor& pt : p.tensors) m[pt.tensor] = &pt;
    return m;
}

}  // namespace

// One line per node, plus a header line per segment with its copies:
//   #idx backend op name shape placement [offset] [first,last]
std::string Plan::to_text() const {
    const auto by = index(*this);
    std::string out;
    out += fmt("%-5s %-8s %-11s %-24s %-22s %-12s %-12s %s\n", "#", "backend", "op", "name",
               "shape", "placement", "offset", "life");
    int seg = -1;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const PlanNode& pn = nodes[i];
        if (pn.segment != seg && pn.segment >= 0) {
            seg = pn.segment;
            const PlanSegment& s = segments[seg];
            out += fmt("-- segment %d on %s: nodes [%d, %d)", seg, backend_names[s.backend].c_str(),
                       s.first_node, s.end_node);
            for (int c : s.copies)
                out += fmt("%s copy %s -> %s", c == s.copies.front() ? ";" : ",",
                           label(copies[c].src).c_str(), label(copies[c].dst).c_str());
            out += "\n";
        }
        const Tensor* t = pn.tensor;
        auto it = by.find(t);
        const PlanTensor* pt = it == by.end() ? nullptr : it->second;
        std::string place = pt ? placement_name(pt->placement) : "?";
        std::string offs = "-";
        if (pt && pt->block >= 0) {
            place += fmt("#%d", pt->block);
            offs = fmt("0x%08zx", blocks[pt->block].offset);
        } else if (pt && pt->shares) {
            offs = "=" + label(pt->shares);
        }
        const std::string life = pt ? fmt("[%d,%d]", pt->first, pt->last) : "";
        const char* be = pn.backend >= 0 ? backend_names[pn.backend].c_str() : "-";
        out += fmt("%-5zu %-8s %-11s %-24s %-22s %-12s %-12s %s", i, be, op_name(t->op),
                   label(t).c_str(), t->shape_str().c_str(), place.c_str(), offs.c_str(),
                   life.c_str());
        if (pn.work_size > 0) out += fmt(" work %zu@0x%zx", pn.work_size, pn.work_offset);
        out += "\n";
    }
    return out;
}

// Nodes filled with their backend's colour, leaves as ellipses, copies as dashed edges.
std::string Plan::to_dot() const {
    static const char* kColours[] = {"lightblue", "palegreen", "lightsalmon",
                                     "khaki",     "plum",      "lightgrey"};
    const int nc = (int)(sizeof kColours / sizeof kColours[0]);
    std::unordered_map<const Tensor*, int> id;
    auto node_id = [&](const Tensor* t) {
        auto it = id.find(t);
        if (it != id.end()) return it->second;
        const int n = (int)id.size();
        id[t] = n;
        return n;
    };
    std::string out = "digraph plan {\n  rankdir=TB;\n  node [style=filled, fontsize=10];\n";
    for (const PlanTensor& pt : tensors) {
        const Tensor* t = pt.tensor;
        const bool leaf = t->op == Op::NONE;
        const std::string col = pt.backend >= 0 ? kColours[pt.backend % nc] : std::string("white");
        out += fmt("  t%d [label=\"%s\\n%s %s\\n%s\", shape=%s, fillcolor=%s];\n", node_id(t),
                   escape(label(t)).c_str(), op_name(t->op), t->shape_str().c_str(),
                   placement_name(pt.placement), leaf ? "ellipse" : "box", col.c_str());
    }
    for (const PlanNode& pn : nodes) {
        const Tensor* t = pn.tensor;
        for (int k = 0; k < kMaxSrc; ++k)
            if (t->src[k]) out += fmt("  t%d -> t%d;\n", node_id(t->src[k]), node_id(t));
        if (pn.lowered_to)
            out += fmt("  t%d -> t%d [style=dotted, label=\"lowered\"];\n", node_id(pn.lowered_to),
                       node_id(t));
    }
    for (const PlanCopy& c : copies)
        out += fmt("  t%d -> t%d [style=dashed, label=\"copy (segment %d)\"];\n", node_id(c.src),
                   node_id(c.dst), c.segment);
    out += "  subgraph cluster_legend { label=\"backends\";";
    for (size_t b = 0; b < backend_names.size(); ++b)
        out += fmt(" legend%zu [label=\"%s\", fillcolor=%s, shape=box];", b,
                   escape(backend_names[b]).c_str(), kColours[b % nc]);
    out += " }\n}\n";
    return out;
}

std::string Plan::summary() const {
    int lowered = 0, inplace = 0;
    for (const PlanNode& pn : nodes) lowered += pn.lowered_to != nullptr;
    for (const PlanTensor& pt : tensors) inplace += pt.placement == Placement::InPlace;
    std::string out = fmt("plan: %zu nodes (%d lowered, %d in place), %zu segments, %zu copies\n",
                          nodes.size(), lowered, inplace, segments.size(), copies.size());
    for (size_t b = 0; b < backend_names.size(); ++b) {
        int nblocks = 0;
        for (const PlanBlock& blk : blocks) nblocks += blk.backend == (int)b;
        const size_t sz = b < arena_size.size() ? arena_size[b] : 0;
        out += fmt("  arena %-8s %12zu bytes (%s), %d blocks\n", backend_names[b].c_str(), sz,
                   human_bytes(sz).c_str(), nblocks);
    }
    out += fmt("  peak %zu bytes (%s)", peak_bytes(), human_bytes(peak_bytes()).c_str());
    if (guard_bytes) out += fmt(", %zu guard bytes around every block", guard_bytes);
    out += "\n";
    return out;
}

}  // namespace ggml
