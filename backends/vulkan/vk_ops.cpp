// The Vulkan kernel table, expanded from ops.def: per op a supports() predicate and a
// prepare() that turns a node into dispatches of the shaders in shaders/ (whose header
// comments give the math). Supports mirrors the CPU kernels' contracts (dtypes, shapes,
// broadcasting) plus what the shaders need: strides that are whole elements, 32-bit sizes and
// strides, grids within maxComputeWorkGroupCount and tensors within one storage binding.
// q8_0/q4_0 tensors are addressed in bytes (quant.glsl): packed rows, even strides and offset.
#include "vk_ops.h"

#include <algorithm>
#include <array>

#include "ggml/ops.h"

namespace ggml {
namespace vk {

namespace {

bool is_float(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}
bool all_type(const Tensor* t, DType d) {
    return t && t->type == d;
}
bool is_quant(const Tensor* t) {
    return t && dtype_is_quantized(t->type);
}

// The tensor can be addressed by a shader: element-sized strides and offset, 32-bit counts,
// and its bytes fit one storage binding (with slack for aligning the binding's start down).
bool addressable(const Tensor* t, const Limits& lim) {
    if (!t) return true;
    // Quantized data is addressed in bytes (strides too), read 16 bits at a time: blocks are
    // 2-byte aligned.
    const bool q = dtype_is_quantized(t->type);
    if (q && t->nb[0] != dtype_size(t->type)) return false;
    const size_t es = q ? 2 : dtype_size(t->type);
    const size_t unit = q ? 1 : es;
    for (int i = 0; i < kMaxDims; ++i) {
        if (t->ne[i] <= 0 || t->ne[i] > 0xffffffffll) return false;
        if (t->nb[i] % es != 0 || t->nb[i] / unit > 0xffffffffull) return false;
    }
    if (t->view_src && t->view_offs % es != 0) return false;
    if ((uint64_t)t->nelements() > 0xffffffffull) return false;
    return t->nbytes() + 256 <= lim.max_range;
}

bool operands_addressable(const Tensor* node, const Limits& lim) {
    if (!addressable(node, lim)) return false;
    for (int i = 0; i < kMaxSrc; ++i)
        if (!addressable(node->src[i], lim)) return false;
    return true;
}

// Workgroups for `items` items of `per_group` each, as a folded 1-D grid.
bool grid_fits(uint64_t items, uint64_t per_group, const Limits& lim) {
    const uint64_t g = (items + per_group - 1) / per_group;
    return (g + lim.max_groups[0] - 1) / lim.max_groups[0] <= lim.max_groups[1];
}

Dispatch make(const Tensor* node, const char* module, bool has_fp16, uint32_t op = 0) {
    Dispatch d;
    d.module = module;
    d.has_fp16 = has_fp16;
    d.bind[0] = node;
    for (int i = 0; i < 5; ++i) d.bind[1 + i] = node->src[i];
    d.pc.op = op;
    return d;
}

// A 1-D grid of `items` items, `per_group` per workgroup.
void grid_1d(Dispatch& d, uint64_t items, uint32_t per_group) {
    d.pc.n = (uint32_t)items;
    d.groups[0] = (uint32_t)((items + per_group - 1) / per_group);
    d.fold = true;
}

// ---- ops without a kernel ----------------------------------------------------------------------

#define GGML_VK_NO_KERNEL(ID)                          \
    bool supports_##ID(const Tensor*, const Limits&) { \
        return true;                                   \
    }                                                  \
    void prepare_##ID(const Tensor*, std::vector<Dispatch>&) {}
GGML_VK_NO_KERNEL(NONE)
GGML_VK_NO_KERNEL(VIEW)
GGML_VK_NO_KERNEL(RESHAPE)
GGML_VK_NO_KERNEL(PERMUTE)
GGML_VK_NO_KERNEL(TRANSPOSE)
#undef GGML_VK_NO_KERNEL

// ---- copies ------------------------------------------------------------------------------------

bool supports_CONT(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    return a && a->type == node->type && !is_quant(a) && same_shape(a, node) &&
           grid_fits((uint64_t)node->nelements(), 256, lim);
}
void prepare_CONT(const Tensor* node, std::vector<Dispatch>& out) {
    Dispatch d = make(node, "copy", true);
    grid_1d(d, (uint64_t)node->nelements(), 256);
    out.push_back(d);
}

// Quantizing (f32 -> q8_0/q4_0, one invocation per block) and dequantizing (q -> f32, in
// copy.comp, per element) as well as the float conversions.
bool supports_CPY(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    if (!a || !same_shape(a, node) || !grid_fits((uint64_t)node->nelements(), 256, lim))
        return false;
    if (is_quant(node)) return a->type == DType::F32 && a->ne[0] % dtype_blck(node->type) == 0;
    if (is_quant(a)) return node->type == DType::F32;
    if (a->type == DType::I32 || node->type == DType::I32) return a->type == node->type;
    return is_float(a->type) && is_float(node->type);
}
void prepare_CPY(const Tensor* node, std::vector<Dispatch>& out) {
    if (is_quant(node)) {
        Dispatch d = make(node, "quantize", false);
        grid_1d(d, (uint64_t)(node->nelements() / dtype_blck(node->type)), 64);
        out.push_back(d);
        return;
    }
    prepare_CONT(node, out);
}

// a [ne0, n_rows, A2, A3] f32/f16/bf16/q8_0/q4_0, ids i32 [n, A2', A3'] -> f32 [ne0, n, A2', A3']
bool supports_GET_ROWS(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    const Tensor* ids = node->src[1];
    return a && (is_float(a->type) || is_quant(a)) && all_type(ids, DType::I32) &&
           all_type(node, DType::F32) && node->ne[0] == a->ne[0] && node->ne[1] == ids->ne[0] &&
           node->ne[2] == ids->ne[1] && node->ne[3] == ids->ne[2] && ids->ne[3] == 1 &&
           node->ne[2] % a->ne[2] == 0 && node->ne[3] % a->ne[3] == 0 &&
           grid_fits((uint64_t)node->nelements(), 256, lim);
}
void prepare_GET_ROWS(const Tensor* node, std::vector<Dispatch>& out) {
    Dispatch d = make(node, "get_rows", true);
    grid_1d(d, (uint64_t)node->nelements(), 256);
    out.push_back(d);
}

// dst f32/f16/bf16 [ne0, n_rows, ne2, ne3], rows f32 [ne0, n, ne2, ne3], ids i32 [n, ne2, ne3]
bool supports_SET_ROWS(const Tensor* node, const Limits& lim) {
    const Tensor* dst = node->src[0];
    const Tensor* src = node->src[1];
    const Tensor* ids = node->src[2];
    return dst && is_float(dst->type) && node->type == dst->type && same_shape(node, dst) &&
           all_type(src, DType::F32) && all_type(ids, DType::I32) && src->ne[0] == dst->ne[0] &&
           src->ne[2] == dst->ne[2] && src->ne[3] == dst->ne[3] && ids->ne[0] == src->ne[1] &&
           ids->ne[1] == src->ne[2] && ids->ne[2] == src->ne[3] && ids->ne[3] == 1 &&
           grid_fits((uint64_t)node->nelements(), 256, lim);
}
void prepare_SET_ROWS(const Tensor* node, std::vector<Dispatch>& out) {
    const Tensor* dst = node->src[0];
    const bool aliased = node->data == dst->data && node->nb[0] == dst->nb[0] &&
                         node->nb[1] == dst->nb[1] && node->nb[2] == dst->nb[2] &&
                         node->nb[3] == dst->nb[3];
    if (!aliased) {
        // The node got memory of its own: carry the destination's contents over first.
        Dispatch c = make(node, "copy", true);
        c.bind[2] = nullptr;
        c.bind[3] = nullptr;
        grid_1d(c, (uint64_t)node->nelements(), 256);
        out.push_back(c);
    }
    Dispatch d = make(node, "set_rows", true);
    d.bind[1] = nullptr;  // the destination is written through the node itself
    const Tensor* src = node->src[1];
    grid_1d(d, (uint64_t)(src->ne[0] * src->ne[2] * src->ne[3]), 256);
    out.push_back(d);
}

// ---- element-wise ------------------------------------------------------------------------------

bool supports_binary(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (!all_type(node, DType::F32) || !all_type(a, DType::F32) || !all_type(b, DType::F32) ||
        !same_shape(node, a))
        return false;
    for (int i = 0; i < kMaxDims; ++i)
        if (a->ne[i] % b->ne[i] != 0) return false;
    return grid_fits((uint64_t)node->nelements(), 256, lim);
}
void prepare_binary(const Tensor* node, std::vector<Dispatch>& out, uint32_t op) {
    Dispatch d = make(node, "binary", false, op);
    grid_1d(d, (uint64_t)node->nelements(), 256);
    out.push_back(d);
}

bool supports_unary(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::F32) && all_type(a, DType::F32) && same_shape(node, a) &&
           grid_fits((uint64_t)node->nelements(), 256, lim);
}
void prepare_unary(const Tensor* node, std::vector<Dispatch>& out, uint32_t op) {
    Dispatch d = make(node, "unary", false, op);
    grid_1d(d, (uint64_t)node->nelements(), 256);
    if (node->op == Op::SCALE) {
        const auto p = node->params<std::array<float, 2>>();
        d.params.fp[0] = p[0];
        d.params.fp[1] = p[1];
    }
    out.push_back(d);
}

bool supports_ADD(const Tensor* n, const Limits& l) {
    return supports_binary(n, l);
}
bool supports_SUB(const Tensor* n, const Limits& l) {
    return supports_binary(n, l);
}
bool supports_MUL(const Tensor* n, const Limits& l) {
    return supports_binary(n, l);
}
bool supports_DIV(const Tensor* n, const Limits& l) {
    return supports_binary(n, l);
}
bool supports_SWIGLU(const Tensor* n, const Limits& l) {
    return supports_binary(n, l) && same_shape(n->src[0], n->src[1]);
}
void prepare_ADD(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_binary(n, o, 0);
}
void prepare_SUB(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_binary(n, o, 1);
}
void prepare_MUL(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_binary(n, o, 2);
}
void prepare_DIV(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_binary(n, o, 3);
}
void prepare_SWIGLU(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_binary(n, o, 4);
}

bool supports_SCALE(const Tensor* n, const Limits& l) {
    return supports_unary(n, l);
}
bool supports_SQR(const Tensor* n, const Limits& l) {
    return supports_unary(n, l);
}
bool supports_TANH(const Tensor* n, const Limits& l) {
    return supports_unary(n, l);
}
bool supports_SILU(const Tensor* n, const Limits& l) {
    return supports_unary(n, l);
}
bool supports_GELU(const Tensor* n, const Limits& l) {
    return supports_unary(n, l);
}
void prepare_SCALE(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_unary(n, o, 0);
}
void prepare_SQR(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_unary(n, o, 1);
}
void prepare_TANH(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_unary(n, o, 2);
}
void prepare_SILU(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_unary(n, o, 3);
}
void prepare_GELU(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_unary(n, o, 4);
}

// ---- row reductions (one workgroup per row)
// ------------------------------------------------------

bool rows_fit(const Tensor* a, const Limits& lim) {
    return grid_fits((uint64_t)a->nrows(), 1, lim);
}

void prepare_rows(const Tensor* node, const char* module, uint32_t op, std::vector<Dispatch>& out) {
    Dispatch d = make(node, module, false, op);
    grid_1d(d, (uint64_t)node->src[0]->nrows(), 1);
    out.push_back(d);
}

bool supports_RMS_NORM(const Tensor* n, const Limits& l) {
    return supports_unary(n, l) && rows_fit(n, l);
}
bool supports_LAYER_NORM(const Tensor* n, const Limits& l) {
    return supports_RMS_NORM(n, l);
}
void prepare_RMS_NORM(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_rows(n, "norm", 0, o);
    o.back().params.fp[0] = n->params<float>();
}
void prepare_LAYER_NORM(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_rows(n, "norm", 1, o);
    o.back().params.fp[0] = n->params<float>();
}

bool supports_SUM_ROWS(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::F32) && all_type(a, DType::F32) && node->ne[0] == 1 &&
           node->ne[1] == a->ne[1] && node->ne[2] == a->ne[2] && node->ne[3] == a->ne[3] &&
           rows_fit(a, lim);
}
void prepare_SUM_ROWS(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_rows(n, "sum_rows", 0, o);
}

