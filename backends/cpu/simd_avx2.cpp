// The AVX2 + FMA + F16C instruction set for simd_impl.inc. This file alone is compiled with
// -mavx2 -mfma -mf16c (see CMakeLists.txt); it is entered only after cpuid reports all three.
// The vector interface itself is in simd_x86.inc, shared with the AVX-512 sets.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "isa.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

namespace ggml {
namespace cpu {

namespace {

#include "simd_x86.inc"

struct VT : VTx86 {};

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
