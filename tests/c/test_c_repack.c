/* ggml_c_model_repack_for_cpu on a real q4_0 model: the bundled Shakespeare model quantized by
 * ggml-quantize (a CTest fixture writes it), loaded twice, one copy repacked into the CPU's
 * q4_0x8 layout.
 *
 *   test-c-repack MODEL_Q4_0.gguf
 *
 * The repacked model must give the plain one's logits to float rounding (the integer block
 * sums are the same; only the scaled blocks are summed in another order: NMSE ~1e-13, bound
 * 1e-10, while one wrong scale or row gives ~1e-2) and the same greedy ids; repacking with a
 * live session, or a device session after repacking, must fail with a message. */
#include <stdint.h>

#include "test_common.h"

enum { N_GEN = 32 };

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "";
    ggml_c_model *plain = NULL, *packed = NULL;
    ggml_c_session *sp = NULL, *sq = NULL, *dev = NULL;
    ggml_c_session_params prm = ggml_c_session_default_params();
    ggml_c_generate_params gp = ggml_c_generate_default_params();
    int32_t ids[64], n_ids = 0, n = -1, n_vocab = 0, i;
    int32_t got_p[N_GEN], got_q[N_GEN], n_p = 0, n_q = 0;
    double num = 0.0, den = 0.0;
    FILE* f = fopen(path, "rb");

    if (!f) {
        printf("SKIP: q4_0 model '%s' not found\n", path);
        return 77;
    }
    fclose(f);
    REQUIRE_OK(ggml_c_model_load(path, &plain));
    REQUIRE_OK(ggml_c_model_load(path, &packed));
    CHECK_FAILS(ggml_c_model_repack_for_cpu(NULL, &n), GGML_C_INVALID_ARGUMENT, "model");
    REQUIRE_OK(ggml_c_model_repack_for_cpu(packed, &n));
    printf("repacked %d q4_0 matrices\n", (int)n);
    CHECK(n == 28); /* 4 layers x 7 matrices; the embedding (get_rows) stays q4_0 */
    REQUIRE_OK(ggml_c_model_repack_for_cpu(packed, &n));
    CHECK(n == 0); /* nothing left to convert */

    prm.backend = "cpu";
    prm.n_threads = 1;
    REQUIRE_OK(ggml_c_session_new(plain, &prm, &sp));
    REQUIRE_OK(ggml_c_session_new(packed, &prm, &sq));
    CHECK_FAILS(ggml_c_model_repack_for_cpu(plain, &n), GGML_C_UNSUPPORTED, "session");

    REQUIRE_OK(ggml_c_tokenize(plain, "ROMEO:", 1, ids, 64, &n_ids));
    REQUIRE_OK(ggml_c_session_eval(sp, ids, n_ids));
    REQUIRE_OK(ggml_c_session_eval(sq, ids, n_ids));
    {
        const float* a = ggml_c_session_logits(sp, &n_vocab);
        const float* b = ggml_c_session_logits(sq, NULL);
        REQUIRE(a != NULL && b != NULL && n_vocab > 0);
        for (i = 0; i < n_vocab; ++i) {
            num += ((double)b[i] - a[i]) * ((double)b[i] - a[i]);
            den += (double)a[i] * a[i];
        }
        printf("last-position logits NMSE, q4_0x8 against q4_0: %.3g\n", num / den);
        CHECK(num / den < 1e-10);
    }
    gp.n_predict = N_GEN;
    gp.sampling.temp = 0.0f;
    REQUIRE_OK(ggml_c_session_generate(sp, NULL, 0, &gp, got_p, N_GEN, &n_p));
    REQUIRE_OK(ggml_c_session_generate(sq, NULL, 0, &gp, got_q, N_GEN, &n_q));
    CHECK(n_p == N_GEN && n_q == N_GEN);
    CHECK(memcmp(got_p, got_q, sizeof got_p) == 0);

    /* A device session of the repacked model fails: with "repacked" where a device backend
     * exists, with the backend's own message where it does not. */
    prm.backend = "vulkan";
    CHECK(ggml_c_session_new(packed, &prm, &dev) != GGML_C_OK && dev == NULL);
    printf("vulkan session of the repacked model: %s\n", ggml_c_last_error());

    ggml_c_session_free(sp);
    REQUIRE_OK(ggml_c_model_repack_for_cpu(plain, &n)); /* its only session is gone */
    CHECK(n == 28);
    ggml_c_session_free(sq);
    ggml_c_model_free(plain);
    ggml_c_model_free(packed);
    return g_failures ? 1 : 0;
}
