/* Mean over a block of contiguous axes: x viewed as (outer, R, inner), y as (outer, inner). */

/* MEAN_WG: work-group size of mean_rows, a power of two (the host clamps it to
 *          the device limit).
 * MEAN_FP64: 1 accumulates in double (the host sets it only where the device
 *          has cl_khr_fp64), 0 in float. Both variants add with Neumaier
 *          compensation: the loops are memory-bound, so it is free, and it
 *          keeps the float variant's error near one rounding of the result
 *          even for 1e5-element means of offset data. */
#ifndef MEAN_WG
#define MEAN_WG 128
#endif
#ifndef MEAN_FP64
#define MEAN_FP64 0
#endif
/* Storage of x and y, float (0) or half (1): cl/storage.h. The sum is acc_t
 * either way; a half y is the mean rounded once. */

#if MEAN_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

/* Adds v to the compensated pair (*s, *c): *c collects the low-order bits each
 * addition to *s loses (Neumaier's variant, right whichever operand is larger). */
static void acc_add(acc_t *s, acc_t *c, const acc_t v)
{
    acc_t t = *s + v;
    *c += fabs(*s) >= fabs(v) ? (*s - t) + v : (v - t) + *s;
    *s = t;
}

/* inner == 1: one work-group per row o of R contiguous elements. Each item
 * sums a strided share, then the group combines the pairs in a tree (pairwise
 * summation), carrying the compensation terms along. */
__kernel __attribute__((reqd_work_group_size(MEAN_WG, 1, 1)))
void mean_rows(const int outer, const int R, __global const CN_T(X_H) *x, __global CN_T(Y_H) *y)
{
    __local acc_t ls[MEAN_WG], lc[MEAN_WG];
    int lid = get_local_id(0), o = get_global_id(1);
    acc_t s = 0, c = 0;
    if (o < outer) {
        __global const CN_T(X_H) *row = x + (long)o * R;
        for (int r = lid; r < R; r += MEAN_WG)
            acc_add(&s, &c, (acc_t)CN_LD(X_H, row, r));
    }
    ls[lid] = s;
    lc[lid] = c;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = MEAN_WG / 2; step > 0; step >>= 1) {
        if (lid < step) {
            acc_t s2 = ls[lid], c2 = lc[lid] + lc[lid + step];
            acc_add(&s2, &c2, ls[lid + step]);
            ls[lid] = s2;
            lc[lid] = c2;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0 && o < outer)
        CN_ST(Y_H, y, o, (float)((ls[0] + lc[0]) / (acc_t)R));
}

/* inner > 1: one work-item per output (o, i), looping over R with stride
 * inner; neighbouring items read neighbouring addresses. */
__kernel void mean_cols(const int outer, const int R, const int inner,
                        __global const CN_T(X_H) *x, __global CN_T(Y_H) *y)
{
    int i = get_global_id(0), o = get_global_id(1);
    if (i >= inner || o >= outer)
        return;
    __global const CN_T(X_H) *col = x + (long)o * R * inner + i;
    acc_t s = 0, c = 0;
    for (int r = 0; r < R; r++)
        acc_add(&s, &c, (acc_t)CN_LD(X_H, col, (long)r * inner));
    CN_ST(Y_H, y, (long)o * inner + i, (float)((s + c) / (acc_t)R));
}
