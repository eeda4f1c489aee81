/* Op family conv_transpose3d: the double reference (stride 1 and 2, output padding, fused features), the adjoint identity with conv3d, rejections; each with the default, the tiled and the im2col variant. */
#include <math.h>
#include <stdlib.h>

#include "conv_ref.h"
#include "ops/helpers/conv_case.h"
#include "ops/op_test.h"

#define V3(a, b, c) {a, b, c}

static const conv_case cases[] = {
    {.name = "3x3x3 s1 p1 (CPC theta)", .mode = 2, .N = 2, .Ci = 13, .Co = 11,
     .in = V3(3, 5, 7), .k = V3(3, 3, 3), .p = V3(1, 1, 1), .bias = 1},
    {.name = "3x3x3 s1 p1 all fused, windows", .mode = 2, .N = 3, .Ci = 7, .Co = 9,
     .cx_extra = 4, .xoff = 1, .cy_extra = 3, .yoff = 2, .in = V3(2, 7, 12), .k = V3(3, 3, 3),
     .p = V3(1, 1, 1), .bias = 1, .pre_scale = 1, .pre_shift = 1, .pre_relu = 1,
     .residual = 1, .alpha = 0.3f, .relu = 1},
    {.name = "3x3x3 s1 p1 wide rows", .mode = 2, .N = 2, .Ci = 5, .Co = 19, .in = V3(3, 4, 37),
     .k = V3(3, 3, 3), .p = V3(1, 1, 1), .residual = 2},
    {.name = "1x1x1 s1", .mode = 2, .N = 2, .Ci = 13, .Co = 11, .in = V3(3, 5, 7),
     .k = V3(1, 1, 1), .bias = 1, .relu = 1},
    {.name = "s1 dil 2 out_pad 1", .mode = 2, .N = 2, .Ci = 4, .Co = 5, .in = V3(4, 6, 5),
     .k = V3(3, 3, 2), .d = V3(2, 2, 2), .p = V3(1, 2, 0), .op = V3(1, 0, 1), .bias = 1},
    {.name = "s1 pad beyond the kernel (crops)", .mode = 2, .N = 1, .Ci = 3, .Co = 4,
     .in = V3(7, 8, 9), .k = V3(3, 3, 3), .p = V3(3, 2, 1)},
    {.name = "3x3x3 s2 p1 op1", .mode = 2, .N = 2, .Ci = 13, .Co = 11, .in = V3(3, 5, 4),
     .k = V3(3, 3, 3), .s = V3(2, 2, 2), .p = V3(1, 1, 1), .op = V3(1, 1, 1), .bias = 1,
     .relu = 1},
    {.name = "2x2x2 s2 p0", .mode = 2, .N = 2, .Ci = 6, .Co = 5, .in = V3(2, 3, 5),
     .k = V3(2, 2, 2), .s = V3(2, 2, 2), .residual = 1},
    {.name = "s(1,2,2) k(1,3,3) op(0,1,1) fused", .mode = 2, .N = 2, .Ci = 5, .Co = 7,
     .cx_extra = 2, .xoff = 2, .cy_extra = 1, .yoff = 1, .in = V3(3, 4, 6), .k = V3(1, 3, 3),
     .s = V3(1, 2, 2), .p = V3(0, 1, 1), .op = V3(0, 1, 1), .pre_scale = 1, .pre_shift = 1,
     .pre_relu = 1, .bias = 1, .alpha = 1.5f},
    {.name = "s2 dil 2 p2 op1", .mode = 2, .N = 2, .Ci = 4, .Co = 6, .in = V3(3, 4, 5),
     .k = V3(3, 3, 3), .s = V3(2, 2, 2), .d = V3(2, 2, 2), .p = V3(2, 2, 2), .op = V3(1, 1, 1),
     .residual = 2},
    {.name = "s3 k2 op2", .mode = 2, .N = 1, .Ci = 3, .Co = 2, .in = V3(2, 3, 4),
     .k = V3(2, 2, 2), .s = V3(3, 3, 3), .op = V3(2, 2, 2), .bias = 1},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

/* <convT(x), y> == <x, conv3d(y)> with the same weight, stride, pad and
 * dilation: the library's transposed convolution is the adjoint of its
 * convolution (out_pad only where it keeps the shapes matched). */
typedef struct adjoint_case {
    const char *name;
    int Ci, Co, in[3], k[3], s[3], p[3], d[3], op[3];
} adjoint_case;

static const adjoint_case adjoint_cases[] = {
    {"3x3x3 s1 p1", 13, 11, {3, 5, 7}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}},
    {"3x3x3 s2 p1 op1", 7, 9, {3, 4, 5}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
    {"1x3x3 s(1,2,2) dil 2 op1", 6, 5, {2, 5, 6}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 2, 2},
     {0, 1, 1}},
};

/* Each case runs with the context's default variant, with the tiled
 * kernel (cl/conv_tiled.cl: its conv form at stride 1, its gather form
 * otherwise) forced, and with the im2col variant forced (host/ops/
 * conv_im2col.c: cn_gemm then col2im at any stride; the cases with a
 * pre-activation fall back to the direct kernels there). */
