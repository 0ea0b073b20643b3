// The AVX-512 instruction sets for simd_impl.inc (Intel 64 and IA-32 Architectures Software
// Developer's Manual, vol. 2: VFMADD231PS, VPDPBUSD, VDPBF16PS).
//
// The 8-lane interface is the AVX2 one (simd_x86.inc; compiled here with EVEX encodings and
// 32 vector registers); AVX-512 adds:
//   W16        a 16-lane zmm row for the micro-kernels (mk, mk_packed, mk_fa): each of their
//              FMAs covers a whole 16-column tile row, twice the work per instruction;
//   VNNI       vpdpbusd for the q8_0/q4_0 block dot products: sum_{i<4} u8[4l+i] * s8[4l+i]
//              into lane l in one instruction (maddubs + madd on AVX2), exact in int32;
//   BF16       vdpbf16ps for prefill attention against bf16 keys:
//                  c[j] += q[2i] k_j[2i] + q[2i+1] k_j[2i+1]
//              with q rounded to bf16 (round to nearest even) and K read as stored, two
//              products per lane per instruction; products of two bf16 values are exact in
//              f32, so the only new error is q's rounding (2^-9 relative, within the stated
//              bf16 tolerance of the harness, tests/support/cases.h).
//
// The file is compiled twice (see CMakeLists.txt): with AVX512F/BW/DQ/VL as itself, and as a
// copy with GGML_AVX512_VNNI_BF16_COPY and -mavx512vnni -mavx512bf16. isa_kernels_avx512()
// returns the copy only when cpuid reports both, so one binary runs on Skylake-X as on
// Sapphire Rapids or Zen 4. GGML_AVX512_SIMDE (a test build, GGML_CPU_AVX512_EMULATE=ON)
// compiles the same code against SIMDe's portable implementations of the AVX-512 intrinsics
// on an AVX2 host, so that tools/test-avx512.sh can run the harness on these kernels where no
// AVX-512 CPU is at hand.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "isa.h"

#if defined(GGML_AVX512_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#define GGML_AVX512_KERNELS 1
#elif defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && \
    defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define GGML_AVX512_KERNELS 1
#endif

#if defined(GGML_AVX512_VNNI_BF16_COPY)
#define GGML_X86_VNNI 1
#endif

#if defined(GGML_AVX512_KERNELS)

namespace ggml {
namespace cpu {

namespace {

#include "simd_x86.inc"

struct VT : VTx86 {
    static constexpr bool kW16 = true;
    using W16 = __m512;
    static W16 zero16() { return _mm512_setzero_ps(); }
    static W16 set1_16(float x) { return _mm512_set1_ps(x); }
    static W16 load16(const float* p) { return _mm512_loadu_ps(p); }
    static void store16(float* p, W16 x) { _mm512_storeu_ps(p, x); }
    static W16 fma16(W16 a, W16 b, W16 c) { return _mm512_fmadd_ps(a, b, c); }
    static W16 mul16(W16 a, W16 b) { return _mm512_mul_ps(a, b); }
#if defined(GGML_AVX512_VNNI_BF16_COPY)
    static constexpr bool kBf16Dot = true;
    // c[j] += bf(q_pair.lo) * k[2j] + bf(q_pair.hi) * k[2j + 1], j < 16: k points at 16 keys'
    // bf16 pairs (64 bytes), q_pair holds two bf16 of one query row.
    static W16 dot_bf16_pair(W16 c, uint32_t q_pair, const uint16_t* k) {
        const __m512i q = _mm512_set1_epi32((int)q_pair);
        const __m512i kv = _mm512_loadu_si512((const void*)k);
        __m512bh qb, kb;
        std::memcpy(&qb, &q, sizeof qb);  // a reinterpretation; no instruction is emitted
        std::memcpy(&kb, &kv, sizeof kb);
        return _mm512_dpbf16_ps(c, qb, kb);
    }
#endif
};

}  // namespace

#include "simd_impl.inc"

#if defined(GGML_AVX512_VNNI_BF16_COPY)

const IsaKernels* isa_kernels_avx512_vnni_bf16() {
    static const IsaKernels k = {Isa::Avx512, "avx512+vnni+bf16", &fa_run, &mm_run};
    return &k;
}

#else

const IsaKernels* isa_kernels_avx512_vnni_bf16();

const IsaKernels* isa_kernels_avx512_base() {
    static const IsaKernels k = {Isa::Avx512, "avx512", &fa_run, &mm_run};
    return &k;
}

const IsaKernels* isa_kernels_avx512() {
#if defined(GGML_AVX512_SIMDE)
    return isa_kernels_avx512_vnni_bf16();  // emulated: every extension is there
#else
    static const bool vnni_bf16 =
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16");
    return vnni_bf16 ? isa_kernels_avx512_vnni_bf16() : isa_kernels_avx512_base();
#endif
}

#endif

}  // namespace cpu
}  // namespace ggml

#elif !defined(GGML_AVX512_VNNI_BF16_COPY)

namespace ggml {
namespace cpu {
const IsaKernels* isa_kernels_avx512() {
    return nullptr;
}
const IsaKernels* isa_kernels_avx512_base() {
    return nullptr;
}
}  // namespace cpu
}  // namespace ggml

#endif
