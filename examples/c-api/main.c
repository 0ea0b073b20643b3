/* ggml-c-demo: the library from plain C through ggml/ggml_c.h.
 *
 *   ggml-c-demo [-t THREADS] [--backend NAME] [--budget BYTES]
 *               [-m MODEL [-p TEXT | --tokens 1,2,3] [-n N] [--temp T] [--top-p P] [--seed S]
 *                [--steer START:END] [--alpha A]]
 *
 * Part 1 builds one attention block (rms_norm, q/k/v projections with mul_mat, GQA flash
 * attention, output projection, residual add), prints the plan's peak memory, and runs it; a
 * --budget smaller than the peak shows the planner's refusal. Part 2 (with -m) loads a GGUF or
 * llama2.c model, prints its weight and KV-cache bytes, and generates text (or ids, when the
 * model carries no tokenizer), optionally steering attention towards a span of the prompt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml/ggml_c.h"

typedef struct args {
    int threads;
    const char* backend;
    size_t budget;
    const char* model;
    const char* prompt;
    const char* tokens;
    int n_predict;
    float temp, top_p;
    unsigned long long seed;
    int steer_start, steer_end;
    float alpha;
} args;

static int die(const char* what) {
    fprintf(stderr, "ggml-c-demo: %s: %s (%s)\n", what, ggml_c_last_error(),
            ggml_c_status_string(ggml_c_last_status()));
    return 1;
}

static void fill(float* x, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; ++i) x[i] = (float)sin(0.37 * (double)(i + 1) * (seed + 1)) * 0.5f;
}

/* One pre-norm attention block over a random sequence: y = x + Wo attn(Wq h, Wk h, Wv h),
 * h = rms_norm(x). Shapes: x [D, T]; 4 query heads and 2 KV heads of size 16. */
static int attention_block(const args* a) {
    enum { D = 64, T = 32, HD = 16, HQ = 4, HKV = 2 };
    ggml_c_context* ctx = NULL;
    ggml_c_tensor *x, *wq, *wk, *wv, *wo, *h, *q, *k, *v, *att, *y;
    ggml_c_flash_attn_params fp;
    static float hx[D * T], hwq[D * HD * HQ], hwk[D * HD * HKV], hwv[D * HD * HKV],
        hwo[HD * HQ * D], hy[D * T];
    const int64_t sx[2] = {D, T}, sq[2] = {D, HD * HQ}, skv[2] = {D, HD * HKV},
                  so[2] = {HD * HQ, D};
    int64_t shape[4];
    double sum = 0.0;
    int i;

    if (ggml_c_context_new(a->backend, a->threads, &ctx) != GGML_C_OK) return die("context");
    x = ggml_c_new_input(ctx, GGML_C_F32, 2, sx, "x");
    wq = ggml_c_new_input(ctx, GGML_C_F32, 2, sq, "wq");
    wk = ggml_c_new_input(ctx, GGML_C_F32, 2, skv, "wk");
    wv = ggml_c_new_input(ctx, GGML_C_F32, 2, skv, "wv");
    wo = ggml_c_new_input(ctx, GGML_C_F32, 2, so, "wo");
    h = ggml_c_rms_norm(ctx, x, 1e-5f);
    /* [HD*H, T] -> [HD, H, T] -> [HD, T, H]: flash_attn takes heads in dim 2. */
    shape[0] = HD;
    shape[1] = HQ;
    shape[2] = T;
    q = ggml_c_permute(ctx, ggml_c_reshape(ctx, ggml_c_mul_mat(ctx, wq, h), 3, shape), 0, 2, 1, 3);
    shape[1] = HKV;
    k = ggml_c_permute(ctx, ggml_c_reshape(ctx, ggml_c_mul_mat(ctx, wk, h), 3, shape), 0, 2, 1, 3);
    v = ggml_c_permute(ctx, ggml_c_reshape(ctx, ggml_c_mul_mat(ctx, wv, h), 3, shape), 0, 2, 1, 3);
    memset(&fp, 0, sizeof fp);
    fp.scale = 1.0f / sqrtf((float)HD);
    fp.causal = 1;
    /* k and v are permuted views with packed rows: flash_attn reads them in place. */
    att = ggml_c_flash_attn(ctx, q, k, v, NULL, &fp, NULL);
    shape[0] = HD * HQ;
    shape[1] = T;
    y = ggml_c_add(ctx, x, ggml_c_mul_mat(ctx, wo, ggml_c_reshape(ctx, att, 2, shape)));
    if (!y) {
        ggml_c_context_free(ctx);
        return die("building the graph");
    }
    if (ggml_c_graph_plan(ctx, &y, 1, a->budget) != GGML_C_OK) {
        die("planning");
        ggml_c_context_free(ctx);
        return a->budget ? 0 : 1; /* a refused budget is the point of --budget */
    }
    printf("attention block: plan peak %zu bytes%s\n%s", ggml_c_plan_peak_bytes(ctx),
           a->budget ? " (within the budget)" : "", ggml_c_plan_summary(ctx));
    fill(hx, D * T, 1);
    fill(hwq, sizeof hwq / 4, 2);
    fill(hwk, sizeof hwk / 4, 3);
    fill(hwv, sizeof hwv / 4, 4);
    fill(hwo, sizeof hwo / 4, 5);
    if (ggml_c_tensor_set(ctx, x, hx, sizeof hx) || ggml_c_tensor_set(ctx, wq, hwq, sizeof hwq) ||
        ggml_c_tensor_set(ctx, wk, hwk, sizeof hwk) ||
        ggml_c_tensor_set(ctx, wv, hwv, sizeof hwv) ||
        ggml_c_tensor_set(ctx, wo, hwo, sizeof hwo) || ggml_c_graph_compute(ctx) ||
        ggml_c_tensor_get(ctx, y, hy, sizeof hy)) {
        ggml_c_context_free(ctx);
        return die("running");
    }
    for (i = 0; i < D * T; ++i) sum += hy[i];
    printf("attention block: y[0..3] = %.5f %.5f %.5f %.5f, sum %.5f\n", hy[0], hy[1], hy[2], hy[3],
           sum);
    ggml_c_context_free(ctx);
    return 0;
}

