// Op builders: shape/dtype checks and result metadata. No data is touched here.
#include "ggml/ops.h"

#include <cmath>
#include <sstream>
#include <string>

namespace ggml {

namespace {

[[noreturn]] void fail(const char* op, const std::string& msg) {
    throw Error(std::string(op) + ": " + msg);
}

std::string shp(const Tensor* t) {
    return t ? t->shape_str() : std::string("null");
}

void require_not_null(const char* op, const Tensor* t, const char* what) {
    if (!t) fail(op, std::string(what) + " is null");
}

void require_type(const char* op, const Tensor* t, const char* what,
                  std::initializer_list<DType> allowed) {
    require_not_null(op, t, what);
    for (DType d : allowed)
        if (t->type == d) return;
    std::string names;
    for (DType d : allowed) names += std::string(names.empty() ? "" : "/") + dtype_name(d);
    fail(op, std::string(what) + " " + shp(t) + " must be " + names);
}

void require_rows_packed(const char* op, const Tensor* t, const char* what) {
    if (!t->rows_contiguous())
        fail(op, std::string(what) + " " + shp(t) +
                     " must have packed rows (nb[0] = " + std::to_string(dtype_size(t->type)) +
                     ", got " + std::to_string(t->nb[0]) + ")");
}

// A fresh contiguous result node.
Tensor* new_node(Context& ctx, Op op, DType type, const int64_t ne[4],
                 std::initializer_list<Tensor*> srcs) {
    Tensor* t = ctx.new_tensor(type, kMaxDims, ne);
    t->op = op;
    int i = 0;
    for (Tensor* s : srcs) t->src[i++] = s;
    return t;
}

// A node aliasing a's memory with its own shape/strides (views, permute, set_rows).
Tensor* new_alias(Context& ctx, Op op, Tensor* a, size_t extra_offset) {
    if (dtype_is_interleaved(a->type))
        fail(op_name(op), std::string("a ") + dtype_name(a->type) + " tensor " + shp(a) +
                              " interleaves its rows and cannot be viewed");
    Tensor* t = ctx.dup_meta(a);
    t->op = op;
    std::memset(t->op_params, 0, sizeof(t->op_params));
    for (auto& s : t->src) s = nullptr;
    t->src[0] = a;
    t->flags = 0;
    t->name[0] = 0;
    // Always point at the memory owner, so view_root() is one step.
    t->view_src = view_root(a);
    t->view_offs = (a->view_src ? a->view_offs : 0) + extra_offset;
    if (t->view_src->data) t->data = (uint8_t*)t->view_src->data + t->view_offs;
    t->buffer = t->view_src->buffer;
    return t;
}

// Bytes of a's memory reachable from its start (for view bounds checks).
size_t span(const Tensor* a) {
    return a->nbytes();
}

}  // namespace

// ---- views -----------------------------------------------------------------------------------

Tensor* view(Context& ctx, Tensor* a, std::initializer_list<int64_t> ne,
             std::initializer_list<size_t> nb, size_t offset) {
    require_not_null("view", a, "source");
    if (ne.size() < 1 || ne.size() > 4 || nb.size() != ne.size() - 1)
        fail("view", "needs 1-4 sizes and one stride fewer (strides of dims 1..n-1), got " +
                         std::to_string(ne.size()) + " sizes and " + std::to_string(nb.size()) +
                         " strides");
    Tensor* t = new_alias(ctx, Op::VIEW, a, offset);
    for (int i = 0; i < kMaxDims; ++i) t->ne[i] = 1;
    int i = 0;
    for (int64_t n : ne) {
        if (n <= 0) fail("view", "size " + std::to_string(n) + " of dim " + std::to_string(i));
        t->ne[i++] = n;
    }
    const int64_t blck = dtype_blck(a->type);
    if (t->ne[0] % blck != 0 || offset % dtype_size(a->type) != 0)
        fail("view", std::string("a ") + dtype_name(a->type) + " view must cover whole blocks of " +
                         std::to_string(blck) + " elements at a block boundary (ne0 " +
                         std::to_string(t->ne[0]) + ", byte offset " + std::to_string(offset) +
                         ", source " + shp(a) + ")");
    t->nb[0] = dtype_size(a->type);
    i = 1;
    for (size_t s : nb) t->nb[i++] = s;
    if (i == 1 && i < kMaxDims) t->nb[i++] = row_bytes(a->type, t->ne[0]);
    for (; i < kMaxDims; ++i) t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
    if (offset + t->nbytes() > span(a))
        fail("view", "window " + shp(t) + " at byte offset " + std::to_string(offset) + " needs " +
                         std::to_string(offset + t->nbytes()) + " bytes but source " + shp(a) +
                         " spans " + std::to_string(span(a)));
    return t;
}

Tensor* reshape(Context& ctx, Tensor* a, std::initializer_list<int64_t> ne) {
    require_not_null("reshape", a, "source");
    if (!a->is_contiguous()) fail("reshape", "source " + shp(a) + " is not contiguous");
    if (ne.size() < 1 || ne.size() > 4) fail("reshape", "needs 1-4 sizes");
    int64_t n = 1;
    for (int64_t x : ne) n *= x;
    Tensor* t = new_alias(ctx, Op::RESHAPE, a, 0);
    for (int i = 0; i < kMaxDims; ++i) t->ne[i] = 1;
    int i = 0;
    for (int64_t x : ne) {
        if (x <= 0) fail("reshape", "size " + std::to_string(x) + " of dim " + std::to_string(i));
        t->ne[i++] = x;
    }
    if (n != a->nelements()) {
        fail("reshape", "source " + shp(a) + " has " + std::to_string(a->nelements()) +
                            " elements, new shape " + shp(t) + " has " + std::to_string(n));
    }
    if (t->ne[0] % dtype_blck(a->type) != 0)
        fail("reshape", std::string("new shape ") + shp(t) + " splits the " +
                            std::to_string(dtype_blck(a->type)) + "-element blocks of " + shp(a));
    set_contiguous_strides(t);
    return t;
}

Tensor* permute(Context& ctx, Tensor* a, int ax0, int ax1, int ax2, int ax3) {
    require_not_null("permute", a, "source");
    const int ax[4] = {ax0, ax1, ax2, ax3};
    bool used[4] = {false, false, false, false};
    for (int i = 0; i < 4; ++i) {
        if (ax[i] < 0 || ax[i] > 3 || used[ax[i]])
            fail("permute", "axes (" + std::to_string(ax0) + "," + std::to_string(ax1) + "," +
                                std::to_string(ax2) + "," + std::to_string(ax3) +
                                ") are not a permutation of 0..3 (source " + shp(a) + ")");
        used[ax[i]] = true;
    }
    if (dtype_is_quantized(a->type) && ax0 != 0)
        fail("permute", "dim 0 of a block-quantized source " + shp(a) + " cannot move");
    Tensor* t = new_alias(ctx, Op::PERMUTE, a, 0);
    for (int i = 0; i < 4; ++i) {
        t->ne[ax[i]] = a->ne[i];
        t->nb[ax[i]] = a->nb[i];
    }
    int32_t p[4] = {ax0, ax1, ax2, ax3};
    t->set_params(p);
    return t;
}

Tensor* transpose(Context& ctx, Tensor* a) {
    Tensor* t = permute(ctx, a, 1, 0, 2, 3);
    t->op = Op::TRANSPOSE;
    return t;
}

// ---- copies ----------------------------------------------------------------------------------

Tensor* cont(Context& ctx, Tensor* a) {
    require_type("cont", a, "source", {DType::F32, DType::F16, DType::BF16, DType::I32});
    return new_node(ctx, Op::CONT, a->type, a->ne, {a});
}

Tensor* cpy(Context& ctx, Tensor* a, DType type) {
    require_not_null("cpy", a, "source");
    if ((int)type >= (int)DType::COUNT) fail("cpy", "invalid destination dtype");
    if (dtype_is_interleaved(a->type) || dtype_is_interleaved(type))
        fail("cpy", std::string("cannot convert ") + shp(a) + " to " + dtype_name(type) +
                        " (q4_0x8 is made by repack_q4_0x8 and read only by mul_mat)");
    const bool af = dtype_info(a->type).is_float, tf = dtype_info(type).is_float;
    if (af != tf)
        fail("cpy", std::string("cannot convert ") + shp(a) + " to " + dtype_name(type) +
                        " (float <-> integer conversion is not an op)");
    // Quantizing and dequantizing go through f32 only: one block format at a time.
    const bool aq = dtype_is_quantized(a->type), tq = dtype_is_quantized(type);
    if ((aq && type != DType::F32) || (tq && a->type != DType::F32))
        fail("cpy", std::string("cannot convert ") + shp(a) + " to " + dtype_name(type) +
                        " (q8_0/q4_0 convert to and from f32 only)");
    if (tq && a->ne[0] % dtype_blck(type) != 0)
        fail("cpy", "rows of " + shp(a) + " are not whole " + dtype_name(type) + " blocks of " +
                        std::to_string(dtype_blck(type)));
    return new_node(ctx, Op::CPY, type, a->ne, {a});
}

Tensor* get_rows(Context& ctx, Tensor* a, Tensor* ids) {
    require_type("get_rows", a, "source",
                 {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0});
    require_type("get_rows", ids, "ids", {DType::I32});
    if (ids->ne[1] != a->ne[2] || ids->ne[2] != a->ne[3] || ids->ne[3] != 1)
        fail("get_rows", "ids " + shp(ids) + " must be [n, " + std::to_string(a->ne[2]) + ", " +
                             std::to_string(a->ne[3]) + "] for source " + shp(a));
    const int64_t ne[4] = {a->ne[0], ids->ne[0], a->ne[2], a->ne[3]};
    return new_node(ctx, Op::GET_ROWS, DType::F32, ne, {a, ids});
}

Tensor* set_rows(Context& ctx, Tensor* dst, Tensor* src, Tensor* ids) {
    require_type("set_rows", dst, "destination", {DType::F32, DType::F16, DType::BF16});
    require_type("set_rows", src, "rows", {DType::F32});
    require_type("set_rows", ids, "ids", {DType::I32});
    if (src->ne[0] != dst->ne[0] || src->ne[2] != dst->ne[2] || src->ne[3] != dst->ne[3])
        fail("set_rows", "rows " + shp(src) + " do not fit destination " + shp(dst) +
                             " (ne0, ne2, ne3 must match)");
    if (ids->ne[0] != src->ne[1] || ids->ne[1] != src->ne[2] || ids->ne[2] != src->ne[3] ||
        ids->ne[3] != 1)
        fail("set_rows", "ids " + shp(ids) + " must be [" + std::to_string(src->ne[1]) + ", " +
                             std::to_string(src->ne[2]) + ", " + std::to_string(src->ne[3]) +
                             "] for rows " + shp(src));
    Tensor* t = new_alias(ctx, Op::SET_ROWS, dst, 0);
    t->src[1] = src;
    t->src[2] = ids;
    return t;
}

// ---- element-wise ------------------------------------------------------------------------------

namespace {

Tensor* binary(Context& ctx, Op op, Tensor* a, Tensor* b) {
    const char* name = op_name(op);
    require_type(name, a, "a", {DType::F32});
    require_type(name, b, "b", {DType::F32});
    for (int i = 0; i < kMaxDims; ++i)
        if (a->ne[i] % b->ne[i] != 0)
            fail(name, "b " + shp(b) + " does not broadcast to a " + shp(a) + " (dim " +
                           std::to_string(i) + ": " + std::to_string(a->ne[i]) + " % " +
                           std::to_string(b->ne[i]) + " != 0)");
    return new_node(ctx, op, DType::F32, a->ne, {a, b});
}

Tensor* unary(Context& ctx, Op op, Tensor* a) {
    require_type(op_name(op), a, "a", {DType::F32});
    return new_node(ctx, op, DType::F32, a->ne, {a});
}

}  // namespace

Tensor* add(Context& ctx, Tensor* a, Tensor* b) {
    return binary(ctx, Op::ADD, a, b);
}
Tensor* sub(Context& ctx, Tensor* a, Tensor* b) {
    return binary(ctx, Op::SUB, a, b);
}
Tensor* mul(Context& ctx, Tensor* a, Tensor* b) {
    return binary(ctx, Op::MUL, a, b);
}
Tensor* div(Context& ctx, Tensor* a, Tensor* b) {
    return binary(ctx, Op::DIV, a, b);
}

Tensor* scale(Context& ctx, Tensor* a, float s, float bias) {
    if (!std::isfinite(s) || !std::isfinite(bias)) fail("scale", "factor and bias must be finite");
    Tensor* t = unary(ctx, Op::SCALE, a);
    const float p[2] = {s, bias};
    t->set_params(p);
    return t;
}

Tensor* sqr(Context& ctx, Tensor* a) {
    return unary(ctx, Op::SQR, a);
}
Tensor* tanh(Context& ctx, Tensor* a) {
    return unary(ctx, Op::TANH, a);
}
Tensor* silu(Context& ctx, Tensor* a) {
    return unary(ctx, Op::SILU, a);
}
Tensor* gelu(Context& ctx, Tensor* a) {
    return unary(ctx, Op::GELU, a);
}

Tensor* swiglu(Context& ctx, Tensor* a, Tensor* b) {
    require_type("swiglu", a, "gate", {DType::F32});
    require_type("swiglu", b, "up", {DType::F32});
    if (!same_shape(a, b)) fail("swiglu", "gate " + shp(a) + " and up " + shp(b) + " differ");
    return new_node(ctx, Op::SWIGLU, DType::F32, a->ne, {a, b});
}

// ---- row reductions --------------------------------------------------------------------------

namespace {
Tensor* norm(Context& ctx, Op op, Tensor* a, float eps) {
    Tensor* t = unary(ctx, op, a);
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        fail(op_name(op), "eps " + std::to_string(eps) + " must be finite and >= 0");
    t->set_params(eps);
    return t;
}
}  // namespace

Tensor* rms_norm(Context& ctx, Tensor* a, float eps) {
    return norm(ctx, Op::RMS_NORM, a, eps);
}
Tensor* layer_norm(Context& ctx, Tensor* a, float eps) {
    return norm(ctx, Op::LAYER_NORM, a, eps);
}

Tensor* sum_rows(Context& ctx, Tensor* a) {
    require_type("sum_rows", a, "a", {DType::F32});
    const int64_t ne[4] = {1, a->ne[1], a->ne[2], a->ne[3]};
    return new_node(ctx, Op::SUM_ROWS, DType::F32, ne, {a});
}

Tensor* argmax(Context& ctx, Tensor* a) {
    require_type("argmax", a, "a", {DType::F32});
    const int64_t ne[4] = {a->ne[1], a->ne[2], a->ne[3], 1};
    return new_node(ctx, Op::ARGMAX, DType::I32, ne, {a});
}

// ---- matrix multiplication -------------------------------------------------------------------

Tensor* mul_mat(Context& ctx, Tensor* a, Tensor* b) {
    require_type("mul_mat", a, "a",
                 {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_0X8});
    if (dtype_is_interleaved(a->type) && a->nb[1] != row_bytes(a->type, a->ne[0]))
        fail("mul_mat", std::string("a ") + shp(a) + " is " + dtype_name(a->type) +
                            " with row stride " + std::to_string(a->nb[1]) +
                            "; its groups of rows must be packed");
    require_type("mul_mat", b, "b", {DType::F32});
    require_rows_packed("mul_mat", a, "a");
    require_rows_packed("mul_mat", b, "b");
    if (a->ne[0] != b->ne[0])
        fail("mul_mat", "inner dimensions differ: a " + shp(a) +
                            " has K=" + std::to_string(a->ne[0]) + ", b " + shp(b) +
                            " has K=" + std::to_string(b->ne[0]));
    if (b->ne[2] % a->ne[2] != 0 || b->ne[3] % a->ne[3] != 0)
        fail("mul_mat", "batch dims of a " + shp(a) + " do not broadcast to b " + shp(b) +
                            " (b.ne2 % a.ne2 and b.ne3 % a.ne3 must be 0)");
    const int64_t ne[4] = {a->ne[1], b->ne[1], b->ne[2], b->ne[3]};
    return new_node(ctx, Op::MUL_MAT, DType::F32, ne, {a, b});
}

// ---- rope ------------------------------------------------------------------------------------

Tensor* rope(Context& ctx, Tensor* a, Tensor* pos, const RopeParams& p) {
    require_type("rope", a, "a", {DType::F32});
    require_type("rope", pos, "positions", {DType::I32});
    if (pos->ne[0] != a->ne[2] || pos->nelements() != pos->ne[0])
        fail("rope", "positions " + shp(pos) + " must be [" + std::to_string(a->ne[2]) +
                         "] (one per token, dim 2 of a " + shp(a) + ")");
    if (p.n_dims <= 0 || p.n_dims % 2 != 0 || p.n_dims > a->ne[0])
        fail("rope", "n_dims " + std::to_string(p.n_dims) + " must be even and in (0, " +
                         std::to_string(a->ne[0]) + "] for a " + shp(a));
    if (p.mode != RopeMode::Interleaved && p.mode != RopeMode::Neox)
        fail("rope", "unknown mode " + std::to_string((int)p.mode));
    if (!(p.freq_base > 0.0f) || !std::isfinite(p.freq_base))
        fail("rope", "freq_base " + std::to_string(p.freq_base) + " must be > 0");
    Tensor* t = new_node(ctx, Op::ROPE, DType::F32, a->ne, {a, pos});
    t->set_params(p);
    return t;
}

// ---- attention -------------------------------------------------------------------------------

namespace {

// mask f32 [n_kv, n_q, 1|H, 1|B] for scores [n_kv, n_q, H, B]
void check_mask(const char* op, const Tensor* mask, int64_t n_kv, int64_t n_q, int64_t h, int64_t b,
                const Tensor* ref) {
    if (!mask) return;
    require_type(op, mask, "mask", {DType::F32});
    require_rows_packed(op, mask, "mask");
    if (mask->ne[0] != n_kv || mask->ne[1] != n_q || (mask->ne[2] != 1 && mask->ne[2] != h) ||
        (mask->ne[3] != 1 && mask->ne[3] != b))
        fail(op, "mask " + shp(mask) + " must be [" + std::to_string(n_kv) + ", " +
                     std::to_string(n_q) + ", 1|" + std::to_string(h) + ", 1|" + std::to_string(b) +
                     "] for " + shp(ref));
}

// bias f32 [n_kv, 1, 1, 1|B]; heads must exist
void check_steer(const char* op, const Tensor* bias, const HeadSet& heads, int64_t n_kv, int64_t h,
                 int64_t b, const Tensor* ref) {
    if (!bias) {
        if (heads.any()) fail(op, "steered heads are selected but no steering bias is given");
        return;
    }
    require_type(op, bias, "steering bias", {DType::F32});
    require_rows_packed(op, bias, "steering bias");
    if (bias->ne[0] != n_kv || bias->ne[1] != 1 || bias->ne[2] != 1 ||
        (bias->ne[3] != 1 && bias->ne[3] != b))
        fail(op, "steering bias " + shp(bias) + " must be [" + std::to_string(n_kv) + ", 1, 1, 1|" +
                     std::to_string(b) + "] for " + shp(ref));
    for (size_t i = (size_t)h; i < heads.size(); ++i)
        if (heads.test(i))
            fail(op, "steered head " + std::to_string(i) + " does not exist (" + shp(ref) +
                         " has " + std::to_string(h) + " heads)");
}

}  // namespace

Tensor* soft_max(Context& ctx, Tensor* a, Tensor* mask, const SoftMaxParams& p) {
    require_type("soft_max", a, "a", {DType::F32});
    check_mask("soft_max", mask, a->ne[0], a->ne[1], a->ne[2], a->ne[3], a);
    if (!std::isfinite(p.scale)) fail("soft_max", "scale must be finite");
    Tensor* t = new_node(ctx, Op::SOFT_MAX, DType::F32, a->ne, {a, mask});
    t->set_params(p);
    return t;
}

void SteerParams::set(const HeadSet& hs) {
    for (int w = 0; w < 4; ++w) {
        heads[w] = 0;
        for (int b = 0; b < 64; ++b)
            if (hs.test((size_t)(w * 64 + b))) heads[w] |= (uint64_t)1 << b;
    }
}

HeadSet SteerParams::get() const {
    HeadSet hs;
    for (int w = 0; w < 4; ++w)
        for (int b = 0; b < 64; ++b)
            if ((heads[w] >> b) & 1) hs.set((size_t)(w * 64 + b));
    return hs;
}

Tensor* steer(Context& ctx, Tensor* scores, Tensor* bias, const HeadSet& heads) {
    require_type("steer", scores, "scores", {DType::F32});
    require_not_null("steer", bias, "bias");
    check_steer("steer", bias, heads, scores->ne[0], scores->ne[2], scores->ne[3], scores);
    Tensor* t = new_node(ctx, Op::STEER, DType::F32, scores->ne, {scores, bias});
    SteerParams sp;
    sp.set(heads);
    t->set_params(sp);
    return t;
}

namespace {

void check_flash_attn(const char* op, Tensor* q, Tensor* k, Tensor* v, Tensor* mask,
                      const FlashAttnParams& p, Tensor* steer_bias) {
    require_type(op, q, "q", {DType::F32});
    require_type(op, k, "k", {DType::F32, DType::F16, DType::BF16});
    require_type(op, v, "v", {DType::F32, DType::F16, DType::BF16});
    require_rows_packed(op, q, "q");
    require_rows_packed(op, k, "k");
    require_rows_packed(op, v, "v");
    const std::string shapes = " (q " + shp(q) + ", k " + shp(k) + ", v " + shp(v) + ")";
    if (k->type != v->type) fail(op, "k and v must have the same dtype" + shapes);
    if (k->ne[0] != q->ne[0]) fail(op, "head size of k differs from q" + shapes);
    if (v->ne[1] != k->ne[1] || v->ne[2] != k->ne[2])
        fail(op, "v must have k's n_kv and KV heads" + shapes);
    if (q->ne[2] % k->ne[2] != 0)
        fail(op, "query heads " + std::to_string(q->ne[2]) + " not divisible by KV heads " +
                     std::to_string(k->ne[2]) + shapes);
    if (q->ne[3] != k->ne[3] || v->ne[3] != k->ne[3]) fail(op, "batch sizes differ" + shapes);
    if (!std::isfinite(p.scale)) fail(op, "scale must be finite");
    if (!(p.softcap >= 0.0f) || !std::isfinite(p.softcap)) fail(op, "softcap must be >= 0");
    if (p.causal_offset < 0) fail(op, "causal_offset must be >= 0");
    check_mask(op, mask, k->ne[1], q->ne[1], q->ne[2], q->ne[3], q);
    check_steer(op, steer_bias, p.steer.get(), k->ne[1], q->ne[2], q->ne[3], q);
}

}  // namespace

Tensor* flash_attn(Context& ctx, Tensor* q, Tensor* k, Tensor* v, Tensor* mask,
                   const FlashAttnParams& p, Tensor* steer_bias) {
    check_flash_attn("flash_attn", q, k, v, mask, p, steer_bias);
    const int64_t ne[4] = {v->ne[0], q->ne[2], q->ne[1], q->ne[3]};
    Tensor* t = new_node(ctx, Op::FLASH_ATTN, DType::F32, ne, {q, k, v, mask, steer_bias});
    t->set_params(p);
    return t;
}

bool flash_attn_well_formed(const Tensor* node) {
    if (!node || node->op != Op::FLASH_ATTN) return false;
    Tensor* const* src = node->src;
    try {
        check_flash_attn("flash_attn", src[0], src[1], src[2], src[3],
                         node->params<FlashAttnParams>(), src[4]);
    } catch (const Error&) {
        return false;
    }
    const Tensor *q = src[0], *v = src[2];
    return node->type == DType::F32 && node->is_contiguous() && node->ne[0] == v->ne[0] &&
           node->ne[1] == q->ne[2] && node->ne[2] == q->ne[1] && node->ne[3] == q->ne[3];
}

Tensor* flash_attn_naive(Context& ctx, Tensor* q, Tensor* k, Tensor* v, Tensor* mask,
                         const FlashAttnParams& p, Tensor* steer_bias) {
    check_flash_attn("flash_attn_naive", q, k, v, mask, p, steer_bias);
    Tensor* s = mul_mat(ctx, k, q);  // [n_kv, n_q, H_q, B], GQA by mul_mat's broadcast
    s = scale(ctx, s, p.scale);
    if (p.softcap > 0.0f) s = scale(ctx, tanh(ctx, scale(ctx, s, 1.0f / p.softcap)), p.softcap);
    if (steer_bias && p.steer.get().any()) s = steer(ctx, s, steer_bias, p.steer.get());
    SoftMaxParams sm;
    sm.causal = p.causal;
    sm.causal_offset = p.causal_offset;
    Tensor* pr = soft_max(ctx, s, mask, sm);
    Tensor* vt = cont(ctx, transpose(ctx, v));  // [n_kv, Dv, H_kv, B]
    Tensor* o = mul_mat(ctx, vt, pr);           // [Dv, n_q, H_q, B]
    return cont(ctx, permute(ctx, o, 0, 2, 1, 3));
}

Tensor* decompose(Context& ctx, const Tensor* node) {
    switch (node->op) {
        case Op::FLASH_ATTN:
            return flash_attn_naive(ctx, node->src[0], node->src[1], node->src[2], node->src[3],
                                    node->params<FlashAttnParams>(), node->src[4]);
        default:
            throw Error(std::string("decompose: op ") + op_name(node->op) +
                        " has no decomposition");
    }
}

}  // namespace ggml
