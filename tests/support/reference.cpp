// Float64 reference interpreter. Every op is evaluated from the semantics documented in
// ggml/ops.h on dense arrays in logical order (index i0 + ne0*(i1 + ne1*(i2 + ne2*i3))),
// with naive loops and no blocking, so that it is easy to check by reading.
//
// Math (all in double precision):
//   binary ops     r[i] = a[i] op b[i mod b.ne]                       (b repeats)
//   scale          r = a * s + bias
//   gelu           0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
//   silu           x / (1 + exp(-x));  swiglu = silu(a) * b
//   rms_norm       x / sqrt(mean(x^2) + eps);  layer_norm (x - mean) / sqrt(var + eps)
//   mul_mat        r[m,n,i2,i3] = sum_k a[k,m,i2/(B2/A2),i3/(B3/A3)] * b[k,n,i2,i3]
//   rope           pair i rotates by theta_i = pos * base^(-2i/n_dims); interleaved pairs
//                  (2i, 2i+1), neox pairs (i, i + n_dims/2); dims >= n_dims pass through
//   soft_max       softmax_j(scale*a_j + mask_j), keys j > i + causal_offset at -inf,
//                  all-masked rows give 0
//   flash_attn     s = scale q.k -> softcap*tanh(s/softcap) -> + mask -> + steer bias
//                  (steered heads) -> causal -inf -> softmax -> sum_j p_j v_j
//                  (Dao 2023, FlashAttention-2, computes the same value with an online
//                  softmax; PASTA, Zhang et al. 2023, defines the steering bias).
//
// q8_0 / q4_0 tensors are held dequantized, one double per element (element index = block
// index * 32 + position in the block); a copy to them quantizes each block of 32 with the
// reference rules of ggml/quant.h, re-implemented here from the documented formulas.
#include "reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "ggml/ops.h"

