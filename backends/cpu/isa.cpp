// Instruction-set selection (cpuid + GGML_CPU_ISA) and the shape-only partitions shared by
// every instruction set, so that scratch sizes do not depend on the set chosen.
#include "isa.h"

#include <algorithm>
#include <atomic>
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
            // cpuid first: the kernel getters are compiled with their set's flags.
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c") && isa_kernels_avx2() != nullptr;
#else
            return false;
#endif
        case Isa::Avx512:
#if defined(GGML_AVX512_SIMDE)
            // Test build: SIMDe runs the AVX-512 intrinsics on AVX2 (tools/test-avx512.sh).
            return isa_available(Isa::Avx2) && isa_kernels_avx512() != nullptr;
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
            // libgcc's cpuid check also requires the OS to save the zmm and mask registers.
            return isa_available(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl") && isa_kernels_avx512() != nullptr;
#else
            return false;
#endif
        case Isa::Neon:
            return isa_kernels_neon() != nullptr;  // baseline on AArch64
    }
    return false;
}

const IsaKernels& select_isa() {
    Isa best = isa_available(Isa::Avx512) ? Isa::Avx512
               : isa_available(Isa::Avx2) ? Isa::Avx2
                                          : Isa::Scalar;
    if (isa_available(Isa::Neon)) best = Isa::Neon;
    const char* env = std::getenv("GGML_CPU_ISA");
    bool avx512_base = false;
    if (env && *env) {
        const std::string want = env;
        Isa req = best;
        bool known = true;
        if (want == "scalar")
            req = Isa::Scalar;
        else if (want == "avx2")
            req = Isa::Avx2;
        else if (want == "avx512" || want == "avx512-base")
            req = Isa::Avx512;
        else if (want == "neon")
            req = Isa::Neon;
        else
            known = false;
        if (!known)
            std::fprintf(stderr,
                         "ggml cpu: GGML_CPU_ISA=%s is not one of "
                         "scalar|avx2|avx512|avx512-base|neon; using %s\n",
                         env, isa_name(best));
        else if (!isa_available(req))
            std::fprintf(stderr,
                         "ggml cpu: GGML_CPU_ISA=%s is not available on this CPU/build; using %s\n",
                         env, isa_name(best));
        else {
            best = req;
            avx512_base = want == "avx512-base";
        }
    }
    const IsaKernels& k = best == Isa::Avx512
                              ? *(avx512_base ? isa_kernels_avx512_base() : isa_kernels_avx512())
                          : best == Isa::Avx2 ? *isa_kernels_avx2()
                          : best == Isa::Neon ? *isa_kernels_neon()
                                              : *isa_kernels_scalar();
    // A request that was honoured is confirmed once per process, naming the variant (e.g.
    // neon+dotprod); one that was not is reported above.
    static std::atomic<bool> reported{false};
    if (env && (std::string(env) == isa_name(k.isa) || avx512_base) && !reported.exchange(true))
        std::fprintf(stderr, "ggml cpu: GGML_CPU_ISA=%s: using %s\n", env, k.name);
    return k;
}

namespace {

// KV splits for `units` independent decode chunks on nth threads: the fewest that keep every
// thread busy (at least 7/8 of the team's time doing work when the threads run alike),
// since each extra split costs a merge and a barrier. Splits are never shorter than 256 keys.
int64_t fa_dec_splits(int64_t units, int64_t n_kv, int nth) {
    const int64_t most = std::max<int64_t>(1, ceil_div(n_kv, 256));
    int64_t best = 1;
    double best_eff = 0.0;
    for (int64_t s = std::min(most, ceil_div(nth, units)); s <= most; ++s) {
        const int64_t jobs = units * s;
        const double eff = (double)jobs / (double)(nth * ceil_div(jobs, nth));
        if (eff > best_eff + 1e-9) best = s, best_eff = eff;
        if (eff >= 0.875) break;
    }
    return best;
}

}  // namespace

