/* Op family conv3d: the double reference on odd shapes with every fused feature under three tunings of the direct kernels and two of the tiled one (its default tiles on a few), plain and packed weights, half storage (all half, and mixed), rejections, dense-block appends, stale packs, the variant choice, sampled S3D-sized layers (both variants). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv_ref.h"
#include "ops/helpers/conv_case.h"
#include "ops/op_test.h"

#define V3(a, b, c) {a, b, c}

/* Odd channel counts and sizes so every tile has a ragged edge; the S3D
 * kernel shapes; windows, pre-activation (with a shift, so padding applied
 * before it would show), bias, alpha, residual and ReLU. */
static const conv_case cases[] = {
    {.name = "1x1x1 bias relu", .N = 2, .Ci = 13, .Co = 11, .in = V3(5, 11, 10),
     .k = V3(1, 1, 1), .bias = 1, .relu = 1},
    {.name = "1x1x1 pre window residual", .N = 3, .Ci = 13, .Co = 11, .cx_extra = 4, .xoff = 3,
     .cy_extra = 6, .yoff = 2, .in = V3(3, 9, 7), .k = V3(1, 1, 1), .pre_scale = 1,
     .pre_shift = 1, .pre_relu = 1, .residual = 1, .alpha = 0.5f},
    {.name = "1x1x1 long rows", .N = 2, .Ci = 21, .Co = 35, .in = V3(2, 12, 16),
     .k = V3(1, 1, 1), .bias = 1},
    /* pointwise without pre-activation runs as a GEMM: windows, batch strides,
     * an in-place residual (its beta = 1), alpha, the bias/ReLU pass */
    {.name = "1x1x1 gemm windows residual in place", .N = 3, .Ci = 13, .Co = 11, .cx_extra = 4,
     .xoff = 1, .cy_extra = 6, .yoff = 5, .in = V3(3, 7, 9), .k = V3(1, 1, 1), .bias = 1,
     .residual = 2, .alpha = -0.75f, .relu = 1},
    {.name = "1x1x1 gemm no bias no relu", .N = 2, .Ci = 17, .Co = 5, .in = V3(1, 5, 3),
     .k = V3(1, 1, 1)},
    {.name = "1x1x1 separate residual (not a gemm)", .N = 2, .Ci = 9, .Co = 7, .cy_extra = 2,
     .yoff = 1, .in = V3(2, 5, 11), .k = V3(1, 1, 1), .bias = 1, .residual = 1, .alpha = 2.0f},
    {.name = "3x3x3 pad 1 all fused", .N = 2, .Ci = 13, .Co = 11, .in = V3(5, 11, 10),
     .k = V3(3, 3, 3), .p = V3(1, 1, 1), .bias = 1, .pre_scale = 1, .pre_shift = 1,
     .pre_relu = 1, .residual = 1, .alpha = -1.5f, .relu = 1},
    {.name = "1x3x3 dil 2 windows", .N = 3, .Ci = 13, .Co = 11, .cx_extra = 5, .xoff = 5,
     .cy_extra = 3, .yoff = 3, .in = V3(3, 9, 7), .k = V3(1, 3, 3), .p = V3(0, 2, 2),
     .d = V3(1, 2, 2), .bias = 1},
    {.name = "1x3x3 dil 6 pad 6", .N = 2, .Ci = 7, .Co = 9, .in = V3(2, 13, 19),
     .k = V3(1, 3, 3), .p = V3(0, 6, 6), .d = V3(1, 6, 6), .relu = 1},
    {.name = "3x1x1 pad 1", .N = 2, .Ci = 13, .Co = 11, .in = V3(5, 11, 10), .k = V3(3, 1, 1),
     .p = V3(1, 0, 0), .bias = 1, .relu = 1},
    {.name = "1x7x7 s(1,2,2) p(0,3,3)", .N = 2, .Ci = 3, .Co = 11, .in = V3(3, 23, 45),
     .k = V3(1, 7, 7), .s = V3(1, 2, 2), .p = V3(0, 3, 3), .bias = 1, .relu = 1},
    {.name = "7x1x1 s(2,1,1) p(3,0,0)", .N = 2, .Ci = 13, .Co = 11, .in = V3(9, 5, 7),
     .k = V3(7, 1, 1), .s = V3(2, 1, 1), .p = V3(3, 0, 0), .residual = 1},
    {.name = "3x3x3 mixed pad/stride/dil", .N = 2, .Ci = 5, .Co = 6, .in = V3(6, 9, 11),
     .k = V3(3, 3, 3), .s = V3(1, 1, 2), .p = V3(0, 1, 2), .d = V3(1, 2, 1), .bias = 1},
    {.name = "1x3x3 pre-BN-ReLU wide rows", .N = 2, .Ci = 13, .Co = 19, .in = V3(2, 7, 40),
     .k = V3(1, 3, 3), .p = V3(0, 1, 1), .pre_scale = 1, .pre_shift = 1, .pre_relu = 1},
    {.name = "1x3x3 pre shift only, no relu", .N = 1, .Ci = 4, .Co = 5, .in = V3(1, 6, 5),
     .k = V3(1, 3, 3), .p = V3(0, 1, 1), .pre_shift = 1},
    {.name = "1x1x1 stride 2", .N = 2, .Ci = 6, .Co = 7, .in = V3(3, 9, 11), .k = V3(1, 1, 1),
     .s = V3(1, 2, 2), .bias = 1},
    {.name = "1x1x1 pad 1", .N = 1, .Ci = 6, .Co = 7, .in = V3(2, 3, 5), .k = V3(1, 1, 1),
     .p = V3(1, 1, 1), .bias = 1},
    {.name = "3x3x3 stride 3 dil 2", .N = 2, .Ci = 5, .Co = 4, .in = V3(7, 12, 35),
     .k = V3(3, 3, 3), .s = V3(3, 3, 3), .p = V3(2, 1, 4), .d = V3(2, 2, 2)},
    {.name = "residual in place, y window", .N = 2, .Ci = 9, .Co = 10, .cy_extra = 7, .yoff = 4,
     .in = V3(3, 5, 18), .k = V3(1, 3, 3), .p = V3(0, 1, 1), .bias = 1, .residual = 2,
     .alpha = 0.25f, .relu = 1},
    {.name = "kernel = input, 1 output", .N = 2, .Ci = 3, .Co = 17, .in = V3(2, 3, 4),
     .k = V3(2, 3, 4)},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void test_rejections(cn_ctx *ctx)
{
    cn_tensor x = {0}, w = {0}, y = {0}, b = {0}, r = {0}, w2 = {0}, y4 = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 5, (int64_t[]){2, 8, 3, 5, 6}));
    TU_OK(cn_tensor_alloc(ctx, &w, 5, (int64_t[]){4, 6, 1, 3, 3}));
    TU_OK(cn_tensor_alloc(ctx, &w2, 5, (int64_t[]){4, 9, 1, 3, 3}));
    TU_OK(cn_tensor_alloc(ctx, &y, 5, (int64_t[]){2, 4, 3, 5, 6}));
    TU_OK(cn_tensor_alloc(ctx, &b, 1, (int64_t[]){5}));
    TU_OK(cn_tensor_alloc(ctx, &r, 5, (int64_t[]){2, 4, 3, 5, 5}));
    TU_OK(cn_tensor_alloc(ctx, &y4, 4, (int64_t[]){2, 4, 5, 6}));
    cn_conv_args ok = {.x = &x, .w = &w, .y = &y, .pad = {0, 1, 1}};
    TU_OK(cn_conv3d(ctx, &ok)); /* the baseline is valid */
    int64_t out[5];
    TU_OK(cn_conv3d_out_shape(&ok, out));
    TU_CHECK(out[0] == 2 && out[1] == 4 && out[2] == 3 && out[3] == 5 && out[4] == 6,
             "out_shape %lld %lld %lld %lld %lld", (long long)out[0], (long long)out[1],
             (long long)out[2], (long long)out[3], (long long)out[4]);

    cn_conv_args a = ok;
    a.w = &w2; /* needs 9 input channels, x has 8 */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d_out_shape(&a, out));
    a = ok, a.x_c_off = 3; /* 3 + 6 > 8 */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.x_c_off = -1;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    a = ok, a.y_c_off = 1; /* 1 + 4 > 4 */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.y_c_off = -2;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    a = ok, a.pad[1] = a.pad[2] = 0; /* y would be 3x3x4 */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.pad[0] = 0, a.dil[1] = 4; /* 5 + 2 - 8 - 1 < 0: empty output */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d_out_shape(&a, out));
    a = ok, a.bias = &b; /* 5 values for 4 channels */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.residual = &r;
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.pre_scale = &b; /* 5 values for 6 input channels */
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    cn_tensor bh = {0}; /* a half bias: bias and pre-activation are float in every precision */
    TU_OK(cn_tensor_alloc_as(ctx, &bh, CN_F16, 1, (int64_t[]){4}));
    a = ok, a.bias = &bh;
    TU_FAILS(CN_ERR_UNSUPPORTED, cn_conv3d(ctx, &a));
    cn_tensor_release(ctx, &bh);
    a = ok, a.stride[2] = -1;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    a = ok, a.out_pad[1] = 1;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    a = ok, a.y = &x; /* x's 8 channels would hold y's 4: only the aliasing is wrong */
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    a = ok, a.y = &y4;
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.x = &y4;
    TU_FAILS(CN_ERR_SHAPE, cn_conv3d(ctx, &a));
    a = ok, a.w = NULL;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    a = ok, a.y = NULL;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, NULL));

    /* y aliasing x with a shape that would otherwise fit */
    cn_tensor xy = {0}, w1 = {0};
    TU_OK(cn_tensor_alloc(ctx, &xy, 5, (int64_t[]){1, 4, 2, 3, 3}));
    TU_OK(cn_tensor_alloc(ctx, &w1, 5, (int64_t[]){4, 4, 1, 1, 1}));
    cn_conv_args al = {.x = &xy, .w = &w1, .y = &xy};
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &al));
    al.y = &y, al.x = &y, al.residual = &y;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &al));

    cn_tensor *ts[] = {&x, &w, &y, &b, &r, &w2, &y4, &xy, &w1};
    for (int i = 0; i < 9; i++)
        cn_tensor_release(ctx, ts[i]);
}

