/* Op family conv2d (the VGGish audio convolutions): the double reference on odd shapes, fused features, ignored T entries, plain and packed weights, rejections, the VGGish layer shapes; each with the default and the tiled variant. */
#include <math.h>
#include <stdlib.h>

#include "conv_ref.h"
#include "ops/helpers/conv_case.h"
#include "ops/op_test.h"

#define V3(a, b, c) {a, b, c}

/* Entry 0 (the T axis) of k/s/p/d is ignored by conv2d; the last case sets
 * it to nonsense to prove that. */
static const conv_case cases[] = {
    {.name = "3x3 pad 1 bias relu", .mode = 1, .N = 2, .Ci = 13, .Co = 11, .in = V3(1, 11, 10),
     .k = V3(1, 3, 3), .p = V3(0, 1, 1), .bias = 1, .relu = 1},
    {.name = "3x3 pad 1, 1 input channel", .mode = 1, .N = 3, .Ci = 1, .Co = 17,
     .in = V3(1, 19, 16), .k = V3(1, 3, 3), .p = V3(0, 1, 1), .bias = 1, .relu = 1},
    {.name = "1x1 windows pre residual", .mode = 1, .N = 2, .Ci = 13, .Co = 11, .cx_extra = 3,
     .xoff = 2, .cy_extra = 5, .yoff = 5, .in = V3(1, 9, 7), .k = V3(1, 1, 1), .pre_scale = 1,
     .pre_shift = 1, .pre_relu = 1, .residual = 1, .alpha = 2.0f},
    {.name = "5x3 stride 2 dil (2,1) pad (2,1)", .mode = 1, .N = 2, .Ci = 6, .Co = 7,
     .in = V3(1, 17, 13), .k = V3(1, 5, 3), .s = V3(1, 2, 2), .p = V3(0, 2, 1),
     .d = V3(1, 2, 1), .bias = 1},
    {.name = "3x3 dil 2 pad 2 pre-BN-ReLU", .mode = 1, .N = 2, .Ci = 9, .Co = 20,
     .in = V3(1, 12, 37), .k = V3(1, 3, 3), .p = V3(0, 2, 2), .d = V3(1, 2, 2), .pre_scale = 1,
     .pre_shift = 1, .pre_relu = 1, .relu = 1},
    {.name = "7x7 stride 2 pad 3", .mode = 1, .N = 1, .Ci = 3, .Co = 5, .in = V3(1, 23, 45),
     .k = V3(1, 7, 7), .s = V3(1, 2, 2), .p = V3(0, 3, 3), .bias = 1},
    {.name = "residual in place", .mode = 1, .N = 2, .Ci = 5, .Co = 4, .cy_extra = 3, .yoff = 1,
     .in = V3(1, 6, 21), .k = V3(1, 3, 3), .p = V3(0, 1, 1), .residual = 2, .alpha = -1.0f},
    {.name = "T entries ignored", .mode = 1, .N = 2, .Ci = 4, .Co = 6, .in = V3(9, 8, 9),
     .k = V3(5, 3, 3), .s = V3(3, 1, 1), .p = V3(4, 1, 1), .d = V3(2, 1, 1), .op = V3(1, 0, 0),
     .bias = 1},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void test_rejections(cn_ctx *ctx)
{
    cn_tensor x = {0}, w = {0}, y = {0}, b = {0}, r = {0}, x5 = {0}, w5 = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 4, (int64_t[]){2, 5, 7, 6}));
    TU_OK(cn_tensor_alloc(ctx, &w, 4, (int64_t[]){3, 5, 3, 3}));
    TU_OK(cn_tensor_alloc(ctx, &y, 4, (int64_t[]){2, 3, 7, 6}));
    TU_OK(cn_tensor_alloc(ctx, &b, 1, (int64_t[]){4}));
    TU_OK(cn_tensor_alloc(ctx, &r, 4, (int64_t[]){2, 3, 7, 5}));
    TU_OK(cn_tensor_alloc(ctx, &x5, 5, (int64_t[]){2, 5, 1, 7, 6}));
    TU_OK(cn_tensor_alloc(ctx, &w5, 5, (int64_t[]){3, 5, 1, 3, 3}));
    cn_conv_args ok = {.x = &x, .w = &w, .y = &y, .pad = {0, 1, 1}};
    TU_OK(cn_conv2d(ctx, &ok));
    int64_t out[4];
    TU_OK(cn_conv2d_out_shape(&ok, out));
    TU_CHECK(out[0] == 2 && out[1] == 3 && out[2] == 7 && out[3] == 6, "conv2d out_shape");
    cn_conv_args a = ok;
    a.x = &x5; /* 3D tensors belong to conv3d */
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok, a.w = &w5;
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok;
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a)); /* and 2D ones do not go to conv3d */
    a = ok, a.x_c_off = 1;
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok, a.pad[2] = 0;
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok, a.pad[1] = 0, a.dil[1] = 5; /* 7 - 10 - 1 < 0: empty output */
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d_out_shape(&a, out));
    a = ok, a.bias = &b;
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok, a.residual = &r;
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok, a.pre_shift = &b; /* 4 values for 5 input channels */
    TU_FAILS(CN_ERR_SHAPE, cn_conv2d(ctx, &a));
    a = ok, a.dil[1] = -1;
    TU_FAILS(CN_ERR_ARG, cn_conv2d(ctx, &a));
    a = ok, a.out_pad[2] = 1;
    TU_FAILS(CN_ERR_ARG, cn_conv2d(ctx, &a));
    cn_tensor *ts[] = {&x, &w, &y, &b, &r, &x5, &w5};
    for (int i = 0; i < 7; i++)
        cn_tensor_release(ctx, ts[i]);
}

