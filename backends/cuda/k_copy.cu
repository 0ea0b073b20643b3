// Data movement kernels: contiguous copies, dtype conversion, row gather and row scatter.
//
//   cont:     y[i0, i1, i2, i3] = a[i0, i1, i2, i3], a with any strides
//   cpy:      the same with a conversion f32/f16/bf16 <-> each other (through f32, round to
//             nearest even) or i32 -> i32; f32 <-> q8_0/q4_0 in k_quant.cu
//   get_rows: y[:, i, i2, i3] = f32(a[:, ids[i, i2, i3], i2 % A2, i3 % A3])   (embeddings);
//             a may be q8_0/q4_0 (each element dequantized exactly from its block)
//   set_rows: dst[:, ids[i, i2, i3], i2, i3] = convert(src[:, i, i2, i3])       (KV-cache write)
//
// One thread per result element (grid-stride), so any strides work. A row id outside
// [0, n_rows) is recorded in the device error word and that row is skipped: nothing outside the
// tensors is touched. set_rows gives "last write wins" when an id repeats, like a sequential
// loop: a row is only written by the last i that names it.
#include "common.cuh"
#include "quant.cuh"

namespace ggml {
namespace cuda {

namespace {

constexpr int kThreads = 256;

__global__ void copy_kernel(TensorView a, TensorView y, int64_t n) {
    const bool raw = a.type == y.type;
    const int64_t es = a.type == kF16 || a.type == kBF16 ? 2 : 4;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, y.ne, &i0, &i1, &i2, &i3);
        const char* s = elem_ptr(a, i0, i1, i2, i3);
        char* d = elem_ptr(y, i0, i1, i2, i3);
        if (raw) {
            if (es == 2)
                *(uint16_t*)d = *(const uint16_t*)s;
            else
                *(uint32_t*)d = *(const uint32_t*)s;
        } else {
            store_float(y.type, d, load_float(a.type, s));
        }
    }
}

void launch_copy(const Tensor* node, const RunCtx& ctx) {
    const int64_t n = node->nelements();
    if (n == 0) return;
    copy_kernel<<<grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(view_of(node->src[0]),
                                                                    view_of(node), n);
    check_launch(op_name(node->op));
}

__global__ void get_rows_kernel(TensorView a, TensorView ids, TensorView y, int64_t n,
                                DeviceError* err, int node_index) {
    const int64_t n_rows = a.ne[1];
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t i0, i1, i2, i3;
        unravel(i, y.ne, &i0, &i1, &i2, &i3);
        const int32_t id = *(const int32_t*)elem_ptr(ids, i1, i2, i3, 0);
        if (id < 0 || id >= n_rows) {
            if (i0 == 0) report_error(err, kErrGetRowsId, node_index, id, n_rows);
            continue;
        }
        const int64_t a2 = i2 % a.ne[2], a3 = i3 % a.ne[3];
        const float v = a.type == kQ8_0 || a.type == kQ4_0
                            ? load_quant(a.type, elem_ptr(a, i0 / kQK, id, a2, a3), (int)(i0 % kQK))
                            : load_float(a.type, elem_ptr(a, i0, id, a2, a3));
        *(float*)elem_ptr(y, i0, i1, i2, i3) = v;
    }
}

// One block per source row (i, i2, i3). The block first checks whether a later row of the same
// slice names the same destination (then this write would be overwritten, so it is skipped),
// which makes the result independent of the order blocks run in.
__global__ void set_rows_kernel(TensorView src, TensorView ids, TensorView y, DeviceError* err,
                                int node_index) {
    const int64_t n = src.ne[1];
    const int64_t row = blockIdx.x;
    const int64_t i = row % n, i2 = (row / n) % src.ne[2], i3 = row / (n * src.ne[2]);
    const int64_t n_rows = y.ne[1];
    const int32_t id = *(const int32_t*)elem_ptr(ids, i, i2, i3, 0);
    if (id < 0 || id >= n_rows) {
        if (threadIdx.x == 0) report_error(err, kErrSetRowsId, node_index, id, n_rows);
        return;
    }
    bool later = false;
    for (int64_t j = i + 1 + threadIdx.x; j < n; j += blockDim.x)
        later |= *(const int32_t*)elem_ptr(ids, j, i2, i3, 0) == id;
    if (__syncthreads_or(later)) return;
    for (int64_t i0 = threadIdx.x; i0 < src.ne[0]; i0 += blockDim.x) {
        const float v = *(const float*)elem_ptr(src, i0, i, i2, i3);
        store_float(y.type, elem_ptr(y, i0, id, i2, i3), v);
    }
}

}  // namespace

// ---- cont / cpy --------------------------------------------------------------------------------

