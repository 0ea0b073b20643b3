/* Builds, plans and runs graphs through the C interface and compares every output with a plain
 * C loop in double precision.
 *
 * Tolerance: inputs are in [-1, 1) and every reduction has at most 16 terms, so f32 rounding
 * gives errors near 16 * 2^-24 * |terms| ~ 1e-6 per output before normalisation; rms_norm and
 * softmax keep magnitudes O(1). 1e-4 leaves a wide margin and still catches any wrong index or
 * wrong formula (those give errors of order 0.1 or more). get_rows and cont are exact copies. */
#include "test_common.h"

enum { K = 16, M = 8, N = 5 };                    /* mul_mat: W [K, M], x [K, N] */
enum { D = 8, NQ = 4, HQ = 4, NKV = 6, HKV = 2 }; /* attention */
enum { NIDS = 3 };

static const float kEps = 1e-5f;
static const float kSoftScale = 0.5f;
static const int kOffset = 2; /* causal offset: query row i sees keys j <= i + 2 */

static void ref_dense(const float* W, const float* x, const float* b, double* r, double* s) {
    int n, m, k, j;
    for (n = 0; n < N; ++n) {
        double y[M], ss = 0.0, mx = -INFINITY, sum = 0.0, e[M];
        for (m = 0; m < M; ++m) {
            double acc = 0.0;
            for (k = 0; k < K; ++k) acc += (double)W[m * K + k] * x[n * K + k];
            y[m] = acc + b[m];
            ss += y[m] * y[m];
        }
        for (m = 0; m < M; ++m) r[n * M + m] = y[m] / sqrt(ss / M + kEps);
        for (j = 0; j < M; ++j) {
            e[j] = j > n + kOffset ? -INFINITY : kSoftScale * r[n * M + j];
            if (e[j] > mx) mx = e[j];
        }
        for (j = 0; j < M; ++j) {
            e[j] = e[j] == -INFINITY ? 0.0 : exp(e[j] - mx);
            sum += e[j];
        }
        for (j = 0; j < M; ++j) s[n * M + j] = e[j] / sum;
    }
}

static void ref_attn(const float* q, const float* k, const float* v, double* o) {
    const double scale = 1.0 / sqrt((double)D);
    int h, i, j, d;
    for (h = 0; h < HQ; ++h) {
        const int g = h / (HQ / HKV); /* GQA: query head h reads KV head h / group size */
        for (i = 0; i < NQ; ++i) {
            double sc[NKV], mx = -INFINITY, sum = 0.0;
            for (j = 0; j < NKV; ++j) {
                double acc = 0.0;
                for (d = 0; d < D; ++d)
                    acc += (double)q[(h * NQ + i) * D + d] * k[(g * NKV + j) * D + d];
                sc[j] = j > i + kOffset ? -INFINITY : scale * acc;
                if (sc[j] > mx) mx = sc[j];
            }
            for (j = 0; j < NKV; ++j) {
                sc[j] = sc[j] == -INFINITY ? 0.0 : exp(sc[j] - mx);
                sum += sc[j];
            }
            for (d = 0; d < D; ++d) {
                double acc = 0.0;
                for (j = 0; j < NKV; ++j) acc += sc[j] * v[(g * NKV + j) * D + d];
                o[(i * HQ + h) * D + d] = acc / sum; /* result [Dv, H_q, n_q] */
            }
        }
    }
}