bool supports_ARGMAX(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    return all_type(node, DType::I32) && all_type(a, DType::F32) && node->ne[0] == a->ne[1] &&
           node->ne[1] == a->ne[2] && node->ne[2] == a->ne[3] && node->ne[3] == 1 &&
           rows_fit(a, lim);
}
void prepare_ARGMAX(const Tensor* n, std::vector<Dispatch>& o) {
    prepare_rows(n, "argmax", 0, o);
}

// a f32 [n_kv, n_q, H, B], mask f32 [n_kv, n_q, H', B'] with H % H' == 0, B % B' == 0
bool supports_SOFT_MAX(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    const Tensor* m = node->src[1];
    if (!supports_unary(node, lim) || !rows_fit(a, lim)) return false;
    return !m || (m->type == DType::F32 && m->ne[0] == a->ne[0] && m->ne[1] == a->ne[1] &&
                  a->ne[2] % m->ne[2] == 0 && a->ne[3] % m->ne[3] == 0);
}
void prepare_SOFT_MAX(const Tensor* node, std::vector<Dispatch>& o) {
    prepare_rows(node, "soft_max", 0, o);
    const SoftMaxParams p = node->params<SoftMaxParams>();
    Dispatch& d = o.back();
    d.params.ip[0] = p.causal;
    d.params.ip[1] = p.causal_offset;
    d.params.ip[2] = node->src[1] ? 1 : 0;
    d.params.fp[0] = p.scale;
}