bool supports_CONT(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    return a && a->type == node->type && !is_quant_type(a->type) && same_shape(a, node);
}
GGML_CUDA_NO_WORK(CONT)
void run_CONT(const Tensor* node, const RunCtx& ctx) {
    launch_copy(node, ctx);
}

namespace {

// Quantized blocks are written and read with 16-bit scale accesses: block-aligned strides.
bool quant_strides_ok(const Tensor* t) {
    return t->ne[0] % kQK == 0 && t->rows_contiguous() && t->nb[1] % 2 == 0 && t->nb[2] % 2 == 0 &&
           t->nb[3] % 2 == 0;
}

}  // namespace

bool supports_CPY(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    if (!a || !same_shape(a, node)) return false;
    if (a->type == DType::I32 || node->type == DType::I32) return a->type == node->type;
    if (is_quant_type(node->type)) return a->type == DType::F32 && quant_strides_ok(node);
    if (is_quant_type(a->type)) return node->type == DType::F32 && quant_strides_ok(a);
    return is_float_type(a->type) && is_float_type(node->type);
}
GGML_CUDA_NO_WORK(CPY)
void run_CPY(const Tensor* node, const RunCtx& ctx) {
    if (is_quant_type(node->type))
        launch_quantize_cpy(node, ctx);
    else if (is_quant_type(node->src[0]->type))
        launch_dequantize_cpy(node, ctx);
    else
        launch_copy(node, ctx);
}

// ---- get_rows ----------------------------------------------------------------------------------

bool supports_GET_ROWS(const Tensor* node, const DeviceInfo&) {
    const Tensor* a = node->src[0];
    const Tensor* ids = node->src[1];
    if (a && is_quant_type(a->type) && !quant_strides_ok(a)) return false;
    return a && (is_float_type(a->type) || is_quant_type(a->type)) && has_type(ids, DType::I32) &&
           has_type(node, DType::F32) && node->ne[0] == a->ne[0] && node->ne[1] == ids->ne[0] &&
           node->ne[2] == ids->ne[1] && node->ne[3] == ids->ne[2] && ids->ne[3] == 1 &&
           node->ne[2] % a->ne[2] == 0 && node->ne[3] % a->ne[3] == 0;
}
GGML_CUDA_NO_WORK(GET_ROWS)
void run_GET_ROWS(const Tensor* node, const RunCtx& ctx) {
    const int64_t n = node->nelements();
    if (n == 0) return;
    get_rows_kernel<<<grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(
        view_of(node->src[0]), view_of(node->src[1]), view_of(node), n, ctx.dev_err,
        ctx.node_index);
    check_launch("get_rows");
}

// ---- set_rows ----------------------------------------------------------------------------------

bool supports_SET_ROWS(const Tensor* node, const DeviceInfo&) {
    const Tensor* dst = node->src[0];
    const Tensor* src = node->src[1];
    const Tensor* ids = node->src[2];
    return dst && is_float_type(dst->type) && node->type == dst->type && same_shape(node, dst) &&
           has_type(src, DType::F32) && has_type(ids, DType::I32) && src->ne[0] == dst->ne[0] &&
           src->ne[2] == dst->ne[2] && src->ne[3] == dst->ne[3] && ids->ne[0] == src->ne[1] &&
           ids->ne[1] == src->ne[2] && ids->ne[2] == src->ne[3] && ids->ne[3] == 1;
}
GGML_CUDA_NO_WORK(SET_ROWS)
void run_SET_ROWS(const Tensor* node, const RunCtx& ctx) {
    const Tensor* dst = node->src[0];
    const Tensor* src = node->src[1];
    // The node normally aliases dst; if it was given memory of its own, carry dst over first
    // (same stream, so the scatter below is ordered after it).
    const bool aliased = node->data == dst->data && node->nb[0] == dst->nb[0] &&
                         node->nb[1] == dst->nb[1] && node->nb[2] == dst->nb[2] &&
                         node->nb[3] == dst->nb[3];
    if (!aliased) {
        const int64_t n = node->nelements();
        copy_kernel<<<grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(view_of(dst), view_of(node),
                                                                        n);
        check_launch("set_rows (copy of the destination)");
    }
    const int64_t rows = src->nrows();
    if (rows == 0) return;
    if (rows > 0x7fffffffLL) throw Error("cuda: set_rows: too many rows " + src->shape_str());
    set_rows_kernel<<<(unsigned)rows, 128, 0, ctx.stream>>>(
        view_of(src), view_of(node->src[2]), view_of(node), ctx.dev_err, ctx.node_index);
    check_launch("set_rows");
}

}  // namespace cuda
}  // namespace ggml