int main(void) {
    static float W[K * M], x[K * N], b[M], q[D * NQ * HQ], k[D * NKV * HKV], v[D * NKV * HKV];
    static float r[M * N], s[M * N], o[D * HQ * NQ], rows[K * NIDS], wt[M * K];
    static double rr[M * N], rs[M * N], ro[D * HQ * NQ], rrows[K * NIDS], rwt[M * K];
    const int32_t ids[NIDS] = {7, 0, 3};
    ggml_c_context* ctx = NULL;
    ggml_c_flash_attn_params fp;
    ggml_c_tensor *tW, *tx, *tb, *tq, *tk, *tv, *tids, *tr, *ts, *to, *trows, *twt;
    ggml_c_tensor* outs[5];
    int64_t ne[4];
    int i, m, kk, pass;

    printf("ggml %s, backends:", ggml_c_version());
    for (i = 0; i < ggml_c_backend_count(); ++i) printf(" %s", ggml_c_backend_name(i));
    printf("\n");
    CHECK(ggml_c_backend_count() >= 1 && strcmp(ggml_c_backend_name(0), "cpu") == 0);
    CHECK(ggml_c_backend_name(-1) == NULL && ggml_c_backend_name(1000) == NULL);

    REQUIRE_OK(ggml_c_context_new("cpu", 2, &ctx));
    {
        const int64_t sW[2] = {K, M}, sx[2] = {K, N}, sb[1] = {M}, sq[3] = {D, NQ, HQ},
                      skv[3] = {D, NKV, HKV}, sids[1] = {NIDS};
        tW = ggml_c_new_input(ctx, GGML_C_F32, 2, sW, "W");
        tx = ggml_c_new_input(ctx, GGML_C_F32, 2, sx, "x");
        tb = ggml_c_new_input(ctx, GGML_C_F32, 1, sb, "b");
        tq = ggml_c_new_input(ctx, GGML_C_F32, 3, sq, "q");
        tk = ggml_c_new_input(ctx, GGML_C_F32, 3, skv, "k");
        tv = ggml_c_new_input(ctx, GGML_C_F32, 3, skv, "v");
        tids = ggml_c_new_input(ctx, GGML_C_I32, 1, sids, "ids");
    }
    tr = ggml_c_rms_norm(ctx, ggml_c_add(ctx, ggml_c_mul_mat(ctx, tW, tx), tb), kEps);
    ts = ggml_c_soft_max(ctx, tr, NULL, kSoftScale, 1, kOffset);
    memset(&fp, 0, sizeof fp);
    fp.scale = 1.0f / sqrtf((float)D);
    fp.causal = 1;
    fp.causal_offset = kOffset;
    to = ggml_c_flash_attn(ctx, tq, tk, tv, NULL, &fp, NULL);
    trows = ggml_c_get_rows(ctx, tW, tids);
    twt = ggml_c_cont(ctx, ggml_c_transpose(ctx, tW));
    REQUIRE(tr && ts && to && trows && twt);

    CHECK(ggml_c_tensor_shape(to, ne) == 3 && ne[0] == D && ne[1] == HQ && ne[2] == NQ);
    CHECK(ggml_c_tensor_shape(twt, ne) == 2 && ne[0] == M && ne[1] == K);
    CHECK(ggml_c_tensor_dtype(trows) == GGML_C_F32 && ggml_c_tensor_nelements(trows) == K * NIDS);
    CHECK(ggml_c_tensor_nbytes(ts) == sizeof s);

    CHECK(ggml_c_plan_peak_bytes(ctx) == 0);
    outs[0] = tr;
    outs[1] = ts;
    outs[2] = to;
    outs[3] = trows;
    outs[4] = twt;
    REQUIRE_OK(ggml_c_graph_plan(ctx, outs, 5, 0));
    CHECK(ggml_c_plan_peak_bytes(ctx) >= sizeof r + sizeof s + sizeof o);
    printf("plan: %zu bytes peak\n%s", ggml_c_plan_peak_bytes(ctx), ggml_c_plan_summary(ctx));
    CHECK(strlen(ggml_c_plan_summary(ctx)) > 0);

    fill_random(W, K * M, 1);
    fill_random(b, M, 3);
    fill_random(q, D * NQ * HQ, 4);
    fill_random(k, D * NKV * HKV, 5);
    fill_random(v, D * NKV * HKV, 6);
    REQUIRE_OK(ggml_c_tensor_set(ctx, tW, W, sizeof W));
    REQUIRE_OK(ggml_c_tensor_set(ctx, tb, b, sizeof b));
    REQUIRE_OK(ggml_c_tensor_set(ctx, tq, q, sizeof q));
    REQUIRE_OK(ggml_c_tensor_set(ctx, tk, k, sizeof k));
    REQUIRE_OK(ggml_c_tensor_set(ctx, tv, v, sizeof v));
    REQUIRE_OK(ggml_c_tensor_set(ctx, tids, ids, sizeof ids));

    /* Two passes with different x: inputs persist between computes (W, b, q, k, v are set once)
     * and the same plan serves both. */
    for (pass = 0; pass < 2; ++pass) {
        fill_random(x, K * N, 2 + 10 * (unsigned)pass);
        REQUIRE_OK(ggml_c_tensor_set(ctx, tx, x, sizeof x));
        REQUIRE_OK(ggml_c_graph_compute(ctx));
        REQUIRE_OK(ggml_c_tensor_get(ctx, tr, r, sizeof r));
        REQUIRE_OK(ggml_c_tensor_get(ctx, ts, s, sizeof s));
        REQUIRE_OK(ggml_c_tensor_get(ctx, to, o, sizeof o));
        REQUIRE_OK(ggml_c_tensor_get(ctx, trows, rows, sizeof rows));
        REQUIRE_OK(ggml_c_tensor_get(ctx, twt, wt, sizeof wt));

        ref_dense(W, x, b, rr, rs);
        ref_attn(q, k, v, ro);
        for (i = 0; i < NIDS; ++i)
            for (kk = 0; kk < K; ++kk) rrows[i * K + kk] = W[ids[i] * K + kk];
        for (m = 0; m < M; ++m)
            for (kk = 0; kk < K; ++kk) rwt[kk * M + m] = W[m * K + kk];

        printf("pass %d: max |err| rms_norm %.2e soft_max %.2e flash_attn %.2e\n", pass,
               max_abs_diff(r, rr, M * N), max_abs_diff(s, rs, M * N),
               max_abs_diff(o, ro, D * HQ * NQ));
        CHECK(max_abs_diff(r, rr, M * N) < 1e-4);
        CHECK(max_abs_diff(s, rs, M * N) < 1e-4);
        CHECK(max_abs_diff(o, ro, D * HQ * NQ) < 1e-4);
        CHECK(max_abs_diff(rows, rrows, K * NIDS) == 0.0);
        CHECK(max_abs_diff(wt, rwt, M * K) == 0.0);
        /* The causal mask really masks: row 0 sees keys 0..2 only. */
        CHECK(s[3] == 0.0f && s[M - 1] == 0.0f);
    }

    /* Replanning after adding a node keeps working (and inputs must be set again). */
    {
        ggml_c_tensor* e = ggml_c_silu(ctx, ggml_c_scale(ctx, tx, 2.0f, 0.5f));
        float ev[K * N];
        double rev[K * N];
        REQUIRE(e != NULL);
        REQUIRE_OK(ggml_c_graph_plan(ctx, &e, 1, 0));
        REQUIRE_OK(ggml_c_tensor_set(ctx, tx, x, sizeof x));
        REQUIRE_OK(ggml_c_graph_compute(ctx));
        REQUIRE_OK(ggml_c_tensor_get(ctx, e, ev, sizeof ev));
        for (i = 0; i < K * N; ++i) {
            const double a = 2.0 * x[i] + 0.5;
            rev[i] = a / (1.0 + exp(-a));
        }
        CHECK(max_abs_diff(ev, rev, K * N) < 1e-5); /* one exp per element: ~1e-7 */
    }

    ggml_c_context_free(ctx);
    ggml_c_context_free(NULL);
    return test_finish("test-c-graph");
}