namespace ggml {
namespace test {

namespace {

[[noreturn]] void fail(const Tensor* t, const std::string& msg) {
    throw Error(std::string("reference: ") + op_name(t->op) + " " + t->shape_str() + ": " + msg);
}

// Dense logical index of (i0, i1, i2, i3) in a tensor of shape ne.
inline size_t didx(const int64_t* ne, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return (size_t)(i0 + ne[0] * (i1 + ne[1] * (i2 + ne[2] * i3)));
}

// A rounding barrier: the quantizers are defined as float operations rounded one at a time,
// which a fused multiply-add would change at exact ties.
float rounded(float x) {
    volatile float y = x;
    return y;
}

// One block of 32 values: returns the stored bytes (d as f16, then the codes).
std::vector<uint8_t> quantize_block(DType type, const double* x) {
    std::vector<uint8_t> out(dtype_size(type));
    float v[32];
    for (int i = 0; i < 32; ++i) v[i] = (float)x[i];
    float amax = 0.0f, m = 0.0f;
    for (int i = 0; i < 32; ++i)
        if (std::fabs(v[i]) > amax) amax = std::fabs(v[i]), m = v[i];
    const float d = type == DType::Q8_0 ? rounded(amax / 127.0f) : rounded(m / -8.0f);
    const float id = d != 0.0f ? rounded(1.0f / d) : 0.0f;
    const uint16_t dh = f32_to_f16(d);
    std::memcpy(out.data(), &dh, 2);
    if (type == DType::Q8_0) {
        for (int i = 0; i < 32; ++i) {
            // half away from zero; the clamp order matches ggml/src/quant.cpp so that a NaN
            // (1/d overflowing for a block below ~2^-121, stored d = 0) gives the same code
            const float q = std::round(rounded(v[i] * id));
            out[2 + i] = (uint8_t)(int8_t)std::min(127.0f, std::max(-127.0f, q));
        }
    } else {
        for (int i = 0; i < 16; ++i) {
            const int lo = std::min(15, (int)rounded(rounded(v[i] * id) + 8.5f));
            const int hi = std::min(15, (int)rounded(rounded(v[i + 16] * id) + 8.5f));
            out[2 + i] = (uint8_t)(lo | (hi << 4));
        }
    }
    return out;
}

void dequantize_block(DType type, const uint8_t* p, double* y) {
    uint16_t dh;
    std::memcpy(&dh, p, 2);
    const double d = f16_to_f32(dh);
    if (type == DType::Q8_0) {
        for (int i = 0; i < 32; ++i) y[i] = d * (double)(int8_t)p[2 + i];
    } else {
        for (int i = 0; i < 16; ++i) {
            y[i] = d * (double)((p[2 + i] & 15) - 8);
            y[i + 16] = d * (double)((p[2 + i] >> 4) - 8);
        }
    }
}

double load_elem(DType type, const uint8_t* p) {
    switch (type) {
        case DType::F32: {
            float f;
            std::memcpy(&f, p, 4);
            return f;
        }
        case DType::F16: {
            uint16_t h;
            std::memcpy(&h, p, 2);
            return f16_to_f32(h);
        }
        case DType::BF16: {
            uint16_t h;
            std::memcpy(&h, p, 2);
            return bf16_to_f32(h);
        }
        case DType::I32: {
            int32_t i;
            std::memcpy(&i, p, 4);
            return i;
        }
        default:
            throw Error("reference: unknown dtype");
    }
}

// Element offset (in units of the element size) of t's first element inside its root's storage.
// Block-quantized types count elements as block index * 32 + position (see the top).
size_t base_elems(const Tensor* t) {
    size_t off = 0;
    for (const Tensor* c = t; c->view_src; c = c->view_src) off += c->view_offs;
    const size_t es = dtype_size(t->type);
    if (off % es != 0) fail(t, "view offset " + std::to_string(off) + " is not element-aligned");
    return off / es * (size_t)dtype_blck(t->type);
}

size_t elem_stride(const Tensor* t, int d) {
    const size_t es = dtype_size(t->type);
    if (t->nb[d] % es != 0) fail(t, "stride nb[" + std::to_string(d) + "] not element-aligned");
    if (dtype_blck(t->type) > 1 && d == 0) {
        if (t->nb[0] != es) fail(t, "quantized rows must be packed");
        return 1;
    }
    return t->nb[d] / es * (size_t)dtype_blck(t->type);
}

// Storage elements of a tensor whose memory spans `bytes`.
size_t storage_elems(DType type, size_t bytes) {
    return bytes / dtype_size(type) * (size_t)dtype_blck(type);
}

double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

// Numerically safe softmax of one row in place; a row whose every entry is -inf becomes 0.
void softmax_row(std::vector<double>& s) {
    double mx = -std::numeric_limits<double>::infinity();
    for (double v : s) mx = std::max(mx, v);
    if (mx == -std::numeric_limits<double>::infinity()) {
        for (double& v : s) v = 0.0;
        return;
    }
    double sum = 0.0;
    for (double& v : s) {
        v = std::exp(v - mx);
        sum += v;
    }
    for (double& v : s) v /= sum;
}

}  // namespace

double store_as(DType type, double x) {
    switch (type) {
        case DType::F32:
            return x;
        case DType::F16:
            return f16_to_f32(f32_to_f16((float)x));
        case DType::BF16:
            return bf16_to_f32(f32_to_bf16((float)x));
        case DType::I32:
            return (double)(int32_t)x;
        default:
            throw Error("reference: unknown dtype");
    }
}

std::vector<double> decode_tensor(const Tensor* t, const uint8_t* bytes, size_t n) {
    std::vector<double> out((size_t)t->nelements());
    const size_t es = dtype_size(t->type);
    if (dtype_is_quantized(t->type)) {
        const int64_t blck = dtype_blck(t->type);
        for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
            for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
                for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                    for (int64_t b = 0; b < t->ne[0] / blck; ++b) {
                        const size_t off =
                            b * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                        if (off + es > n) fail(t, "decode past the end of " + std::to_string(n));
                        dequantize_block(t->type, bytes + off,
                                         out.data() + didx(t->ne, b * blck, i1, i2, i3));
                    }
        return out;
    }
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0) {
                    const size_t off =
                        i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                    if (off + es > n) fail(t, "decode past the end of " + std::to_string(n));
                    out[didx(t->ne, i0, i1, i2, i3)] = load_elem(t->type, bytes + off);
                }
    return out;
}

// The q4_0x8 layout of ggml/quant.h, written out here from its documentation rather than
// taken from the library: byte u of the 144-byte unit of (group g, block column b) is a scale
// byte (u < 16: row u / 2) or code byte 4 j + u % 4 of row (u - 16) % 32 / 4, j = (u - 16) / 32.
size_t q4_0x8_source(size_t i, int64_t K) {
    const size_t rb = (size_t)(K / 32) * 18, g = i / (8 * rb), o = i % (8 * rb);
    const size_t b = o / 144, u = o % 144;
    size_t r, at;
    if (u < 16) {
        r = u / 2, at = u % 2;
    } else {
        const size_t v = u - 16;
        r = v % 32 / 4, at = 2 + 4 * (v / 32) + v % 4;
    }
    return (g * 8 + r) * rb + b * 18 + at;
}

std::vector<uint8_t> q4_0_to_q4_0x8(const std::vector<uint8_t>& q, int64_t K, int64_t M) {
    std::vector<uint8_t> out((size_t)M * (size_t)(K / 32) * 18);
    if (q.size() < out.size()) throw Error("q4_0_to_q4_0x8: too few bytes");
    for (size_t i = 0; i < out.size(); ++i) out[i] = q[q4_0x8_source(i, K)];
    return out;
}

std::vector<uint8_t> q4_0x8_to_q4_0(const std::vector<uint8_t>& x8, int64_t K, int64_t M) {
    std::vector<uint8_t> out((size_t)M * (size_t)(K / 32) * 18);
    if (x8.size() < out.size()) throw Error("q4_0x8_to_q4_0: too few bytes");
    for (size_t i = 0; i < out.size(); ++i) out[q4_0x8_source(i, K)] = x8[i];
    return out;
}

std::vector<uint8_t> encode_dense(DType type, const std::vector<double>& values) {
    const size_t es = dtype_size(type);
    if (dtype_is_quantized(type)) {
        if (values.size() % 32 != 0) throw Error("encode_dense: not whole blocks");
        std::vector<uint8_t> out;
        for (size_t b = 0; b < values.size() / 32; ++b) {
            const std::vector<uint8_t> blk = quantize_block(type, values.data() + 32 * b);
            out.insert(out.end(), blk.begin(), blk.end());
        }
        return out;
    }
    std::vector<uint8_t> out(values.size() * es);
    for (size_t i = 0; i < values.size(); ++i) {
        uint8_t* p = out.data() + i * es;
        switch (type) {
            case DType::F32: {
                const float f = (float)values[i];
                std::memcpy(p, &f, 4);
                break;
            }
            case DType::F16: {
                const uint16_t h = f32_to_f16((float)values[i]);
                std::memcpy(p, &h, 2);
                break;
            }
            case DType::BF16: {
                const uint16_t h = f32_to_bf16((float)values[i]);
                std::memcpy(p, &h, 2);
                break;
            }
            case DType::I32: {
                const int32_t v = (int32_t)values[i];
                std::memcpy(p, &v, 4);
                break;
            }
            default:
                throw Error("encode_dense: unknown dtype");
        }
    }
    return out;
}

// ---- storage -----------------------------------------------------------------------------------

std::vector<double>& Reference::storage_of(const Tensor* t) {
    auto it = storage_.find(view_root(t));
    if (it == storage_.end()) fail(t, "its memory owner has not been evaluated");
    return it->second;
}

const std::vector<double>& Reference::storage_of(const Tensor* t) const {
    auto it = storage_.find(view_root(t));
    if (it == storage_.end()) fail(t, "its memory owner has not been evaluated");
    return it->second;
}

std::vector<double> Reference::read(const Tensor* t) const {
    const std::vector<double>& st = storage_of(t);
    if (view_root(t)->type != t->type) fail(t, "aliases memory of another dtype");
    const size_t base = base_elems(t);
    const size_t s0 = elem_stride(t, 0), s1 = elem_stride(t, 1), s2 = elem_stride(t, 2),
                 s3 = elem_stride(t, 3);
    std::vector<double> out((size_t)t->nelements());
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0) {
                    const size_t e = base + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
                    if (e >= st.size()) fail(t, "reads past the end of its memory owner");
                    out[didx(t->ne, i0, i1, i2, i3)] = st[e];
                }
    return out;
}

