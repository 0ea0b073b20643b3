// Run-time instruction-set dispatch for the CPU backend's hot loops.
//
// The kernels in simd_impl.inc are written once against an 8-lane vector interface (with
// 16-float micro-kernel rows) and compiled into one translation unit per instruction set:
// simd_scalar.cpp (baseline, always built), simd_avx2.cpp (AVX2+FMA+F16C) and
// simd_avx512.cpp (AVX-512 F/BW/DQ/VL, plus a copy with VNNI and BF16), built with per-file
// flags on x86-64, and simd_neon.cpp on AArch64. The backend picks the best set the CPU
// reports through cpuid when it is created; GGML_CPU_ISA=scalar|avx2|avx512|neon forces one
// (avx512-base: the AVX-512 set without VNNI/BF16); an unavailable request is reported on
// stderr and the best available set is used. Only plain data crosses this boundary, so the
// ISA translation units never instantiate shared inline code (a copy compiled with AVX2 could
// otherwise be picked by the linker for the baseline path).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ggml {
namespace cpu {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };
// Element types of weights/K/V as the kernels see them. kElemQ8_0 / kElemQ4_0 are GGUF's
// 32-element blocks (ggml/include/ggml/types.h): {f16 d; int8 qs[32]} and {f16 d; uint8 qs[16]}.
// kElemQ4_0X8 is q4_0 with eight rows interleaved (ggml/quant.h, repack_q4_0x8).
enum ElemType : int {
    kElemF32 = 0,
    kElemF16 = 1,
    kElemBF16 = 2,
    kElemQ8_0 = 3,
    kElemQ4_0 = 4,
    kElemQ4_0X8 = 5
};

// Besides the float operations, every VT (the per-ISA vector interface) provides
// `static float f16_at(const uint8_t* p)` (the f16 value at p to f32, exact; 8 bytes must be
// readable from p, as in any quantized block) and two integer block dot products for the
// quantized GEMV. Both return 8 lanes whose sum is the exact integer dot product (each lane
// an exact integer, |lane| < 2^24, so float is exact):
//   static V dot_q8(const int8_t* a, const int8_t* b);    // sum_{i<32} a[i] * b[i]
//   static V dot_q4(const uint8_t* qs, const int8_t* b);  // sum_{i<16} lo(qs[i]) * b[i]
//                                                          //  + hi(qs[i]) * b[i + 16]
//   static V dot_q4x8(const uint8_t* qs, const int8_t* b);  // lane r: row r's dot_q4 sum
//                                                          // over a q4_0x8 unit's 128 codes
// dot_q4 and dot_q4x8 take the nibbles as stored (0..15): the kernel subtracts q4_0's offset
// 8 as 8 * sum(b) once per block of x, which spares every weight block that subtraction.

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
    // Partition (fa_partition): row chunks of one KV head's (query position, head) space,
    // and KV splits whose partial results are merged; `plan` is one of kFaPlan*.
    int64_t rows_per_chunk, chunks, splits;
    int plan;
    // Prefill with several row chunks per KV head: the first pack_keys keys of every
    // (batch, KV head) are packed once, before any chunk runs, into the block kernel's
    // panels at work + pack_at (kFaKeys-key blocks of kFaKeys * (D + Dvp) floats), instead
    // of once per chunk; 0 when the chunks pack their own blocks.
    int64_t pack_keys;
    size_t pack_at;
    uint8_t* work;
    int ith, nth;
    // Waits for all nth threads (needed when splits > 1 and nth > 1).
    void (*barrier)(void* ctx, int nth);
    void* barrier_ctx;
    // The team's job dispenser (KernelArgs::claim), or nullptr for a static split.
    int64_t (*claim)(void* ctx);
    void* claim_ctx;
};

constexpr int64_t kFaRows = 64;  // rows of a query block
// Keys of a KV block. 128 rather than 64: each P V micro-kernel call (load, rescale and store
// of its O tile) covers twice the keys and the softmax's per-block bookkeeping is halved;
// prefill 3-5% faster in paired runs (f32 and f16, D 64 and 128, one and two threads).
constexpr int64_t kFaKeys = 128;
constexpr int64_t kFaDecRows = 16;  // most rows of a decode chunk
// Scaled queries one Q K^T pass keeps in L1 beside a 16-key K panel: 36 rows at D 128, all 64
// at D 64. (All 64 rows at D 128, 32 KiB, came from L2 once per panel: prefill 2-3% slower in
// one hour's paired runs, the same in a busier hour's.)
constexpr size_t kFaQGroupBytes = (size_t)18 << 10;
// Most scratch the shared K/V panels of a prefill may take; larger ones pack per chunk.
constexpr size_t kFaPackMaxBytes = (size_t)32 << 20;