#define TILED "-DCONV_VARIANT=tiled"
/* the table's shapes are small: tiles to match, so that a simulator
 * (cmake/oclgrind.sh) is not swamped by work-items past the edges */
#define TILED_SMALL "-DCONV_VARIANT=tiled -DCT_TM=16 -DCT_TN=32 -DCT_TK=8 -DCT_WM=2 -DCT_WN=2"
#define IM2COL "-DCONV_VARIANT=im2col"
#define NADJ (int)(sizeof adjoint_cases / sizeof adjoint_cases[0])
#define NVAR 3

typedef struct variant_run {
    const void *c;
    int tiled; /* 0 the default, 1 tiled, 2 im2col */
    int half;  /* every tensor but bias and pre-activation half (the model's fp16) */
} variant_run;
static variant_run table_runs[2 * NVAR * NCASES], adjoint_runs[NVAR * NADJ];
static const char *const variant_suffix[2 * NVAR] = {"",         " [tiled]",       " [im2col]",
                                                     " [half]", " [tiled; half]", " [im2col; half]"};

static void case_adjoint(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const variant_run *run = arg;
    const adjoint_case *ac = run->c;
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, run->tiled == 1 ? TILED : IM2COL));
    const char *name = ac->name;
    const int Ci = ac->Ci, Co = ac->Co, *in = ac->in, *k = ac->k, *s = ac->s, *p = ac->p;
    const int *d = ac->d, *op = ac->op;
    const int64_t N = 2, ks = (int64_t)k[0] * k[1] * k[2];
    const int64_t xs[5] = {N, Ci, in[0], in[1], in[2]}, ws[5] = {Ci, Co, k[0], k[1], k[2]};
    const int64_t nx = N * Ci * in[0] * in[1] * in[2];
    float *x = tu_rand_array(r, nx, -1, 1), *w = tu_rand_array(r, Ci * Co * ks, -0.3, 0.3);
    cn_tensor tx, tw, tty, ty, tcx;
    TU_OK(cn_tensor_from_host(ctx, &tx, 5, xs, x));
    TU_OK(cn_tensor_from_host(ctx, &tw, 5, ws, w));
    cn_conv_args t = {.x = &tx, .w = &tw, .stride = {s[0], s[1], s[2]},
                      .pad = {p[0], p[1], p[2]}, .dil = {d[0], d[1], d[2]},
                      .out_pad = {op[0], op[1], op[2]}};
    int64_t ys[5];
    TU_OK(cn_conv_transpose3d_out_shape(&t, ys));
    const int64_t ny = ys[0] * ys[1] * ys[2] * ys[3] * ys[4];
    float *y = tu_rand_array(r, ny, -1, 1);
    float *ty_h = malloc((size_t)ny * sizeof *ty_h), *cx_h = malloc((size_t)nx * sizeof *cx_h);
    TU_OK(cn_tensor_from_host(ctx, &ty, 5, ys, y));
    TU_OK(cn_tensor_alloc(ctx, &tty, 5, ys));
    TU_OK(cn_tensor_alloc(ctx, &tcx, 5, xs));
    t.y = &tty;
    TU_OK(cn_conv_transpose3d(ctx, &t));
    /* w (Ci, Co, k) read as a conv3d weight maps Co channels to Ci */
    cn_conv_args c = {.x = &ty, .w = &tw, .y = &tcx, .stride = {s[0], s[1], s[2]},
                      .pad = {p[0], p[1], p[2]}, .dil = {d[0], d[1], d[2]}};
    int64_t cs[5];
    TU_OK(cn_conv3d_out_shape(&c, cs));
    TU_CHECK(cs[2] == xs[2] && cs[3] == xs[3] && cs[4] == xs[4], "%s: conv3d does not map back "
             "to x's shape", name);
    TU_OK(cn_conv3d(ctx, &c));
    TU_OK(cn_tensor_download(ctx, &tty, ty_h));
    TU_OK(cn_tensor_download(ctx, &tcx, cx_h));
    double lhs = 0, rhs = 0, mag = 0;
    for (int64_t i = 0; i < ny; i++)
        lhs += (double)ty_h[i] * y[i], mag += fabs((double)ty_h[i] * y[i]);
    for (int64_t i = 0; i < nx; i++)
        rhs += (double)x[i] * cx_h[i], mag += fabs((double)x[i] * cx_h[i]);
    /* each side is a dot product of float32 results with relative errors of
     * ~1e-6 (see the case runner); 1e-5 of the sum of |terms| bounds the gap */
    TU_CHECK(fabs(lhs - rhs) <= 1e-5 * mag, "%s: <convT x, y> = %.9g but <x, conv y> = %.9g",
             name, lhs, rhs);
    printf("  adjoint %-30s <convT x, y> %.9g  <x, conv y> %.9g  (|diff| / sum|terms| %.2g)\n",
           name, lhs, rhs, fabs(lhs - rhs) / mag);
    cn_tensor *ts[] = {&tx, &tw, &tty, &ty, &tcx};
    for (int i = 0; i < 5; i++)
        cn_tensor_release(ctx, ts[i]);
    free(x), free(w), free(y), free(ty_h), free(cx_h);
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, NULL));
}

