#version 450
// Element-wise unary ops on f32 (op from the push constants):
//   0 scale: y = s * a + bias          (s = fp[0], bias = fp[1])
//   1 sqr:   y = a^2
//   2 tanh:  y = tanh(a)
//   3 silu:  y = a / (1 + exp(-a))      (Elfwing et al. 2018)
//   4 gelu:  y = 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))
//            (Hendrycks & Gimpel 2016, tanh approximation)
// tanh's argument is clamped to [-15, 15], where tanh is +-1 to f32 precision: some drivers
// evaluate tanh through exp(2x) and would give inf/inf = nan for large |x|.
// One invocation per element; y may share a's memory (in place).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)

float safe_tanh(float x) { return tanh(clamp(x, -15.0, 15.0)); }

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const uvec4 idx = unravel(i, D.ne);
    const float a = LOAD_F32(srca, elem_offset(A, idx.x, idx.y, idx.z, idx.w));
    float y;
    switch (pc.op) {
        case 0u: y = P.fp[0] * a + P.fp[1]; break;
        case 1u: y = a * a; break;
        case 2u: y = safe_tanh(a); break;
        case 3u: y = a / (1.0 + exp(-a)); break;
        default: y = 0.5 * a * (1.0 + safe_tanh(0.7978845608028654 * (a + 0.044715 * a * a * a))); break;
    }
    STORE_F32(dst, elem_offset(D, idx.x, idx.y, idx.z, idx.w), y);
}
