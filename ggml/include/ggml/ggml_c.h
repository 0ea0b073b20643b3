/* ggml_c.h: the C interface of the library, for embedding it in C programs and other languages.
 *
 * Plain C99. Every object is an opaque handle; every function either returns a status code
 * (ggml_c_status) or, for op builders, a tensor handle that is NULL on failure. After a failure,
 * ggml_c_last_error() returns a message naming the operation and the offending values; it is
 * per thread, so concurrent callers never see each other's messages. No C++ exception crosses
 * this interface.
 *
 * Two halves:
 *   1. Graphs: a context owns tensor metadata, a backend, a plan and its executor. Build a graph
 *      with the op builders, plan it (optionally under a memory budget), set inputs, compute,
 *      read outputs. Shapes use ggml's order: ne[0] is the innermost (contiguous) dimension.
 *   2. Models: load a llama-family model (GGUF, or a llama2.c checkpoint), tokenize, create a
 *      session (KV cache + planned graphs) on a backend, evaluate tokens, read logits, generate
 *      with sampling and optional attention steering (PASTA).
 *
 * Thread safety (see docs/embedding.md): distinct handles may be used from distinct threads at
 * the same time; one handle must not be used by two threads at once. A model may be shared by
 * sessions running in parallel threads (it is read-only after loading).
 */
#ifndef GGML_C_H
#define GGML_C_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(GGML_C_SHARED)
#define GGML_C_API __declspec(dllimport)
#elif defined(__GNUC__)
#define GGML_C_API __attribute__((visibility("default")))
#else
#define GGML_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status, errors, version ------------------------------------------------------------ */

typedef enum ggml_c_status {
    GGML_C_OK = 0,
    GGML_C_INVALID_ARGUMENT = 1, /* null handle, bad shape/dtype/value (the message says which) */
    GGML_C_ERROR = 2,            /* the library refused: malformed file, kernel run-time error */
    GGML_C_IO_ERROR = 3,         /* a file cannot be opened or read */
    GGML_C_OUT_OF_MEMORY = 4,    /* an allocation failed */
    GGML_C_BUDGET_EXCEEDED = 5,  /* a plan needs more memory than the caller's budget */
    GGML_C_UNSUPPORTED = 6,      /* not available here (backend, tokenizer, feature) */
    GGML_C_BUFFER_TOO_SMALL = 7, /* an output array is too short; the needed size is returned */
    GGML_C_BAD_STATE = 8,        /* a call out of order (e.g. compute before plan) */
    GGML_C_INTERNAL = 99         /* an unexpected failure inside the library */
} ggml_c_status;

/* The message of the last failed call on this thread ("" when none since ggml_c_clear_error).
 * Successful calls leave it alone. The pointer is valid until the next failure on the same
 * thread. */
GGML_C_API const char* ggml_c_last_error(void);
/* The status of that failure (GGML_C_OK when none). */
GGML_C_API ggml_c_status ggml_c_last_status(void);
GGML_C_API void ggml_c_clear_error(void);
/* A constant name for a status ("GGML_C_OK", ...). */
GGML_C_API const char* ggml_c_status_string(ggml_c_status s);
/* "MAJOR.MINOR.PATCH" of the library. */
GGML_C_API const char* ggml_c_version(void);

/* Backends usable on this machine ("cpu" first). The names are static strings. */
GGML_C_API int ggml_c_backend_count(void);
GGML_C_API const char* ggml_c_backend_name(int i); /* NULL when i is out of range */

/* ---- graphs ------------------------------------------------------------------------------- */

typedef enum ggml_c_dtype {
    GGML_C_F32 = 0,
    GGML_C_F16 = 1, /* IEEE binary16, stored as uint16_t */
    GGML_C_BF16 = 2,
    GGML_C_I32 = 3,
    GGML_C_Q8_0 = 4, /* GGUF q8_0: blocks of 32 (f16 scale + 32 int8), ne0 a multiple of 32 */
    GGML_C_Q4_0 = 5  /* GGUF q4_0: blocks of 32 (f16 scale + 16 bytes of 4-bit codes) */
} ggml_c_dtype;