static void test_rejections(cn_ctx *ctx)
{
    cn_tensor x = {0}, w = {0}, y = {0}, b = {0}, r = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 5, (int64_t[]){2, 6, 2, 3, 4}));
    TU_OK(cn_tensor_alloc(ctx, &w, 5, (int64_t[]){6, 5, 3, 3, 3})); /* Ci 6 -> Co 5 */
    TU_OK(cn_tensor_alloc(ctx, &y, 5, (int64_t[]){2, 5, 4, 6, 8}));
    TU_OK(cn_tensor_alloc(ctx, &b, 1, (int64_t[]){6}));
    TU_OK(cn_tensor_alloc(ctx, &r, 5, (int64_t[]){2, 5, 4, 6, 7}));
    /* (2-1)*2 - 2 + 2 + 1 + 1 = 4, (3-1)*2 - 2 + 2 + 1 + 1 = 6, (4-1)*2 - 2 + 2 + 1 + 1 = 8 */
    cn_conv_args ok = {.x = &x, .w = &w, .y = &y, .stride = {2, 2, 2}, .pad = {1, 1, 1},
                       .out_pad = {1, 1, 1}};
    TU_OK(cn_conv_transpose3d(ctx, &ok));
    int64_t out[5];
    TU_OK(cn_conv_transpose3d_out_shape(&ok, out));
    TU_CHECK(out[1] == 5 && out[2] == 4 && out[3] == 6 && out[4] == 8, "transposed out_shape");
    cn_conv_args a = ok;
    a.out_pad[2] = 2; /* not below stride 2 or dilation 1 */
    TU_FAILS(CN_ERR_ARG, cn_conv_transpose3d(ctx, &a));
    a = ok, a.stride[0] = 1, a.out_pad[0] = 1; /* stride 1, dilation 1 */
    TU_FAILS(CN_ERR_ARG, cn_conv_transpose3d_out_shape(&a, out));
    a = ok, a.x_c_off = 1; /* w wants 6 input channels, x has 6 */
    TU_FAILS(CN_ERR_SHAPE, cn_conv_transpose3d(ctx, &a));
    a = ok, a.out_pad[1] = 0;
    TU_FAILS(CN_ERR_SHAPE, cn_conv_transpose3d(ctx, &a));
    a = ok, a.bias = &b; /* 6 values for 5 output channels */
    TU_FAILS(CN_ERR_SHAPE, cn_conv_transpose3d(ctx, &a));
    a = ok, a.residual = &r;
    TU_FAILS(CN_ERR_SHAPE, cn_conv_transpose3d(ctx, &a));
    a = ok, a.pad[0] = 3, a.out_pad[0] = 0; /* (2-1)*2 - 6 + 2 + 1 < 1 */
    TU_FAILS(CN_ERR_SHAPE, cn_conv_transpose3d_out_shape(&a, out));
    a = ok, a.w = &r; /* w (2, 5, ...) wants 2 input channels: fits x, but y's shape */
    TU_FAILS(CN_ERR_SHAPE, cn_conv_transpose3d(ctx, &a));
    a = ok, a.y = NULL;
    TU_FAILS(CN_ERR_ARG, cn_conv_transpose3d(ctx, &a));
    cn_tensor *ts[] = {&x, &w, &y, &b, &r};
    for (int i = 0; i < 5; i++)
        cn_tensor_release(ctx, ts[i]);
}

static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const variant_run *run = arg;
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, run->tiled == 1 ? TILED_SMALL : IM2COL));
    conv_case c = *(const conv_case *)run->c;
    if (run->half)
        c.xt = c.wt = c.rt = c.yt = CN_F16;
    conv_run_case(ctx, r, &c);
    if (run->tiled == 2) { /* with the model's packed copy for the stride-1 convolution */
        c.packed = 1;
        conv_run_case(ctx, r, &c);
    }
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, NULL));
}

static void case_rejections(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)r, (void)arg;
    test_rejections(ctx);
}

static void add_cases(op_cases *l)
{
    /* float: default, tiled, im2col; then the same all-half */
    for (int i = 0; i < 2 * NVAR * NCASES; i++) {
        table_runs[i] = (variant_run){&cases[i % NCASES], i / NCASES % NVAR, i >= NVAR * NCASES};
        op_add(l, case_table, &table_runs[i], "%s%s", cases[i % NCASES].name,
               variant_suffix[i / NCASES]);
    }
    for (int i = 0; i < NVAR * NADJ; i++) {
        adjoint_runs[i] = (variant_run){&adjoint_cases[i % NADJ], i / NADJ, 0};
        op_add(l, case_adjoint, &adjoint_runs[i], "adjoint of conv3d, %s%s",
               adjoint_cases[i % NADJ].name, variant_suffix[i / NADJ]);
    }
    op_add(l, case_rejections, NULL, "rejections");
}

const op_family op_family_conv_transpose3d = {"conv_transpose3d", 7, add_cases, NULL};