// How fa_run covers the rows. Prefill: chunks of kFaRows rows on the block kernel (packed
// panels), handed out by the job dispenser, no KV splits. Decode: chunks of at most
// kFaDecRows rows on the decode kernel (K and V rows read in place). Wide: one position with
// more than kFaDecRows rows (MQA-like decode) on the block kernel. Decode and wide chunks also
// come from the dispenser, split along the keys when there are fewer chunks than threads.
constexpr int kFaPlanPrefill = 0, kFaPlanDecode = 1, kFaPlanWide = 2;

// Fills rows_per_chunk/chunks/splits from the shapes for `nth` threads; returns the scratch
// bytes needed (monotone in nth, so the planned size covers any smaller team).
size_t fa_partition(FaArgs& a, int nth);

// y[m, n, batch] = sum_k w[k, m, wbatch] * x[k, n, batch]; w is f32/f16/bf16/q8_0/q4_0/q4_0x8,
// x and y f32. w [K, M, B2 / r2, B3 / r3], x [K, N, B2, B3], y [M, N, B2, B3], strides in bytes.
struct MmArgs {
    const uint8_t* w;
    size_t w_nb1, w_nb2, w_nb3;
    int w_type;
    const uint8_t* x;
    size_t x_nb1, x_nb2, x_nb3;
    uint8_t* y;
    size_t y_nb1, y_nb2, y_nb3;
    int64_t K, M, N, B2, B3, r2, r3;  // r2 = B2 / w ne2, r3 = B3 / w ne3
    // GEMV (N <= kMmGemvMaxN): jobs are (batch, W-row chunk), m_splits chunks per batch.
    int64_t m_splits;
    // GEMM: x is cut into 6-row panels (ceil(N / 6) per batch, numbered across batches) and
    // packed by the whole team, group_panels at a time, into work[0, xpack_bytes); the jobs
    // of a group then read them there. A job is one batch's panels of the group (or a part,
    // when there are few jobs) against `mc` W rows, which it packs into its thread's slice.
    int64_t group_panels, mc;
    size_t xpack_bytes;
    uint8_t* work;
    int ith, nth;
    // Waits for all nth threads (set whenever nth > 1).
    void (*barrier)(void* ctx, int nth);
    void* barrier_ctx;
    // The team's job dispenser (KernelArgs::claim), or nullptr for a static split.
    int64_t (*claim)(void* ctx);
    void* claim_ctx;
};

constexpr int64_t kMmKc = 1024;  // k block: a job's W block is [kMmKc][mc], C revisited per block
constexpr int64_t kMmKs = 256;   // k sub-block: one W panel slice, [kMmKs][16] floats, in L1
constexpr int64_t kMmNcP = 16;   // x panels (6 rows each) a W panel slice runs over, in L2
constexpr int64_t kMmMc = 64;    // most W rows of a GEMM job (a multiple of 16)
constexpr int64_t kMmGemvMaxN = 4;
// A thread's C tiles in flight, one per x panel of a pass: [6][32] floats each, room for the
// two-panel tile of the AVX-512 kernels.
constexpr int64_t kMmTileFloats = 6 * 32;
// Most scratch the shared packed x of one group may take (at least one panel is packed).
constexpr size_t kMmPackMaxBytes = (size_t)32 << 20;

size_t mm_partition(MmArgs& a, int nth);

// Quantized weights (kElemQ8_0 / kElemQ4_0): x rows are rounded to q8_0 in tiles of
// kMmqTileN rows. Per thread: kMmqTileN * K int8 codes, then kMmqTileN * K/32 f32 scales and
// as many f32 q4_0 offsets, each part rounded up to 64 bytes (simd_quant.inc).
constexpr int64_t kMmqTileN = 16;
// Internal linkage (static): each instruction-set translation unit keeps its own copy, so no
// copy compiled with that set's flags can stand in for another's (see the top of this file).
static inline constexpr size_t mmq_scratch_per_thread(int64_t K) {
    return ((size_t)(kMmqTileN * K) + 63) / 64 * 64 +
           2 * ((4 * (size_t)(kMmqTileN * (K / 32)) + 63) / 64 * 64);
}
size_t mmq_partition(const MmArgs& a, int nth);  // nth * mmq_scratch_per_thread(K)

struct IsaKernels {
    Isa isa;
    const char* name;
    void (*flash_attn)(const FaArgs& a);
    void (*mul_mat)(const MmArgs& a);
};

// nullptr when the set was not compiled in.
const IsaKernels* isa_kernels_scalar();
const IsaKernels* isa_kernels_avx2();
// The AVX-512 set with VNNI and BF16 when cpuid reports both, else the base AVX-512 set.
const IsaKernels* isa_kernels_avx512();
const IsaKernels* isa_kernels_avx512_base();
// On AArch64 the NEON set, with the dot-product extension when HWCAP reports it.
const IsaKernels* isa_kernels_neon();

// Whether this CPU can run `isa` and it is compiled in.
bool isa_available(Isa isa);
// The best available set, or the one GGML_CPU_ISA names when available.
const IsaKernels& select_isa();
const char* isa_name(Isa isa);

}  // namespace cpu
}  // namespace ggml
