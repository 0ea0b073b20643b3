// The AArch64 NEON (Advanced SIMD) instruction set for simd_impl.inc. NEON and the f16 <-> f32
// conversions are baseline on AArch64, so this file needs no extra flags and is always usable
// there. The 8-lane interface is a pair of float32x4_t.
//
// The file is compiled twice (see CMakeLists.txt): as itself for plain armv8-a, and as a copy
// with GGML_NEON_DOTPROD_COPY and -march=armv8.2-a+dotprod, where the integer block dot products
// use SDOT (vdotq_s32). isa_kernels_neon() returns the dotprod copy only when the kernel reports
// HWCAP_ASIMDDP, so one binary runs on any AArch64 CPU. Without SDOT the dot products widen with
// SMULL and sum pairs with SADDLP/ADDP; both layouts put bytes [4l, 4l + 4) of each 16-byte half
// in lane l, as the AVX2 set does.
//
// exp_neg() (exp on x <= 0, for softmax) is the x86 sets' polynomial, operation for operation;
// inputs below -87.3, -inf included, give exactly 0 so that masked keys contribute nothing.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "isa.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#if defined(__linux__) && !defined(GGML_NEON_DOTPROD_COPY)
#include <sys/auxv.h>
#endif

namespace ggml {
namespace cpu {

namespace {

struct VT {
    struct V {
        float32x4_t lo, hi;
    };
    static V zero() { return {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }
    static V set1(float x) { return {vdupq_n_f32(x), vdupq_n_f32(x)}; }
    static V load(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
    static void store(float* p, V x) {
        vst1q_f32(p, x.lo);
        vst1q_f32(p + 4, x.hi);
    }
    static V load_f16(const uint16_t* p) {
        return {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))),
                vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p + 4)))};
    }
    // One f16 value (a quantized block's scale), converted in a register.
    static float f16_at(const uint8_t* p) {
        return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t*)p))), 0);
    }
    static V load_bf16(const uint16_t* p) {
        const uint16x8_t w = vld1q_u16(p);
        return {vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(w), 16)),
                vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(w), 16))};
    }
    static V fma(V a, V b, V c) {
        return {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)};
    }
    static V mul(V a, V b) { return {vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)}; }
    static V add(V a, V b) { return {vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
    static V sub(V a, V b) { return {vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)}; }
    // a > b ? a : b like the other sets (FMAX would turn a NaN operand into NaN).
    static V max(V a, V b) {
        return {vbslq_f32(vcgtq_f32(a.lo, b.lo), a.lo, b.lo),
                vbslq_f32(vcgtq_f32(a.hi, b.hi), a.hi, b.hi)};
    }
    // FADDP twice: ((v0 + v4) + (v1 + v5)) + ((v2 + v6) + (v3 + v7)), the scalar set's order.
    static float hsum(V a) { return vaddvq_f32(vaddq_f32(a.lo, a.hi)); }
    static float hmax(V a) { return vmaxvq_f32(vmaxq_f32(a.lo, a.hi)); }
    // exp for x <= 0 or -inf, as the x86 sets' exp_neg (the same operations and constants).
    static float32x4_t exp_neg4(float32x4_t x) {
        const uint32x4_t keep = vcgeq_f32(x, vdupq_n_f32(-87.3f));
        const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
        float32x4_t f = vfmaq_f32(vnegq_f32(n), x, vdupq_n_f32(1.44269502162933349609375f));
        f = vfmaq_f32(f, x, vdupq_n_f32(1.925963033500011079e-8f));
        float32x4_t p = vdupq_n_f32(1.3264728477224708e-3f);
        p = vfmaq_f32(vdupq_n_f32(9.671512991189957e-3f), p, f);
        p = vfmaq_f32(vdupq_n_f32(5.550733581185341e-2f), p, f);
        p = vfmaq_f32(vdupq_n_f32(2.4022242426872253e-1f), p, f);
        p = vfmaq_f32(vdupq_n_f32(6.931470036506653e-1f), p, f);
        p = vfmaq_f32(vdupq_n_f32(1.0f), p, f);
        // n is integral, so truncation converts it exactly (garbage lanes are cleared below).
        const int32x4_t e = vshlq_n_s32(vcvtq_s32_f32(n), 23);
        p = vreinterpretq_f32_s32(vaddq_s32(vreinterpretq_s32_f32(p), e));
        return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(p), keep));
    }
    static V exp_neg(V x) { return {exp_neg4(x.lo), exp_neg4(x.hi)}; }
    // Lane l: sum of a[i] * b[i] over i in [4l, 4l + 4). Products fit int16 (|a|, |b| <= 128).
    static int32x4_t dot16(int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
        return vdotq_s32(vdupq_n_s32(0), a, b);
#else
        const int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
        const int32x4_t hi = vpaddlq_s16(vmull_high_s8(a, b));
        return vpaddq_s32(lo, hi);
#endif
    }
    static V dot_q8(const int8_t* a, const int8_t* b) {
        return {vcvtq_f32_s32(dot16(vld1q_s8(a), vld1q_s8(b))),
                vcvtq_f32_s32(dot16(vld1q_s8(a + 16), vld1q_s8(b + 16)))};
    }
    static V dot_q4(const uint8_t* qs, const int8_t* b) {
        const uint8x16_t bytes = vld1q_u8(qs);
        const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(0x0f)));
        const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
        return {vcvtq_f32_s32(dot16(lo, vld1q_s8(b))), vcvtq_f32_s32(dot16(hi, vld1q_s8(b + 16)))};
    }
    // q4_0x8: the first 16 bytes of vector j are rows 0-3, the next 16 rows 4-7 (quant.h).
    static V dot_q4x8(const uint8_t* qs, const int8_t* b) {
        int32x4_t r03 = vdupq_n_s32(0), r47 = vdupq_n_s32(0);
        for (int j = 0; j < 4; ++j) {
            int32_t xa, xb;
            std::memcpy(&xa, b + 4 * j, 4);
            std::memcpy(&xb, b + 16 + 4 * j, 4);
            const int8x16_t va = vreinterpretq_s8_s32(vdupq_n_s32(xa));
            const int8x16_t vb = vreinterpretq_s8_s32(vdupq_n_s32(xb));
            const uint8x16_t q0 = vld1q_u8(qs + 32 * j), q1 = vld1q_u8(qs + 32 * j + 16);
            const uint8x16_t m4 = vdupq_n_u8(0x0f);
            r03 = vaddq_s32(r03, dot16(vreinterpretq_s8_u8(vandq_u8(q0, m4)), va));
            r03 = vaddq_s32(r03, dot16(vreinterpretq_s8_u8(vshrq_n_u8(q0, 4)), vb));
            r47 = vaddq_s32(r47, dot16(vreinterpretq_s8_u8(vandq_u8(q1, m4)), va));
            r47 = vaddq_s32(r47, dot16(vreinterpretq_s8_u8(vshrq_n_u8(q1, 4)), vb));
        }
        return {vcvtq_f32_s32(r03), vcvtq_f32_s32(r47)};
    }
    // In place 4x4 transpose of rows a..d.
    static void transpose4(float32x4_t& a, float32x4_t& b, float32x4_t& c, float32x4_t& d) {
        const float32x4_t t0 = vtrn1q_f32(a, b), t1 = vtrn2q_f32(a, b);
        const float32x4_t t2 = vtrn1q_f32(c, d), t3 = vtrn2q_f32(c, d);
        a = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
        b = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
        c = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
        d = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    }
    // The 8x8 transpose is four 4x4 ones; the two off-diagonal blocks swap places.
    static void transpose8(V r[8]) {
        transpose4(r[0].lo, r[1].lo, r[2].lo, r[3].lo);
        transpose4(r[4].hi, r[5].hi, r[6].hi, r[7].hi);
        transpose4(r[0].hi, r[1].hi, r[2].hi, r[3].hi);
        transpose4(r[4].lo, r[5].lo, r[6].lo, r[7].lo);
        for (int i = 0; i < 4; ++i) {
            const float32x4_t t = r[i].hi;
            r[i].hi = r[i + 4].lo;
            r[i + 4].lo = t;
        }
    }
};

}  // namespace

#include "simd_impl.inc"

#if defined(GGML_NEON_DOTPROD_COPY)

const IsaKernels* isa_kernels_neon_dotprod() {
    static const IsaKernels k = {Isa::Neon, "neon+dotprod", &fa_run, &mm_run};
    return &k;
}

#else

#if defined(GGML_NEON_HAVE_DOTPROD_COPY)
const IsaKernels* isa_kernels_neon_dotprod();

namespace {
bool cpu_has_dotprod() {
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
    return false;
#endif
}
}  // namespace
#endif

const IsaKernels* isa_kernels_neon() {
    static const IsaKernels k = {Isa::Neon, "neon", &fa_run, &mm_run};
#if defined(GGML_NEON_HAVE_DOTPROD_COPY)
    static const bool dotprod = cpu_has_dotprod();
    if (dotprod) return isa_kernels_neon_dotprod();
#endif
    return &k;
}

#endif

}  // namespace cpu
}  // namespace ggml

#elif !defined(GGML_NEON_DOTPROD_COPY)

namespace ggml {
namespace cpu {
const IsaKernels* isa_kernels_neon() {
    return nullptr;
}
}  // namespace cpu
}  // namespace ggml

#endif
