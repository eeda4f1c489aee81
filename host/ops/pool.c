/* Host launchers for cl/pool.cl: PyTorch floor-mode MaxPool3d and MaxPool2d with -inf padding. */
#include "ops/pool.h"

#include <limits.h>
#include <stdio.h>

/* output rows per work-group: PoCL runs a group's work-items in one loop */
#define POOL_ROWS 8
/* Caps k, s and p so that window arithmetic in the kernel stays inside int. */
#define POOL_MAX_PARAM 65535

/* Checks x and the window parameters of its nd - 2 spatial axes and computes
 * the output shape; shared by both out_shape functions and the launchers. */
static int pool_geom(const char *op, const cn_tensor *x, int nd, const int *k, const int *s,
                     const int *p, int64_t *out)
{
    char s1[96];
    if (!x || !x->buf)
        return cn_fail(CN_ERR_ARG, "%s: x is empty", op);
    if (!k || !s || !p || !out)
        return cn_fail(CN_ERR_ARG, "%s: kernel, stride, padding and output must be given", op);
    if (x->ndim != nd)
        return cn_fail(CN_ERR_SHAPE, "%s: x %s must have %d dims", op,
                       cn_shape_str(x, s1, sizeof s1), nd);
    if (cn_numel(x) < 1 || cn_numel(x) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "%s: x %s is empty or exceeds the 32-bit index range", op,
                       cn_shape_str(x, s1, sizeof s1));
    out[0] = x->shape[0];
    out[1] = x->shape[1];
    for (int i = 0; i < nd - 2; i++) {
        if (k[i] < 1 || s[i] < 1 || p[i] < 0 || k[i] > POOL_MAX_PARAM || s[i] > POOL_MAX_PARAM)
            return cn_fail(CN_ERR_ARG, "%s: kernel %d, stride %d, padding %d on spatial axis %d: "
                           "kernel and stride must be 1..%d, padding >= 0", op, k[i], s[i], p[i],
                           i, POOL_MAX_PARAM);
        /* PyTorch's rule; it also guarantees every window overlaps the input */
        if (p[i] > k[i] / 2)
            return cn_fail(CN_ERR_ARG, "%s: padding %d on spatial axis %d exceeds half the "
                           "kernel %d", op, p[i], i, k[i]);
        int64_t in = x->shape[2 + i], span = in + 2 * (int64_t)p[i] - k[i];
        if (span < 0)
            return cn_fail(CN_ERR_SHAPE, "%s: x %s is smaller than the kernel %d (padding %d) on "
                           "spatial axis %d", op, cn_shape_str(x, s1, sizeof s1), k[i], p[i], i);
        out[2 + i] = span / s[i] + 1;
    }
    return CN_OK;
}

int cn_maxpool3d_out_shape(const cn_tensor *x, const int k[3], const int s[3], const int p[3],
                           int64_t out[5])
{
    return pool_geom("maxpool3d", x, 5, k, s, p, out);
}

int cn_maxpool2d_out_shape(const cn_tensor *x, const int k[2], const int s[2], const int p[2],
                           int64_t out[4])
{
    return pool_geom("maxpool2d", x, 4, k, s, p, out);
}

/* Validates y against the computed shape and launches maxpool3d over (T, H, W)
 * given as 3-vectors (MaxPool2d passes T = 1 and a 1-wide temporal window). */
static int pool_launch(cn_ctx *ctx, const char *op, const cn_tensor *x, cn_tensor *y, int nd,
                       const int64_t *out, const int k3[3], const int s3[3], const int p3[3])
{
    char s1[96], s2[96];
    if (!y || !y->buf)
        return cn_fail(CN_ERR_ARG, "%s: y is empty", op);
    if (y->buf == x->buf)
        return cn_fail(CN_ERR_ARG, "%s: y must not share x's buffer", op);
    int ok = y->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = y->shape[i] == out[i];
    if (!ok) {
        cn_tensor want = {.ndim = nd};
        for (int i = 0; i < nd; i++)
            want.shape[i] = out[i];
        char s3s[96];
        return cn_fail(CN_ERR_SHAPE, "%s: x %s pools to %s but y is %s", op,
                       cn_shape_str(x, s1, sizeof s1), cn_shape_str(&want, s3s, sizeof s3s),
                       cn_shape_str(y, s2, sizeof s2));
    }
    const int64_t *xs = x->shape + nd - 3, *ys = y->shape + nd - 3;
    cl_int4 in = {{nd == 5 ? (cl_int)xs[0] : 1, (cl_int)xs[1], (cl_int)xs[2], 0}};
    cl_int4 o = {{nd == 5 ? (cl_int)ys[0] : 1, (cl_int)ys[1], (cl_int)ys[2], 0}};
    cl_int4 k = {{k3[0], k3[1], k3[2], 0}}, s = {{s3[0], s3[1], s3[2], 0}};
    cl_int4 p = {{p3[0], p3[1], p3[2], 0}};
    /* 16 outputs of a row per work-item (measured on PoCL: the Mixed blocks'
     * 3x3x3 pools of S3D took 306 ms per clip one output per work-item) */
    char opts[32] = "";
    cn_storage_opts(opts, sizeof opts, 2, "X_H", x, "Y_H", y);
    cl_kernel kern;
    CN_TRY(cn_kernel(ctx, "pool", opts, "maxpool3d_rows", &kern));
    CN_TRY(CN_ARG(kern, 0, in));
    CN_TRY(CN_ARG(kern, 1, o));
    CN_TRY(CN_ARG(kern, 2, k));
    CN_TRY(CN_ARG(kern, 3, s));
    CN_TRY(CN_ARG(kern, 4, p));
    const cl_long xlen = (cl_long)cn_numel(x);
    CN_TRY(CN_ARG(kern, 5, xlen));
    CN_TRY(CN_ARG(kern, 6, x->buf));
    CN_TRY(CN_ARG(kern, 7, y->buf));
    const size_t rows = (size_t)o.s[0] * (size_t)o.s[1], lr = rows < POOL_ROWS ? 1 : POOL_ROWS;
    size_t g[3] = {((size_t)o.s[2] + 15) / 16, (rows + lr - 1) / lr * lr, (size_t)(cn_numel(y) / ((int64_t)rows * o.s[2]))};
    size_t l[3] = {1, lr, 1};
    return cn_launch(ctx, kern, op, 3, g, l);
}

int cn_maxpool3d(cn_ctx *ctx, const int k[3], const int s[3], const int p[3], const cn_tensor *x,
                 cn_tensor *y)
{
    int64_t out[5];
    CN_TRY(cn_maxpool3d_out_shape(x, k, s, p, out));
    return pool_launch(ctx, "maxpool3d", x, y, 5, out, k, s, p);
}

int cn_maxpool2d(cn_ctx *ctx, const int k[2], const int s[2], const int p[2], const cn_tensor *x,
                 cn_tensor *y)
{
    int64_t out[4];
    CN_TRY(cn_maxpool2d_out_shape(x, k, s, p, out));
    const int k3[3] = {1, k[0], k[1]}, s3[3] = {1, s[0], s[1]}, p3[3] = {0, p[0], p[1]};
    return pool_launch(ctx, "maxpool2d", x, y, 4, out, k3, s3, p3);
}
