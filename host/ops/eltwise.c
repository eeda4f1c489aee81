/* Host launchers for cl/eltwise.cl: validate shapes, set arguments, enqueue. */
#include "ops/eltwise.h"

#include <limits.h>
#include <stdio.h>

#define EW_PER_ITEM 4
#define EW_OPTS "-DEW_PER_ITEM=4"
#define EW_WG 64

static int check_same(const char *op, const cn_tensor *a, const char *an, const cn_tensor *b,
                      const char *bn)
{
    if (!a->buf || !b->buf)
        return cn_fail(CN_ERR_ARG, "%s: %s is empty", op, !a->buf ? an : bn);
    if (!cn_same_shape(a, b)) {
        char s1[96], s2[96];
        return cn_fail(CN_ERR_SHAPE, "%s: %s is %s but %s is %s", op, an,
                       cn_shape_str(a, s1, sizeof s1), bn, cn_shape_str(b, s2, sizeof s2));
    }
    if (cn_numel(a) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "%s: %lld elements exceed the 32-bit index range", op,
                       (long long)cn_numel(a));
    return CN_OK;
}

static size_t ew_items(int64_t n) { return (size_t)((n + EW_PER_ITEM - 1) / EW_PER_ITEM); }

int cn_axpby(cn_ctx *ctx, float a, const cn_tensor *x, float b, const cn_tensor *z, cn_tensor *y)
{
    CN_TRY(check_same("axpby", x, "x", y, "y"));
    if (z)
        CN_TRY(check_same("axpby", z, "z", y, "y"));
    char opts[96] = EW_OPTS;
    cn_storage_opts(opts, sizeof opts, 3, "X_H", x, "Z_H", z, "Y_H", y);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "eltwise", opts, "axpby", &k));
    int n = (int)cn_numel(y), has_z = z != NULL;
    cl_mem zb = z ? z->buf : x->buf;
    CN_TRY(CN_ARG(k, 0, n));
    CN_TRY(CN_ARG(k, 1, a));
    CN_TRY(CN_ARG(k, 2, x->buf));
    CN_TRY(CN_ARG(k, 3, b));
    CN_TRY(CN_ARG(k, 4, zb));
    CN_TRY(CN_ARG(k, 5, has_z));
    CN_TRY(CN_ARG(k, 6, y->buf));
    size_t g = ew_items(n), l = EW_WG;
    return cn_launch(ctx, k, "axpby", 1, &g, &l);
}

int cn_add(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *z, cn_tensor *y)
{
    return cn_axpby(ctx, 1.0f, x, 1.0f, z, y);
}

int cn_scale(cn_ctx *ctx, float a, const cn_tensor *x, cn_tensor *y)
{
    return cn_axpby(ctx, a, x, 0.0f, NULL, y);
}

int cn_unary(cn_ctx *ctx, cn_unary_op op, float shift, const cn_tensor *x, cn_tensor *y)
{
    static const char *names[] = {"relu", "gelu", "sigmoid"};
    if ((int)op < 0 || (int)op > 2)
        return cn_fail(CN_ERR_ARG, "unary: unknown op %d", (int)op);
    CN_TRY(check_same(names[op], x, "x", y, "y"));
    char opts[96] = EW_OPTS;
    cn_storage_opts(opts, sizeof opts, 2, "X_H", x, "Y_H", y);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "eltwise", opts, "unary", &k));
    int n = (int)cn_numel(y), o = (int)op;
    CN_TRY(CN_ARG(k, 0, n));
    CN_TRY(CN_ARG(k, 1, o));
    CN_TRY(CN_ARG(k, 2, shift));
    CN_TRY(CN_ARG(k, 3, x->buf));
    CN_TRY(CN_ARG(k, 4, y->buf));
    size_t g = ((size_t)n + 15) / 16, l = EW_WG; /* 16 elements per work-item */
    g = (g + l - 1) / l * l;
    return cn_launch(ctx, k, names[op], 1, &g, &l);
}

int cn_gelu(cn_ctx *ctx, float shift, const cn_tensor *x, cn_tensor *y)
{
    return cn_unary(ctx, CN_UNARY_GELU, shift, x, y);
}

int cn_sigmoid(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y)
{
    return cn_unary(ctx, CN_UNARY_SIGMOID, 0.0f, x, y);
}