void Reference::write(const Tensor* t, const std::vector<double>& dense) {
    std::vector<double>& st = storage_of(t);
    if (dtype_is_quantized(t->type)) {
        // Only fresh contiguous results are quantized: whole blocks, in order.
        if (!t->is_contiguous() || base_elems(t) != 0 || st.size() != dense.size())
            fail(t, "a quantized result must be a whole contiguous tensor");
        for (size_t b = 0; b < dense.size() / 32; ++b)
            dequantize_block(t->type, quantize_block(t->type, dense.data() + 32 * b).data(),
                             st.data() + 32 * b);
        return;
    }
    const size_t base = base_elems(t);
    const size_t s0 = elem_stride(t, 0), s1 = elem_stride(t, 1), s2 = elem_stride(t, 2),
                 s3 = elem_stride(t, 3);
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0) {
                    const size_t e = base + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
                    if (e >= st.size()) fail(t, "writes past the end of its memory owner");
                    st[e] = store_as(t->type, dense[didx(t->ne, i0, i1, i2, i3)]);
                }
}

std::vector<double> Reference::values(const Tensor* t) const {
    return read(t);
}

Reference::Reference(const Graph& graph, const LeafBytes& leaves) {
    for (const Tensor* leaf : graph.leafs) {
        auto it = leaves.find(leaf);
        if (it == leaves.end())
            fail(leaf, "no data given for leaf '" + std::string(leaf->name) + "'");
        if (leaf->view_src) fail(leaf, "a leaf must own its memory");
        const std::vector<uint8_t>& bytes = it->second;
        const size_t es = dtype_size(leaf->type);
        std::vector<double> st(storage_elems(leaf->type, leaf->nbytes()), 0.0);
        if (bytes.size() < leaf->nbytes()) fail(leaf, "leaf data too short");
        if (leaf->type == DType::Q4_0X8) {
            const std::vector<uint8_t> q = q4_0x8_to_q4_0(bytes, leaf->ne[0], leaf->nrows());
            for (size_t b = 0; b < leaf->nbytes() / es; ++b)
                dequantize_block(DType::Q4_0, q.data() + b * es, st.data() + 32 * b);
        } else if (dtype_is_quantized(leaf->type)) {
            for (size_t b = 0; b < leaf->nbytes() / es; ++b)
                dequantize_block(leaf->type, bytes.data() + b * es, st.data() + 32 * b);
        } else {
            for (size_t i = 0; i < st.size(); ++i)
                st[i] = load_elem(leaf->type, bytes.data() + i * es);
        }
        storage_[leaf] = std::move(st);
    }
    for (const Tensor* node : graph.nodes) eval(node);
}