/* A dense block's layer: x and y are one tensor, the conv reads channels
 * [0, 13) and appends its 7 output channels at [13, 20). The input channels
 * must come back unchanged. */
static void test_dense_append(cn_ctx *ctx, tu_rng *r)
{
    const int64_t sh[5] = {2, 20, 3, 9, 21}, n = 2 * 20 * 3 * 9 * 21;
    float *z = tu_rand_array(r, n, -1, 1), *w = tu_rand_array(r, 7 * 13 * 9, -0.1, 0.1);
    float *sc = tu_rand_array(r, 13, 0.5, 1.5), *sf = tu_rand_array(r, 13, -0.5, 0.5);
    float *got = malloc((size_t)n * sizeof *got);
    double *want = malloc((size_t)n * sizeof *want), *mag = calloc((size_t)n, sizeof *mag);
    cn_tensor tw, ts, tf;
    tu_guarded g;
    TU_OK(tu_guarded_alloc(ctx, &g, 5, sh));
    TU_OK(cn_tensor_upload(ctx, &g.t, z));
    TU_OK(cn_tensor_from_host(ctx, &tw, 5, (int64_t[]){7, 13, 1, 3, 3}, w));
    TU_OK(cn_tensor_from_host(ctx, &ts, 1, (int64_t[]){13}, sc));
    TU_OK(cn_tensor_from_host(ctx, &tf, 1, (int64_t[]){13}, sf));
    cn_conv_args a = {.x = &g.t, .w = &tw, .y = &g.t, .pad = {0, 1, 1}, .pre_scale = &ts,
                      .pre_shift = &tf, .pre_relu = 1, .y_c_off = 13};
    TU_OK(cn_conv3d(ctx, &a));
    tu_guard_check(ctx, &g, got, "dense append");
    for (int64_t i = 0; i < n; i++)
        want[i] = z[i];
    ref_conv_desc c = {.N = 2, .Cx = 20, .Ci = 13, .Co = 7, .Cy = 20, .y_c_off = 13,
                       .in = {3, 9, 21}, .k = {1, 3, 3}, .s = {1, 1, 1}, .p = {0, 1, 1},
                       .d = {1, 1, 1}, .x = z, .w = w, .pre_scale = sc, .pre_shift = sf,
                       .pre_relu = 1};
    ref_conv(&c, want, mag);
    double smax = 0;
    for (int64_t i = 0; i < n; i++)
        smax = mag[i] > smax ? mag[i] : smax;
    tu_compare("dense append in x's own buffer", got, want, n, 1e-6 * sqrt(117.0) * smax, 1e-5);
    a.y_c_off = 12; /* overlaps the input window */
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    tu_guarded_free(&g);
    cn_tensor_release(ctx, &tw);
    cn_tensor_release(ctx, &ts);
    cn_tensor_release(ctx, &tf);
    free(z), free(w), free(sc), free(sf), free(got), free(want), free(mag);
}

