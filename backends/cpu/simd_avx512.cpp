// The AVX-512 instruction sets for simd_impl.inc (Intel 64 and IA-32 Architectures Software
// Developer's Manual, vol. 2: VFMADD231PS, VPDPBUSD, VDPBF16PS).
//
// The 8-lane interface is the AVX2 one (simd_x86.inc; compiled here with EVEX encodings and
// 32 vector registers); AVX-512 adds:
//   W16        a 16-lane zmm row for the micro-kernels (mk_packed, mk_fa: each of their FMAs
//              covers a whole 16-column tile row, twice the work per instruction, and with
//              32 registers a tile holds two such panels) and for the decode kernel's K and
//              V rows (fa_dec_rows);
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
    static W16 add16(W16 a, W16 b) { return _mm512_add_ps(a, b); }
    // 16 f16 or bf16 values to f32. The zero-masking forms with every lane set compile to the
    // plain instructions; GCC 12's unmasked intrinsics pass an uninitialised operand through,
    // and -Wmaybe-uninitialized says so where they are inlined. SIMDe has no 16-lane forms of
    // these conversions, so the emulated build converts two 8-lane halves.
    static W16 join16(V lo, V hi) { return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1); }
    static W16 load16_f16(const uint16_t* p) {
#if defined(GGML_AVX512_SIMDE)
        return join16(load_f16(p), load_f16(p + 8));
#else
        return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256((const __m256i*)p));
#endif
    }
    static W16 load16_bf16(const uint16_t* p) {
#if defined(GGML_AVX512_SIMDE)
        return join16(load_bf16(p), load_bf16(p + 8));
#else
        const __m512i w =
            _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_loadu_si256((const __m256i*)p));
        return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, w, 16));
#endif
    }
    // The decode Q K^T's reduction tree (fa_dec_qk16): 16 partial-sum vectors to one vector of
    // their 16 sums in 15 add steps of two two-source permutes each. sum4(a, b, c, d): 128-bit
    // chunk i of the result holds four partial sums of input i (a, b, c, d). sum4x4(p0, p1,
    // p2, p3) of four such vectors: lane 4i + j holds the total of p_j's chunk i.
    static W16 pick(W16 a, W16 b, const int32_t (&idx)[16]) {  // idx >= 16: from b
        return _mm512_permutex2var_ps(a, _mm512_loadu_si512((const void*)idx), b);
    }
    // One level pair of the tree: u = pick(a, b, lo) + pick(a, b, hi), v the same of c, d, then
    // pick(u, v, ev) + pick(u, v, od).
    static W16 tree2(W16 a, W16 b, W16 c, W16 d, const int32_t (&lo)[16], const int32_t (&hi)[16],
                     const int32_t (&ev)[16], const int32_t (&od)[16]) {
        const W16 u = _mm512_add_ps(pick(a, b, lo), pick(a, b, hi));
        const W16 v = _mm512_add_ps(pick(c, d, lo), pick(c, d, hi));
        return _mm512_add_ps(pick(u, v, ev), pick(u, v, od));
    }
    static W16 sum4(W16 a, W16 b, W16 c, W16 d) {
        // chunks [a0 + a2, a1 + a3, b0 + b2, b1 + b3] (and the same for c, d), then
        // [ab0 + ab1, ab2 + ab3, cd0 + cd1, cd2 + cd3].
        alignas(64) static constexpr int32_t lo[16] = {0,  1,  2,  3,  4,  5,  6,  7,
                                                       16, 17, 18, 19, 20, 21, 22, 23};
        alignas(64) static constexpr int32_t hi[16] = {8,  9,  10, 11, 12, 13, 14, 15,
                                                       24, 25, 26, 27, 28, 29, 30, 31};
        alignas(64) static constexpr int32_t ev[16] = {0,  1,  2,  3,  8,  9,  10, 11,
                                                       16, 17, 18, 19, 24, 25, 26, 27};
        alignas(64) static constexpr int32_t od[16] = {4,  5,  6,  7,  12, 13, 14, 15,
                                                       20, 21, 22, 23, 28, 29, 30, 31};
        return tree2(a, b, c, d, lo, hi, ev, od);
    }
    static W16 sum4x4(W16 p0, W16 p1, W16 p2, W16 p3) {
        // per chunk [p0_0 + p0_2, p1_0 + p1_2, p0_1 + p0_3, p1_1 + p1_3] (and the same for p2,
        // p3), then lanes 0 + 2 and 1 + 3 of each.
        alignas(64) static constexpr int32_t lo[16] = {0, 16, 1, 17, 4,  20, 5,  21,
                                                       8, 24, 9, 25, 12, 28, 13, 29};
        alignas(64) static constexpr int32_t hi[16] = {2,  18, 3,  19, 6,  22, 7,  23,
                                                       10, 26, 11, 27, 14, 30, 15, 31};
        alignas(64) static constexpr int32_t ev[16] = {0, 1, 16, 17, 4,  5,  20, 21,
                                                       8, 9, 24, 25, 12, 13, 28, 29};
        alignas(64) static constexpr int32_t od[16] = {2,  3,  18, 19, 6,  7,  22, 23,
                                                       10, 11, 26, 27, 14, 15, 30, 31};
        return tree2(p0, p1, p2, p3, lo, hi, ev, od);
    }
    // exp_neg on 16 lanes, the same operations lane by lane (so the same results).
    static W16 exp_neg16(W16 x) {
#if defined(GGML_AVX512_SIMDE)
        V lo, hi;
        halves16(x, lo, hi);
        return join16(exp_neg(lo), exp_neg(hi));
#else
        const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ);
        const W16 n = _mm512_maskz_roundscale_ps(0xffff, _mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        W16 f = _mm512_fmsub_ps(x, _mm512_set1_ps(kLog2eHi), n);
        f = _mm512_fmadd_ps(x, _mm512_set1_ps(kLog2eLo), f);
        W16 p = _mm512_set1_ps(kExpP[0]);
        for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExpP[i]));
        const __m512i e = _mm512_maskz_slli_epi32(0xffff, _mm512_maskz_cvtps_epi32(0xffff, n), 23);
        p = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e));
        return _mm512_maskz_mov_ps(keep, p);