static int print_token(int32_t token, void* user) {
    const ggml_c_model* m = (const ggml_c_model*)user;
    static int32_t prev = -1;
    char buf[256];
    if (ggml_c_token_piece(m, prev, token, buf, sizeof buf, NULL) == GGML_C_OK)
        printf("%s", buf);
    else
        printf(" %d", token);
    fflush(stdout);
    prev = token;
    return 0;
}

static int generate(const args* a) {
    ggml_c_model* m = NULL;
    ggml_c_session* s = NULL;
    ggml_c_model_info info;
    ggml_c_session_params sp = ggml_c_session_default_params();
    ggml_c_generate_params gp = ggml_c_generate_default_params();
    ggml_c_steering st;
    int32_t prompt[512], *out = NULL, n_prompt = 0, n_out = 0, spans[2];
    int rc = 1;

    if (ggml_c_model_load(a->model, &m) != GGML_C_OK) return die("loading the model");
    ggml_c_model_get_info(m, &info);
    printf("model: dim %d, %d layers, %d/%d heads, vocab %d, context %d; weights %zu bytes\n",
           info.dim, info.n_layers, info.n_heads, info.n_kv_heads, info.vocab, info.n_ctx,
           info.weight_bytes);
    if (a->prompt) {
        if (ggml_c_tokenize(m, a->prompt, 1, prompt, 512, &n_prompt) != GGML_C_OK) {
            die("tokenizing");
            goto done;
        }
    } else if (a->tokens) {
        const char* p = a->tokens;
        while (*p && n_prompt < 512) {
            prompt[n_prompt++] = (int32_t)strtol(p, (char**)&p, 10);
            if (*p == ',') ++p;
        }
    } else {
        prompt[n_prompt++] = info.bos >= 0 ? info.bos : 1; /* llama2.c's BOS is 1 */
    }
    sp.backend = a->backend;
    sp.n_threads = a->threads;
    sp.n_ctx = n_prompt + a->n_predict < info.n_ctx ? n_prompt + a->n_predict : info.n_ctx;
    if (ggml_c_session_new(m, &sp, &s) != GGML_C_OK) {
        die("creating the session");
        goto done;
    }
    printf("session: KV cache %zu bytes for %d tokens\n", ggml_c_session_kv_bytes(s),
           ggml_c_session_n_ctx(s));
    gp.n_predict = a->n_predict;
    gp.sampling.temp = a->temp;
    gp.sampling.top_p = a->top_p;
    gp.sampling.seed = a->seed;
    gp.on_token = print_token;
    gp.user_data = m;
    if (a->steer_end > a->steer_start) {
        memset(&st, 0, sizeof st);
        spans[0] = a->steer_start;
        spans[1] = a->steer_end;
        st.spans = spans;
        st.n_spans = 1;
        st.alpha = a->alpha;
        st.end = n_prompt;
        gp.steering = &st;
    }
    out = (int32_t*)malloc(sizeof(int32_t) * (size_t)(a->n_predict > 0 ? a->n_predict : 1));
    if (!out) goto done;
    if (ggml_c_session_generate(s, prompt, n_prompt, &gp, out, a->n_predict, &n_out) != GGML_C_OK) {
        printf("\n");
        die("generating");
        goto done;
    }
    printf("\n%d tokens generated\n%s", n_out, ggml_c_session_plan_summary(s));
    rc = 0;
done:
    free(out);
    ggml_c_session_free(s);
    ggml_c_model_free(m);
    return rc;
}