/* A packed weight made under one tuning is ignored under another whose block
 * differs: the conv then reads the plain weight, bit for bit as without it. */
static void test_stale_pack(cn_ctx *ctx, tu_rng *r)
{
    const int64_t xs[5] = {1, 6, 2, 5, 9}, ws[5] = {7, 6, 1, 3, 3}, taps = 9;
    float *x = tu_rand_array(r, 540, -1, 1), *w = tu_rand_array(r, 378, -0.2, 0.2);
    int64_t ps[3];
    TU_OK(cn_conv_pack_shape(ctx, 7, 6, taps, ps));
    float *hp = malloc((size_t)(ps[0] * ps[1] * ps[2]) * sizeof *hp);
    TU_OK(cn_conv_pack(ctx, w, 7, 6, taps, hp));
    cn_tensor tx = {0}, tw = {0}, tp = {0}, y1 = {0}, y2 = {0};
    TU_OK(cn_tensor_from_host(ctx, &tx, 5, xs, x));
    TU_OK(cn_tensor_from_host(ctx, &tw, 5, ws, w));
    TU_OK(cn_tensor_from_host(ctx, &tp, 3, ps, hp));
    TU_OK(cn_conv_set_tuning(ctx, "-DR_RM=3"));
    const int64_t ys[5] = {1, 7, 2, 5, 9};
    TU_OK(cn_tensor_alloc(ctx, &y1, 5, ys));
    TU_OK(cn_tensor_alloc(ctx, &y2, 5, ys));
    cn_conv_args a = {0};
    a.x = &tx, a.w = &tw, a.y = &y1, a.pad[1] = a.pad[2] = 1;
    TU_OK(cn_conv3d(ctx, &a));
    a.y = &y2, a.w_packed = &tp;
    TU_OK(cn_conv3d(ctx, &a));
    float *g1 = malloc(630 * sizeof *g1), *g2 = malloc(630 * sizeof *g2);
    TU_OK(cn_tensor_download(ctx, &y1, g1));
    TU_OK(cn_tensor_download(ctx, &y2, g2));
    TU_CHECK(memcmp(g1, g2, 630 * sizeof *g1) == 0, "a pack of another block size is ignored");
    /* a caller that keeps only the packed copy (w a view of its buffer, as the
     * model does) gets an error under another tuning, and the right result
     * under the one it packed for */
    cn_tensor shell = {0};
    cn_tensor_wrap(&shell, tp.buf, 378 * sizeof(float), 5, ws);
    a.w = &shell, a.y = &y2;
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    TU_CHECK(strstr(cn_last_error(), "held only packed") != NULL, "stale packed-only weight: %s",
             cn_last_error());
    TU_OK(cn_conv_set_tuning(ctx, NULL));
    TU_OK(cn_conv3d(ctx, &a));
    TU_OK(cn_tensor_download(ctx, &y2, g2));
    double worst = 0;
    for (int i = 0; i < 630; i++)
        worst = fmax(worst, fabs((double)g1[i] - g2[i]));
    TU_CHECK(worst < 1e-5, "packed-only weight under its own tuning: max diff %g", worst);
    cn_tensor *ts[] = {&tx, &tw, &tp, &y1, &y2};
    for (int i = 0; i < 5; i++)
        cn_tensor_release(ctx, ts[i]);
    free(x), free(w), free(hp), free(g1), free(g2);
}