typedef struct ggml_c_context ggml_c_context; /* tensors, backend(s), plan, executor */
typedef struct ggml_c_tensor ggml_c_tensor;   /* owned by its context */

/* A context computing on `backend` ("cpu", "vulkan", "cuda"; NULL = "cpu") with n_threads CPU
 * threads (0 = all). A non-CPU backend gets the CPU behind it for ops it lacks. */
GGML_C_API ggml_c_status ggml_c_context_new(const char* backend, int n_threads,
                                            ggml_c_context** out);
GGML_C_API void ggml_c_context_free(ggml_c_context* ctx); /* NULL is fine */

/* A graph input of shape ne[0..n_dims) (1 <= n_dims <= 4), optional name. Inputs keep their
 * values across computes, so constant operands (weights) are inputs set once. NULL on error. */
GGML_C_API ggml_c_tensor* ggml_c_new_input(ggml_c_context* ctx, ggml_c_dtype type, int n_dims,
                                           const int64_t* ne, const char* name);

/* Tensor facts (valid for any tensor of a live context). */
GGML_C_API ggml_c_dtype ggml_c_tensor_dtype(const ggml_c_tensor* t);
/* Writes ne[0..4) (trailing dims are 1); returns the number of dims up to the last ne > 1. */
GGML_C_API int ggml_c_tensor_shape(const ggml_c_tensor* t, int64_t ne[4]);
GGML_C_API int64_t ggml_c_tensor_nelements(const ggml_c_tensor* t);
GGML_C_API size_t ggml_c_tensor_nbytes(const ggml_c_tensor* t); /* contiguous size */
GGML_C_API ggml_c_status ggml_c_tensor_set_name(ggml_c_tensor* t, const char* name);

/* Op builders. Each checks shapes and dtypes at once; on failure it returns NULL, sets the
 * thread's last error (naming the op and the shapes) and records the first failure in the
 * context, which ggml_c_graph_plan then reports. A NULL operand yields NULL without a new
 * message, so a chain of builders can be checked once at the end. */
/* views: no data movement */
GGML_C_API ggml_c_tensor* ggml_c_reshape(ggml_c_context* ctx, ggml_c_tensor* a, int n_dims,
                                         const int64_t* ne);
GGML_C_API ggml_c_tensor* ggml_c_permute(ggml_c_context* ctx, ggml_c_tensor* a, int ax0, int ax1,
                                         int ax2, int ax3);
GGML_C_API ggml_c_tensor* ggml_c_transpose(ggml_c_context* ctx, ggml_c_tensor* a);
/* copies */
GGML_C_API ggml_c_tensor* ggml_c_cont(ggml_c_context* ctx, ggml_c_tensor* a);
GGML_C_API ggml_c_tensor* ggml_c_cpy(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_dtype type);
/* a [ne0, rows, ...] f32/f16/bf16, ids i32 [n, ...] -> f32 [ne0, n, ...] */
GGML_C_API ggml_c_tensor* ggml_c_get_rows(ggml_c_context* ctx, ggml_c_tensor* a,
                                          ggml_c_tensor* ids);
/* element-wise f32; b broadcasts over a (a.ne[i] % b.ne[i] == 0) */
GGML_C_API ggml_c_tensor* ggml_c_add(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b);
GGML_C_API ggml_c_tensor* ggml_c_sub(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b);
GGML_C_API ggml_c_tensor* ggml_c_mul(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b);
GGML_C_API ggml_c_tensor* ggml_c_div(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b);
GGML_C_API ggml_c_tensor* ggml_c_scale(ggml_c_context* ctx, ggml_c_tensor* a, float s,
                                       float bias); /* a * s + bias */
