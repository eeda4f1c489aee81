/* Elementwise kernels: axpby, unary activations, broadcast of per-channel vectors, channel copies. */

/* Work per item: each work-item handles EW_PER_ITEM consecutive elements. */
#ifndef EW_PER_ITEM
#define EW_PER_ITEM 4
#endif
/* Storage of each tensor argument, float (0) or half (1): cl/storage.h. */

__kernel void axpby(const int n, const float a, __global const CN_T(X_H) *x, const float b,
                    __global const CN_T(Z_H) *z, const int has_z, __global CN_T(Y_H) *y)
{
    int base = get_global_id(0) * EW_PER_ITEM;
    for (int j = 0; j < EW_PER_ITEM; j++) {
        int i = base + j;
        if (i < n)
            CN_ST(Y_H, y, i, has_z ? a * CN_LD(X_H, x, i) + b * CN_LD(Z_H, z, i)
                                   : a * CN_LD(X_H, x, i));
    }
}

/* op: 0 relu, 1 exact (erf) GELU, 2 sigmoid. 16 elements per work-item as
 * one vector, so that erf and exp run as vector functions (PoCL computed a
 * scalar erf per element: 119 ms for S3D-sized attention inputs). */
#define UNARY(v, r)                                                                   \
    if (op == 0)                                                                      \
        r = fmax(v, 0.0f);                                                            \
    else if (op == 1)                                                                 \
        r = 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));                        \
    else /* both forms stay finite for large |v|; each is used where it is exact */ \
        r = select(exp(v) / (1.0f + exp(v)), 1.0f / (1.0f + exp(-v)), v >= 0.0f);

__kernel void unary(const int n, const int op, const float shift, __global const CN_T(X_H) *x,
                    __global CN_T(Y_H) *y)
{
    const int base = get_global_id(0) * 16;
    if (base + 16 <= n) {
        float16 v = CN_LDN(X_H, 16, x, base), r;
        UNARY(v, r)
        CN_STN(Y_H, 16, y, base, r + shift);
    } else {
        for (int i = base; i < n; i++) {
            float v = CN_LD(X_H, x, i), r;
            UNARY(v, r)
            CN_ST(Y_H, y, i, r + shift);
        }
    }
}

/* y[nc, s] = v[nc] for s < inner; v's storage is X_H */
__kernel void broadcast_nc(const int nc, const int inner, __global const CN_T(X_H) *v,
                           __global CN_T(Y_H) *y)
{
    int s = get_global_id(0), c = get_global_id(1);
    if (s < inner && c < nc)
        CN_ST(Y_H, y, (long)c * inner + s, CN_LD(X_H, v, c));
}

/* x (N, cx, inner) into y (N, cy, inner) at channel offset coff; with
 * different storages this is also the conversion between float and half */
__kernel void copy_channels(const int cx, const int inner, const int cy, const int coff,
                            __global const CN_T(X_H) *x, __global CN_T(Y_H) *y)
{
    int s = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (s < inner && c < cx)
        CN_ST(Y_H, y, ((long)n * cy + coff + c) * inner + s,
              CN_LD(X_H, x, ((long)n * cx + c) * inner + s));
}
