/* Host launcher for the linear layer: one cn_gemm, then cl/linear.cl's bias/ReLU pass. */
#include "ops/linear.h"
#include "ops/gemm.h"

#include <limits.h>

int cn_linear(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *w, const cn_tensor *b, int relu,
              cn_tensor *y)
{
    char s1[96], s2[96], s3[96], s4[96] = "none";
    if (!ctx || !x || !w || !y || !x->buf || !w->buf || !y->buf || (b && !b->buf))
        return cn_fail(CN_ERR_ARG, "linear: missing or empty tensor");
    if (b)
        cn_shape_str(b, s4, sizeof s4);
    const int64_t n = x->ndim == 2 ? x->shape[0] : -1, in = x->ndim == 2 ? x->shape[1] : -1;
    const int64_t out = w->ndim == 2 ? w->shape[0] : -1;
    if (x->ndim != 2 || w->ndim != 2 || y->ndim != 2 || w->shape[1] != in ||
        y->shape[0] != n || y->shape[1] != out || (b && (b->ndim != 1 || b->shape[0] != out)))
        return cn_fail(CN_ERR_SHAPE, "linear: x %s, w %s, b %s, y %s: want x (N, in), w (out, "
                       "in), b (out), y (N, out)", cn_shape_str(x, s1, sizeof s1),
                       cn_shape_str(w, s2, sizeof s2), s4, cn_shape_str(y, s3, sizeof s3));
    const cn_tensor *ts[4] = {x, w, y, b};
    for (int i = 0; i < 4; i++)
        if (ts[i] && ts[i]->dtype != CN_F32 && ts[i]->dtype != CN_F16)
            return cn_fail(CN_ERR_UNSUPPORTED, "linear: %s is %s; float32 or float16 only",
                           "x\0w\0y\0b" + 2 * i, cn_dtype_name(ts[i]->dtype));
    cn_gemm_desc d = {.trans_b = 1, .M = n, .N = out, .K = in, .alpha = 1.0f, .beta = 0.0f,
                      .lda = in > 1 ? in : 1, .ldb = in > 1 ? in : 1, .ldc = out > 1 ? out : 1,
                      .tag = "linear", .a_type = x->dtype, .b_type = w->dtype,
                      .c_type = y->dtype};
    CN_TRY(cn_gemm(ctx, &d, x->buf, x->cap, w->buf, w->cap, y->buf, y->cap));
    if ((!b && !relu) || n == 0 || out == 0)
        return CN_OK;
    if (n * out > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "linear: output %s too large", cn_shape_str(y, s3, sizeof s3));
    char opts[32] = "";
    cn_storage_opts(opts, sizeof opts, 2, "Y_H", y, "B_H", b);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "linear", opts, "bias_relu", &k));
    const int rows = (int)n, cols = (int)out, has_b = b != NULL, r = relu != 0;
    cl_mem bb = b ? b->buf : y->buf;
    CN_TRY(CN_ARG(k, 0, rows));
    CN_TRY(CN_ARG(k, 1, cols));
    CN_TRY(CN_ARG(k, 2, bb));
    CN_TRY(CN_ARG(k, 3, has_b));
    CN_TRY(CN_ARG(k, 4, r));
    CN_TRY(CN_ARG(k, 5, y->buf));
    size_t g[2] = {(size_t)cols, (size_t)rows}, l[2] = {64, 1};
    return cn_launch(ctx, k, "linear_bias", 2, g, l);
}