/* An S3D-sized layer (bench/bench_conv times them all), checked on sampled
 * outputs against a double sum, since a full reference would be slow. */
typedef struct s3d_layer {
    const char *name;
    int Ci, Co, in[3], k[3], p[3], pre;
} s3d_layer;

static const s3d_layer s3d_layers[] = {
    {"1x1x1 480->256 @ 8x28x48", 480, 256, {8, 28, 48}, {1, 1, 1}, {0, 0, 0}, 0},
    {"1x3x3 96->128 @ 8x28x48", 96, 128, {8, 28, 48}, {1, 3, 3}, {0, 1, 1}, 0},
    {"3x1x1 128->128 @ 8x28x48", 128, 128, {8, 28, 48}, {3, 1, 1}, {1, 0, 0}, 0},
    {"1x3x3 pre-BN-ReLU 256->32 @ 4x28x48", 256, 32, {4, 28, 48}, {1, 3, 3}, {0, 1, 1}, 1},
};

typedef struct s3d_run {
    const s3d_layer *l;
    const char *tuning; /* NULL: the context's default */
} s3d_run;
static s3d_run s3d_runs[2 * sizeof s3d_layers / sizeof s3d_layers[0]];

static void case_s3d_sampled(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const s3d_run *run = arg;
    const s3d_layer *l = run->l;
    if (run->tuning)
        TU_OK(cn_conv_set_tuning(ctx, run->tuning));
    const char *name = l->name;
    const int Ci = l->Ci, Co = l->Co, *in = l->in, *k = l->k, *p = l->p, pre = l->pre;
    int64_t xs[5] = {1, Ci, in[0], in[1], in[2]}, ws[5] = {Co, Ci, k[0], k[1], k[2]};
    int64_t nx = (int64_t)Ci * in[0] * in[1] * in[2], K = (int64_t)Ci * k[0] * k[1] * k[2];
    float *x = tu_rand_array(r, nx, -1, 1), *w = tu_rand_array(r, Co * K, -0.1, 0.1);
    float *psc = tu_rand_array(r, Ci, 0.5, 1.5), *psh = tu_rand_array(r, Ci, -0.5, 0.5);
    cn_tensor tx, tw, ty, tps, tsh;
    TU_OK(cn_tensor_from_host(ctx, &tx, 5, xs, x));
    TU_OK(cn_tensor_from_host(ctx, &tw, 5, ws, w));
    TU_OK(cn_tensor_from_host(ctx, &tps, 1, (int64_t[]){Ci}, psc));
    TU_OK(cn_tensor_from_host(ctx, &tsh, 1, (int64_t[]){Ci}, psh));
    cn_conv_args a = {.x = &tx, .w = &tw, .pad = {p[0], p[1], p[2]}};
    if (pre)
        a.pre_scale = &tps, a.pre_shift = &tsh, a.pre_relu = 1;
    int64_t ys[5];
    TU_OK(cn_conv3d_out_shape(&a, ys));
    TU_OK(cn_tensor_alloc(ctx, &ty, 5, ys));
    a.y = &ty;
    TU_OK(cn_conv3d(ctx, &a));
    const int64_t L = ys[2] * ys[3] * ys[4];
    float *y = malloc((size_t)(Co * L) * sizeof *y);
    TU_OK(cn_tensor_download(ctx, &ty, y));
    /* 300 sampled outputs against the definition */
    double maxerr = 0;
    for (int s = 0; s < 300; s++) {
        int co = tu_int(r, 0, Co - 1);
        int64_t o = tu_int(r, 0, (int)L - 1);
        int64_t oo[3] = {o / (ys[3] * ys[4]), o / ys[4] % ys[3], o % ys[4]};
        double acc = 0;
        for (int ci = 0; ci < Ci; ci++)
            for (int kt = 0; kt < k[0]; kt++)
                for (int kh = 0; kh < k[1]; kh++)
                    for (int kw = 0; kw < k[2]; kw++) {
                        int64_t t = oo[0] - p[0] + kt, h = oo[1] - p[1] + kh;
                        int64_t ww = oo[2] - p[2] + kw;
                        if (t < 0 || t >= in[0] || h < 0 || h >= in[1] || ww < 0 || ww >= in[2])
                            continue;
                        double v = x[((int64_t)ci * in[0] + t) * in[1] * in[2] + h * in[2] + ww];
                        if (pre) {
                            v = v * psc[ci] + psh[ci];
                            v = v > 0 ? v : 0;
                        }
                        acc += v * w[(((int64_t)co * Ci + ci) * k[0] + kt) * k[1] * k[2] +
                                     kh * k[2] + kw];
                    }
        double e = fabs(y[co * L + o] - acc);
        maxerr = e > maxerr ? e : maxerr;
    }
    /* the case runner's bound, 1e-6 * sqrt(K) * sum|products|, with
     * |product| <= 0.2 (|x| <= 2 after the pre-activation, |w| <= 0.1) */
    TU_CHECK(maxerr < 1e-6 * sqrt((double)K) * 0.2 * K, "%s: sampled max error %.3g", name,
             maxerr);
    cn_tensor *ts[] = {&tx, &tw, &ty, &tps, &tsh};
    for (int i = 0; i < 5; i++)
        cn_tensor_release(ctx, ts[i]);
    free(x), free(w), free(psc), free(psh), free(y);
    if (run->tuning)
        TU_OK(cn_conv_set_tuning(ctx, NULL));
}