// Per thread: Qs [rows][D], Kt [D][keys], Vb [keys][Dvp], S [rows][keys], O [rows][Dvp], M, L,
// the decode kernel's partial dot products [4][8][8] and row rescales [rows].
// Shared after the per-thread parts: one partial (M, L, O rows) per (b, hkv, chunk, split).
size_t fa_partition(FaArgs& a, int nth) {
    const int64_t group = a.Hq / a.Hkv;
    const int64_t rows = group * a.n_q;  // one KV head's (position, head) rows
    a.splits = 1;
    // Decode kernel for a few rows (each K/V row read in place once per chunk), the block
    // kernel otherwise. One position's many heads (MQA-like decode) also take the block kernel:
    // with 32 query heads on one KV head the work is FMAs, not bytes, and the 6x16 panels
    // run them faster than the decode kernel's four-row blocks (MQA decode 11-16% faster on
    // two threads; at 16 rows the two kernels tie, at 8 the decode kernel wins).
    if (rows <= kFaDecRows)
        a.plan = kFaPlanDecode;
    else
        a.plan = a.n_q == 1 ? kFaPlanWide : kFaPlanPrefill;
    // Decode and wide chunks are equal in cost and read every K/V row once, so they are as
    // large as the kernel allows and balanced; prefill chunks are full query blocks.
    const int64_t most_rows = a.plan == kFaPlanDecode ? kFaDecRows : kFaRows;
    a.rows_per_chunk = a.plan == kFaPlanPrefill ? std::min(rows, kFaRows)
                                                : ceil_div(rows, ceil_div(rows, most_rows));
    a.chunks = ceil_div(rows, a.rows_per_chunk);
    const int64_t Dvp = (a.Dv + 15) / 16 * 16;
    const size_t per_thread =
        round64(4 * (size_t)(kFaRows * a.D)) + round64(4 * (size_t)(a.D * kFaKeys)) +
        round64(4 * (size_t)(kFaKeys * Dvp)) + round64(4 * (size_t)(kFaRows * kFaKeys)) +
        round64(4 * (size_t)(kFaRows * Dvp)) + 2 * round64(4 * (size_t)kFaRows) +
        round64(4 * (size_t)(4 * 8 * 8)) + round64(4 * (size_t)kFaRows);
    size_t total = per_thread * (size_t)nth;
    a.pack_keys = 0;
    a.pack_at = 0;
    if (a.plan == kFaPlanPrefill && a.chunks > 1) {
        // Every chunk of a KV head reads the same K/V blocks (a causal one those up to its
        // last row): packed once for all of them, the K panels are transposed once instead
        // of once per chunk (16 times at n_q 512, GQA 4) and f32 V is read from contiguous
        // panels rather than rows a cache-set stride apart. The keys past the last one any
        // row sees are left out.
        const int64_t keys =
            a.causal ? std::max<int64_t>(0, std::min(a.n_kv, a.n_q + a.causal_offset)) : a.n_kv;
        const size_t bytes = (size_t)(a.B * a.Hkv) * (size_t)ceil_div(keys, kFaKeys) *
                             (size_t)(4 * kFaKeys * (a.D + Dvp));
        if (keys > 0 && bytes <= kFaPackMaxBytes) {
            a.pack_keys = keys;
            a.pack_at = total;
            total += bytes;
        }
    }
    if (a.plan != kFaPlanPrefill) {
        // Heads are shared out first, and keys split (partial softmax states merged by
        // log-sum-exp) only where there are too few heads for the team. A smaller team may
        // split more, so the scratch covers every team size up to nth.
        const int64_t units = a.B * a.Hkv * a.chunks;
        int64_t most = 1;
        for (int t = 1; t <= nth; ++t) most = std::max(most, fa_dec_splits(units, a.n_kv, t));
        a.splits = fa_dec_splits(units, a.n_kv, nth);
        if (most > 1)
            total += (size_t)(units * most) * round64(4 * (size_t)(a.rows_per_chunk * (Dvp + 2)));
    }
    return total;
}

// Shared: the packed x of one group, group_panels panels of [K][6]. Per thread: the packed W
// block [mc/16][kcb][16] (kcb = min(K, kMmKc)) and the C tiles of one pass, [kMmNcP][6][16].
// Nothing for the GEMV.
size_t mm_partition(MmArgs& a, int nth) {
    const int64_t batches = a.B2 * a.B3;
    a.m_splits = batches >= nth ? 1 : ceil_div(nth, batches);
    a.group_panels = 0, a.mc = 0, a.xpack_bytes = 0;
    if (a.N <= kMmGemvMaxN) {
        a.m_splits = std::max<int64_t>(a.m_splits, std::min<int64_t>(ceil_div(a.M, 64), 4 * nth));
        return 0;
    }
    const size_t panel_bytes = 4 * 6 * (size_t)a.K;
    const int64_t panels = batches * ceil_div(a.N, 6);
    a.group_panels =
        std::max<int64_t>(1, std::min<int64_t>(panels, (int64_t)(kMmPackMaxBytes / panel_bytes)));
    a.mc = std::min(kMmMc, (a.M + 15) / 16 * 16);
    a.xpack_bytes = round64(panel_bytes * (size_t)a.group_panels);
    const int64_t kcb = std::min(a.K, kMmKc);
    const size_t per_thread =
        round64(4 * (size_t)(a.mc * kcb)) + round64(4 * kMmTileFloats * kMmNcP);
    return a.xpack_bytes + per_thread * (size_t)nth;
}

size_t mmq_partition(const MmArgs& a, int nth) {
    return mmq_scratch_per_thread(a.K) * (size_t)nth;
}

}  // namespace cpu
}  // namespace ggml