// scores f32 [n_kv, n_q, H, B], bias f32 [n_kv, 1, 1, 1|B]
bool supports_STEER(const Tensor* node, const Limits& lim) {
    const Tensor* s = node->src[0];
    const Tensor* b = node->src[1];
    return supports_unary(node, lim) && all_type(b, DType::F32) && b->ne[0] == s->ne[0] &&
           b->ne[1] == 1 && b->ne[2] == 1 && s->ne[3] % b->ne[3] == 0;
}
void prepare_STEER(const Tensor* node, std::vector<Dispatch>& o) {
    Dispatch d = make(node, "steer", false);
    grid_1d(d, (uint64_t)node->nelements(), 256);
    const SteerParams sp = node->params<SteerParams>();
    for (int w = 0; w < 4; ++w) {
        d.params.bits[2 * w] = (uint32_t)sp.heads[w];
        d.params.bits[2 * w + 1] = (uint32_t)(sp.heads[w] >> 32);
    }
    o.push_back(d);
}

// ---- matrix multiplication -------------------------------------------------------------------

constexpr int64_t kMatVecMaxN = 8;  // columns up to which mul_mat_vec.comp is used

bool supports_MUL_MAT(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    if (!a || !b || !(is_float(a->type) || is_quant(a)) || !all_type(b, DType::F32) ||
        !all_type(node, DType::F32))
        return false;
    if (!(a->rows_contiguous() && b->rows_contiguous() && a->ne[0] == b->ne[0] &&
          b->ne[2] % a->ne[2] == 0 && b->ne[3] % a->ne[3] == 0 && node->ne[0] == a->ne[1] &&
          node->ne[1] == b->ne[1] && node->ne[2] == b->ne[2] && node->ne[3] == b->ne[3]))
        return false;
    const uint64_t batches = (uint64_t)(b->ne[2] * b->ne[3]);
    if (batches > lim.max_groups[2]) return false;
    if (b->ne[1] <= kMatVecMaxN) return grid_fits((uint64_t)a->ne[1], 64, lim);
    return (uint64_t)(a->ne[1] + 31) / 32 <= lim.max_groups[0] &&
           (uint64_t)(b->ne[1] + 31) / 32 <= lim.max_groups[1];
}
void prepare_MUL_MAT(const Tensor* node, std::vector<Dispatch>& o) {
    const Tensor* a = node->src[0];
    const Tensor* b = node->src[1];
    const uint32_t batches = (uint32_t)(b->ne[2] * b->ne[3]);
    if (b->ne[1] <= kMatVecMaxN) {
        // Quantized weights: a block-wise walk of the row (codes dotted, then scaled by d).
        Dispatch d =
            is_quant(a) ? make(node, "mul_mat_vec_q", false) : make(node, "mul_mat_vec", true);
        grid_1d(d, (uint64_t)a->ne[1], 64);
        d.groups[2] = batches;
        o.push_back(d);
        return;
    }
    Dispatch d = make(node, "mul_mat", true);
    d.groups[0] = (uint32_t)((a->ne[1] + 31) / 32);
    d.groups[1] = (uint32_t)((b->ne[1] + 31) / 32);
    d.groups[2] = batches;
    o.push_back(d);
}

