// Run-time instruction-set dispatch for the CPU backend's hot loops.
//
// The kernels in simd_impl.inc are written once against an 8-lane vector interface and
// compiled into one translation unit per instruction set: simd_scalar.cpp (baseline, always
// built) and simd_avx2.cpp (AVX2+FMA+F16C, built with per-file flags on x86-64). The
// backend picks the best set the CPU reports through cpuid when it is created;
// GGML_CPU_ISA=scalar|avx2|avx512|neon forces one (an unavailable request is reported on
// stderr and the best available set is used). Only plain data crosses this boundary, so the
// ISA translation units never instantiate shared inline code (a copy compiled with AVX2 could
// otherwise be picked by the linker for the baseline path).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ggml {
namespace cpu {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };
enum ElemType : int { kElemF32 = 0, kElemF16 = 1, kElemBF16 = 2 };

// Fused attention, all strides in bytes, rows packed (element stride = element size).
// q f32 [D, n_q, Hq, B]; k, v [D|Dv, n_kv, Hkv, B]; mask f32 [n_kv, n_q, m_ne2, m_ne3];
// steer bias f32 [n_kv, 1, 1, sb_ne3]; y f32 [Dv, Hq, n_q, B].
struct FaArgs {
    const uint8_t* q;
    size_t q_nb1, q_nb2, q_nb3;
    const uint8_t* k;
    size_t k_nb1, k_nb2, k_nb3;
    const uint8_t* v;
    size_t v_nb1, v_nb2, v_nb3;
    int kv_type;
    const uint8_t* mask;
    size_t m_nb1, m_nb2, m_nb3;
    int64_t m_ne2, m_ne3;
    const uint8_t* sb;
    size_t sb_nb3;
    int64_t sb_ne3;
    uint64_t steer[4];
    uint8_t* y;
    size_t y_nb1, y_nb2, y_nb3;
    int64_t D, Dv, n_q, n_kv, Hq, Hkv, B;
    float scale, softcap;
    int causal;
    int64_t causal_offset;
    // Partition (fa_partition): row chunks of at most kFaRows rows of one KV head's
    // (query position, head) space, and KV splits whose partial results are merged.
    int64_t rows_per_chunk, chunks, splits;
    uint8_t* work;
    int ith, nth;
};

constexpr int64_t kFaRows = 64;  // rows of a query block
constexpr int64_t kFaKeys = 64;  // keys of a KV block

// Fills rows_per_chunk/chunks/splits from the shapes for `nth` threads; returns the scratch
// bytes needed (monotone in nth, so the planned size covers any smaller team).
size_t fa_partition(FaArgs& a, int nth);

// y[m, n, batch] = sum_k w[k, m, wbatch] * x[k, n, batch]; w is f32/f16/bf16, x and y f32.
struct MmArgs {
    const uint8_t* w;
    size_t w_nb1, w_nb2, w_nb3;
    int w_type;
    const uint8_t* x;
    size_t x_nb1, x_nb2, x_nb3;
    uint8_t* y;
    size_t y_nb1, y_nb2, y_nb3;
    int64_t K, M, N, B2, B3, r2, r3;  // r2 = B2 / w ne2, r3 = B3 / w ne3
    int64_t m_splits;
    uint8_t* work;
    int ith, nth;
};

constexpr int64_t kMmKc = 256;  // k block of the packed GEMM
constexpr int64_t kMmNc = 192;  // x rows packed per pass (a multiple of 6)
constexpr int64_t kMmGemvMaxN = 4;

size_t mm_partition(MmArgs& a, int nth);

struct IsaKernels {
    Isa isa;
    const char* name;
    void (*flash_attn)(const FaArgs& a);
    void (*mul_mat)(const MmArgs& a);
};

// nullptr when the set was not compiled in.
const IsaKernels* isa_kernels_scalar();
const IsaKernels* isa_kernels_avx2();

// Whether this CPU can run `isa` and it is compiled in.
bool isa_available(Isa isa);
// The best available set, or the one GGML_CPU_ISA names when available.
const IsaKernels& select_isa();
const char* isa_name(Isa isa);

}  // namespace cpu
}  // namespace ggml
