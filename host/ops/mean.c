/* Host launchers for cl/mean.cl: mean over contiguous axes with keepdim, accumulated in double or compensated float. */
#include "ops/mean.h"

#include <limits.h>
#include <stdio.h>

/* mean_rows work-group size; 128 items keep a (N*C)-row ASPP mean over
 * T*H*W ~ 1e3..4e4 elements busy without idling most items on small rows. */
#define MEAN_WG 128
#define MEAN_COLS_WG 64

int cn_mean_axes_acc(cn_ctx *ctx, const cn_tensor *x, int axis_begin, int axis_end, cn_tensor *y,
                     int fp64)
{
    char s1[96], s2[96];
    if (!x || !y || !x->buf || !y->buf)
        return cn_fail(CN_ERR_ARG, "mean: x and y must be non-empty tensors");
    if (x->buf == y->buf)
        return cn_fail(CN_ERR_ARG, "mean: y must not share x's buffer");
    if (axis_begin < 0 || axis_end > x->ndim || axis_begin >= axis_end)
        return cn_fail(CN_ERR_ARG, "mean: axes [%d, %d) are not a non-empty range of x %s",
                       axis_begin, axis_end, cn_shape_str(x, s1, sizeof s1));
    int ok = y->ndim == x->ndim;
    for (int i = 0; ok && i < x->ndim; i++)
        ok = y->shape[i] == (i >= axis_begin && i < axis_end ? 1 : x->shape[i]);
    if (!ok)
        return cn_fail(CN_ERR_SHAPE, "mean: y %s must be x %s with axes [%d, %d) set to 1",
                       cn_shape_str(y, s2, sizeof s2), cn_shape_str(x, s1, sizeof s1),
                       axis_begin, axis_end);
    if (cn_numel(x) < 1 || cn_numel(x) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "mean: x %s is empty or exceeds the 32-bit index range",
                       cn_shape_str(x, s1, sizeof s1));
    if (fp64 && !cn_ctx_device(ctx)->fp64)
        return cn_fail(CN_ERR_UNSUPPORTED, "mean: double accumulation requested but %s has no "
                       "cl_khr_fp64", cn_ctx_device(ctx)->name);
    int64_t outer = 1, R = 1, inner = 1;
    for (int i = 0; i < x->ndim; i++)
        *(i < axis_begin ? &outer : i < axis_end ? &R : &inner) *= x->shape[i];

    /* Largest power of two within both the default and the device's limit. */
    int wg = MEAN_WG;
    while (wg > 1 && (size_t)wg > cn_ctx_device(ctx)->max_wg)
        wg /= 2;
    char opts[96];
    snprintf(opts, sizeof opts, "-DMEAN_WG=%d -DMEAN_FP64=%d", wg, fp64 ? 1 : 0);
    cn_storage_opts(opts, sizeof opts, 2, "X_H", x, "Y_H", y);
    int o = (int)outer, r = (int)R, in = (int)inner;
    cl_kernel k;
    if (inner == 1) {
        CN_TRY(cn_kernel(ctx, "mean", opts, "mean_rows", &k));
        CN_TRY(CN_ARG(k, 0, o));
        CN_TRY(CN_ARG(k, 1, r));
        CN_TRY(CN_ARG(k, 2, x->buf));
        CN_TRY(CN_ARG(k, 3, y->buf));
        size_t g[2] = {(size_t)wg, (size_t)outer}, l[2] = {(size_t)wg, 1};
        return cn_launch(ctx, k, "mean", 2, g, l);
    }
    CN_TRY(cn_kernel(ctx, "mean", opts, "mean_cols", &k));
    CN_TRY(CN_ARG(k, 0, o));
    CN_TRY(CN_ARG(k, 1, r));
    CN_TRY(CN_ARG(k, 2, in));
    CN_TRY(CN_ARG(k, 3, x->buf));
    CN_TRY(CN_ARG(k, 4, y->buf));
    size_t g[2] = {(size_t)inner, (size_t)outer}, l[2] = {MEAN_COLS_WG, 1};
    return cn_launch(ctx, k, "mean", 2, g, l);
}

int cn_mean_axes(cn_ctx *ctx, const cn_tensor *x, int axis_begin, int axis_end, cn_tensor *y)
{
    /* Double where the device has it; the compensated float variant is within
     * a couple of ulps of it, so results agree across devices either way. */
    return cn_mean_axes_acc(ctx, x, axis_begin, axis_end, y, ctx && cn_ctx_device(ctx)->fp64);
}