int main(int argc, char** argv) {
    args a;
    int i;
    memset(&a, 0, sizeof a);
    a.backend = "cpu";
    a.n_predict = 32;
    a.top_p = 0.9f;
    a.seed = 42;
    a.alpha = 0.01f;
    for (i = 1; i < argc; ++i) {
        const char* f = argv[i];
        const char* val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf(
                "usage: ggml-c-demo [-t N] [--backend NAME] [--budget BYTES] [-m MODEL "
                "[-p TEXT | --tokens IDS] [-n N] [--temp T] [--top-p P] [--seed S] "
                "[--steer START:END] [--alpha A]]\n");
            return 0;
        }
        if (!val) {
            fprintf(stderr, "ggml-c-demo: %s needs a value (see --help)\n", f);
            return 2;
        }
        ++i;
        if (!strcmp(f, "-t"))
            a.threads = atoi(val);
        else if (!strcmp(f, "--backend"))
            a.backend = val;
        else if (!strcmp(f, "--budget"))
            a.budget = (size_t)strtoull(val, NULL, 10);
        else if (!strcmp(f, "-m"))
            a.model = val;
        else if (!strcmp(f, "-p"))
            a.prompt = val;
        else if (!strcmp(f, "--tokens"))
            a.tokens = val;
        else if (!strcmp(f, "-n"))
            a.n_predict = atoi(val);
        else if (!strcmp(f, "--temp"))
            a.temp = (float)atof(val);
        else if (!strcmp(f, "--top-p"))
            a.top_p = (float)atof(val);
        else if (!strcmp(f, "--seed"))
            a.seed = strtoull(val, NULL, 10);
        else if (!strcmp(f, "--alpha"))
            a.alpha = (float)atof(val);
        else if (!strcmp(f, "--steer")) {
            if (sscanf(val, "%d:%d", &a.steer_start, &a.steer_end) != 2) {
                fprintf(stderr, "ggml-c-demo: --steer wants START:END\n");
                return 2;
            }
        } else {
            fprintf(stderr, "ggml-c-demo: unknown flag %s (see --help)\n", f);
            return 2;
        }
    }
    printf("ggml %s; backends:", ggml_c_version());
    for (i = 0; i < ggml_c_backend_count(); ++i) printf(" %s", ggml_c_backend_name(i));
    printf("\n");
    if (attention_block(&a)) return 1;
    return a.model ? generate(&a) : 0;
}
