// Op builders. Each checks shapes and dtypes eagerly and throws ggml::Error naming the op
// and the shapes; none allocates data. Shapes use ggml's order (ne[0] innermost) and are
// written [ne0, ne1, ne2, ne3]; trailing 1s are omitted.
#pragma once

#include <bitset>
#include <cstdint>

#include "ggml/context.h"
#include "ggml/tensor.h"

namespace ggml {

// ---- views (no data movement; result aliases a's memory) -----------------------------------

// Window into a: shape ne, byte strides nb (nb[0] is a's element size), at byte `offset`.
Tensor* view(Context& ctx, Tensor* a, std::initializer_list<int64_t> ne,
             std::initializer_list<size_t> nb, size_t offset);
// Contiguous a, same element count, new shape ne.
Tensor* reshape(Context& ctx, Tensor* a, std::initializer_list<int64_t> ne);
// Axis i of a becomes axis axes[i] of the result (ggml's convention).
Tensor* permute(Context& ctx, Tensor* a, int ax0, int ax1, int ax2, int ax3);
// Swaps dimensions 0 and 1.
Tensor* transpose(Context& ctx, Tensor* a);

// ---- copies --------------------------------------------------------------------------------

// Contiguous copy of a (any strides) with the same dtype and shape.
Tensor* cont(Context& ctx, Tensor* a);
// Contiguous copy of a converted to `type` (f32/f16/bf16 <-> each other; i32 -> i32), and
// the quantize / dequantize ops: f32 [K, ...] -> q8_0/q4_0 [K, ...] (K a multiple of 32;
// ggml's reference rounding, see ggml/quant.h) and q8_0/q4_0 -> f32.
Tensor* cpy(Context& ctx, Tensor* a, DType type);
inline Tensor* quantize(Context& ctx, Tensor* a, DType type) {
    return cpy(ctx, a, type);
}
inline Tensor* dequantize(Context& ctx, Tensor* a) {
    return cpy(ctx, a, DType::F32);
}

// a [ne0, n_rows, ne2, ne3] (f32/f16/bf16/q8_0/q4_0), ids i32 [n, ne2, ne3] -> f32 [ne0, n, ne2,
// ne3]. Out-of-range ids are a run-time error reported by the executor.
Tensor* get_rows(Context& ctx, Tensor* a, Tensor* ids);
// Writes the rows of src f32 [ne0, n, ne2, ne3] into dst [ne0, n_rows, ne2, ne3]
// (f32/f16/bf16) at rows ids i32 [n, ne2, ne3]; returns a tensor aliasing dst that holds
// the updated contents. Read dst through the returned tensor so the write is ordered first.
Tensor* set_rows(Context& ctx, Tensor* dst, Tensor* src, Tensor* ids);

// ---- element-wise (f32) --------------------------------------------------------------------

// Binary ops: a [ne0..ne3] f32, b f32 with a.ne[i] % b.ne[i] == 0 (b repeats) -> shape of a.
Tensor* add(Context& ctx, Tensor* a, Tensor* b);
Tensor* sub(Context& ctx, Tensor* a, Tensor* b);
Tensor* mul(Context& ctx, Tensor* a, Tensor* b);
Tensor* div(Context& ctx, Tensor* a, Tensor* b);
// a * s + bias, any f32 shape.
Tensor* scale(Context& ctx, Tensor* a, float s, float bias = 0.0f);
Tensor* sqr(Context& ctx, Tensor* a);
Tensor* tanh(Context& ctx, Tensor* a);
Tensor* silu(Context& ctx, Tensor* a);
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Tensor* gelu(Context& ctx, Tensor* a);
// silu(a) * b, a and b the same f32 shape (gate and up projections of a SwiGLU FFN).
Tensor* swiglu(Context& ctx, Tensor* a, Tensor* b);

// ---- row reductions (f32, over ne[0]) ------------------------------------------------------

// a / sqrt(mean(a^2) + eps) per row; same shape as a.
Tensor* rms_norm(Context& ctx, Tensor* a, float eps);
// (a - mean(a)) / sqrt(var(a) + eps) per row; same shape as a.
Tensor* layer_norm(Context& ctx, Tensor* a, float eps);
// a [ne0, ne1, ne2, ne3] -> [1, ne1, ne2, ne3].
Tensor* sum_rows(Context& ctx, Tensor* a);
// a f32 [ne0, ne1, ne2, ne3] -> i32 [ne1, ne2, ne3]: index of the first maximum of each row.
Tensor* argmax(Context& ctx, Tensor* a);

// ---- matrix multiplication -----------------------------------------------------------------

// a [K, M, A2, A3] (f32/f16/bf16/q8_0/q4_0, rows packed; or q4_0x8 with packed groups of
// rows, CPU only), b f32 [K, N, B2, B3] (rows packed)
// -> f32 [M, N, B2, B3], result[m, n] = sum_k a[k, m] * b[k, n]. With quantized weights a
// backend may round b's rows to q8_0 first (integer dot products, as ggml does); the
// harness allows for that error (tests/support/cases.h).
// Broadcast: B2 % A2 == 0 and B3 % A3 == 0; batch i2 of b uses batch i2 / (B2 / A2) of a,
// which is exactly the GQA head mapping.
Tensor* mul_mat(Context& ctx, Tensor* a, Tensor* b);

// ---- rotary position embedding ---------------------------------------------------------------

enum class RopeMode : int32_t {
    Interleaved = 0,  // rotate pairs (x[2i], x[2i+1]) as in llama2.c / Meta's llama
    Neox = 2,         // rotate pairs (x[i], x[i + n_dims/2]) as in GPT-NeoX / HF llama
};
struct RopeParams {
    int32_t n_dims = 0;  // leading elements of each row that rotate (even, <= ne0)
    RopeMode mode = RopeMode::Interleaved;
    float freq_base = 10000.0f;  // theta_i = pos * freq_base^(-2i / n_dims)
};
// a f32 [D, n_heads, n_tokens, B], pos i32 [n_tokens] -> f32, same shape as a.
Tensor* rope(Context& ctx, Tensor* a, Tensor* pos, const RopeParams& p);

// ---- attention -----------------------------------------------------------------------------

struct SoftMaxParams {
    float scale = 1.0f;
    int32_t causal = 0;         // key j is masked for query row i when j > i + causal_offset
    int32_t causal_offset = 0;  // position of query row 0 (KV cache length before this batch)
};
// a f32 [n_kv, n_q, H, B], mask f32 [n_kv, n_q, 1|H, 1|B] or null
// -> f32 [n_kv, n_q, H, B]: softmax over ne[0] of scale * a + mask (causal positions -inf).
// A row with every key masked gives zeros.
Tensor* soft_max(Context& ctx, Tensor* a, Tensor* mask, const SoftMaxParams& p);

// A set of query heads (up to 256), e.g. the heads steered in one layer.
using HeadSet = std::bitset<256>;

struct SteerParams {
    uint64_t heads[4] = {0, 0, 0, 0};  // bit h set: query head h receives the bias
    void set(const HeadSet& hs);
    HeadSet get() const;
};
// scores f32 [n_kv, n_q, H, B], bias f32 [n_kv, 1, 1, 1|B] -> scores + bias on the heads in
// `heads`, unchanged elsewhere. PASTA's down-weighting is bias = log(alpha) on the keys
// outside the emphasised spans and 0 inside.
Tensor* steer(Context& ctx, Tensor* scores, Tensor* bias, const HeadSet& heads);

struct FlashAttnParams {
    float scale = 1.0f;         // multiplies q.k
    float softcap = 0.0f;       // > 0: s = softcap * tanh(s / softcap) after scaling
    int32_t causal = 0;         // key j hidden from query row i when j > i + causal_offset
    int32_t causal_offset = 0;  // absolute position of query row 0 (tokens already cached)
    SteerParams steer;          // heads receiving the steering bias (src[4])
};
// q f32 [D, n_q, H_q, B]; k [D, n_kv, H_kv, B] and v [Dv, n_kv, H_kv, B] in f32/f16/bf16
// (same dtype), rows packed, any other strides; H_q % H_kv == 0 and query head h reads KV
// head h / (H_q / H_kv) (GQA; H_kv = 1 is MQA). mask f32 [n_kv, n_q, 1|H_q, 1|B] or null.
// steer_bias f32 [n_kv, 1, 1, 1|B] or null, added (after soft-capping, with the mask) to the
// scores of the heads in p.steer.
// Result f32 [Dv, H_q, n_q, B] (heads adjacent, so a reshape gives [Dv*H_q, n_q, B]).
// Scores: s = scale * q.k, soft-capped, + mask, + steer bias on steered heads, causal -inf;
// softmax over keys; rows with every key masked give zeros.
Tensor* flash_attn(Context& ctx, Tensor* q, Tensor* k, Tensor* v, Tensor* mask,
                   const FlashAttnParams& p, Tensor* steer_bias = nullptr);

// True when `node` is a FLASH_ATTN node whose sources and result satisfy every rule above (the
// builder's own check, without throwing). Backends call it in supports() and add only their
// own limits (dtypes they lack, head sizes, grid sizes).
bool flash_attn_well_formed(const Tensor* node);

// The same attention built from simpler ops (mul_mat, scale, tanh, steer, soft_max, mul_mat,
// permute, cont): the naive path, also the decomposition used where a backend has no fused
// kernel. Same arguments and result shape as flash_attn.
Tensor* flash_attn_naive(Context& ctx, Tensor* q, Tensor* k, Tensor* v, Tensor* mask,
                         const FlashAttnParams& p, Tensor* steer_bias = nullptr);

// Builds the decomposition of a fused node (op_info(node->op).decomposed) in ctx and returns
// the tensor that computes the same value.
Tensor* decompose(Context& ctx, const Tensor* node);

}  // namespace ggml
