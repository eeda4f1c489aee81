/* Host launcher for cl/resize.cl: bilinear resize of the last two axes (PyTorch align_corners=False), optionally accumulating. */
#include "ops/resize.h"

#include <limits.h>
#include <stdio.h>

#define RESIZE_WG 64

int cn_resize_bilinear(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y, int accumulate)
{
    char s1[96], s2[96];
    if (!x || !y || !x->buf || !y->buf)
        return cn_fail(CN_ERR_ARG, "resize_bilinear: x and y must be non-empty tensors");
    if (x->buf == y->buf)
        return cn_fail(CN_ERR_ARG, "resize_bilinear: y must not share x's buffer");
    if (accumulate != 0 && accumulate != 1)
        return cn_fail(CN_ERR_ARG, "resize_bilinear: accumulate must be 0 or 1, not %d",
                       accumulate);
    int nd = x->ndim, ok = nd >= 2 && y->ndim == nd;
    for (int i = 0; ok && i < nd - 2; i++)
        ok = x->shape[i] == y->shape[i];
    if (!ok)
        return cn_fail(CN_ERR_SHAPE, "resize_bilinear: x %s and y %s must have the same rank "
                       "(>= 2) and leading axes", cn_shape_str(x, s1, sizeof s1),
                       cn_shape_str(y, s2, sizeof s2));
    if (cn_numel(x) < 1 || cn_numel(y) < 1 || cn_numel(x) > INT_MAX || cn_numel(y) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "resize_bilinear: x %s or y %s is empty or exceeds the "
                       "32-bit index range", cn_shape_str(x, s1, sizeof s1),
                       cn_shape_str(y, s2, sizeof s2));
    int hi = (int)x->shape[nd - 2], wi = (int)x->shape[nd - 1];
    int ho = (int)y->shape[nd - 2], wo = (int)y->shape[nd - 1];
    /* in/out in float, as PyTorch computes the scale when given an output size */
    float sh = (float)hi / (float)ho, sw = (float)wi / (float)wo;
    int total = (int)cn_numel(y);
    char opts[32] = "";
    cn_storage_opts(opts, sizeof opts, 2, "X_H", x, "Y_H", y);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "resize", opts, "resize_bilinear", &k));
    CN_TRY(CN_ARG(k, 0, total));
    CN_TRY(CN_ARG(k, 1, hi));
    CN_TRY(CN_ARG(k, 2, wi));
    CN_TRY(CN_ARG(k, 3, ho));
    CN_TRY(CN_ARG(k, 4, wo));
    CN_TRY(CN_ARG(k, 5, sh));
    CN_TRY(CN_ARG(k, 6, sw));
    CN_TRY(CN_ARG(k, 7, accumulate));
    CN_TRY(CN_ARG(k, 8, x->buf));
    CN_TRY(CN_ARG(k, 9, y->buf));
    size_t g = (size_t)total, l = RESIZE_WG;
    return cn_launch(ctx, k, "resize", 1, &g, &l);
}