// ---- rope --------------------------------------------------------------------------------------

bool supports_ROPE(const Tensor* node, const Limits& lim) {
    const Tensor* a = node->src[0];
    const Tensor* pos = node->src[1];
    if (!all_type(a, DType::F32) || !all_type(pos, DType::I32) || !all_type(node, DType::F32) ||
        !same_shape(node, a))
        return false;
    const RopeParams p = node->params<RopeParams>();
    return pos->ne[0] == a->ne[2] && p.n_dims > 0 && p.n_dims % 2 == 0 && p.n_dims <= a->ne[0] &&
           (p.mode == RopeMode::Interleaved || p.mode == RopeMode::Neox) &&
           grid_fits((uint64_t)node->nelements(), 256, lim);
}
void prepare_ROPE(const Tensor* node, std::vector<Dispatch>& o) {
    Dispatch d = make(node, "rope", false);
    grid_1d(d, (uint64_t)node->nelements(), 256);
    const RopeParams p = node->params<RopeParams>();
    d.params.ip[0] = p.n_dims;
    d.params.ip[1] = (int32_t)p.mode;
    d.params.fp[0] = p.freq_base;
    o.push_back(d);
}

// ---- flash attention
// -----------------------------------------------------------------------------

constexpr int64_t kFaRows = 8;    // flash_attn.comp's BR
constexpr int64_t kFaMaxD = 256;  // flash_attn.comp's DMAX

