// The C interface (ggml/include/ggml/ggml_c.h) over the C++ library.
//
// It lives with the backend registry because contexts and sessions create backends by name.
// Every entry point runs its body inside guarded(): exceptions become a status code plus a
// thread-local message, so nothing thrown by the library (ggml::Error, std::bad_alloc, anything
// else) unwinds into C frames, where it would be undefined behaviour.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "ggml/ggml.h"
#include "ggml/ggml_c.h"
#include "ggml/llama.h"
#include "ggml/tokenizer.h"

#ifndef GGML_VERSION_STRING
#define GGML_VERSION_STRING "0.0.0"
#endif

namespace {

using ggml::Error;
using ggml::Tensor;

// ---- errors ----------------------------------------------------------------------------------

thread_local std::string tl_error;
thread_local ggml_c_status tl_status = GGML_C_OK;

// A failure with a chosen status (the library's own errors are ggml::Error).
struct CError {
    ggml_c_status status;
    std::string msg;
};

[[noreturn]] void fail(ggml_c_status s, std::string msg) {
    throw CError{s, std::move(msg)};
}

ggml_c_status set_error(ggml_c_status s, const std::string& msg) {
    tl_status = s;
    tl_error = msg;
    return s;
}

bool contains(const std::string& s, const char* part) {
    return s.find(part) != std::string::npos;
}

// Maps a library error to a status: budget and allocation failures get their own codes so a
// caller can react (plan smaller, free something) without parsing the text.
ggml_c_status classify(const std::string& msg) {
    if (contains(msg, "memory budget")) return GGML_C_BUDGET_EXCEEDED;
    if (contains(msg, "cannot allocate") || contains(msg, "out of memory"))
        return GGML_C_OUT_OF_MEMORY;
    return GGML_C_ERROR;
}

template <class F>
ggml_c_status guarded(const char* fn, F&& body) {
    try {
        body();
        return GGML_C_OK;
    } catch (const CError& e) {
        return set_error(e.status, std::string(fn) + ": " + e.msg);
    } catch (const Error& e) {
        const std::string m = e.what();
        return set_error(classify(m), std::string(fn) + ": " + m);
    } catch (const std::bad_alloc&) {
        return set_error(GGML_C_OUT_OF_MEMORY, std::string(fn) + ": out of memory");
    } catch (const std::exception& e) {
        return set_error(GGML_C_INTERNAL, std::string(fn) + ": " + e.what());
    } catch (...) {
        return set_error(GGML_C_INTERNAL, std::string(fn) + ": unknown exception");
    }
}

void need(const void* p, const char* what) {
    if (!p) fail(GGML_C_INVALID_ARGUMENT, std::string(what) + " is NULL");
}

ggml::DType to_dtype(const ggml_c_dtype& t) {
    // A C caller may pass any int; loading it as the C++ enum type would be undefined for
    // values outside the enumerators (UBSan flags it), so the bytes are read as an int and
    // the parameter is taken by reference, which loads nothing.
    int v = 0;
    static_assert(sizeof t == sizeof v, "ggml_c_dtype is int-sized");
    std::memcpy(&v, &t, sizeof v);
    if (v < 0 || v > (int)ggml::DType::Q4_0)  // the C API has no q4_0x8
        fail(GGML_C_INVALID_ARGUMENT, "unknown dtype " + std::to_string(v));
    return (ggml::DType)v;
}

const std::vector<std::string>& backend_names() {
    // Probed once (thread-safe static initialisation); devices do not come and go mid-run.
    static const std::vector<std::string> names = [] {
        try {
            return ggml::available_backends();
        } catch (...) {
            return std::vector<std::string>{"cpu"};
        }
    }();
    return names;
}

Tensor* T(ggml_c_tensor* t) {
    return reinterpret_cast<Tensor*>(t);
}
const Tensor* T(const ggml_c_tensor* t) {
    return reinterpret_cast<const Tensor*>(t);
}
ggml_c_tensor* H(Tensor* t) {
    return reinterpret_cast<ggml_c_tensor*>(t);
}

// The backends a context or session computes on: the requested one, then the CPU for any op
// it lacks. Unknown or unusable names are GGML_C_UNSUPPORTED with the machine's reasons.
std::vector<std::unique_ptr<ggml::Backend>> make_backends(const char* name, int n_threads,
                                                          bool with_cpu) {
    const std::string n = name && *name ? name : "cpu";
    if (n_threads < 0) fail(GGML_C_INVALID_ARGUMENT, "n_threads = " + std::to_string(n_threads));
    const std::vector<std::string>& avail = backend_names();
    if (std::find(avail.begin(), avail.end(), n) == avail.end()) {
        std::string msg = "backend '" + n + "' is not available (available:";
        for (const auto& a : avail) msg += " " + a;
        msg += ")";
        for (const auto& u : ggml::unavailable_backends()) msg += "; " + u;
        fail(GGML_C_UNSUPPORTED, msg);
    }
    ggml::BackendOptions bo;
    bo.n_threads = n_threads;
    std::vector<std::unique_ptr<ggml::Backend>> out;
    out.push_back(ggml::make_backend(n, bo));
    if (with_cpu && n != "cpu") out.push_back(ggml::make_backend("cpu", bo));
    return out;
}

// Copies `s` into a caller buffer with the BUFFER_TOO_SMALL convention.
void copy_out(const std::string& s, char* buf, size_t cap, size_t* len) {
    if (len) *len = s.size();
    if (cap < s.size() + 1)
        fail(GGML_C_BUFFER_TOO_SMALL, "the text needs " + std::to_string(s.size() + 1) +
                                          " bytes, the buffer has " + std::to_string(cap));
    need(buf, "buf");
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = 0;
}

}  // namespace