#endif
    }
    static W16 max16(W16 a, W16 b) {
        return _mm512_maskz_max_ps(0xffff, a, b);
    }
    static W16 sub16(W16 a, W16 b) {
        return _mm512_sub_ps(a, b);
    }
    // x's two 8-lane halves. Through memory: GCC 12's cast and extract intrinsics pass an
    // uninitialised operand through (-Wmaybe-uninitialized), SIMDe has no 512-bit extract, and
    // the callers take halves once per row and block.
    static void halves16(W16 x, V& lo, V& hi) {
        alignas(64) float t[16];
        _mm512_store_ps(t, x);
        lo = _mm256_load_ps(t);
        hi = _mm256_load_ps(t + 8);
    }
    // v in lanes 0-7, zero above.
    static W16 widen16(V v) {
        return _mm512_maskz_mov_ps(0x00ff, _mm512_castps256_ps512(v));
    }
#if defined(GGML_AVX512_VNNI_BF16_COPY)
    static constexpr bool kBf16Dot = true;
    // q8_0 on 16 lanes (mmq8_pairs): the dot products of two blocks' codes (w0, w1: 32 each)
    // with 64 x codes; lanes 0-7 hold block 0's partial sums (four products each, exact in
    // int32), lanes 8-15 block 1's, as floats. vpdpbusd multiplies unsigned by signed bytes, so
    // |w| meets x carrying w's sign (AVX-512 has no vpsignb: a masked negation).
    static constexpr bool kDotQ8x2 = true;
    static W16 dot_q8x2(const int8_t* w0, const int8_t* w1, const int8_t* x) {
        const __m512i a = _mm512_maskz_inserti64x4(
            0xff, _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)w0)),
            _mm256_loadu_si256((const __m256i*)w1), 1);
        const __m512i b = _mm512_loadu_si512((const void*)x);
        const __m512i sb =
            _mm512_mask_sub_epi8(b, _mm512_movepi8_mask(a), _mm512_setzero_si512(), b);
        const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                              _mm512_maskz_abs_epi8(~(__mmask64)0, a), sb);
#if defined(GGML_AVX512_SIMDE)  // SIMDe has no 16-lane int32 -> f32 conversion
        alignas(64) int32_t t[16];
        _mm512_store_si512((void*)t, d);
        return join16(_mm256_cvtepi32_ps(_mm256_load_si256((const __m256i*)t)),
                      _mm256_cvtepi32_ps(_mm256_load_si256((const __m256i*)(t + 8))));
#else
        return _mm512_maskz_cvtepi32_ps(0xffff, d);
#endif
    }
    // a in lanes 0-7, b in lanes 8-15.
    static W16 pair16(float a, float b) {
        return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(a), _mm512_set1_ps(b));
    }
    // 16 floats to 8 words of bf16 pairs, w[i] = bf16(x[2i]) | bf16(x[2i + 1]) << 16, rounded
    // as f2b rounds (to nearest even, NaN kept quiet), in 8-lane integer operations (SIMDe has
    // no vcvtne2ps2bf16, and this keeps one rounding for both builds).
    static __m256i bf16_round8(__m256i u) {
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        const __m256i r = _mm256_srli_epi32(
            _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                               _mm256_set1_epi32(0x7f800000));
        const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
        return _mm256_blendv_epi8(r, q, nan);
    }
    static void bf16_pairs16(const float* x, uint32_t* w) {
        const __m256i a = bf16_round8(_mm256_loadu_si256((const __m256i*)x));
        const __m256i b = bf16_round8(_mm256_loadu_si256((const __m256i*)(x + 8)));
        // packus works within 128-bit lanes ([a0-3 b0-3 | a4-7 b4-7]); the permute restores
        // x's order.
        _mm256_storeu_si256((__m256i*)w, _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8));
    }
    // c[j] += a[2j] b[2j] + a[2j + 1] b[2j + 1] over the bf16 halves of each 32-bit lane j < 16
    // (the tiles: a a broadcast pair of x or of a scaled query, b a row of W's or the keys'
    // pairs as stored).
    static W16 dot2_16(W16 a, W16 b, W16 c) {
        __m512bh ab, bb;
        std::memcpy(&ab, &a, sizeof ab);
        std::memcpy(&bb, &b, sizeof bb);
        return _mm512_dpbf16_ps(c, ab, bb);
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
