// Shared declarations of every compute shader of the Vulkan backend.
//
// Binding layout (one descriptor set, the same for every pipeline):
//   0: the node's parameter block P (tensor descriptors and scalar parameters)
//   1: the result (dst)            2..6: src[0]..src[4]          7: the run-time error buffer
// Each binding covers the tensor's buffer from an offset aligned down to the device's storage
// alignment; Desc.offs is the tensor's first element relative to that, and every stride is in
// elements of the tensor's own dtype, so a view with any strides is addressed directly:
//   element (i0, i1, i2, i3) = offs + i0*nb[0] + i1*nb[1] + i2*nb[2] + i3*nb[3].
// q8_0/q4_0 tensors are the exception: offs and nb[] count bytes (quant.glsl).
//
// 16-bit data (f16, bf16) is read as raw 16-bit patterns and converted in registers:
//   f16  -> f32: unpackHalf2x16 (exact);  bf16 -> f32: the pattern shifted into the high half.
//   f32  -> f16: packHalf2x16;            f32 -> bf16: round to nearest even on bit 16.
// With FP16_STORAGE (the device has storageBuffer16BitAccess) the buffers are uint16_t arrays;
// without it they are uint arrays holding two halves each, and 16-bit stores become an atomic
// and/or pair on the containing word, so neighbouring halves written by other invocations
// survive.

#ifdef FP16_STORAGE
#extension GL_EXT_shader_16bit_storage : require
#endif

#define T_F32 0u
#define T_F16 1u
#define T_BF16 2u
#define T_I32 3u
#define T_Q8_0 4u
#define T_Q4_0 5u

struct Desc {
    uvec4 ne;   // elements per dimension
    uvec4 nb;   // strides in elements
    uint offs;  // first element, relative to the binding
    uint type;  // T_*
    uint pad0, pad1;
};

layout(std430, set = 0, binding = 0) readonly buffer ParamBuf {
    Desc t[6];       // t[0] = dst, t[1 + i] = src[i]
    int ip[16];      // integer parameters, per op
    float fp[16];    // float parameters, per op
    uint bits[8];    // a 256-bit set (steered heads)
} P;

// Small per-dispatch values that change between dispatches of the same pipeline.
layout(push_constant) uniform PushConsts {
    uint n;      // items (elements, rows, ...) this dispatch covers
    uint node;   // index of the node in the recorded list (error reports)
    uint op;     // op variant for shaders shared by several ops
    uint pad;
} pc;

layout(std430, set = 0, binding = 7) buffer ErrBuf {
    uint flag;   // 0 = no error; the first reporter sets 1 and fills the rest
    uint node;
    int value;
    uint limit;
} err;

void report_error(int value, uint limit) {
    if (atomicCompSwap(err.flag, 0u, 1u) == 0u) {
        err.node = pc.node;
        err.value = value;
        err.limit = limit;
    }
}

uint elem_offset(const Desc d, uint i0, uint i1, uint i2, uint i3) {
    return d.offs + i0 * d.nb.x + i1 * d.nb.y + i2 * d.nb.z + i3 * d.nb.w;
}

// Linear index over ne -> (i0, i1, i2, i3), ne[0] fastest.
uvec4 unravel(uint i, uvec4 ne) {
    const uint i0 = i % ne.x;
    i /= ne.x;
    const uint i1 = i % ne.y;
    i /= ne.y;
    const uint i2 = i % ne.z;
    return uvec4(i0, i1, i2, i / ne.z);
}

// Workgroup index of a grid folded into x/y (maxComputeWorkGroupCount[0] may be 65535).
uint group_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

float f16_to_f32(uint h) { return unpackHalf2x16(h).x; }
float bf16_to_f32(uint h) { return uintBitsToFloat(h << 16); }
uint f32_to_f16(float v) { return packHalf2x16(vec2(v, 0.0)) & 0xffffu; }
uint f32_to_bf16(float v) {
    const uint u = floatBitsToUint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) & 0xffffu;  // quiet nan
    return ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) & 0xffffu;
}
float half_bits_to_f32(uint type, uint h) { return type == T_F16 ? f16_to_f32(h) : bf16_to_f32(h); }
uint f32_to_half_bits(uint type, float v) { return type == T_F16 ? f32_to_f16(v) : f32_to_bf16(v); }

// A binding seen as 32-bit words (f32 / i32) and, aliased, as 16-bit values.
#define DECL_BUF32(NAME, BINDING) \
    layout(std430, set = 0, binding = BINDING) buffer NAME##_32_t { uint d[]; } NAME##32;

#ifdef FP16_STORAGE
#define DECL_BUF16(NAME, BINDING) \
    layout(std430, set = 0, binding = BINDING) buffer NAME##_16_t { uint16_t d[]; } NAME##16;
#define LOAD16(NAME, i) uint((NAME##16).d[i])
#define STORE16(NAME, i, v) (NAME##16).d[i] = uint16_t(v)
#else
#define DECL_BUF16(NAME, BINDING) \
    layout(std430, set = 0, binding = BINDING) buffer NAME##_16_t { uint d[]; } NAME##16;
#define LOAD16(NAME, i) (((NAME##16).d[(i) >> 1] >> (((i) & 1u) * 16u)) & 0xffffu)
#define STORE16(NAME, i, v)                                              \
    {                                                                    \
        const uint i_ = (i), s_ = (i_ & 1u) * 16u;                       \
        atomicAnd((NAME##16).d[i_ >> 1], ~(0xffffu << s_));                \
        atomicOr((NAME##16).d[i_ >> 1], (uint(v) & 0xffffu) << s_);        \
    }
#endif

#define LOAD_F32(NAME, i) uintBitsToFloat((NAME##32).d[i])
#define STORE_F32(NAME, i, v) (NAME##32).d[i] = floatBitsToUint(v)
// Element i of a float tensor of dtype `type` (f32, f16 or bf16) as f32.
#define LOAD_FLOAT(NAME, type, i) \
    ((type) == T_F32 ? LOAD_F32(NAME, i) : half_bits_to_f32((type), LOAD16(NAME, i)))