// ---- handles ---------------------------------------------------------------------------------

struct ggml_c_context {
    std::vector<std::unique_ptr<ggml::Backend>> owned;
    std::vector<ggml::Backend*> backends;
    ggml::Context ctx;
    std::unique_ptr<ggml::Executor> exec;
    std::string summary;
    // The first failed builder: plans refuse a graph with a hole in it.
    ggml_c_status first_status = GGML_C_OK;
    std::string first_error;
};

struct ggml_c_model {
    std::unique_ptr<ggml::llama::Model> model;
    std::unique_ptr<ggml::Tokenizer> tok;
    size_t weight_bytes = 0;
    // Weights uploaded to a non-host backend live in that backend's buffers, so the backend is
    // owned here and shared by every session on it; mu serialises those sessions.
    std::mutex mu;
    std::unique_ptr<ggml::Backend> device;
    std::string device_name;
    int sessions = 0;       // live sessions (under mu)
    bool repacked = false;  // ggml_c_model_repack_for_cpu converted some matrices
};

struct ggml_c_session {
    ggml_c_model* m = nullptr;
    std::vector<std::unique_ptr<ggml::Backend>> owned;
    std::vector<ggml::Backend*> backends;
    bool on_device = false;
    std::unique_ptr<ggml::llama::Session> s;
    const std::vector<float>* logits = nullptr;
    std::string summary;
    size_t kv_bytes = 0;
};

namespace {

// Builds one op: null context and first-time NULL operands are reported; a NULL operand after
// an earlier failure in the same context propagates silently (the first message stands).
template <class F>
ggml_c_tensor* build(ggml_c_context* ctx, const char* fn,
                     std::initializer_list<const ggml_c_tensor*> operands, F&& f) {
    if (!ctx) {
        set_error(GGML_C_INVALID_ARGUMENT, std::string(fn) + ": context is NULL");
        return nullptr;
    }
    for (const ggml_c_tensor* t : operands) {
        if (t) continue;
        if (ctx->first_status == GGML_C_OK) {
            ctx->first_status =
                set_error(GGML_C_INVALID_ARGUMENT, std::string(fn) + ": an operand is NULL");
            ctx->first_error = tl_error;
        }
        return nullptr;
    }
    Tensor* out = nullptr;
    const ggml_c_status st = guarded(fn, [&] { out = f(); });
    if (st != GGML_C_OK) {
        if (st == GGML_C_ERROR) tl_status = GGML_C_INVALID_ARGUMENT;  // builders check shapes
        if (ctx->first_status == GGML_C_OK) {
            ctx->first_status = tl_status;
            ctx->first_error = tl_error;
        }
        return nullptr;
    }
    return H(out);
}

std::vector<int64_t> shape_arg(int n_dims, const int64_t* ne) {
    if (n_dims < 1 || n_dims > ggml::kMaxDims)
        fail(GGML_C_INVALID_ARGUMENT, "n_dims = " + std::to_string(n_dims) + " is not in [1, 4]");
    need(ne, "ne");
    std::vector<int64_t> v(ne, ne + n_dims);
    // Keeps every byte count far from overflow (2^40 elements per dim, 2^56 in all).
    double total = 1;
    for (int i = 0; i < n_dims; ++i) {
        if (v[(size_t)i] < 1 || v[(size_t)i] > (int64_t(1) << 40))
            fail(GGML_C_INVALID_ARGUMENT, "ne[" + std::to_string(i) +
                                              "] = " + std::to_string(v[(size_t)i]) +
                                              " is not in [1, 2^40]");
        total *= (double)v[(size_t)i];
    }
    if (total > std::ldexp(1.0, 56))
        fail(GGML_C_INVALID_ARGUMENT, "the tensor has more than 2^56 elements");
    return v;
}

}  // namespace

