// Data movement kernels: contiguous copies, dtype conversion, row gather and row scatter.
//
//   cont:     y[i0, i1, i2, i3] = a[i0, i1, i2, i3], a with any strides, y contiguous
//   cpy:      the same with a dtype conversion (f32/f16/bf16 to each other through f32, with
//             round-to-nearest-even; i32 -> i32), and quantize f32 -> q8_0/q4_0 / dequantize
//             q8_0/q4_0 -> f32 one row at a time (ggml/quant.h: ggml's reference rounding)
//   get_rows: y[:, i, i2, i3] = f32(a[:, ids[i, i2, i3], i2, i3])  (embedding lookup)
//   set_rows: dst[:, ids[i, i2, i3], i2, i3] = convert(src[:, i, i2, i3])  (KV-cache write);
//             the result aliases dst, so the kernel writes dst's memory in place.
//
// A row id outside [0, n_rows) is a run-time error: it is reported through KernelErrors and
// the row is skipped, so no memory outside the tensors is ever touched.
#include <string>
#include <vector>

#include "cpu_kernels.h"
#include "ggml/quant.h"

namespace ggml {
namespace cpu {

namespace {

// Copies the rows [r0, r1) of a into node, converting dtypes element by element when needed.
void copy_rows(const Tensor* a, const Tensor* node, int64_t r0, int64_t r1) {
    const int64_t n = a->ne[0];
    const size_t es = dtype_size(a->type);
    const bool same = a->type == node->type;
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(a, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        uint8_t* y = node->ptr(0, i1, i2, i3);
        if (same && a->nb[0] == es && node->nb[0] == es) {
            std::memcpy(y, x, (size_t)n * es);
        } else if (same) {
            for (int64_t i = 0; i < n; ++i) std::memcpy(y + i * node->nb[0], x + i * a->nb[0], es);
        } else {
            for (int64_t i = 0; i < n; ++i)
                store_float(node->type, y + i * node->nb[0], load_float(a->type, x + i * a->nb[0]));
        }
    }
}

// Rows [r0, r1) to or from a block-quantized type; the f32 side may be strided (gathered
// into a packed row first), the quantized side is packed.
void convert_rows_quant(const Tensor* a, const Tensor* node, int64_t r0, int64_t r1) {
    const int64_t n = a->ne[0];
    std::vector<float> row((size_t)n);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(a, r, &i1, &i2, &i3);
        const uint8_t* x = a->ptr(0, i1, i2, i3);
        uint8_t* y = node->ptr(0, i1, i2, i3);
        if (dtype_is_quantized(node->type)) {
            for (int64_t i = 0; i < n; ++i) std::memcpy(&row[(size_t)i], x + i * a->nb[0], 4);
            from_float_row(node->type, row.data(), y, n);
        } else {
            to_float_row(a->type, x, row.data(), n);
            for (int64_t i = 0; i < n; ++i) std::memcpy(y + i * node->nb[0], &row[(size_t)i], 4);
        }
    }
}

void run_copy(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    int64_t r0, r1;
    thread_range(a->nrows(), args.ith, args.nth, &r0, &r1);
    if (dtype_is_quantized(a->type) || dtype_is_quantized(node->type))
        convert_rows_quant(a, node, r0, r1);
    else
        copy_rows(a, node, r0, r1);
}

std::string node_name(const Tensor* t) {
    return std::string("'") + t->name + "'";
}

}  // namespace

// ---- cont / cpy --------------------------------------------------------------------------------

bool supports_CONT(const Tensor* node) {
    const Tensor* a = node->src[0];
    return a && a->type == node->type && same_shape(a, node);
}
GGML_CPU_NO_WORK(CONT)
void run_CONT(const Tensor* node, const KernelArgs& args) {
    run_copy(node, args);
}

bool supports_CPY(const Tensor* node) {
    const Tensor* a = node->src[0];
    if (!a || !same_shape(a, node)) return false;
    if (a->type == DType::I32 || node->type == DType::I32) return a->type == node->type;
    if (dtype_is_quantized(node->type))
        return a->type == DType::F32 && node->rows_contiguous() && a->ne[0] % 32 == 0;
    if (dtype_is_quantized(a->type)) return node->type == DType::F32 && a->rows_contiguous();
    return is_float_type(a->type) && is_float_type(node->type);
}
GGML_CPU_NO_WORK(CPY)
void run_CPY(const Tensor* node, const KernelArgs& args) {
    run_copy(node, args);
}

// ---- get_rows ----------------------------------------------------------------------------------

// a [ne0, n_rows, A2, A3] f32/f16/bf16/q8_0/q4_0, ids i32 [n, A2, A3] -> f32 [ne0, n, A2, A3]
bool supports_GET_ROWS(const Tensor* node) {
    const Tensor* a = node->src[0];
    const Tensor* ids = node->src[1];
    if (a && dtype_is_quantized(a->type) && !(a->rows_contiguous() && node->nb[0] == 4))
        return false;
    return a && (is_float_type(a->type) || dtype_is_quantized(a->type)) &&
           all_type(ids, DType::I32) && all_type(node, DType::F32) && node->ne[0] == a->ne[0] &&
           node->ne[1] == ids->ne[0] && node->ne[2] == ids->ne[1] && node->ne[3] == ids->ne[2] &&
           ids->ne[3] == 1 && node->ne[2] % a->ne[2] == 0 && node->ne[3] % a->ne[3] == 0;
}
GGML_CPU_NO_WORK(GET_ROWS)
void run_GET_ROWS(const Tensor* node, const KernelArgs& args) {
    const Tensor* a = node->src[0];
    const Tensor* ids = node->src[1];
    const int64_t n_rows = a->ne[1];
    int64_t r0, r1;
    thread_range(node->nrows(), args.ith, args.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i1, i2, i3;
        row_index(node, r, &i1, &i2, &i3);
        const int32_t id = *(const int32_t*)ids->ptr(i1, i2, i3);
        if (id < 0 || id >= n_rows) {
            args.errors->report("get_rows: row id " + std::to_string(id) + " out of range [0, " +
                                std::to_string(n_rows) + ") in node " + node_name(node));
            continue;
        }
        const uint8_t* x = a->ptr(0, id, i2 % a->ne[2], i3 % a->ne[3]);
        uint8_t* y = node->ptr(0, i1, i2, i3);
        if (dtype_is_quantized(a->type)) {
            to_float_row(a->type, x, (float*)y, a->ne[0]);
        } else if (node->nb[0] == 4) {
            row_to_f32(a->type, x, a->nb[0], (float*)y, a->ne[0]);
        } else {
            for (int64_t i = 0; i < a->ne[0]; ++i)
                store_float(DType::F32, y + i * node->nb[0], load_float(a->type, x + i * a->nb[0]));
        }
    }
}

// ---- set_rows ----------------------------------------------------------------------------------

// src[0] dst [ne0, n_rows, ne2, ne3] f32/f16/bf16, src[1] rows f32 [ne0, n, ne2, ne3],
// src[2] ids i32 [n, ne2, ne3]; the node has dst's shape and type and aliases it.
bool supports_SET_ROWS(const Tensor* node) {
    const Tensor* dst = node->src[0];
    const Tensor* src = node->src[1];
    const Tensor* ids = node->src[2];
    return dst && is_float_type(dst->type) && node->type == dst->type && same_shape(node, dst) &&
           all_type(src, DType::F32) && all_type(ids, DType::I32) && src->ne[0] == dst->ne[0] &&
           src->ne[2] == dst->ne[2] && src->ne[3] == dst->ne[3] && ids->ne[0] == src->ne[1] &&
           ids->ne[1] == src->ne[2] && ids->ne[2] == src->ne[3] && ids->ne[3] == 1;
}
GGML_CPU_NO_WORK(SET_ROWS)
// Each thread owns a range of destination rows in every (i2, i3) slice and applies, in order,
// the writes that land there. No two threads write the same row, and when an id repeats the
// last write wins, exactly as a sequential loop would do, whatever the thread count.
void run_SET_ROWS(const Tensor* node, const KernelArgs& args) {
    const Tensor* dst = node->src[0];
    const Tensor* src = node->src[1];
    const Tensor* ids = node->src[2];
    const int64_t n_rows = dst->ne[1];
    const int64_t n = src->ne[1];
    // The node normally aliases dst. If it was given memory of its own, carry dst's contents
    // over first (each thread its own rows, so no barrier is needed before the writes).
    const bool aliased = node->data == dst->data && node->nb[1] == dst->nb[1] &&
                         node->nb[2] == dst->nb[2] && node->nb[3] == dst->nb[3] &&
                         node->nb[0] == dst->nb[0];
    int64_t d0, d1;
    thread_range(n_rows, args.ith, args.nth, &d0, &d1);
    for (int64_t i3 = 0; i3 < dst->ne[3]; ++i3) {
        for (int64_t i2 = 0; i2 < dst->ne[2]; ++i2) {
            if (!aliased) {
                for (int64_t r = d0; r < d1; ++r) {
                    const uint8_t* x = dst->ptr(0, r, i2, i3);
                    uint8_t* y = node->ptr(0, r, i2, i3);
                    for (int64_t i = 0; i < dst->ne[0]; ++i)
                        std::memcpy(y + i * node->nb[0], x + i * dst->nb[0], dtype_size(dst->type));
                }
            }
            for (int64_t i = 0; i < n; ++i) {
                const int32_t id = *(const int32_t*)ids->ptr(i, i2, i3);
                if (id < 0 || id >= n_rows) {
                    if (args.ith == 0)
                        args.errors->report("set_rows: row id " + std::to_string(id) +
                                            " out of range [0, " + std::to_string(n_rows) +
                                            ") in node " + node_name(node));
                    continue;
                }
                if (id < d0 || id >= d1) continue;
                const uint8_t* x = src->ptr(0, i, i2, i3);
                uint8_t* y = node->ptr(0, id, i2, i3);
                if (src->nb[0] == 4) {
                    row_from_f32(node->type, (const float*)x, y, node->nb[0], dst->ne[0]);
                } else {
                    for (int64_t k = 0; k < dst->ne[0]; ++k)
                        store_float(node->type, y + k * node->nb[0],
                                    load_float(DType::F32, x + k * src->nb[0]));
                }
            }
        }
    }
}

}  // namespace cpu
}  // namespace ggml
