/* Installed-library smoke test, C API: y = W x + b, checked exactly. */
#include <stdio.h>

#include "ggml/ggml_c.h"

int main(void) {
    const int64_t sW[2] = {3, 2}, sx[2] = {3, 1}, sb[1] = {2};
    const float w[6] = {1, 2, 3, 4, 5, 6}, xv[3] = {1, 1, 2}, bv[2] = {10, 20};
    float out[2] = {0, 0};
    ggml_c_context* ctx = NULL;
    ggml_c_tensor *W, *x, *b, *y;
    if (ggml_c_context_new("cpu", 1, &ctx) != GGML_C_OK) {
        fprintf(stderr, "%s\n", ggml_c_last_error());
        return 1;
    }
    W = ggml_c_new_input(ctx, GGML_C_F32, 2, sW, "W");
    x = ggml_c_new_input(ctx, GGML_C_F32, 2, sx, "x");
    b = ggml_c_new_input(ctx, GGML_C_F32, 1, sb, "b");
    y = ggml_c_add(ctx, ggml_c_mul_mat(ctx, W, x), b);
    if (ggml_c_graph_plan(ctx, &y, 1, 0) || ggml_c_tensor_set(ctx, W, w, sizeof w) ||
        ggml_c_tensor_set(ctx, x, xv, sizeof xv) || ggml_c_tensor_set(ctx, b, bv, sizeof bv) ||
        ggml_c_graph_compute(ctx) || ggml_c_tensor_get(ctx, y, out, sizeof out)) {
        fprintf(stderr, "%s\n", ggml_c_last_error());
        ggml_c_context_free(ctx);
        return 1;
    }
    ggml_c_context_free(ctx);
    printf("ggml %s (C API): y = [%g, %g]\n", ggml_c_version(), out[0], out[1]);
    return out[0] == 19.0f && out[1] == 41.0f ? 0 : 1;
}