GGML_C_API ggml_c_tensor* ggml_c_sqr(ggml_c_context* ctx, ggml_c_tensor* a);
GGML_C_API ggml_c_tensor* ggml_c_tanh(ggml_c_context* ctx, ggml_c_tensor* a);
GGML_C_API ggml_c_tensor* ggml_c_silu(ggml_c_context* ctx, ggml_c_tensor* a);
GGML_C_API ggml_c_tensor* ggml_c_gelu(ggml_c_context* ctx, ggml_c_tensor* a);
GGML_C_API ggml_c_tensor* ggml_c_swiglu(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b);
/* row reductions over ne[0] */
GGML_C_API ggml_c_tensor* ggml_c_rms_norm(ggml_c_context* ctx, ggml_c_tensor* a, float eps);
GGML_C_API ggml_c_tensor* ggml_c_layer_norm(ggml_c_context* ctx, ggml_c_tensor* a, float eps);
GGML_C_API ggml_c_tensor* ggml_c_sum_rows(ggml_c_context* ctx, ggml_c_tensor* a);
GGML_C_API ggml_c_tensor* ggml_c_argmax(ggml_c_context* ctx, ggml_c_tensor* a); /* -> i32 */
/* a [K, M, A2, A3], b f32 [K, N, B2, B3] -> f32 [M, N, B2, B3]: r[m, n] = sum_k a[k,m] b[k,n] */
GGML_C_API ggml_c_tensor* ggml_c_mul_mat(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b);
/* rotary embedding: a f32 [D, heads, tokens, B], pos i32 [tokens]; neox: 0 = interleaved
 * pairs (llama2.c), 1 = halves (GPT-NeoX) */
GGML_C_API ggml_c_tensor* ggml_c_rope(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* pos,
                                      int n_dims, int neox, float freq_base);
/* softmax over ne[0] of scale * a + mask (mask may be NULL); causal != 0 hides key j from
 * query row i when j > i + causal_offset */
GGML_C_API ggml_c_tensor* ggml_c_soft_max(ggml_c_context* ctx, ggml_c_tensor* a,
                                          ggml_c_tensor* mask, float scale, int causal,
                                          int32_t causal_offset);

typedef struct ggml_c_flash_attn_params {
    float scale;             /* multiplies q.k (typically 1/sqrt(D)) */
    float softcap;           /* > 0: s = softcap * tanh(s / softcap) */
    int32_t causal;          /* != 0: causal masking */
    int32_t causal_offset;   /* absolute position of query row 0 */
    uint64_t steer_heads[4]; /* bit h: query head h receives steer_bias */
} ggml_c_flash_attn_params;

/* q f32 [D, n_q, H_q, B]; k [D, n_kv, H_kv, B], v [Dv, n_kv, H_kv, B] (f32/f16/bf16);
 * H_q % H_kv == 0 (GQA). mask f32 [n_kv, n_q, 1|H_q, 1|B] or NULL; steer_bias f32
 * [n_kv, 1, 1, 1|B] or NULL. Result f32 [Dv, H_q, n_q, B]. */
GGML_C_API ggml_c_tensor* ggml_c_flash_attn(ggml_c_context* ctx, ggml_c_tensor* q, ggml_c_tensor* k,
                                            ggml_c_tensor* v, ggml_c_tensor* mask,
                                            const ggml_c_flash_attn_params* p,
                                            ggml_c_tensor* steer_bias);

/* Plans the graph computing `outputs` (the memory of every intermediate, one arena per
 * backend). memory_budget > 0: fails with GGML_C_BUDGET_EXCEEDED when the arenas need more.
 * Planning again (e.g. after adding nodes) replaces the previous plan and its memory. */
GGML_C_API ggml_c_status ggml_c_graph_plan(ggml_c_context* ctx, ggml_c_tensor* const* outputs,
                                           int n_outputs, size_t memory_budget);
