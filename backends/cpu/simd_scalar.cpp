// The baseline instruction set: the 8-lane interface of simd_impl.inc emulated with plain
// arrays (the compiler may still use the target's baseline vectors, e.g. SSE2). Always built;
// it is the reference every SIMD set is tested against (GGML_CPU_ISA=scalar).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "isa.h"

namespace ggml {
namespace cpu {

namespace {

struct VT {
    struct V {
        float v[8];
    };
    static V zero() { return set1(0.0f); }
    static V set1(float x) {
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = x;
        return r;
    }
    static V load(const float* p) {
        V r;
        std::memcpy(r.v, p, sizeof r.v);
        return r;
    }
    static void store(float* p, const V& x) { std::memcpy(p, x.v, sizeof x.v); }
    static V load_f16(const uint16_t* p);
    static V load_bf16(const uint16_t* p);
    static float f16_at(const uint8_t* p);
    static V fma(const V& a, const V& b, const V& c) {
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
        return r;
    }
    static V mul(const V& a, const V& b) {
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i];
        return r;
    }
    static V add(const V& a, const V& b) {
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] + b.v[i];
        return r;
    }
    static V sub(const V& a, const V& b) {
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] - b.v[i];
        return r;
    }
    static V max(const V& a, const V& b) {
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
        return r;
    }
    static float hsum(const V& a) {
        return ((a.v[0] + a.v[4]) + (a.v[1] + a.v[5])) + ((a.v[2] + a.v[6]) + (a.v[3] + a.v[7]));
    }
    static float hmax(const V& a) {
        float m = a.v[0];
        for (int i = 1; i < 8; ++i) m = a.v[i] > m ? a.v[i] : m;
        return m;
    }
    static V exp_neg(const V& a) {  // exp on x <= 0 (softmax), as the SIMD sets name it
        V r;
        for (int i = 0; i < 8; ++i) r.v[i] = expf(a.v[i]);
        return r;
    }
    static V dot_q8(const int8_t* a, const int8_t* b) {
        V r;
        for (int l = 0; l < 8; ++l) {
            int32_t s = 0;
            for (int i = 4 * l; i < 4 * l + 4; ++i) s += (int32_t)a[i] * b[i];
            r.v[l] = (float)s;
        }
        return r;
    }
    static V dot_q4x8(const uint8_t* qs, const int8_t* b) {
        V r;
        for (int row = 0; row < 8; ++row) {
            int32_t s = 0;
            for (int j = 0; j < 4; ++j)
                for (int i = 0; i < 4; ++i) {
                    const uint8_t q = qs[32 * j + 4 * row + i];
                    s += (q & 15) * b[4 * j + i] + (q >> 4) * b[16 + 4 * j + i];
                }
            r.v[row] = (float)s;
        }
        return r;
    }
    static V dot_q4(const uint8_t* qs, const int8_t* b) {
        V r;
        for (int l = 0; l < 8; ++l) {
            int32_t s = 0;
            for (int i = 2 * l; i < 2 * l + 2; ++i)
                s += (qs[i] & 15) * b[i] + (qs[i] >> 4) * b[i + 16];
            r.v[l] = (float)s;
        }
        return r;
    }
    static void transpose8(V r[8]) {
        V t[8];
        for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j) t[j].v[i] = r[i].v[j];
        for (int i = 0; i < 8; ++i) r[i] = t[i];
    }
};

}  // namespace

#include "simd_impl.inc"

VT::V VT::load_f16(const uint16_t* p) {
    V r;
    for (int i = 0; i < 8; ++i) r.v[i] = h2f(p[i]);
    return r;
}
float VT::f16_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return h2f(h);
}
VT::V VT::load_bf16(const uint16_t* p) {
    V r;
    for (int i = 0; i < 8; ++i) r.v[i] = b2f(p[i]);
    return r;
}

const IsaKernels* isa_kernels_scalar() {
    static const IsaKernels k = {Isa::Scalar, "scalar", &fa_run, &mm_run};
    return &k;
}

}  // namespace cpu
}  // namespace ggml