/* A VGGish layer's shape (bench/bench_vggish_cpc times them), checked
 * against the reference on one item. */
typedef struct vggish_layer {
    int Ci, Co, H, W;
} vggish_layer;

static const vggish_layer vggish_layers[] = {
    {1, 64, 96, 64}, {64, 128, 48, 32}, {256, 256, 24, 16}, {512, 512, 12, 8}};

/* Each case runs with the context's default variant and with the tiled
 * kernel (cl/conv_tiled.cl) forced. */
#define TILED "-DCONV_VARIANT=tiled"
/* the table's shapes are small: tiles to match, so that a simulator
 * (cmake/oclgrind.sh) is not swamped by work-items past the edges */
#define TILED_SMALL "-DCONV_VARIANT=tiled -DCT_TM=16 -DCT_TN=32 -DCT_TK=8 -DCT_WM=2 -DCT_WN=2"

typedef struct variant_run {
    const void *c;
    int tiled;
    int half; /* every tensor but bias and pre-activation half (the model's fp16) */
} variant_run;
static variant_run table_runs[4 * NCASES];
static variant_run vggish_runs[2 * sizeof vggish_layers / sizeof vggish_layers[0]];

static void case_vggish(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const variant_run *run = arg;
    const vggish_layer *l = run->c;
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, TILED));
    const int Ci = l->Ci, Co = l->Co, H = l->H, W = l->W;
    const int64_t xs[4] = {1, Ci, H, W}, ws[4] = {Co, Ci, 3, 3}, ys[4] = {1, Co, H, W};
    const int64_t nx = (int64_t)Ci * H * W, nw = (int64_t)Co * Ci * 9, ny = (int64_t)Co * H * W;
    float *x = tu_rand_array(r, nx, -1, 1), *w = tu_rand_array(r, nw, -0.05, 0.05);
    float *y = malloc((size_t)ny * sizeof *y);
    double *want = malloc((size_t)ny * sizeof *want), *mag = malloc((size_t)ny * sizeof *mag);
    cn_tensor tx, tw, ty;
    TU_OK(cn_tensor_from_host(ctx, &tx, 4, xs, x));
    TU_OK(cn_tensor_from_host(ctx, &tw, 4, ws, w));
    TU_OK(cn_tensor_alloc(ctx, &ty, 4, ys));
    cn_conv_args a = {.x = &tx, .w = &tw, .y = &ty, .pad = {0, 1, 1}};
    TU_OK(cn_conv2d(ctx, &a));
    TU_OK(cn_tensor_download(ctx, &ty, y));
    ref_conv_desc c = {.N = 1, .Cx = Ci, .Ci = Ci, .Co = Co, .Cy = Co, .in = {1, H, W},
                       .k = {1, 3, 3}, .s = {1, 1, 1}, .p = {0, 1, 1}, .d = {1, 1, 1},
                       .x = x, .w = w};
    ref_conv(&c, want, mag);
    double smax = 0;
    for (int64_t i = 0; i < ny; i++)
        smax = mag[i] > smax ? mag[i] : smax;
    char name[96];
    snprintf(name, sizeof name, "3x3 %d->%d @ %dx%d", Ci, Co, H, W);
    /* the case runner's bound: 1e-6 * sqrt(K) * max sum|products| */
    tu_compare(name, y, want, ny, 1e-6 * sqrt(Ci * 9.0) * smax, 1e-5);
    cn_tensor_release(ctx, &tx);
    cn_tensor_release(ctx, &tw);
    cn_tensor_release(ctx, &ty);
    free(x), free(w), free(y), free(want), free(mag);
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, NULL));
}

/* A table row with the plain and with the packed weight layout. */
static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const variant_run *run = arg;
    if (run->tiled)
        TU_OK(cn_conv_set_tuning(ctx, TILED_SMALL));
    for (int packed = 0; packed < 2; packed++) {
        conv_case c = *(const conv_case *)run->c;
        c.packed = packed;
        if (run->half)
            c.xt = c.wt = c.rt = c.yt = CN_F16;
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
    /* float, tiled; then both all-half */
    for (int i = 0; i < 4 * NCASES; i++) {
        const int tiled = i / NCASES % 2, half = i >= 2 * NCASES;
        table_runs[i] = (variant_run){&cases[i % NCASES], tiled, half};
        op_add(l, case_table, &table_runs[i], "%s%s", cases[i % NCASES].name,
               half ? (tiled ? " [tiled; half]" : " [half]") : tiled ? " [tiled]" : "");
    }
    op_add(l, case_rejections, NULL, "rejections");
    const int nv = (int)(sizeof vggish_layers / sizeof vggish_layers[0]);
    for (int i = 0; i < 2 * nv; i++) {
        const vggish_layer *v = &vggish_layers[i % nv];
        vggish_runs[i] = (variant_run){v, i >= nv, 0};
        op_add(l, case_vggish, &vggish_runs[i], "VGGish 3x3 %d->%d @ %dx%d%s", v->Ci, v->Co,
               v->H, v->W, i >= nv ? " [tiled]" : "");
    }
}

const op_family op_family_conv2d = {"conv2d", 5, add_cases, NULL};
