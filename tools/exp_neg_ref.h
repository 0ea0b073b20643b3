// The CPU SIMD sets' exp_neg (backends/cpu/simd_x86.inc, simd_neon.cpp: exp on x <= 0 for the
// softmax) one lane at a time in plain C++: every FMA fused, round to nearest even, the same
// constants. The vector interface checks (tools/neon_vt_check.cpp, tests/tools/
// x86_exp_check.cpp) compare each set against it bit for bit, and it against double exp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

inline float exp_neg_ref(float x) {
    if (!(x >= -87.3f)) return 0.0f;
    const float n = std::nearbyint(x * 1.44269504088896341f);
    float f = std::fmaf(x, 1.44269502162933349609375f, -n);
    f = std::fmaf(x, 1.925963033500011079e-8f, f);
    float p = 1.3264728477224708e-3f;
    p = std::fmaf(p, f, 9.671512991189957e-3f);
    p = std::fmaf(p, f, 5.550733581185341e-2f);
    p = std::fmaf(p, f, 2.4022242426872253e-1f);
    p = std::fmaf(p, f, 6.931470036506653e-1f);
    p = std::fmaf(p, f, 1.0f);
    uint32_t bits;
    std::memcpy(&bits, &p, 4);
    bits += (uint32_t)(int32_t)n << 23;
    std::memcpy(&p, &bits, 4);
    return p;
}

// |got - want| in units of the last place of want as a float.
inline double ulp_err(float got, double want) {
    const double u = std::ldexp(1.0, std::ilogb((float)want) - 23);
    return std::fabs(got - want) / u;
}