int cn_broadcast_nc(cn_ctx *ctx, const cn_tensor *v, cn_tensor *y)
{
    char s1[96], s2[96];
    if (!v->buf || !y->buf)
        return cn_fail(CN_ERR_ARG, "broadcast_nc: empty tensor");
    if (v->ndim != 2 || y->ndim < 2 || y->shape[0] != v->shape[0] || y->shape[1] != v->shape[1])
        return cn_fail(CN_ERR_SHAPE, "broadcast_nc: v %s must be (N, C) matching the first two "
                       "dims of y %s", cn_shape_str(v, s1, sizeof s1),
                       cn_shape_str(y, s2, sizeof s2));
    if (cn_numel(y) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "broadcast_nc: output too large");
    int nc = (int)(v->shape[0] * v->shape[1]);
    int inner = nc ? (int)(cn_numel(y) / nc) : 0;
    char opts[96] = EW_OPTS;
    cn_storage_opts(opts, sizeof opts, 2, "X_H", v, "Y_H", y);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "eltwise", opts, "broadcast_nc", &k));
    CN_TRY(CN_ARG(k, 0, nc));
    CN_TRY(CN_ARG(k, 1, inner));
    CN_TRY(CN_ARG(k, 2, v->buf));
    CN_TRY(CN_ARG(k, 3, y->buf));
    size_t g[2] = {(size_t)inner, (size_t)nc}, l[2] = {EW_WG, 1};
    return cn_launch(ctx, k, "broadcast", 2, g, l);
}

int cn_copy_channels(cn_ctx *ctx, const cn_tensor *x, cn_tensor *y, int64_t c_off)
{
    char s1[96], s2[96];
    if (!x->buf || !y->buf)
        return cn_fail(CN_ERR_ARG, "copy_channels: empty tensor");
    int ok = x->ndim == y->ndim && x->ndim >= 2 && x->shape[0] == y->shape[0] && c_off >= 0 &&
             c_off + x->shape[1] <= y->shape[1];
    for (int i = 2; ok && i < x->ndim; i++)
        ok = x->shape[i] == y->shape[i];
    if (!ok)
        return cn_fail(CN_ERR_SHAPE, "copy_channels: x %s does not fit y %s at channel %lld",
                       cn_shape_str(x, s1, sizeof s1), cn_shape_str(y, s2, sizeof s2),
                       (long long)c_off);
    if (cn_numel(y) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "copy_channels: output too large");
    int64_t inner = 1;
    for (int i = 2; i < x->ndim; i++)
        inner *= x->shape[i];
    int cx = (int)x->shape[1], cy = (int)y->shape[1], in = (int)inner, co = (int)c_off;
    char opts[96] = EW_OPTS;
    cn_storage_opts(opts, sizeof opts, 2, "X_H", x, "Y_H", y);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "eltwise", opts, "copy_channels", &k));
    CN_TRY(CN_ARG(k, 0, cx));
    CN_TRY(CN_ARG(k, 1, in));
    CN_TRY(CN_ARG(k, 2, cy));
    CN_TRY(CN_ARG(k, 3, co));
    CN_TRY(CN_ARG(k, 4, x->buf));
    CN_TRY(CN_ARG(k, 5, y->buf));
    size_t g[3] = {(size_t)inner, (size_t)cx, (size_t)x->shape[0]}, l[3] = {EW_WG, 1, 1};
    return cn_launch(ctx, k, "concat", 3, g, l);
}

int cn_concat_channels(cn_ctx *ctx, const cn_tensor *xs, int n, cn_tensor *y)
{
    if (n < 1 || !y->buf)
        return cn_fail(CN_ERR_ARG, "concat: need at least one input and an output");
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += xs[i].ndim >= 2 ? xs[i].shape[1] : 0;
    if (y->ndim < 2 || total != y->shape[1])
        return cn_fail(CN_ERR_SHAPE, "concat: inputs have %lld channels in all but y has %lld",
                       (long long)total, (long long)(y->ndim >= 2 ? y->shape[1] : -1));
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        CN_TRY(cn_copy_channels(ctx, &xs[i], y, off));
        off += xs[i].shape[1];
    }
    return CN_OK;
}