// ---- the ops ------------------------------------------------------------------------------------

void Reference::eval(const Tensor* t) {
    const int64_t* ne = t->ne;
    const size_t n = (size_t)t->nelements();

    // Views own nothing; only check that their metadata is what the op's definition demands,
    // so that a wrong stride computation in a builder cannot hide behind the oracle.
    if (op_info(t->op).view) {
        const Tensor* a = t->src[0];
        if (!a || view_root(t) != view_root(a)) fail(t, "view does not alias its source");
        if (t->op == Op::RESHAPE) {
            if (t->nelements() != a->nelements()) fail(t, "element count changed");
            if (!t->is_contiguous() || base_elems(t) != base_elems(a))
                fail(t, "reshape result is not a contiguous alias of its source");
        } else if (t->op == Op::PERMUTE || t->op == Op::TRANSPOSE) {
            int32_t ax[4] = {1, 0, 2, 3};
            if (t->op == Op::PERMUTE) std::memcpy(ax, t->op_params, sizeof(ax));
            for (int i = 0; i < 4; ++i)
                if (t->ne[ax[i]] != a->ne[i] || t->nb[ax[i]] != a->nb[i])
                    fail(t, "axes do not match the source " + a->shape_str());
            if (base_elems(t) != base_elems(a)) fail(t, "offset changed");
        }
        return;
    }

    if (t->op != Op::SET_ROWS) {
        if (t->view_src) fail(t, "a computed node must own its memory");
        storage_[t] = std::vector<double>(storage_elems(t->type, t->nbytes()), 0.0);
    }

    std::vector<double> r(n, 0.0);
    const Tensor* A = t->src[0];
    const Tensor* B = t->src[1];

    switch (t->op) {
        case Op::CONT:
        case Op::CPY: {
            if (A->nelements() != t->nelements() || !same_shape(A, t)) fail(t, "shape changed");
            r = read(A);  // rounding to t's dtype happens on the store
            break;
        }
        case Op::GET_ROWS: {
            const std::vector<double> a = read(A), ids = read(B);
            for (int64_t i3 = 0; i3 < ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < ne[2]; ++i2)
                    for (int64_t i = 0; i < ne[1]; ++i) {
                        const int64_t row = (int64_t)ids[didx(B->ne, i, i2, i3, 0)];
                        if (row < 0 || row >= A->ne[1])
                            fail(t, "row id " + std::to_string(row) + " out of range");
                        for (int64_t i0 = 0; i0 < ne[0]; ++i0)
                            r[didx(ne, i0, i, i2, i3)] = a[didx(A->ne, i0, row, i2, i3)];
                    }
            break;
        }
        case Op::SET_ROWS: {
            // Writes into dst's memory owner through dst's own strides; nothing else changes.
            const Tensor* dst = A;
            const Tensor* src = B;
            const Tensor* ids_t = t->src[2];
            if (view_root(t) != view_root(dst)) fail(t, "result does not alias its destination");
            std::vector<double> d = read(dst);
            const std::vector<double> s = read(src), ids = read(ids_t);
            for (int64_t i3 = 0; i3 < src->ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < src->ne[2]; ++i2)
                    for (int64_t i = 0; i < src->ne[1]; ++i) {
                        const int64_t row = (int64_t)ids[didx(ids_t->ne, i, i2, i3, 0)];
                        if (row < 0 || row >= dst->ne[1])
                            fail(t, "row id " + std::to_string(row) + " out of range");
                        for (int64_t i0 = 0; i0 < src->ne[0]; ++i0)
                            d[didx(dst->ne, i0, row, i2, i3)] = s[didx(src->ne, i0, i, i2, i3)];
                    }
            write(dst, d);
            return;  // the result's value is read from the shared storage
        }
        case Op::ADD:
        case Op::SUB:
        case Op::MUL:
        case Op::DIV: {
            const std::vector<double> a = read(A), b = read(B);
            for (int64_t i3 = 0; i3 < ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < ne[2]; ++i2)
                    for (int64_t i1 = 0; i1 < ne[1]; ++i1)
                        for (int64_t i0 = 0; i0 < ne[0]; ++i0) {
                            const double x = a[didx(ne, i0, i1, i2, i3)];
                            const double y = b[didx(B->ne, i0 % B->ne[0], i1 % B->ne[1],
                                                    i2 % B->ne[2], i3 % B->ne[3])];
                            double v = 0;
                            if (t->op == Op::ADD) v = x + y;
                            if (t->op == Op::SUB) v = x - y;
                            if (t->op == Op::MUL) v = x * y;
                            if (t->op == Op::DIV) v = x / y;
                            r[didx(ne, i0, i1, i2, i3)] = v;
                        }
            break;
        }
        case Op::SCALE: {
            float p[2];
            std::memcpy(p, t->op_params, sizeof(p));
            const std::vector<double> a = read(A);
            for (size_t i = 0; i < n; ++i) r[i] = a[i] * (double)p[0] + (double)p[1];
            break;
        }
        case Op::SQR:
        case Op::TANH:
        case Op::SILU:
        case Op::GELU: {
            const std::vector<double> a = read(A);
            const double c = std::sqrt(2.0 / 3.14159265358979323846);
            for (size_t i = 0; i < n; ++i) {
                const double x = a[i];
                if (t->op == Op::SQR) r[i] = x * x;
                if (t->op == Op::TANH) r[i] = std::tanh(x);
                if (t->op == Op::SILU) r[i] = x * sigmoid(x);
                if (t->op == Op::GELU)
                    r[i] = 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
            }
            break;
        }
        case Op::SWIGLU: {
            const std::vector<double> a = read(A), b = read(B);
            for (size_t i = 0; i < n; ++i) r[i] = a[i] * sigmoid(a[i]) * b[i];
            break;
        }
        case Op::RMS_NORM:
        case Op::LAYER_NORM: {
            float eps;
            std::memcpy(&eps, t->op_params, sizeof(eps));
            const std::vector<double> a = read(A);
            const int64_t n0 = ne[0];
            for (size_t row = 0; row < n / (size_t)n0; ++row) {
                const double* x = &a[row * n0];
                double* y = &r[row * n0];
                if (t->op == Op::RMS_NORM) {
                    double ss = 0;
                    for (int64_t i = 0; i < n0; ++i) ss += x[i] * x[i];
                    const double inv = 1.0 / std::sqrt(ss / n0 + eps);
                    for (int64_t i = 0; i < n0; ++i) y[i] = x[i] * inv;
                } else {
                    double mean = 0;
                    for (int64_t i = 0; i < n0; ++i) mean += x[i];
                    mean /= n0;
                    double var = 0;
                    for (int64_t i = 0; i < n0; ++i) var += (x[i] - mean) * (x[i] - mean);
                    var /= n0;
                    const double inv = 1.0 / std::sqrt(var + eps);
                    for (int64_t i = 0; i < n0; ++i) y[i] = (x[i] - mean) * inv;
                }
            }
            break;
        }
        case Op::SUM_ROWS: {
            const std::vector<double> a = read(A);
            for (size_t row = 0; row < n; ++row) {
                double s = 0;
                for (int64_t i = 0; i < A->ne[0]; ++i) s += a[row * A->ne[0] + i];
                r[row] = s;
            }
            break;
        }
        case Op::ARGMAX: {
            const std::vector<double> a = read(A);
            for (size_t row = 0; row < n; ++row) {
                int64_t best = 0;
                for (int64_t i = 1; i < A->ne[0]; ++i)
                    if (a[row * A->ne[0] + i] > a[row * A->ne[0] + best]) best = i;
                r[row] = (double)best;
            }
            break;
        }
        case Op::MUL_MAT: {
            const std::vector<double> a = read(A), b = read(B);
            const int64_t K = A->ne[0];
            const int64_t r2 = B->ne[2] / A->ne[2], r3 = B->ne[3] / A->ne[3];
            for (int64_t i3 = 0; i3 < ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < ne[2]; ++i2)
                    for (int64_t nn = 0; nn < ne[1]; ++nn)
                        for (int64_t m = 0; m < ne[0]; ++m) {
                            double s = 0;
                            for (int64_t k = 0; k < K; ++k)
                                s += a[didx(A->ne, k, m, i2 / r2, i3 / r3)] *
                                     b[didx(B->ne, k, nn, i2, i3)];
                            r[didx(ne, m, nn, i2, i3)] = s;
                        }
            break;
        }
        case Op::ROPE: {
            const RopeParams p = t->params<RopeParams>();
            const std::vector<double> a = read(A), pos = read(B);
            r = a;  // dimensions >= n_dims pass through
            const int64_t half = p.n_dims / 2;
            for (int64_t i3 = 0; i3 < ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < ne[2]; ++i2)
                    for (int64_t i1 = 0; i1 < ne[1]; ++i1)
                        for (int64_t i = 0; i < half; ++i) {
                            const double theta =
                                pos[(size_t)i2] *
                                std::pow((double)p.freq_base, -2.0 * (double)i / p.n_dims);
                            const int64_t j0 = p.mode == RopeMode::Neox ? i : 2 * i;
                            const int64_t j1 = p.mode == RopeMode::Neox ? i + half : 2 * i + 1;
                            const double x0 = a[didx(ne, j0, i1, i2, i3)];
                            const double x1 = a[didx(ne, j1, i1, i2, i3)];
                            r[didx(ne, j0, i1, i2, i3)] =
                                x0 * std::cos(theta) - x1 * std::sin(theta);
                            r[didx(ne, j1, i1, i2, i3)] =
                                x0 * std::sin(theta) + x1 * std::cos(theta);
                        }
            break;
        }
        case Op::SOFT_MAX: {
            const SoftMaxParams p = t->params<SoftMaxParams>();
            const std::vector<double> a = read(A);
            std::vector<double> mask;
            if (B) mask = read(B);
            for (int64_t i3 = 0; i3 < ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < ne[2]; ++i2)
                    for (int64_t i1 = 0; i1 < ne[1]; ++i1) {
                        std::vector<double> s((size_t)ne[0]);
                        for (int64_t j = 0; j < ne[0]; ++j) {
                            double v = (double)p.scale * a[didx(ne, j, i1, i2, i3)];
                            if (B) v += mask[didx(B->ne, j, i1, i2 % B->ne[2], i3 % B->ne[3])];
                            if (p.causal && j > i1 + p.causal_offset)
                                v = -std::numeric_limits<double>::infinity();
                            s[(size_t)j] = v;
                        }
                        softmax_row(s);
                        for (int64_t j = 0; j < ne[0]; ++j)
                            r[didx(ne, j, i1, i2, i3)] = s[(size_t)j];
                    }
            break;
        }
        case Op::STEER: {
            const HeadSet heads = t->params<SteerParams>().get();
            const std::vector<double> a = read(A), bias = read(B);
            for (int64_t i3 = 0; i3 < ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < ne[2]; ++i2)
                    for (int64_t i1 = 0; i1 < ne[1]; ++i1)
                        for (int64_t j = 0; j < ne[0]; ++j) {
                            double v = a[didx(ne, j, i1, i2, i3)];
                            if (heads.test((size_t)i2))
                                v += bias[didx(B->ne, j, 0, 0, i3 % B->ne[3])];
                            r[didx(ne, j, i1, i2, i3)] = v;
                        }
            break;
        }
        case Op::FLASH_ATTN: {
            const FlashAttnParams p = t->params<FlashAttnParams>();
            const HeadSet steered = p.steer.get();
            const Tensor *Q = t->src[0], *K = t->src[1], *V = t->src[2], *M = t->src[3],
                         *S = t->src[4];
            const std::vector<double> q = read(Q), k = read(K), v = read(V);
            std::vector<double> mask, sb;
            if (M) mask = read(M);
            if (S) sb = read(S);
            const int64_t D = Q->ne[0], n_q = Q->ne[1], Hq = Q->ne[2], Bn = Q->ne[3];
            const int64_t n_kv = K->ne[1], Hkv = K->ne[2], Dv = V->ne[0];
            const int64_t group = Hq / Hkv;
            if (ne[0] != Dv || ne[1] != Hq || ne[2] != n_q || ne[3] != Bn)
                fail(t, "result shape is not [Dv, H_q, n_q, B]");
            for (int64_t b = 0; b < Bn; ++b)
                for (int64_t h = 0; h < Hq; ++h) {
                    const int64_t hk = h / group;
                    for (int64_t i = 0; i < n_q; ++i) {
                        std::vector<double> s((size_t)n_kv);
                        for (int64_t j = 0; j < n_kv; ++j) {
                            double dot = 0;
                            for (int64_t d = 0; d < D; ++d)
                                dot += q[didx(Q->ne, d, i, h, b)] * k[didx(K->ne, d, j, hk, b)];
                            double x = (double)p.scale * dot;
                            if (p.softcap > 0.0f) x = p.softcap * std::tanh(x / p.softcap);
                            if (M) x += mask[didx(M->ne, j, i, h % M->ne[2], b % M->ne[3])];
                            if (S && steered.test((size_t)h))
                                x += sb[didx(S->ne, j, 0, 0, b % S->ne[3])];
                            if (p.causal && j > i + p.causal_offset)
                                x = -std::numeric_limits<double>::infinity();
                            s[(size_t)j] = x;
                        }
                        softmax_row(s);
                        for (int64_t dv = 0; dv < Dv; ++dv) {
                            double o = 0;
                            for (int64_t j = 0; j < n_kv; ++j)
                                o += s[(size_t)j] * v[didx(V->ne, dv, j, hk, b)];
                            r[didx(ne, dv, h, i, b)] = o;
                        }
                    }
                }
            break;
        }
        default:
            fail(t, "op has no reference implementation");
    }
    write(t, r);
}

}  // namespace test
}  // namespace ggml