/* Which variant runs: the device's default (direct on a CPU, tiled on a
 * GPU), the token of the tuning string over it, bad tokens and tile sets
 * refused before anything is launched. */
static void case_variant(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)r, (void)arg;
    const char *env = getenv("CASPNET_CONV_VARIANT");
    const char *v = cn_conv_variant(ctx);
    TU_CHECK(v != NULL, "variant: %s", cn_last_error());
    const int gpu = (cn_ctx_device(ctx)->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) != 0;
    if (v && !(env && *env))
        TU_CHECK(strcmp(v, gpu ? "tiled" : "direct") == 0, "default variant on this %s: %s",
                 gpu ? "GPU" : "CPU", v);
    TU_OK(cn_conv_set_tuning(ctx, "-DCONV_VARIANT=tiled"));
    v = cn_conv_variant(ctx);
    TU_CHECK(v && strcmp(v, "tiled") == 0, "forced tiled: %s", v ? v : cn_last_error());
    TU_OK(cn_conv_set_tuning(ctx, "-DCONV_VARIANT=im2col"));
    v = cn_conv_variant(ctx);
    TU_CHECK(v && strcmp(v, "im2col") == 0, "forced im2col: %s", v ? v : cn_last_error());
    TU_OK(cn_conv_set_tuning(ctx, "-DCONV_VARIANT=direct"));
    v = cn_conv_variant(ctx);
    TU_CHECK(v && strcmp(v, "direct") == 0, "forced direct: %s", v ? v : cn_last_error());
    cn_tensor x = {0}, w = {0}, y = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 5, (int64_t[]){1, 3, 2, 4, 5}));
    TU_OK(cn_tensor_alloc(ctx, &w, 5, (int64_t[]){2, 3, 1, 3, 3}));
    TU_OK(cn_tensor_alloc(ctx, &y, 5, (int64_t[]){1, 2, 2, 4, 5}));
    cn_conv_args a = {.x = &x, .w = &w, .y = &y, .pad = {0, 1, 1}};
    TU_OK(cn_conv_set_tuning(ctx, "-DCONV_VARIANT=fast"));
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    TU_CHECK(cn_conv_variant(ctx) == NULL, "a bad variant token has no variant");
    /* 12 x 16 = 192 items: not a multiple of CT_TN 128 */
    TU_OK(cn_conv_set_tuning(ctx, "-DCONV_VARIANT=tiled -DCT_TM=48"));
    TU_FAILS(CN_ERR_ARG, cn_conv3d(ctx, &a));
    TU_OK(cn_conv_set_tuning(ctx, NULL));
    TU_OK(cn_conv3d(ctx, &a));
    cn_tensor_release(ctx, &x), cn_tensor_release(ctx, &w), cn_tensor_release(ctx, &y);
}

