// Workgroup-wide reductions over WG invocations through shared memory (tree of halvings).
// Every invocation must call them (they contain barriers) and every one gets the result.
// WG must be a power of two and must be defined before this file is included.

shared float red_f[WG];

float wg_sum(float v) {
    const uint t = gl_LocalInvocationID.x;
    red_f[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) red_f[t] += red_f[t + s];
        barrier();
    }
    const float r = red_f[0];
    barrier();
    return r;
}

float wg_max(float v) {
    const uint t = gl_LocalInvocationID.x;
    red_f[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) red_f[t] = max(red_f[t], red_f[t + s]);
        barrier();
    }
    const float r = red_f[0];
    barrier();
    return r;
}
