// The AVX2 + FMA + F16C instruction set for simd_impl.inc. This file alone is compiled with
// -mavx2 -mfma -mf16c (see CMakeLists.txt); it is entered only after cpuid reports all three.
// exp() is the Cephes single-precision polynomial (range reduction by ln 2 split in two
// parts, degree-5 minimax polynomial; about 1 ulp on [-87.3, 88.7]); inputs below -87.3,
// -inf included, give exactly 0 so that masked keys contribute nothing.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "isa.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

namespace ggml {
namespace cpu {

namespace {

struct VT {
    using V = __m256;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V x) { _mm256_storeu_ps(p, x); }
    static V load_f16(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p));
    }
    // One f16 value (a quantized block's scale) without a trip through memory.
    static float f16(uint16_t h) { return _cvtsh_ss(h); }
    static V load_bf16(const uint16_t* p) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static float hsum(V a) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static float hmax(V a) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static V exp(V x) {
        const V zero_below = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
        x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
        x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
        V fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
        fx = _mm256_floor_ps(fx);
        x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
        x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
        V y = _mm256_set1_ps(1.9875691500E-4f);
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
        const V x2 = _mm256_mul_ps(x, x);
        y = _mm256_fmadd_ps(y, x2, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
        const __m256i e =
            _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
        y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
        return _mm256_and_ps(y, zero_below);
    }
    // maddubs multiplies unsigned by signed bytes, so |a| meets b carrying a's sign; pairs sum
    // to at most 2 * 127 * 127 < 2^15 (q8_0 values lie in [-127, 127]; q4_0 in [-8, 7]).
    static V dot_s8(__m256i a, __m256i b) {
        const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
    }
    static V dot_q8(const int8_t* a, const int8_t* b) {
        return dot_s8(_mm256_loadu_si256((const __m256i*)a), _mm256_loadu_si256((const __m256i*)b));
    }
    static V dot_q4(const uint8_t* qs, const int8_t* b) {
        const __m128i bytes = _mm_loadu_si128((const __m128i*)qs);
        const __m128i lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
        const __m256i a = _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
        return dot_s8(a, _mm256_loadu_si256((const __m256i*)b));
    }
    static void transpose8(V r[8]) {
        const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
        const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
        const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
        const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
        const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
        const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
        r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
        r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
        r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
        r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
        r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
        r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
        r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
    }
};

}  // namespace

#include "simd_impl.inc"

const IsaKernels* isa_kernels_avx2() {
    static const IsaKernels k = {Isa::Avx2, "avx2", &fa_run, &mm_run};
    return &k;
}

}  // namespace cpu
}  // namespace ggml

#else

namespace ggml {
namespace cpu {
const IsaKernels* isa_kernels_avx2() {
    return nullptr;
}
}  // namespace cpu
}  // namespace ggml

#endif