/* Tile configurations other than the defaults (NULL), so the ragged-edge
 * code of every kernel runs with different vector widths and block sizes. */
static const char *const tunings[] = {
    NULL,
    "-DVW=8 -DP_RM=3 -DP_NV=3 -DR_RM=5 -DR_NR=3 -DR_NV=2",
    "-DVW=4 -DP_RM=1 -DP_NV=1 -DR_RM=1 -DR_NR=1 -DR_NV=1",
    /* the GPU-shaped kernel (cl/conv_tiled.cl) forced, on tiles small
     * enough for these shapes that a simulator (cmake/oclgrind.sh) is not
     * swamped by work-items past the edges: a 128-item group, K depth 8;
     * and a K depth of 1, so every slice lies in one tap (the fast path),
     * with weights packed in blocks of 5. Its default tiles run in the
     * "[tiled]" cases below. */
    "-DCONV_VARIANT=tiled -DR_RM=3 -DCT_TM=16 -DCT_TN=32 -DCT_TK=8 -DCT_WM=2 -DCT_WN=2",
    "-DCONV_VARIANT=tiled -DR_RM=5 -DCT_TM=16 -DCT_TN=16 -DCT_TK=1 -DCT_WM=4 -DCT_WN=4",
    /* explicit im2col + cn_gemm + epilogue (host/ops/conv_im2col.c); with the
     * packed layout too, since the case passes the plain weight beside it */
    "-DCONV_VARIANT=im2col",
};
#define NTUNINGS (int)(sizeof tunings / sizeof tunings[0])