/* Peak bytes of the current plan (sum of the arenas); 0 before planning. */
GGML_C_API size_t ggml_c_plan_peak_bytes(const ggml_c_context* ctx);
/* A few lines describing the plan (nodes, segments, arenas, peak); owned by the context. */
GGML_C_API const char* ggml_c_plan_summary(ggml_c_context* ctx);
/* Tensor data, after planning: nbytes must equal ggml_c_tensor_nbytes(t). */
GGML_C_API ggml_c_status ggml_c_tensor_set(ggml_c_context* ctx, ggml_c_tensor* t, const void* data,
                                           size_t nbytes);
GGML_C_API ggml_c_status ggml_c_tensor_get(ggml_c_context* ctx, const ggml_c_tensor* t, void* data,
                                           size_t nbytes);
/* Runs the plan once (any number of times; inputs keep their values). */
GGML_C_API ggml_c_status ggml_c_graph_compute(ggml_c_context* ctx);

/* ---- models ------------------------------------------------------------------------------- */

typedef struct ggml_c_model ggml_c_model;     /* weights + tokenizer; read-only once loaded */
typedef struct ggml_c_session ggml_c_session; /* KV cache, plans, logits */

typedef enum ggml_c_model_format {
    GGML_C_FORMAT_GGUF = 0,
    GGML_C_FORMAT_LLAMA2C = 1
} ggml_c_model_format;

typedef struct ggml_c_model_info {
    int32_t dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab, n_ctx;
    ggml_c_model_format format;
    int has_tokenizer; /* tokenize/detokenize work */
    int32_t bos, eos;  /* -1 when unknown */
    size_t weight_bytes;
} ggml_c_model_info;

/* Loads a GGUF file (memory-mapped, weights used in place) or a llama2.c checkpoint. A missing
 * file gives GGML_C_IO_ERROR; a malformed one GGML_C_ERROR with the offending field. */
GGML_C_API ggml_c_status ggml_c_model_load(const char* path, ggml_c_model** out);
GGML_C_API void ggml_c_model_free(ggml_c_model* m); /* after every session of it is freed */
GGML_C_API ggml_c_status ggml_c_model_get_info(const ggml_c_model* m, ggml_c_model_info* out);
/* Bytes of all weights (what the model adds to memory, mapped or owned). */
GGML_C_API size_t ggml_c_model_weight_bytes(const ggml_c_model* m);
/* Copies the model's q4_0 matrices (those only multiplied, with a multiple of 8 rows) into the
 * CPU backend's q4_0x8 layout, eight rows interleaved: CPU decoding of q4_0 models gets about
 * 1.4-2x faster, results agree to float rounding. Call once, before any session of the model
 * exists (else GGML_C_UNSUPPORTED); afterwards the model serves CPU sessions only (a device
 * session gives GGML_C_UNSUPPORTED). *n_repacked (may be NULL) receives how many matrices were
 * converted: 0 for a model without q4_0 matrices, or when called again. */
GGML_C_API ggml_c_status ggml_c_model_repack_for_cpu(ggml_c_model* m, int32_t* n_repacked);

/* Text -> ids. *n_tokens receives the count; GGML_C_BUFFER_TOO_SMALL when it exceeds capacity
 * (call with capacity 0 to size). GGML_C_UNSUPPORTED when the model has no tokenizer. */
GGML_C_API ggml_c_status ggml_c_tokenize(const ggml_c_model* m, const char* text, int add_bos,
                                         int32_t* tokens, int32_t capacity, int32_t* n_tokens);
/* Ids -> text (NUL-terminated). *len receives the text length without the NUL;
 * GGML_C_BUFFER_TOO_SMALL when cap < *len + 1. prev = -1 in ggml_c_token_piece at the start. */
GGML_C_API ggml_c_status ggml_c_detokenize(const ggml_c_model* m, const int32_t* tokens, int32_t n,
                                           char* buf, size_t cap, size_t* len);
GGML_C_API ggml_c_status ggml_c_token_piece(const ggml_c_model* m, int32_t prev, int32_t id,
                                            char* buf, size_t cap, size_t* len);

typedef struct ggml_c_session_params {
    const char* backend; /* NULL = "cpu" */
    int n_threads;       /* CPU threads, 0 = all */
    int32_t n_ctx;       /* KV capacity in tokens, 0 = the model's context length */
    int kv_f16;          /* != 0: f16 KV cache */
} ggml_c_session_params;

