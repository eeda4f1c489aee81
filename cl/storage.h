/* Tensor storage in device memory, float or half per tensor: prepended (with cl/conv_flags.h) to every program of cl/ (host/runtime/progcache.c), so kernels share one vocabulary for it. */

/* A kernel gives each tensor argument a storage macro, 0 (float) or 1 (half),
 * which the host sets from the tensor's dtype (-DX_H=1 and so on; 0 where
 * absent), declares the buffer as CN_T(X_H) and reads and writes it only
 * through the macros below, as float:
 *     __global const CN_T(X_H) *x  ...  float v = CN_LD(X_H, x, i);
 *     CN_ST(Y_H, y, i, v);   floatN w = CN_LDN(X_H, N, x, i);   CN_STN(Y_H, N, y, i, w);
 * Half storage goes through vload_half/vstore_half(N), which OpenCL 1.2 has
 * in its core (a half pointer needs no cl_khr_fp16; half arithmetic would),
 * so every device builds these kernels. All arithmetic stays float: a
 * stored value is the float result rounded once to nearest even (vstore_half's
 * default mode, the host conversion's too), 2^-11 relative at most in half's
 * normal range, and a loaded one is exact. Vector forms need only element
 * alignment (p + i need not be a multiple of N). */
#define CN_CAT_(a, b) a##b
#define CN_CAT(a, b) CN_CAT_(a, b)

#define CN_T_0 float
#define CN_T_1 half
#define CN_T(h) CN_CAT(CN_T_, h)

#define CN_LD_0(p, i) ((p)[i])
#define CN_LD_1(p, i) vload_half((i), (p))
#define CN_LD(h, p, i) CN_CAT(CN_LD_, h)(p, i)

#define CN_ST_0(p, i, v) ((p)[i] = (v))
#define CN_ST_1(p, i, v) vstore_half((v), (i), (p))
#define CN_ST(h, p, i, v) CN_CAT(CN_ST_, h)(p, i, v)

#define CN_LDN_0(n, p, i) CN_CAT(vload, n)(0, (p) + (i))
#define CN_LDN_1(n, p, i) CN_CAT(vload_half, n)(0, (p) + (i))
#define CN_LDN(h, n, p, i) CN_CAT(CN_LDN_, h)(n, p, i)

#define CN_STN_0(n, p, i, v) CN_CAT(vstore, n)((v), 0, (p) + (i))
#define CN_STN_1(n, p, i, v) CN_CAT(vstore_half, n)((v), 0, (p) + (i))
#define CN_STN(h, n, p, i, v) CN_CAT(CN_STN_, h)(n, p, i, v)

/* Every storage macro a kernel of cl/ uses is float unless the host sets it. */
#ifndef A_H
#define A_H 0
#endif
#ifndef B_H
#define B_H 0
#endif
#ifndef C_H
#define C_H 0
#endif
#ifndef K_H
#define K_H 0
#endif
#ifndef Q_H
#define Q_H 0
#endif
#ifndef R_H
#define R_H 0
#endif
#ifndef S_H
#define S_H 0
#endif
#ifndef U_H
#define U_H 0
#endif
#ifndef V_H
#define V_H 0
#endif
#ifndef W_H
#define W_H 0
#endif
#ifndef X_H
#define X_H 0
#endif
#ifndef Y_H
#define Y_H 0
#endif
#ifndef Z_H
#define Z_H 0
#endif