/* Storage combinations of the half cases: every tensor half (the model in
 * fp16); a float input into half weights and output (the clip into the
 * stem); half input and weights into a float output and residual. */
static const struct {
    const char *name;
    cn_dtype xt, wt, rt, yt;
} storages[] = {
    {"half", CN_F16, CN_F16, CN_F16, CN_F16},
    {"half w y, float x", CN_F32, CN_F16, CN_F32, CN_F16},
    {"half x w, float y", CN_F16, CN_F16, CN_F32, CN_F32},
};
#define NSTORAGES (int)(sizeof storages / sizeof storages[0])

typedef struct tuned_case {
    const conv_case *c;
    const char *tuning;
    int storage; /* 0 float, else storages[storage - 1] */
} tuned_case;
static tuned_case tuned[NTUNINGS * NCASES];
static tuned_case tuned_default_tiles[5];
/* every case all half under the default tuning and the first tiled one;
 * the mixed storages under the default tuning */
static tuned_case tuned_half[(2 + NSTORAGES - 1) * NCASES];

/* A table row with the plain and with the packed weight layout. */
static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const tuned_case *t = arg;
    if (t->tuning)
        TU_OK(cn_conv_set_tuning(ctx, t->tuning));
    for (int packed = 0; packed < 2; packed++) {
        conv_case c = *t->c;
        c.packed = packed;
        if (t->storage) {
            c.xt = storages[t->storage - 1].xt, c.wt = storages[t->storage - 1].wt;
            c.rt = storages[t->storage - 1].rt, c.yt = storages[t->storage - 1].yt;
        }
        conv_run_case(ctx, r, &c);
    }
    if (t->tuning)
        TU_OK(cn_conv_set_tuning(ctx, NULL));
}

