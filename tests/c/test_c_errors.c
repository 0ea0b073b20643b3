/* Error paths of the C interface: every failure is a status code plus a message naming the op
 * or the argument, nothing crashes, and a failed builder poisons only its own graph. */
#include <stdint.h>

#include "test_common.h"

static void test_bad_shapes(void) {
    ggml_c_context* ctx = NULL;
    const int64_t s_a[2] = {16, 8}, s_b[2] = {12, 5}, s_c[2] = {7, 3}, s_q[3] = {8, 4, 3},
                  s_kv[3] = {8, 6, 2};
    ggml_c_tensor *a, *b, *c, *mm, *sum, *q, *k, *fa, *good;
    ggml_c_flash_attn_params fp;
    float buf[16 * 8];

    REQUIRE_OK(ggml_c_context_new(NULL, 1, &ctx));
    a = ggml_c_new_input(ctx, GGML_C_F32, 2, s_a, "a");
    b = ggml_c_new_input(ctx, GGML_C_F32, 2, s_b, "b");
    c = ggml_c_new_input(ctx, GGML_C_F32, 2, s_c, "c");
    REQUIRE(a && b && c);

    /* mul_mat: a [16, 8] x b [12, 5]: inner dimensions differ. */
    ggml_c_clear_error();
    mm = ggml_c_mul_mat(ctx, a, b);
    CHECK(mm == NULL);
    CHECK(ggml_c_last_status() == GGML_C_INVALID_ARGUMENT);
    CHECK(strstr(ggml_c_last_error(), "mul_mat") != NULL);
    printf("mul_mat error: %s\n", ggml_c_last_error());

    /* A chain over the failed node stays NULL and keeps the first message. */
    sum = ggml_c_add(ctx, mm, c);
    CHECK(sum == NULL);
    CHECK(strstr(ggml_c_last_error(), "mul_mat") != NULL);
    /* Planning the poisoned graph fails with the first error. */
    CHECK_FAILS(ggml_c_graph_plan(ctx, &sum, 1, 0), GGML_C_INVALID_ARGUMENT, "mul_mat");

    /* add: [7, 3] does not broadcast into [16, 8]. */
    CHECK(ggml_c_add(ctx, a, c) == NULL);
    CHECK(strstr(ggml_c_last_error(), "add") != NULL);
    printf("add error: %s\n", ggml_c_last_error());

    /* flash_attn: 3 query heads over 2 KV heads is not GQA. */
    q = ggml_c_new_input(ctx, GGML_C_F32, 3, s_q, "q");
    k = ggml_c_new_input(ctx, GGML_C_F32, 3, s_kv, "k");
    memset(&fp, 0, sizeof fp);
    fp.scale = 0.35f;
    fa = ggml_c_flash_attn(ctx, q, k, k, NULL, &fp, NULL);
    CHECK(fa == NULL);
    CHECK(strstr(ggml_c_last_error(), "flash_attn") != NULL);
    printf("flash_attn error: %s\n", ggml_c_last_error());
    CHECK(ggml_c_flash_attn(ctx, q, k, k, NULL, NULL, NULL) == NULL); /* NULL params */

    /* Bad leaf shapes and dtypes. */
    {
        const int64_t zero[2] = {4, 0};
        CHECK(ggml_c_new_input(ctx, GGML_C_F32, 0, s_a, "x") == NULL);
        CHECK(strstr(ggml_c_last_error(), "n_dims") != NULL);
        CHECK(ggml_c_new_input(ctx, GGML_C_F32, 2, zero, "x") == NULL);
        CHECK(strstr(ggml_c_last_error(), "ne[1]") != NULL);
        CHECK(ggml_c_new_input(ctx, (ggml_c_dtype)42, 2, s_a, "x") == NULL);
        CHECK(strstr(ggml_c_last_error(), "dtype") != NULL);
        CHECK(ggml_c_reshape(ctx, a, 2, s_b) == NULL); /* 128 elements into 60 */
        CHECK(strstr(ggml_c_last_error(), "reshape") != NULL);
    }
    ggml_c_context_free(ctx);

    /* A fresh context: the good graph plans; bad data sizes and order are refused. */
    REQUIRE_OK(ggml_c_context_new("cpu", 1, &ctx));
    a = ggml_c_new_input(ctx, GGML_C_F32, 2, s_a, "a");
    good = ggml_c_scale(ctx, ggml_c_sqr(ctx, a), 2.0f, 0.0f);
    mm = ggml_c_sqr(ctx, a); /* not an output: its memory is the plan's to reuse */
    REQUIRE(good != NULL && mm != NULL);
    CHECK_FAILS(ggml_c_graph_compute(ctx), GGML_C_BAD_STATE, "plan");
    CHECK_FAILS(ggml_c_tensor_set(ctx, a, buf, sizeof buf), GGML_C_BAD_STATE, "plan");
    /* Budget: one byte is never enough; the message gives the need and the budget. */
    CHECK_FAILS(ggml_c_graph_plan(ctx, &good, 1, 1), GGML_C_BUDGET_EXCEEDED, "budget");
    printf("budget error: %s\n", ggml_c_last_error());
    REQUIRE_OK(ggml_c_graph_plan(ctx, &good, 1, 0));
    {
        /* The exact peak is a sufficient budget. */
        const size_t peak = ggml_c_plan_peak_bytes(ctx);
        REQUIRE_OK(ggml_c_graph_plan(ctx, &good, 1, peak));
        CHECK_FAILS(ggml_c_graph_plan(ctx, &good, 1, peak - 1), GGML_C_BUDGET_EXCEEDED, "budget");
        REQUIRE_OK(ggml_c_graph_plan(ctx, &good, 1, 0));
    }
    CHECK_FAILS(ggml_c_tensor_set(ctx, a, buf, sizeof buf - 4), GGML_C_INVALID_ARGUMENT, "bytes");
    CHECK_FAILS(ggml_c_tensor_set(ctx, a, NULL, sizeof buf), GGML_C_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(ggml_c_tensor_set(ctx, good, buf, sizeof buf), GGML_C_INVALID_ARGUMENT,
                "not an input");
    CHECK_FAILS(ggml_c_tensor_get(ctx, mm, buf, sizeof buf), GGML_C_INVALID_ARGUMENT,
                "planned graph");
    fill_random(buf, 16 * 8, 9);
    REQUIRE_OK(ggml_c_tensor_set(ctx, a, buf, sizeof buf));
    REQUIRE_OK(ggml_c_graph_compute(ctx));
    {
        float out[16 * 8];
        int i, ok = 1;
        REQUIRE_OK(ggml_c_tensor_get(ctx, good, out, sizeof out));
        for (i = 0; i < 16 * 8; ++i) ok &= out[i] == 2.0f * buf[i] * buf[i]; /* exact in f32 */
        CHECK(ok);
    }
    /* get_rows with an id out of range: a run-time error, not a crash. */
    {
        const int64_t s_ids[1] = {2};
        const int32_t ids[2] = {1, 99};
        ggml_c_tensor* tids = ggml_c_new_input(ctx, GGML_C_I32, 1, s_ids, "ids");
        ggml_c_tensor* g = ggml_c_get_rows(ctx, a, tids);
        REQUIRE(g != NULL);
        REQUIRE_OK(ggml_c_graph_plan(ctx, &g, 1, 0));
        REQUIRE_OK(ggml_c_tensor_set(ctx, a, buf, sizeof buf));
        REQUIRE_OK(ggml_c_tensor_set(ctx, tids, ids, sizeof ids));
        CHECK_FAILS(ggml_c_graph_compute(ctx), GGML_C_ERROR, "99");
        printf("get_rows run-time error: %s\n", ggml_c_last_error());
    }
    ggml_c_context_free(ctx);
}

static void test_handles_and_backends(void) {
    ggml_c_context* ctx = (ggml_c_context*)(uintptr_t)1;
    CHECK_FAILS(ggml_c_context_new("no-such-backend", 1, &ctx), GGML_C_UNSUPPORTED,
                "no-such-backend");
    CHECK(ctx == NULL);
    printf("backend error: %s\n", ggml_c_last_error());
    CHECK_FAILS(ggml_c_context_new("cpu", -1, &ctx), GGML_C_INVALID_ARGUMENT, "n_threads");
    CHECK_FAILS(ggml_c_context_new("cpu", 1, NULL), GGML_C_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(ggml_c_graph_compute(NULL), GGML_C_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(ggml_c_graph_plan(NULL, NULL, 0, 0), GGML_C_INVALID_ARGUMENT, "NULL");
    CHECK(ggml_c_add(NULL, NULL, NULL) == NULL);
    CHECK(strstr(ggml_c_last_error(), "context is NULL") != NULL);
    CHECK(ggml_c_plan_peak_bytes(NULL) == 0);
    CHECK(ggml_c_tensor_nbytes(NULL) == 0);
    ggml_c_context_free(NULL);
    ggml_c_model_free(NULL);
    ggml_c_session_free(NULL);
    ggml_c_clear_error();
    CHECK(ggml_c_last_status() == GGML_C_OK && ggml_c_last_error()[0] == 0);
    CHECK(strcmp(ggml_c_status_string(GGML_C_BUDGET_EXCEEDED), "GGML_C_BUDGET_EXCEEDED") == 0);
}

static void test_model_files(void) {
    ggml_c_model* m = (ggml_c_model*)(uintptr_t)1;
    const char* missing = "/nonexistent/dir/model.gguf";
    char path[256];
    FILE* f;
    CHECK_FAILS(ggml_c_model_load(missing, &m), GGML_C_IO_ERROR, missing);
    CHECK(m == NULL);
    printf("missing model: %s\n", ggml_c_last_error());
    CHECK_FAILS(ggml_c_model_load(NULL, &m), GGML_C_INVALID_ARGUMENT, "path");

    /* A truncated GGUF and a junk file: malformed, reported as such. */
    snprintf(path, sizeof path, "%s/ggml_c_test_bad_%ld.gguf",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)(uintptr_t)&m % 100000);
    f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fwrite("GGUF\x03\x00\x00\x00\xff\xff", 1, 10, f);
    fclose(f);
    CHECK_FAILS(ggml_c_model_load(path, &m), GGML_C_ERROR, path);
    printf("truncated GGUF: %s\n", ggml_c_last_error());
    f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fwrite("not a model at all, just some text", 1, 34, f);
    fclose(f);
    CHECK_FAILS(ggml_c_model_load(path, &m), GGML_C_ERROR, "llama2.c");
    printf("junk file: %s\n", ggml_c_last_error());
    remove(path);
}

int main(void) {
    test_bad_shapes();
    test_handles_and_backends();
    test_model_files();
    return test_finish("test-c-errors");
}
