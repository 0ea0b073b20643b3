/* The C interface on a GGUF model with its own tokenizer: the bundled models/shakespeare.gguf
 * and the reference written next to it by the training script (tools/train):
 *
 *   test-c-gguf MODEL.gguf REF.json REF.bin
 *
 * Checks: tokenizing the reference prompt gives the reference ids and detokenizing gives the
 * text back; the last prompt position's logits match the PyTorch reference; greedy generation
 * reproduces the reference ids. Skipped (exit 77) when the files are absent.
 *
 * Tolerance for logits: the reference is float64-checked PyTorch; our f32 CPU path differs by
 * accumulation order only, ~1e-6 relative per dot product over a few layers, i.e. ~1e-4 on
 * logits of magnitude ~15. 2e-3 leaves margin; the smallest greedy top-1/top-2 gap in the
 * reference is 0.02, so greedy ids must match exactly. */
#include <ctype.h>
#include <stdint.h>

#include "test_common.h"

enum { MAX_IDS = 256 };

static char* slurp(const char* path, size_t* n) {
    FILE* f = fopen(path, "rb");
    char* buf;
    long len;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char*)malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[len] = 0;
    if (n) *n = (size_t)len;
    fclose(f);
    return buf;
}

/* "key": [1, 2, 3] -> ids; returns the count or -1. */
static int json_ints(const char* json, const char* key, int32_t* ids, int cap) {
    char pat[64];
    const char* p;
    int n = 0;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = strstr(json, pat);
    if (!p || !(p = strchr(p, '['))) return -1;
    ++p;
    while (*p && *p != ']' && n < cap) {
        char* end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            ++p;
            continue;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

/* "key": "text with \n escapes" -> out; returns 0 on success. */
static int json_str(const char* json, const char* key, char* out, size_t cap) {
    char pat[64];
    const char* p;
    size_t n = 0;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = strstr(json, pat);
    if (!p || !(p = strchr(p + strlen(pat), '"'))) return -1;
    for (++p; *p && *p != '"' && n + 1 < cap; ++p) {
        char c = *p;
        if (c == '\\') {
            ++p;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        }
        out[n++] = c;
    }
    out[n] = 0;
    return *p == '"' ? 0 : -1;
}

int main(int argc, char** argv) {
    char *json, text[1024], back[1024];
    float* ref = NULL;
    size_t ref_bytes = 0, len = 0;
    int32_t ids[MAX_IDS], want_ids[MAX_IDS], greedy[MAX_IDS], got[MAX_IDS], n_ids = 0, n_out = 0;
    int n_want, n_greedy, i;
    ggml_c_model* m = NULL;
    ggml_c_model_info info;
    ggml_c_session* s = NULL;
    ggml_c_session_params sp = ggml_c_session_default_params();
    ggml_c_generate_params gp = ggml_c_generate_default_params();

    if (argc < 4 || !(json = slurp(argv[2], NULL))) {
        printf("SKIP: usage test-c-gguf MODEL.gguf REF.json REF.bin (files absent)\n");
        return 77;
    }
    ref = (float*)slurp(argv[3], &ref_bytes);
    n_want = json_ints(json, "prompt_ids", want_ids, MAX_IDS);
    n_greedy = json_ints(json, "greedy_ids", greedy, MAX_IDS);
    REQUIRE(ref != NULL && n_want > 0 && n_greedy > 0);
    REQUIRE(json_str(json, "prompt_text", text, sizeof text) == 0);

    REQUIRE_OK(ggml_c_model_load(argv[1], &m));
    REQUIRE_OK(ggml_c_model_get_info(m, &info));
    printf("model: dim %d, %d layers, %d/%d heads, vocab %d, ctx %d, weights %zu bytes\n", info.dim,
           info.n_layers, info.n_heads, info.n_kv_heads, info.vocab, info.n_ctx, info.weight_bytes);
    CHECK(info.format == GGML_C_FORMAT_GGUF && info.has_tokenizer);
    REQUIRE(ref_bytes == (size_t)n_want * (size_t)info.vocab * sizeof(float));

    /* Tokenizer round trip; sizing call first. */
    CHECK_FAILS(ggml_c_tokenize(m, text, 1, ids, 0, &n_ids), GGML_C_BUFFER_TOO_SMALL, "tokens");
    CHECK(n_ids == n_want);
    REQUIRE_OK(ggml_c_tokenize(m, text, 1, ids, MAX_IDS, &n_ids));
    CHECK(n_ids == n_want && memcmp(ids, want_ids, (size_t)n_want * sizeof(int32_t)) == 0);
    CHECK_FAILS(ggml_c_detokenize(m, want_ids, n_want, back, 4, &len), GGML_C_BUFFER_TOO_SMALL,
                "bytes");
    REQUIRE_OK(ggml_c_detokenize(m, want_ids, n_want, back, sizeof back, &len));
    CHECK(strcmp(back, text) == 0 && len == strlen(text));

    /* Prompt logits against the reference's last row. */
    sp.n_threads = 2;
    REQUIRE_OK(ggml_c_session_new(m, &sp, &s));
    REQUIRE_OK(ggml_c_session_eval(s, want_ids, n_want));
    {
        const float* lg = ggml_c_session_logits(s, NULL);
        const float* row = ref + (size_t)(n_want - 1) * (size_t)info.vocab;
        double err = 0.0;
        for (i = 0; i < info.vocab; ++i) err = fmax(err, fabs((double)lg[i] - row[i]));
        printf("last-position logits: max |ours - reference| = %.2e\n", err);
        CHECK(err < 2e-3);
    }

    /* Greedy continuation (EOS not special, as in the reference). */
    ggml_c_session_reset(s);
    gp.n_predict = n_greedy;
    gp.stop_at_eos = 0;
    REQUIRE_OK(ggml_c_session_generate(s, want_ids, n_want, &gp, got, MAX_IDS, &n_out));
    CHECK(n_out == n_greedy && memcmp(got, greedy, (size_t)n_greedy * sizeof(int32_t)) == 0);
    {
        char gen[2048];
        REQUIRE_OK(ggml_c_detokenize(m, got, n_out, gen, sizeof gen, NULL));
        printf("greedy: %s\n", gen);
    }

    ggml_c_session_free(s);
    ggml_c_model_free(m);
    free(json);
    free(ref);
    return test_finish("test-c-gguf");
}