static void case_rejections(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)r, (void)arg;
    test_rejections(ctx);
}

static void case_dense_append(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_dense_append(ctx, r);
}

static void case_stale_pack(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_stale_pack(ctx, r);
}

static void add_cases(op_cases *l)
{
    for (int t = 0; t < NTUNINGS; t++)
        for (int i = 0; i < NCASES; i++) {
            tuned_case *tc = &tuned[t * NCASES + i];
            tc->c = &cases[i], tc->tuning = tunings[t];
            op_add(l, case_table, tc, "%s [%s]", cases[i].name,
                   tunings[t] ? tunings[t] : "default tuning");
        }
    /* the tiled kernel's default tiles (256 items, 64 x 128) on the cases
     * that exercise each of its paths: pre-activation with every epilogue
     * feature, windows and dilation, the strided stem, an in-place residual,
     * a 1-output conv */
    static const int with_default_tiles[] = {1, 7, 10, 18, 19};
    for (size_t i = 0; i < sizeof with_default_tiles / sizeof with_default_tiles[0]; i++) {
        tuned_case *tc = &tuned_default_tiles[i];
        tc->c = &cases[with_default_tiles[i]], tc->tuning = "-DCONV_VARIANT=tiled";
        op_add(l, case_table, tc, "%s [tiled]", tc->c->name);
    }
    int nh = 0;
    for (int s = 0; s < NSTORAGES; s++)
        for (int t = 0; t < (s == 0 ? 2 : 1); t++)
            for (int i = 0; i < NCASES; i++) {
                tuned_case *tc = &tuned_half[nh++];
                tc->c = &cases[i], tc->tuning = t ? tunings[3] : NULL, tc->storage = s + 1;
                op_add(l, case_table, tc, "%s [%s; %s]", cases[i].name,
                       tc->tuning ? tc->tuning : "default tuning", storages[s].name);
            }
    op_add(l, case_rejections, NULL, "rejections");
    op_add(l, case_dense_append, NULL, "dense append in place");
    op_add(l, case_stale_pack, NULL, "stale pack");
    op_add(l, case_variant, NULL, "variant choice");
    const size_t ns = sizeof s3d_layers / sizeof s3d_layers[0];
    for (size_t i = 0; i < 2 * ns; i++) {
        s3d_runs[i].l = &s3d_layers[i % ns];
        s3d_runs[i].tuning = i < ns ? NULL : "-DCONV_VARIANT=tiled";
        op_add(l, case_s3d_sampled, &s3d_runs[i], "S3D layer %s, sampled%s",
               s3d_layers[i % ns].name, i < ns ? "" : " [tiled]");
    }
}

const op_family op_family_conv3d = {"conv3d", 3, add_cases, NULL};
