// Unit check of the NEON vector interface (VT in backends/cpu/simd_neon.cpp), built and run
// under qemu-aarch64 by tools/test-neon.sh. The harness tests the kernels end to end within
// tolerances; this checks each VT member exactly against plain C++:
//   loads, stores, add/sub/mul/fma, hsum (the scalar set's summation order), max/hmax,
//   transpose8, load_f16, load_bf16 and f16_at on all 65536 bit patterns, exp_neg bitwise
//   against the x86 sets' operation sequence in plain C++ (exp_neg_ref.h; and within 2.5 ulp
//   of double exp on [-87.3, 0], exp_neg(0) = 1, exactly 0 below -87.3, -inf and NaN included),
//   dot_q8/dot_q4/dot_q4x8 exact on random and extreme blocks.
// Built once for armv8-a and once with -march=armv8.2-a+dotprod -DGGML_NEON_DOTPROD_COPY.
#include <cstdio>
#include <random>

#include "../backends/cpu/simd_neon.cpp"
#include "exp_neg_ref.h"

using ggml::cpu::VT;

namespace {

int failures = 0;

void check(bool ok, const char* what, double a = 0, double b = 0) {
    if (!ok && ++failures <= 20) std::printf("FAIL %s: %.9g vs %.9g\n", what, a, b);
}

bool same_bits(float a, float b) {
    return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b));
}

VT::V from(const float* p) {
    return VT::load(p);
}
void to(float* p, VT::V v) {
    VT::store(p, v);
}

}  // namespace

