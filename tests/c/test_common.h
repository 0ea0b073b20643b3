/* Minimal check macros for the C tests: every failed check prints where and why, and the test
 * exits non-zero at the end. Exit code 77 means "skipped" (CTest SKIP_RETURN_CODE). */
#ifndef GGML_TEST_COMMON_H
#define GGML_TEST_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml/ggml_c.h"

static int g_failures = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, \
                    #cond, ggml_c_last_error());                                             \
            ++g_failures;                                                                    \
        }                                                                                    \
    } while (0)

/* A status call that must succeed; on failure the test cannot go on. */
#define REQUIRE_OK(call)                                                              \
    do {                                                                              \
        ggml_c_status st_ = (call);                                                   \
        if (st_ != GGML_C_OK) {                                                       \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call, \
                    ggml_c_status_string(st_), ggml_c_last_error());                  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define REQUIRE(cond)                                                                          \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: REQUIRE(%s) failed; last error: %s\n", __FILE__, __LINE__, \
                    #cond, ggml_c_last_error());                                               \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* The status and message of a call that must fail: `status` expected and `needle` in the
 * message. */
#define CHECK_FAILS(call, status, needle)                                                          \
    do {                                                                                           \
        ggml_c_status st_ = (call);                                                                \
        if (st_ != (status) || strstr(ggml_c_last_error(), (needle)) == NULL) {                    \
            fprintf(stderr, "%s:%d: %s gave %s \"%s\"; expected %s mentioning \"%s\"\n", __FILE__, \
                    __LINE__, #call, ggml_c_status_string(st_), ggml_c_last_error(),               \
                    ggml_c_status_string(status), (needle));                                       \
            ++g_failures;                                                                          \
        }                                                                                          \
    } while (0)

static inline int test_finish(const char* name) {
    if (g_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, g_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* Deterministic values in [-1, 1) (a 32-bit LCG), so runs are reproducible. */
static inline void fill_random(float* x, size_t n, unsigned seed) {
    size_t i;
    unsigned s = seed * 2654435761u + 1u;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static inline double max_abs_diff(const float* a, const double* b, size_t n) {
    double m = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) {
        const double d = fabs((double)a[i] - b[i]);
        if (d != d) return INFINITY; /* NaN is a failure */
        if (d > m) m = d;
    }
    return m;
}

#endif
