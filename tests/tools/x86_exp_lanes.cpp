// The x86 vector interface's exp_neg (backends/cpu/simd_x86.inc, shared by the AVX2 and
// AVX-512 sets) behind a plain function, for x86_exp_check.cpp. This file alone is compiled
// with -mavx2 -mfma -mf16c, like simd_avx2.cpp; it is called only after cpuid reports them.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace x86_check {
namespace {
#include "simd_x86.inc"
}  // namespace

// out[i] = exp_neg(in[i]) for i < 8.
void exp_neg8(const float* in, float* out) {
    VTx86::store(out, VTx86::exp_neg(VTx86::load(in)));
}

}  // namespace x86_check