extern "C" {

// ---- status ----------------------------------------------------------------------------------

const char* ggml_c_last_error(void) {
    return tl_error.c_str();
}
ggml_c_status ggml_c_last_status(void) {
    return tl_status;
}
void ggml_c_clear_error(void) {
    tl_error.clear();
    tl_status = GGML_C_OK;
}

const char* ggml_c_status_string(ggml_c_status s) {
    switch (s) {
        case GGML_C_OK:
            return "GGML_C_OK";
        case GGML_C_INVALID_ARGUMENT:
            return "GGML_C_INVALID_ARGUMENT";
        case GGML_C_ERROR:
            return "GGML_C_ERROR";
        case GGML_C_IO_ERROR:
            return "GGML_C_IO_ERROR";
        case GGML_C_OUT_OF_MEMORY:
            return "GGML_C_OUT_OF_MEMORY";
        case GGML_C_BUDGET_EXCEEDED:
            return "GGML_C_BUDGET_EXCEEDED";
        case GGML_C_UNSUPPORTED:
            return "GGML_C_UNSUPPORTED";
        case GGML_C_BUFFER_TOO_SMALL:
            return "GGML_C_BUFFER_TOO_SMALL";
        case GGML_C_BAD_STATE:
            return "GGML_C_BAD_STATE";
        case GGML_C_INTERNAL:
            return "GGML_C_INTERNAL";
    }
    return "GGML_C_UNKNOWN_STATUS";
}

const char* ggml_c_version(void) {
    return GGML_VERSION_STRING;
}

int ggml_c_backend_count(void) {
    int n = 0;
    guarded("ggml_c_backend_count", [&] { n = (int)backend_names().size(); });
    return n;
}

const char* ggml_c_backend_name(int i) {
    const char* r = nullptr;
    guarded("ggml_c_backend_name", [&] {
        const auto& v = backend_names();
        if (i >= 0 && (size_t)i < v.size()) r = v[(size_t)i].c_str();
    });
    return r;
}

// ---- contexts --------------------------------------------------------------------------------

ggml_c_status ggml_c_context_new(const char* backend, int n_threads, ggml_c_context** out) {
    return guarded("ggml_c_context_new", [&] {
        need(out, "out");
        *out = nullptr;
        auto c = std::make_unique<ggml_c_context>();
        c->owned = make_backends(backend, n_threads, true);
        for (auto& b : c->owned) c->backends.push_back(b.get());
        *out = c.release();
    });
}

void ggml_c_context_free(ggml_c_context* ctx) {
    guarded("ggml_c_context_free", [&] { delete ctx; });
}

ggml_c_tensor* ggml_c_new_input(ggml_c_context* ctx, ggml_c_dtype type, int n_dims,
                                const int64_t* ne, const char* name) {
    return build(ctx, "ggml_c_new_input", {}, [&] {
        const std::vector<int64_t> v = shape_arg(n_dims, ne);
        Tensor* t = ctx->ctx.new_tensor(to_dtype(type), n_dims, v.data());
        t->flags |= ggml::kFlagInput;
        if (name) t->set_name(name);
        return t;
    });
}

ggml_c_dtype ggml_c_tensor_dtype(const ggml_c_tensor* t) {
    return t ? (ggml_c_dtype)(int)T(t)->type : GGML_C_F32;
}

int ggml_c_tensor_shape(const ggml_c_tensor* t, int64_t ne[4]) {
    if (!t || !ne) return 0;
    for (int i = 0; i < 4; ++i) ne[i] = T(t)->ne[i];
    return T(t)->n_dims();
}

int64_t ggml_c_tensor_nelements(const ggml_c_tensor* t) {
    return t ? T(t)->nelements() : 0;
}

size_t ggml_c_tensor_nbytes(const ggml_c_tensor* t) {
    return t ? ggml::row_bytes(T(t)->type, T(t)->ne[0]) * (size_t)(T(t)->nelements() / T(t)->ne[0])
             : 0;
}

ggml_c_status ggml_c_tensor_set_name(ggml_c_tensor* t, const char* name) {
    return guarded("ggml_c_tensor_set_name", [&] {
        need(t, "tensor");
        need(name, "name");
        T(t)->set_name(name);
    });
}

// ---- op builders -----------------------------------------------------------------------------

ggml_c_tensor* ggml_c_reshape(ggml_c_context* ctx, ggml_c_tensor* a, int n_dims,
                              const int64_t* ne) {
    return build(ctx, "ggml_c_reshape", {a}, [&] {
        const std::vector<int64_t> v = shape_arg(n_dims, ne);
        const int64_t d[4] = {v[0], n_dims > 1 ? v[1] : 1, n_dims > 2 ? v[2] : 1,
                              n_dims > 3 ? v[3] : 1};
        return ggml::reshape(ctx->ctx, T(a), {d[0], d[1], d[2], d[3]});
    });
}

ggml_c_tensor* ggml_c_permute(ggml_c_context* ctx, ggml_c_tensor* a, int ax0, int ax1, int ax2,
                              int ax3) {
    return build(ctx, "ggml_c_permute", {a},
                 [&] { return ggml::permute(ctx->ctx, T(a), ax0, ax1, ax2, ax3); });
}

ggml_c_tensor* ggml_c_transpose(ggml_c_context* ctx, ggml_c_tensor* a) {
    return build(ctx, "ggml_c_transpose", {a}, [&] { return ggml::transpose(ctx->ctx, T(a)); });
}

ggml_c_tensor* ggml_c_cont(ggml_c_context* ctx, ggml_c_tensor* a) {
    return build(ctx, "ggml_c_cont", {a}, [&] { return ggml::cont(ctx->ctx, T(a)); });
}

ggml_c_tensor* ggml_c_cpy(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_dtype type) {
    return build(ctx, "ggml_c_cpy", {a}, [&] { return ggml::cpy(ctx->ctx, T(a), to_dtype(type)); });
}

ggml_c_tensor* ggml_c_get_rows(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* ids) {
    return build(ctx, "ggml_c_get_rows", {a, ids},
                 [&] { return ggml::get_rows(ctx->ctx, T(a), T(ids)); });
}

#define GGML_C_BINARY(fn, op)                                                           \
    ggml_c_tensor* fn(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* b) {        \
        return build(ctx, #fn, {a, b}, [&] { return ggml::op(ctx->ctx, T(a), T(b)); }); \
    }
GGML_C_BINARY(ggml_c_add, add)
GGML_C_BINARY(ggml_c_sub, sub)
GGML_C_BINARY(ggml_c_mul, mul)
GGML_C_BINARY(ggml_c_div, div)
GGML_C_BINARY(ggml_c_swiglu, swiglu)
GGML_C_BINARY(ggml_c_mul_mat, mul_mat)
#undef GGML_C_BINARY

#define GGML_C_UNARY(fn, op)                                                   \
    ggml_c_tensor* fn(ggml_c_context* ctx, ggml_c_tensor* a) {                 \
        return build(ctx, #fn, {a}, [&] { return ggml::op(ctx->ctx, T(a)); }); \
    }
GGML_C_UNARY(ggml_c_sqr, sqr)
GGML_C_UNARY(ggml_c_tanh, tanh)
GGML_C_UNARY(ggml_c_silu, silu)
GGML_C_UNARY(ggml_c_gelu, gelu)
GGML_C_UNARY(ggml_c_sum_rows, sum_rows)
GGML_C_UNARY(ggml_c_argmax, argmax)
#undef GGML_C_UNARY

ggml_c_tensor* ggml_c_scale(ggml_c_context* ctx, ggml_c_tensor* a, float s, float bias) {
    return build(ctx, "ggml_c_scale", {a}, [&] { return ggml::scale(ctx->ctx, T(a), s, bias); });
}

ggml_c_tensor* ggml_c_rms_norm(ggml_c_context* ctx, ggml_c_tensor* a, float eps) {
    return build(ctx, "ggml_c_rms_norm", {a}, [&] { return ggml::rms_norm(ctx->ctx, T(a), eps); });
}

ggml_c_tensor* ggml_c_layer_norm(ggml_c_context* ctx, ggml_c_tensor* a, float eps) {
    return build(ctx, "ggml_c_layer_norm", {a},
                 [&] { return ggml::layer_norm(ctx->ctx, T(a), eps); });
}

ggml_c_tensor* ggml_c_rope(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* pos, int n_dims,
                           int neox, float freq_base) {
    return build(ctx, "ggml_c_rope", {a, pos}, [&] {
        ggml::RopeParams p;
        p.n_dims = n_dims;
        p.mode = neox ? ggml::RopeMode::Neox : ggml::RopeMode::Interleaved;
        p.freq_base = freq_base;
        return ggml::rope(ctx->ctx, T(a), T(pos), p);
    });
}

ggml_c_tensor* ggml_c_soft_max(ggml_c_context* ctx, ggml_c_tensor* a, ggml_c_tensor* mask,
                               float scale, int causal, int32_t causal_offset) {
    return build(ctx, "ggml_c_soft_max", {a}, [&] {
        ggml::SoftMaxParams p;
        p.scale = scale;
        p.causal = causal ? 1 : 0;
        p.causal_offset = causal_offset;
        return ggml::soft_max(ctx->ctx, T(a), mask ? T(mask) : nullptr, p);
    });
}

ggml_c_tensor* ggml_c_flash_attn(ggml_c_context* ctx, ggml_c_tensor* q, ggml_c_tensor* k,
                                 ggml_c_tensor* v, ggml_c_tensor* mask,
                                 const ggml_c_flash_attn_params* p, ggml_c_tensor* steer_bias) {
    return build(ctx, "ggml_c_flash_attn", {q, k, v}, [&] {
        need(p, "params");
        ggml::FlashAttnParams fp;
        fp.scale = p->scale;
        fp.softcap = p->softcap;
        fp.causal = p->causal ? 1 : 0;
        fp.causal_offset = p->causal_offset;
        for (int i = 0; i < 4; ++i) fp.steer.heads[i] = p->steer_heads[i];
        return ggml::flash_attn(ctx->ctx, T(q), T(k), T(v), mask ? T(mask) : nullptr, fp,
                                steer_bias ? T(steer_bias) : nullptr);
    });
}

// ---- plan and run ----------------------------------------------------------------------------

ggml_c_status ggml_c_graph_plan(ggml_c_context* ctx, ggml_c_tensor* const* outputs, int n_outputs,
                                size_t memory_budget) {
    return guarded("ggml_c_graph_plan", [&] {
        need(ctx, "context");
        if (ctx->first_status != GGML_C_OK)
            fail(ctx->first_status, "the graph has a failed op (" + ctx->first_error + ")");
        if (n_outputs < 1) fail(GGML_C_INVALID_ARGUMENT, "n_outputs must be at least 1");
        need(outputs, "outputs");
        ggml::Graph g;
        for (int i = 0; i < n_outputs; ++i) {
            if (!outputs[i])
                fail(GGML_C_INVALID_ARGUMENT, "outputs[" + std::to_string(i) + "] is NULL");
            g.build(T(outputs[i]));
        }
        // The old executor's arenas go first, so the new plan is not charged for both.
        ctx->exec.reset();
        ctx->summary.clear();
        ggml::PlanOptions opt;
        opt.memory_budget = memory_budget;
        ggml::Plan plan = ggml::make_plan(ctx->ctx, g, ctx->backends, opt);
        ctx->exec = std::make_unique<ggml::Executor>(std::move(plan), ctx->backends);
    });
}

size_t ggml_c_plan_peak_bytes(const ggml_c_context* ctx) {
    size_t r = 0;
    guarded("ggml_c_plan_peak_bytes", [&] {
        if (ctx && ctx->exec) r = ctx->exec->plan().peak_bytes();
    });
    return r;
}

const char* ggml_c_plan_summary(ggml_c_context* ctx) {
    const char* r = "";
    guarded("ggml_c_plan_summary", [&] {
        if (!ctx) return;
        if (!ctx->exec) {
            r = "(not planned)";
            return;
        }
        ctx->summary = ctx->exec->plan().summary();
        r = ctx->summary.c_str();
    });
    return r;
}

namespace {
// Checks that `t` is an input or output of the current plan, with memory of `nbytes`.
void check_io(const ggml_c_context* ctx, const Tensor* t, size_t nbytes, bool writing) {
    need(ctx, "context");
    need(t, "tensor");
    if (!ctx->exec) fail(GGML_C_BAD_STATE, "no plan yet: call ggml_c_graph_plan first");
    const std::string what = std::string("tensor '") + t->name + "' " + t->shape_str();
    if (!ctx->exec->plan().find(t) || !t->data)
        fail(GGML_C_INVALID_ARGUMENT, what + " is not part of the planned graph");
    const uint32_t ok_flags = writing ? ggml::kFlagInput : (ggml::kFlagInput | ggml::kFlagOutput);
    if (!(t->flags & ok_flags))
        fail(GGML_C_INVALID_ARGUMENT,
             what + (writing ? " is not an input"
                             : " is an intermediate whose memory the plan reuses; pass it to "
                               "ggml_c_graph_plan as an output to read it"));
    if (!t->is_contiguous())
        fail(GGML_C_INVALID_ARGUMENT, what + " is not contiguous; read it through ggml_c_cont");
    const size_t want = ggml::row_bytes(t->type, t->ne[0]) * (size_t)(t->nelements() / t->ne[0]);
    if (nbytes != want)
        fail(GGML_C_INVALID_ARGUMENT,
             what + " holds " + std::to_string(want) + " bytes, got " + std::to_string(nbytes));
}
}  // namespace

ggml_c_status ggml_c_tensor_set(ggml_c_context* ctx, ggml_c_tensor* t, const void* data,
                                size_t nbytes) {
    return guarded("ggml_c_tensor_set", [&] {
        check_io(ctx, T(t), nbytes, true);
        need(data, "data");
        ggml::tensor_set(T(t), data, 0, nbytes);
    });
}

ggml_c_status ggml_c_tensor_get(ggml_c_context* ctx, const ggml_c_tensor* t, void* data,
                                size_t nbytes) {
    return guarded("ggml_c_tensor_get", [&] {
        check_io(ctx, T(t), nbytes, false);
        need(data, "data");
        ggml::tensor_get(T(t), data, 0, nbytes);
    });
}

ggml_c_status ggml_c_graph_compute(ggml_c_context* ctx) {
    return guarded("ggml_c_graph_compute", [&] {
        need(ctx, "context");
        if (!ctx->exec) fail(GGML_C_BAD_STATE, "no plan yet: call ggml_c_graph_plan first");
        ctx->exec->run();
    });
}

// ---- models ----------------------------------------------------------------------------------

ggml_c_status ggml_c_model_load(const char* path, ggml_c_model** out) {
    return guarded("ggml_c_model_load", [&] {
        need(out, "out");
        *out = nullptr;
        need(path, "path");
        // Checked here so that a missing file is told apart from a malformed one.
        if (std::FILE* f = std::fopen(path, "rb")) {
            std::fclose(f);
        } else {
            const int err = errno;
            fail(GGML_C_IO_ERROR,
                 std::string("cannot open model file '") + path + "': " + std::strerror(err));
        }
        auto m = std::make_unique<ggml_c_model>();
        m->model = ggml::llama::Model::load(path);
        for (const Tensor* t : m->model->weights()) m->weight_bytes += t->nbytes();
        // A model whose tokenizer is not SentencePiece-style still runs on token ids.
        if (!m->model->vocab.empty() && m->model->vocab.model == "llama")
            m->tok = std::make_unique<ggml::Tokenizer>(m->model->vocab);
        *out = m.release();
    });
}

void ggml_c_model_free(ggml_c_model* m) {
    guarded("ggml_c_model_free", [&] {
        if (!m) return;
        // The weights' device buffer belongs to m->device: release the model first.
        m->model.reset();
        delete m;
    });
}

ggml_c_status ggml_c_model_get_info(const ggml_c_model* m, ggml_c_model_info* out) {
    return guarded("ggml_c_model_get_info", [&] {
        need(m, "model");
        need(out, "out");
        const ggml::llama::HParams& hp = m->model->hp;
        ggml_c_model_info i;
        i.dim = hp.dim;
        i.n_layers = hp.n_layers;
        i.n_heads = hp.n_heads;
        i.n_kv_heads = hp.n_kv_heads;
        i.head_dim = hp.head_dim;
        i.hidden = hp.hidden;
        i.vocab = hp.vocab;
        i.n_ctx = hp.n_ctx;
        i.format = m->model->format == ggml::llama::Format::GGUF ? GGML_C_FORMAT_GGUF
                                                                 : GGML_C_FORMAT_LLAMA2C;
        i.has_tokenizer = m->tok ? 1 : 0;
        i.bos = m->tok ? m->tok->bos() : -1;
        i.eos = m->tok ? m->tok->eos() : -1;
        i.weight_bytes = m->weight_bytes;
        *out = i;
    });
}

size_t ggml_c_model_weight_bytes(const ggml_c_model* m) {
    return m ? m->weight_bytes : 0;
}

ggml_c_status ggml_c_model_repack_for_cpu(ggml_c_model* m, int32_t* n_repacked) {
    return guarded("ggml_c_model_repack_for_cpu", [&] {
        need(m, "model");
        if (n_repacked) *n_repacked = 0;
        std::lock_guard<std::mutex> lock(m->mu);
        if (m->sessions > 0)
            fail(GGML_C_UNSUPPORTED,
                 std::to_string(m->sessions) +
                     " session(s) of the model exist; repack before creating any");
        if (m->device)
            fail(GGML_C_UNSUPPORTED, "the model's weights were moved to '" + m->device_name + "'");
        const int n = m->model->repack_for_cpu();
        m->repacked = m->model->n_repacked() > 0;
        if (n_repacked) *n_repacked = n;
    });
}

namespace {
const ggml::Tokenizer& tokenizer_of(const ggml_c_model* m) {
    need(m, "model");
    if (!m->tok)
        fail(GGML_C_UNSUPPORTED,
             "the model has no tokenizer (llama2.c checkpoints carry none); use token ids");
    return *m->tok;
}

void check_ids(const ggml::Tokenizer& tok, const int32_t* ids, int32_t n) {
    if (n < 0) fail(GGML_C_INVALID_ARGUMENT, "n = " + std::to_string(n));
    if (n > 0) need(ids, "tokens");
    for (int32_t i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= tok.vocab_size())
            fail(GGML_C_INVALID_ARGUMENT, "token id " + std::to_string(ids[i]) + " at index " +
                                              std::to_string(i) + " is outside the vocabulary of " +
                                              std::to_string(tok.vocab_size()));
}
}  // namespace

ggml_c_status ggml_c_tokenize(const ggml_c_model* m, const char* text, int add_bos, int32_t* tokens,
                              int32_t capacity, int32_t* n_tokens) {
    return guarded("ggml_c_tokenize", [&] {
        const ggml::Tokenizer& tok = tokenizer_of(m);
        need(text, "text");
        const std::vector<int32_t> ids = tok.encode(text, add_bos != 0);
        if (ids.size() > (size_t)std::numeric_limits<int32_t>::max())
            fail(GGML_C_INVALID_ARGUMENT, "the text has too many tokens");
        if (n_tokens) *n_tokens = (int32_t)ids.size();
        if (capacity < 0 || (size_t)capacity < ids.size())
            fail(GGML_C_BUFFER_TOO_SMALL, "the text has " + std::to_string(ids.size()) +
                                              " tokens, capacity " + std::to_string(capacity));
        if (!ids.empty()) need(tokens, "tokens");
        std::copy(ids.begin(), ids.end(), tokens);
    });
}

ggml_c_status ggml_c_detokenize(const ggml_c_model* m, const int32_t* tokens, int32_t n, char* buf,
                                size_t cap, size_t* len) {
    return guarded("ggml_c_detokenize", [&] {
        const ggml::Tokenizer& tok = tokenizer_of(m);
        check_ids(tok, tokens, n);
        copy_out(tok.decode(std::vector<int32_t>(tokens, tokens + n)), buf, cap, len);
    });
}

ggml_c_status ggml_c_token_piece(const ggml_c_model* m, int32_t prev, int32_t id, char* buf,
                                 size_t cap, size_t* len) {
    return guarded("ggml_c_token_piece", [&] {
        const ggml::Tokenizer& tok = tokenizer_of(m);
        check_ids(tok, &id, 1);
        if (prev != -1) check_ids(tok, &prev, 1);
        copy_out(tok.piece(prev, id), buf, cap, len);
    });
}

// ---- sessions --------------------------------------------------------------------------------

ggml_c_session_params ggml_c_session_default_params(void) {
    ggml_c_session_params p;
    p.backend = "cpu";
    p.n_threads = 0;
    p.n_ctx = 0;
    p.kv_f16 = 0;
    return p;
}

ggml_c_status ggml_c_session_new(ggml_c_model* m, const ggml_c_session_params* p,
                                 ggml_c_session** out) {
    return guarded("ggml_c_session_new", [&] {
        need(out, "out");
        *out = nullptr;
        need(m, "model");
        const ggml_c_session_params prm = p ? *p : ggml_c_session_default_params();
        const ggml::llama::HParams& hp = m->model->hp;
        if (prm.n_ctx < 0 || prm.n_ctx > hp.n_ctx)
            fail(GGML_C_INVALID_ARGUMENT, "n_ctx = " + std::to_string(prm.n_ctx) +
                                              " is not in [0, " + std::to_string(hp.n_ctx) +
                                              "] (the model's context)");
        auto s = std::make_unique<ggml_c_session>();
        s->m = m;
        s->owned = make_backends(prm.backend, prm.n_threads, true);
        std::unique_lock<std::mutex> lock(m->mu);
        if (!s->owned[0]->is_host()) {
            // Weights move to the device once; every session on that device shares its backend.
            const std::string name = s->owned[0]->name();
            if (m->repacked)
                fail(GGML_C_UNSUPPORTED,
                     "the model was repacked for the CPU "
                     "(ggml_c_model_repack_for_cpu); load it again for '" +
                         name + "'");
            if (!m->device) {
                m->model->upload(*s->owned[0]);
                m->device = std::move(s->owned[0]);
                m->device_name = name;
            } else if (m->device_name != name) {
                fail(GGML_C_UNSUPPORTED, "the model's weights live on '" + m->device_name +
                                             "'; load the model again for '" + name + "'");
            }
            s->owned.erase(s->owned.begin());
            s->backends.push_back(m->device.get());
            s->on_device = true;
        } else if (m->device) {
            fail(GGML_C_UNSUPPORTED, "the model's weights were moved to '" + m->device_name +
                                         "'; load the model again for a host backend");
        }
        if (!s->on_device) lock.unlock();
        for (auto& b : s->owned) s->backends.push_back(b.get());
        ggml::llama::SessionOptions so;
        so.n_ctx = prm.n_ctx;
        so.kv_type = prm.kv_f16 ? ggml::DType::F16 : ggml::DType::F32;
        s->s = std::make_unique<ggml::llama::Session>(*m->model, s->backends, so);
        s->kv_bytes = 2 * (size_t)hp.n_layers * (size_t)hp.kv_dim() * (size_t)s->s->n_ctx() *
                      ggml::dtype_size(so.kv_type);
        if (!lock.owns_lock()) lock.lock();
        ++m->sessions;
        *out = s.release();
    });
}

void ggml_c_session_free(ggml_c_session* s) {
    guarded("ggml_c_session_free", [&] {
        if (!s) return;
        std::unique_lock<std::mutex> lock(s->m->mu);
        --s->m->sessions;
        if (!s->on_device) lock.unlock();
        s->s.reset();  // its buffers belong to the shared device backend
        lock = {};
        delete s;
    });
}

int32_t ggml_c_session_n_past(const ggml_c_session* s) {
    return s ? s->s->n_past() : 0;
}
int32_t ggml_c_session_n_ctx(const ggml_c_session* s) {
    return s ? s->s->n_ctx() : 0;
}
size_t ggml_c_session_kv_bytes(const ggml_c_session* s) {
    return s ? s->kv_bytes : 0;
}

void ggml_c_session_reset(ggml_c_session* s) {
    if (!s) return;
    s->s->reset();
    s->logits = nullptr;
}

const char* ggml_c_session_plan_summary(ggml_c_session* s) {
    const char* r = "";
    guarded("ggml_c_session_plan_summary", [&] {
        if (!s) return;
        s->summary = s->s->plan_summary();
        r = s->summary.c_str();
    });
    return r;
}

namespace {
std::unique_lock<std::mutex> device_lock(ggml_c_session* s) {
    return s->on_device ? std::unique_lock<std::mutex>(s->m->mu) : std::unique_lock<std::mutex>();
}

void eval_tokens(ggml_c_session* s, const int32_t* tokens, int32_t n) {
    if (n < 1) fail(GGML_C_INVALID_ARGUMENT, "n = " + std::to_string(n) + ", need at least 1");
    need(tokens, "tokens");
    auto lock = device_lock(s);
    s->logits = nullptr;  // a failed eval leaves no stale logits behind
    s->logits = &s->s->eval(std::vector<int32_t>(tokens, tokens + n));
}

// PASTA: log(alpha) on the keys in [0, end) outside every span, 0 elsewhere; heads per layer.
ggml::llama::Steering make_steering(const ggml_c_session* s, const ggml_c_steering& st) {
    const ggml::llama::HParams& hp = s->m->model->hp;
    const int32_t n_ctx = s->s->n_ctx();
    if (st.n_spans < 1) fail(GGML_C_INVALID_ARGUMENT, "steering needs at least one span");
    need(st.spans, "steering spans");
    const float alpha = st.alpha == 0.0f ? 0.01f : st.alpha;
    if (!(alpha > 0.0f && alpha <= 1.0f))
        fail(GGML_C_INVALID_ARGUMENT,
             "steering alpha = " + std::to_string(st.alpha) + " is not in (0, 1]");
    int32_t end = st.end;
    int32_t last = 0;
    for (int32_t i = 0; i < st.n_spans; ++i) {
        const int32_t a = st.spans[2 * i], b = st.spans[2 * i + 1];
        if (a < 0 || b <= a || b > n_ctx)
            fail(GGML_C_INVALID_ARGUMENT, "steering span " + std::to_string(i) + " [" +
                                              std::to_string(a) + ", " + std::to_string(b) +
                                              ") is empty or outside the context of " +
                                              std::to_string(n_ctx));
        last = std::max(last, b);
    }
    if (end <= 0) end = last;
    if (end > n_ctx)
        fail(GGML_C_INVALID_ARGUMENT, "steering end " + std::to_string(end) +
                                          " exceeds the context of " + std::to_string(n_ctx));
    ggml::llama::Steering out;
    out.bias.assign((size_t)n_ctx, 0.0f);
    std::fill(out.bias.begin(), out.bias.begin() + end, std::log(alpha));
    for (int32_t i = 0; i < st.n_spans; ++i)
        std::fill(out.bias.begin() + st.spans[2 * i], out.bias.begin() + st.spans[2 * i + 1], 0.0f);
    out.heads.assign((size_t)hp.n_layers, ggml::HeadSet());
    if (st.n_heads <= 0 || !st.heads) {
        for (auto& h : out.heads)
            for (int32_t j = 0; j < hp.n_heads; ++j) h.set((size_t)j);
    } else {
        for (int32_t i = 0; i < st.n_heads; ++i) {
            const int32_t l = st.heads[2 * i], h = st.heads[2 * i + 1];
            if (l < 0 || l >= hp.n_layers || h < 0 || h >= hp.n_heads || h >= 256)
                fail(GGML_C_INVALID_ARGUMENT,
                     "steered head (layer " + std::to_string(l) + ", head " + std::to_string(h) +
                         ") is outside the model's " + std::to_string(hp.n_layers) + " layers x " +
                         std::to_string(hp.n_heads) + " heads");
            out.heads[(size_t)l].set((size_t)h);
        }
    }
    return out;
}
}  // namespace

ggml_c_status ggml_c_session_eval(ggml_c_session* s, const int32_t* tokens, int32_t n) {
    return guarded("ggml_c_session_eval", [&] {
        need(s, "session");
        eval_tokens(s, tokens, n);
    });
}

const float* ggml_c_session_logits(const ggml_c_session* s, int32_t* n_vocab) {
    if (n_vocab) *n_vocab = s ? s->m->model->hp.vocab : 0;
    if (!s || !s->logits) return nullptr;
    // The session returns the last position's logits unless all positions were requested.
    return s->logits->data() + (s->logits->size() - (size_t)s->m->model->hp.vocab);
}

ggml_c_status ggml_c_session_set_steering(ggml_c_session* s, const ggml_c_steering* st) {
    return guarded("ggml_c_session_set_steering", [&] {
        need(s, "session");
        s->s->set_steering(st ? make_steering(s, *st) : ggml::llama::Steering{});
    });
}

ggml_c_generate_params ggml_c_generate_default_params(void) {
    ggml_c_generate_params p;
    p.n_predict = 32;
    p.sampling.temp = 0.0f;
    p.sampling.top_p = 0.9f;
    p.sampling.seed = 42;
    p.stop_at_eos = 1;
    p.steering = nullptr;
    p.on_token = nullptr;
    p.user_data = nullptr;
    return p;
}

ggml_c_status ggml_c_session_generate(ggml_c_session* s, const int32_t* prompt, int32_t n_prompt,
                                      const ggml_c_generate_params* p, int32_t* out,
                                      int32_t capacity, int32_t* n_out) {
    return guarded("ggml_c_session_generate", [&] {
        if (n_out) *n_out = 0;
        need(s, "session");
        need(p, "params");
        if (p->n_predict < 0)
            fail(GGML_C_INVALID_ARGUMENT, "n_predict = " + std::to_string(p->n_predict));
        if (capacity < p->n_predict)
            fail(GGML_C_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) +
                                              " is less than n_predict " +
                                              std::to_string(p->n_predict));
        if (p->n_predict > 0) need(out, "out");
        const ggml_c_sampling& sp = p->sampling;
        if (!(sp.temp >= 0.0f) || !std::isfinite(sp.temp))
            fail(GGML_C_INVALID_ARGUMENT, "temp = " + std::to_string(sp.temp) + " must be >= 0");
        if (!(sp.top_p > 0.0f && sp.top_p <= 1.0f))
            fail(GGML_C_INVALID_ARGUMENT,
                 "top_p = " + std::to_string(sp.top_p) + " is not in (0, 1]");
        if (p->steering) s->s->set_steering(make_steering(s, *p->steering));
        if (n_prompt < 0) fail(GGML_C_INVALID_ARGUMENT, "n_prompt = " + std::to_string(n_prompt));
        if (n_prompt > 0) {
            eval_tokens(s, prompt, n_prompt);
        } else if (!s->logits) {
            fail(GGML_C_BAD_STATE, "no prompt and no earlier eval to continue from");
        }
        const ggml::llama::HParams& hp = s->m->model->hp;
        const int32_t eos = s->m->tok ? s->m->tok->eos() : -1;
        ggml::llama::Sampler sampler(sp.temp, sp.top_p, sp.seed);
        int32_t n = 0;
        for (int32_t i = 0; i < p->n_predict; ++i) {
            const int32_t next = sampler.sample(ggml_c_session_logits(s, nullptr), hp.vocab);
            out[n++] = next;
            if (n_out) *n_out = n;
            if (p->on_token && p->on_token(next, p->user_data) != 0) break;
            if (p->stop_at_eos && eos >= 0 && next == eos) break;
            if (i + 1 == p->n_predict || s->s->n_past() >= s->s->n_ctx()) break;
            eval_tokens(s, &next, 1);
        }
    });
}

}  // extern "C"