GGML_C_API ggml_c_session_params ggml_c_session_default_params(void);
GGML_C_API ggml_c_status ggml_c_session_new(ggml_c_model* m, const ggml_c_session_params* p,
                                            ggml_c_session** out);
GGML_C_API void ggml_c_session_free(ggml_c_session* s);
GGML_C_API int32_t ggml_c_session_n_past(const ggml_c_session* s);
GGML_C_API int32_t ggml_c_session_n_ctx(const ggml_c_session* s);
GGML_C_API void ggml_c_session_reset(ggml_c_session* s); /* forget the cached tokens */
/* Bytes of the KV cache (2 x layers x kv_dim x n_ctx x element size). */
GGML_C_API size_t ggml_c_session_kv_bytes(const ggml_c_session* s);
/* The plans built so far (one line each); owned by the session. */
GGML_C_API const char* ggml_c_session_plan_summary(ggml_c_session* s);

/* Appends tokens at positions [n_past, n_past + n) and computes the last token's logits. */
GGML_C_API ggml_c_status ggml_c_session_eval(ggml_c_session* s, const int32_t* tokens, int32_t n);
/* The last eval's logits [vocab]; valid until the next eval/generate. NULL before any. */
GGML_C_API const float* ggml_c_session_logits(const ggml_c_session* s, int32_t* n_vocab);

typedef struct ggml_c_sampling {
    float temp;    /* 0 = greedy (first maximum) */
    float top_p;   /* nucleus mass in (0, 1]; 1 = no cut */
    uint64_t seed; /* sampling RNG seed */
} ggml_c_sampling;

/* PASTA attention steering (Zhang et al. 2023): on the selected heads, every key position
 * before `end` that lies outside all spans gets its attention multiplied by alpha (and rows are
 * renormalised); keys inside the spans and at or after `end` are unchanged. */
typedef struct ggml_c_steering {
    const int32_t* spans; /* n_spans pairs [start, end) of absolute token positions */
    int32_t n_spans;
    float alpha;          /* in (0, 1]; 0 means the default 0.01 */
    const int32_t* heads; /* n_heads pairs (layer, head); NULL/0 = every head of every layer */
    int32_t n_heads;
    int32_t end; /* steered key range [0, end); <= 0 = up to the last span's end */
} ggml_c_steering;

/* Applies `st` to every following eval (NULL turns steering off). */
GGML_C_API ggml_c_status ggml_c_session_set_steering(ggml_c_session* s, const ggml_c_steering* st);

/* Called with each generated token; return non-zero to stop. */
typedef int (*ggml_c_token_callback)(int32_t token, void* user_data);

typedef struct ggml_c_generate_params {
    int32_t n_predict; /* tokens to generate */
    ggml_c_sampling sampling;
    int stop_at_eos;                 /* != 0: stop after the model's EOS token */
    const ggml_c_steering* steering; /* NULL: keep the session's current steering */
    ggml_c_token_callback on_token;  /* may be NULL */
    void* user_data;
} ggml_c_generate_params;

GGML_C_API ggml_c_generate_params ggml_c_generate_default_params(void);

/* Evaluates the prompt (n_prompt may be 0 to continue from the last eval) and samples up to
 * n_predict tokens into out[0..capacity); *n_out receives how many were generated. Stops early
 * at EOS (when asked), when the callback says so, or at the context's end. The last generated
 * token is not evaluated: pass it as the next call's prompt to continue the text. A NULL
 * steering keeps whatever ggml_c_session_set_steering set. */
GGML_C_API ggml_c_status ggml_c_session_generate(ggml_c_session* s, const int32_t* prompt,
                                                 int32_t n_prompt, const ggml_c_generate_params* p,
                                                 int32_t* out, int32_t capacity, int32_t* n_out);

#ifdef __cplusplus
}
#endif

#endif /* GGML_C_H */