int main() {
    std::mt19937 rng(12345);
    std::uniform_real_distribution<float> uf(-10.0f, 10.0f);
    float a[8], b[8], c[8], r[8];
    for (int it = 0; it < 1000; ++it) {
        for (int i = 0; i < 8; ++i) a[i] = uf(rng), b[i] = uf(rng), c[i] = uf(rng);
        to(r, VT::add(from(a), from(b)));
        for (int i = 0; i < 8; ++i) check(same_bits(r[i], a[i] + b[i]), "add", r[i], a[i] + b[i]);
        to(r, VT::sub(from(a), from(b)));
        for (int i = 0; i < 8; ++i) check(same_bits(r[i], a[i] - b[i]), "sub", r[i], a[i] - b[i]);
        to(r, VT::mul(from(a), from(b)));
        for (int i = 0; i < 8; ++i) check(same_bits(r[i], a[i] * b[i]), "mul", r[i], a[i] * b[i]);
        to(r, VT::fma(from(a), from(b), from(c)));
        for (int i = 0; i < 8; ++i) {
            const float want = std::fmaf(a[i], b[i], c[i]);
            check(same_bits(r[i], want), "fma", r[i], want);
        }
        to(r, VT::max(from(a), from(b)));
        for (int i = 0; i < 8; ++i) {
            const float want = a[i] > b[i] ? a[i] : b[i];
            check(same_bits(r[i], want), "max", r[i], want);
        }
        const float hs = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
        check(same_bits(VT::hsum(from(a)), hs), "hsum", VT::hsum(from(a)), hs);
        float hm = a[0];
        for (int i = 1; i < 8; ++i) hm = a[i] > hm ? a[i] : hm;
        check(same_bits(VT::hmax(from(a)), hm), "hmax", VT::hmax(from(a)), hm);
        to(r, VT::set1(a[0]));
        for (int i = 0; i < 8; ++i) check(r[i] == a[0], "set1", r[i], a[0]);
    }
    to(r, VT::zero());
    for (int i = 0; i < 8; ++i) check(same_bits(r[i], 0.0f), "zero", r[i], 0.0);

    float m[64];
    VT::V rows[8];
    for (int i = 0; i < 64; ++i) m[i] = (float)i;
    for (int i = 0; i < 8; ++i) rows[i] = from(m + 8 * i);
    VT::transpose8(rows);
    for (int i = 0; i < 8; ++i) {
        to(r, rows[i]);
        for (int j = 0; j < 8; ++j) check(r[j] == m[8 * j + i], "transpose8", r[j], m[8 * j + i]);
    }

    uint16_t h[12] = {};  // 8 patterns, then room for f16_at's 8-byte read of the last one
    for (uint32_t base = 0; base < 65536; base += 8) {
        for (int i = 0; i < 8; ++i) h[i] = (uint16_t)(base + i);
        to(r, VT::load_f16(h));
        for (int i = 0; i < 8; ++i)
            check(same_bits(r[i], ggml::cpu::h2f(h[i])), "load_f16", r[i], ggml::cpu::h2f(h[i]));
        to(r, VT::load_bf16(h));
        for (int i = 0; i < 8; ++i)
            check(same_bits(r[i], ggml::cpu::b2f(h[i])), "load_bf16", r[i], ggml::cpu::b2f(h[i]));
        for (int i = 0; i < 8; ++i) {
            const float f = VT::f16_at((const uint8_t*)(h + i));
            check(same_bits(f, ggml::cpu::h2f(h[i])), "f16_at", f, ggml::cpu::h2f(h[i]));
        }
    }

    // exp_neg's domain is x <= 0 (and -inf, NaN: 0); the polynomial is within 2.24 ulp of exp
    // there (measured over every float in [-87.3, 0] with the same arithmetic on x86).
    double worst_ulp = 0.0;
    const float specials[] = {-INFINITY, -1e30f, -100.0f, -87.31f, -87.3f, -87.29f,
                              -50.0f,    -1.0f,  -0.0f,   0.0f,    -1e-8f, -0.5f,
                              -0.49999f, -20.0f, -3.5f,   NAN};
    std::uniform_real_distribution<float> ue(-90.0f, 0.0f);
    for (int it = 0; it < 40000; ++it) {
        for (int i = 0; i < 8; ++i) a[i] = it < 2 ? specials[8 * it + i] : ue(rng);
        to(r, VT::exp_neg(from(a)));
        for (int i = 0; i < 8; ++i) {
            check(same_bits(r[i], exp_neg_ref(a[i])), "exp_neg vs x86 sequence", a[i], r[i]);
            if (a[i] >= -87.3f)
                worst_ulp = std::fmax(worst_ulp, ulp_err(r[i], std::exp((double)a[i])));
            else
                check(same_bits(r[i], 0.0f), "exp_neg below -87.3 is +0", a[i], r[i]);
        }
    }
    check(worst_ulp <= 2.5, "exp_neg max ulp", worst_ulp, 2.5);
    to(r, VT::exp_neg(VT::zero()));
    check(r[0] == 1.0f, "exp_neg(0) is 1", r[0], 1.0);

    int8_t qa[32], qb[32];
    uint8_t q4[16];
    std::uniform_int_distribution<int> ub(-128, 127), un(0, 255);
    for (int it = 0; it < 20000; ++it) {
        for (int i = 0; i < 32; ++i) {
            qa[i] = (int8_t)(it == 0 ? -128 : it == 1 ? 127 : ub(rng));
            qb[i] = (int8_t)(it == 0 ? -128 : it == 1 ? -128 : ub(rng));
        }
        for (int i = 0; i < 16; ++i) q4[i] = (uint8_t)(it == 0 ? 0x00 : it == 1 ? 0xff : un(rng));
        int32_t s8 = 0, s4 = 0;
        for (int i = 0; i < 32; ++i) s8 += qa[i] * qb[i];
        for (int i = 0; i < 16; ++i) s4 += (q4[i] & 15) * qb[i] + (q4[i] >> 4) * qb[i + 16];
        to(r, VT::dot_q8(qa, qb));
        double t8 = 0;
        for (int l = 0; l < 8; ++l) {
            int32_t lane = 0;
            for (int i = 4 * l; i < 4 * l + 4; ++i) lane += qa[i] * qb[i];
            check(r[l] == (float)lane, "dot_q8 lane", r[l], lane);
            t8 += r[l];
        }
        check(t8 == s8, "dot_q8 sum", t8, s8);
        to(r, VT::dot_q4(q4, qb));
        double t4 = 0;
        for (int l = 0; l < 8; ++l) {
            check(r[l] == std::nearbyint(r[l]) && std::fabs(r[l]) < 16777216.0f, "dot_q4 lane",
                  r[l]);
            t4 += r[l];
        }
        check(t4 == s4, "dot_q4 sum", t4, s4);
    }
    // dot_q4x8: lane r is row r's sum over a q4_0x8 unit (code byte i of row r at
    // 32 (i / 4) + 4 r + i % 4), extremes included: every code 15 against x = -128 / 127.
    uint8_t u[128];
    for (int it = 0; it < 20000; ++it) {
        for (int i = 0; i < 128; ++i) u[i] = (uint8_t)(it == 0 ? 0xff : it == 1 ? 0x0f : un(rng));
        for (int i = 0; i < 32; ++i) qb[i] = (int8_t)(it == 0 ? -128 : it == 1 ? 127 : ub(rng));
        to(r, VT::dot_q4x8(u, qb));
        for (int row = 0; row < 8; ++row) {
            int32_t s = 0;
            for (int i = 0; i < 16; ++i) {
                const uint8_t q = u[32 * (i / 4) + 4 * row + i % 4];
                s += (q & 15) * qb[i] + (q >> 4) * qb[i + 16];
            }
            check(r[row] == (float)s, "dot_q4x8 lane", r[row], s);
        }
    }

#if defined(__ARM_FEATURE_DOTPROD)
    const char* variant = "neon+dotprod";
#else
    const char* variant = "neon";
#endif
    std::printf("neon VT check (%s): exp_neg max error %.2f ulp, %s\n", variant, worst_ulp,
                failures ? "FAILED" : "all exact");
    return failures ? 1 : 0;
}
