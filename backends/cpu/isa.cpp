// Instruction-set selection (cpuid + GGML_CPU_ISA) and the shape-only partitions shared by
// every instruction set, so that scratch sizes do not depend on the set chosen.
#include "isa.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ggml {
namespace cpu {

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

size_t round64(size_t n) {
    return (n + 63) / 64 * 64;
}

}  // namespace

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar:
            return "scalar";
        case Isa::Avx2:
            return "avx2";
        case Isa::Avx512:
            return "avx512";
        case Isa::Neon:
            return "neon";
    }
    return "?";
}

bool isa_available(Isa isa) {
    switch (isa) {
        case Isa::Scalar:
            return true;
        case Isa::Avx2:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
            return isa_kernels_avx2() != nullptr && __builtin_cpu_supports("avx2") &&
                   __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
            return false;
#endif
        default:
            return false;  // no AVX-512 or NEON kernels are compiled yet
    }
}

const IsaKernels& select_isa() {
    Isa best = isa_available(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
    const char* env = std::getenv("GGML_CPU_ISA");
    if (env && *env) {
        const std::string want = env;
        Isa req = best;
        bool known = true;
        if (want == "scalar")
            req = Isa::Scalar;
        else if (want == "avx2")
            req = Isa::Avx2;
        else if (want == "avx512")
            req = Isa::Avx512;
        else if (want == "neon")
            req = Isa::Neon;
        else
            known = false;
        if (!known)
            std::fprintf(stderr,
                         "ggml cpu: GGML_CPU_ISA=%s is not one of scalar|avx2|avx512|neon; "
                         "using %s\n",
                         env, isa_name(best));
        else if (!isa_available(req))
            std::fprintf(stderr,
                         "ggml cpu: GGML_CPU_ISA=%s is not available on this CPU/build; using %s\n",
                         env, isa_name(best));
        else
            best = req;
    }
    return best == Isa::Avx2 ? *isa_kernels_avx2() : *isa_kernels_scalar();
}

// Per thread: Qs [rows][D], Kt [D][keys], Vb [keys][Dvp], S [rows][keys], O [rows][Dvp], M, L.
// Shared after the per-thread parts: one partial (M, L, O rows) per (b, hkv, chunk, split).
size_t fa_partition(FaArgs& a, int nth) {
    const int64_t group = a.Hq / a.Hkv;
    const int64_t rows = group * a.n_q;  // one KV head's (position, head) rows
    a.rows_per_chunk = std::min<int64_t>(rows, kFaRows);
    a.chunks = ceil_div(rows, a.rows_per_chunk);
    a.splits = 1;
    if (rows <= 16) {
        // Decode: too few rows to share out, so the keys are split over threads instead and
        // the partial softmax states are merged (log-sum-exp) afterwards.
        const int64_t units = a.B * a.Hkv * a.chunks;
        const int64_t want = ceil_div(4 * (int64_t)nth, units);
        a.splits = std::max<int64_t>(1, std::min(want, ceil_div(a.n_kv, 256)));
    }
    const int64_t Dvp = (a.Dv + 15) / 16 * 16;
    const size_t per_thread =
        round64(4 * (size_t)(kFaRows * a.D)) + round64(4 * (size_t)(a.D * kFaKeys)) +
        round64(4 * (size_t)(kFaKeys * Dvp)) + round64(4 * (size_t)(kFaRows * kFaKeys)) +
        round64(4 * (size_t)(kFaRows * Dvp)) + 2 * round64(4 * (size_t)kFaRows);
    size_t total = per_thread * (size_t)nth;
    if (a.splits > 1)
        total += (size_t)(a.B * a.Hkv * a.chunks * a.splits) *
                 round64(4 * (size_t)(a.rows_per_chunk * (Dvp + 2)));
    return total;
}

// Per thread: packed x block [kMmNc/6][kMmKc][6] and packed w panel [kMmKc][16] plus an
// edge tile; nothing for the GEMV.
size_t mm_partition(MmArgs& a, int nth) {
    const int64_t batches = a.B2 * a.B3;
    a.m_splits = batches >= nth ? 1 : ceil_div(nth, batches);
    if (a.N <= kMmGemvMaxN) {
        a.m_splits = std::max<int64_t>(a.m_splits, std::min<int64_t>(ceil_div(a.M, 64), 4 * nth));
        return 0;
    }
    const size_t per_thread = round64(4 * (size_t)(kMmNc * kMmKc)) +
                              round64(4 * (size_t)(kMmKc * 16)) + round64(4 * 6 * 16);
    return per_thread * (size_t)nth;
}

}  // namespace cpu
}  // namespace ggml
