#version 450
// get_rows (embedding lookup): y[:, i, i2, i3] = f32(a[:, ids[i, i2, i3], i2 % a.ne2, i3 % a.ne3])
// for a in f32/f16/bf16/q8_0/q4_0 and i32 ids. One invocation per element of y. An id outside
// [0, a.ne1) is a run-time error: the element is skipped (nothing outside the tensors is read)
// and the first such id is reported through the error buffer.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;

DECL_BUF32(dst, 1)
DECL_BUF32(srca, 2)
DECL_BUF16(srca, 2)
#define QBUF srca32
#include "quant.glsl"
DECL_BUF32(ids, 3)

void main() {
    const uint i = group_index() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const Desc D = P.t[0];
    const Desc A = P.t[1];
    const Desc I = P.t[2];
    const uvec4 idx = unravel(i, D.ne);
    const int id = int(ids32.d[elem_offset(I, idx.y, idx.z, idx.w, 0u)]);
    if (id < 0 || uint(id) >= A.ne.y) {
        report_error(id, A.ne.y);
        return;
    }
    const uint di = elem_offset(D, idx.x, idx.y, idx.z, idx.w);
    if (is_quant(A.type)) {
        const uint row = elem_offset(A, 0u, uint(id), idx.z % A.ne.z, idx.w % A.ne.w);
        STORE_F32(dst, di, q_get(A.type, row, A.nb.x, idx.x));
        return;
    }
    const uint ai = elem_offset(A, idx.x, uint(id), idx.z % A.ne.z, idx.w % A.ne.w);
    STORE_F32(dst, di, LOAD_FLOAT(srca, A.type, ai));
}