bool supports_FLASH_ATTN(const Tensor* node, const Limits& lim) {
    if (!flash_attn_well_formed(node)) return false;
    const Tensor* q = node->src[0];
    const int64_t D = q->ne[0], n_q = q->ne[1], Hq = q->ne[2], B = q->ne[3];
    const Tensor* v = node->src[2];
    return D <= kFaMaxD && v->ne[0] <= kFaMaxD &&
           (uint64_t)(n_q + kFaRows - 1) / kFaRows <= lim.max_groups[0] &&
           (uint64_t)Hq <= lim.max_groups[1] && (uint64_t)B <= lim.max_groups[2];
}
void prepare_FLASH_ATTN(const Tensor* node, std::vector<Dispatch>& o) {
    const Tensor* q = node->src[0];
    const FlashAttnParams p = node->params<FlashAttnParams>();
    Dispatch d = make(node, "flash_attn", true);
    d.groups[0] = (uint32_t)((q->ne[1] + kFaRows - 1) / kFaRows);
    d.groups[1] = (uint32_t)q->ne[2];
    d.groups[2] = (uint32_t)q->ne[3];
    d.params.ip[0] = p.causal;
    d.params.ip[1] = p.causal_offset;
    d.params.ip[2] = node->src[3] ? 1 : 0;
    d.params.ip[3] = node->src[4] ? 1 : 0;
    d.params.fp[0] = p.scale;
    d.params.fp[1] = p.softcap;
    for (int w = 0; w < 4; ++w) {
        d.params.bits[2 * w] = (uint32_t)p.steer.heads[w];
        d.params.bits[2 * w + 1] = (uint32_t)(p.steer.heads[w] >> 32);
    }
    o.push_back(d);
}

// ---- the table ---------------------------------------------------------------------------------

struct Kernel {
    bool (*supports)(const Tensor*, const Limits&);
    void (*prepare)(const Tensor*, std::vector<Dispatch>&);
};

const Kernel& kernel(Op op) {
    static const Kernel kTable[kOpCount] = {
#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) \
    {&supports_##id, &prepare_##id},
#include "ggml/ops.def"
#undef GGML_OP
    };
    return kTable[(int)op < kOpCount ? (int)op : 0];
}

}  // namespace

bool op_supported(const Tensor* node, const Limits& lim) {
    if (node->op == Op::NONE || op_info(node->op).view) return true;
    return operands_addressable(node, lim) && kernel(node->op).supports(node, lim);
}

void op_prepare(const Tensor* node, std::vector<Dispatch>& out) {
    if (node->op == Op::NONE || op_info(node->op).view) return;
    kernel(node->op).prepare(node, out);
}

}  // namespace vk
}  // namespace ggml
