/* Op family pool: MaxPool3d/MaxPool2d against the double reference: S3D and VGGish configurations, odd sizes, all-negative data (padding must never win), float and half storage, NaN, shape errors. */
#include <math.h>
#include <stdlib.h>

#include "pool_ref.h"
#include "ops/op_test.h"

/* A max returns one of its inputs unchanged, so the result must be bit-exact;
 * with half storage too, the reference running on the half-rounded inputs
 * (a float input into a half output is rounded once, which rounding the
 * reference's inputs to half reproduces exactly: rounding is monotonic). */
#define ATOL 0.0
#define RTOL 0.0

typedef struct pool_case {
    const char *name;
    int dims;          /* 3: MaxPool3d on (N, C, T, H, W); 2: MaxPool2d on (N, C, H, W) */
    int64_t n, c, in[3]; /* in[0] (T) is ignored for dims = 2 */
    int k[3], s[3], p[3];
} pool_case;

static const pool_case cases[] = {
    /* the four S3D pools, on odd and even spatial sizes */
    {"s3d k1,3,3 s1,2,2 p0,1,1 odd", 3, 2, 13, {5, 11, 10}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
    {"s3d k1,3,3 s1,2,2 p0,1,1 even", 3, 2, 7, {3, 12, 16}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
    {"s3d k3 s2 p1 odd", 3, 2, 13, {5, 11, 9}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}},
    {"s3d k3 s2 p1 like 8x28x48", 3, 2, 5, {8, 28, 48}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}},
    {"s3d k2 s2 p0 odd (drops the tail)", 3, 2, 13, {5, 11, 9}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}},
    {"s3d k3 s1 p1 (Mixed branch3)", 3, 3, 13, {4, 11, 9}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},
    /* other geometries: mixed per-axis windows, window = input, p = k/2 with even k */
    {"k2,3,1 s1,2,3 p1,1,0", 3, 2, 3, {6, 9, 10}, {2, 3, 1}, {1, 2, 3}, {1, 1, 0}},
    {"window = input", 3, 2, 3, {3, 5, 7}, {3, 5, 7}, {1, 1, 1}, {0, 0, 0}},
    {"k4 s3 p2", 3, 1, 2, {7, 13, 8}, {4, 4, 4}, {3, 3, 3}, {2, 2, 2}},
    /* rows long enough for the vector path (and its ragged last block) */
    {"k3 s1 p1 wide rows 53", 3, 2, 3, {3, 5, 53}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},
    {"k1,3,3 s1,2,2 p0,1,1 wide rows 101", 3, 1, 3, {2, 7, 101}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},
    {"k2,3,5 s1,1,3 p1,1,2 wide rows 70", 3, 1, 2, {3, 4, 70}, {2, 3, 5}, {1, 1, 3}, {1, 1, 2}},
    /* VGGish MaxPool2d(2) and odd 2D sizes */
    {"vggish 2d k2 s2 96x64", 2, 3, 13, {0, 96, 64}, {0, 2, 2}, {0, 2, 2}, {0, 0, 0}},
    {"2d k2 s2 odd 11x9", 2, 2, 13, {0, 11, 9}, {0, 2, 2}, {0, 2, 2}, {0, 0, 0}},
    {"2d k3 s2 p1 odd", 2, 2, 5, {0, 13, 7}, {0, 3, 3}, {0, 2, 2}, {0, 1, 1}},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

/* lo/hi: data range. An all-negative range makes a kernel that pads with 0
 * (or any finite value) give the wrong answer on every border window. */
static void run_case(cn_ctx *ctx, tu_rng *r, const pool_case *pc, double lo, double hi,
                     const char *range, cn_dtype xd, cn_dtype yd)
{
    int nd = pc->dims + 2, sp0 = 3 - pc->dims;
    int64_t in3[3] = {pc->dims == 3 ? pc->in[0] : 1, pc->in[1], pc->in[2]};
    int k3[3] = {pc->dims == 3 ? pc->k[0] : 1, pc->k[1], pc->k[2]};
    int s3[3] = {pc->dims == 3 ? pc->s[0] : 1, pc->s[1], pc->s[2]};
    int p3[3] = {pc->dims == 3 ? pc->p[0] : 0, pc->p[1], pc->p[2]};
    int64_t xs[5] = {pc->n, pc->c}, ys[5] = {pc->n, pc->c}, out[5] = {0};
    for (int i = 0; i < pc->dims; i++) {
        xs[2 + i] = in3[sp0 + i];
        ys[2 + i] = ref_pool_out(in3[sp0 + i], k3[sp0 + i], s3[sp0 + i], p3[sp0 + i]);
    }
    int64_t nx = pc->n * pc->c * in3[0] * in3[1] * in3[2], ny = 1;
    for (int i = 0; i < nd; i++)
        ny *= ys[i];
    float *x = tu_rand_array(r, nx, lo, hi), *got = malloc((size_t)ny * sizeof *got);
    double *want = malloc((size_t)ny * sizeof *want);
    tu_half_inputs(xd, x, nx);
    cn_tensor tx;
    TU_OK(cn_tensor_from_host_as(ctx, &tx, xd, nd, xs, x));
    tu_half_inputs(yd, x, nx);
    if (pc->dims == 3)
        TU_OK(cn_maxpool3d_out_shape(&tx, pc->k, pc->s, pc->p, out));
    else
        TU_OK(cn_maxpool2d_out_shape(&tx, pc->k + 1, pc->s + 1, pc->p + 1, out));
    int same = 1;
    for (int i = 0; i < nd; i++)
        same = same && out[i] == ys[i];
    TU_CHECK(same, "%s: out_shape disagrees with the reference", pc->name);
    tu_guarded g;
    TU_OK(tu_guarded_alloc_as(ctx, &g, yd, nd, ys));
    if (pc->dims == 3)
        TU_OK(cn_maxpool3d(ctx, pc->k, pc->s, pc->p, &tx, &g.t));
    else
        TU_OK(cn_maxpool2d(ctx, pc->k + 1, pc->s + 1, pc->p + 1, &tx, &g.t));
    char what[128];
    snprintf(what, sizeof what, "%s, %s, %s to %s", pc->name, range, cn_dtype_name(xd),
             cn_dtype_name(yd));
    tu_guard_check(ctx, &g, got, what);
    ref_maxpool3d(pc->n * pc->c, in3, k3, s3, p3, x, want);
    tu_compare(what, got, want, ny, ATOL, RTOL);
    tu_guarded_free(&g);
    cn_tensor_release(ctx, &tx);
    free(x), free(got), free(want);
}

/* A NaN in a window makes that window's max NaN (PyTorch propagates it). */
static void test_nan(cn_ctx *ctx)
{
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    x[5] = NAN; /* row 1, column 1: inside the top-left 2x2 window only */
    cn_tensor tx, ty;
    TU_OK(cn_tensor_from_host(ctx, &tx, 4, (int64_t[]){1, 1, 4, 4}, x));
    TU_OK(cn_tensor_alloc(ctx, &ty, 4, (int64_t[]){1, 1, 2, 2}));
    TU_OK(cn_maxpool2d(ctx, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}, &tx, &ty));
    float got[4];
    TU_OK(cn_tensor_download(ctx, &ty, got));
    TU_CHECK(isnan(got[0]) && got[1] == 7.0f && got[2] == 13.0f && got[3] == 15.0f,
             "NaN propagation: got %g %g %g %g", got[0], got[1], got[2], got[3]);
    cn_tensor_release(ctx, &tx);
    cn_tensor_release(ctx, &ty);
    /* the same in the vector path: a NaN mid-row of a 3 x 40 map, 3x3 window */
    float xw[120];
    for (int i = 0; i < 120; i++)
        xw[i] = (float)(i % 7);
    xw[40 + 20] = NAN;
    TU_OK(cn_tensor_from_host(ctx, &tx, 4, (int64_t[]){1, 1, 3, 40}, xw));
    TU_OK(cn_tensor_alloc(ctx, &ty, 4, (int64_t[]){1, 1, 3, 40}));
    TU_OK(cn_maxpool2d(ctx, (int[]){3, 3}, (int[]){1, 1}, (int[]){1, 1}, &tx, &ty));
    float gw[120];
    TU_OK(cn_tensor_download(ctx, &ty, gw));
    int bad = 0;
    for (int i = 0; i < 120; i++) {
        const int c = i % 40;
        bad += (c >= 19 && c <= 21) != (isnan(gw[i]) != 0);
    }
    TU_CHECK(bad == 0, "NaN propagation in long rows: %d wrong outputs", bad);
    cn_tensor_release(ctx, &tx);
    cn_tensor_release(ctx, &ty);
}

static void test_rejections(cn_ctx *ctx)
{
    cn_tensor x = {0}, y = {0}, x4 = {0}, y4 = {0}, empty = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 5, (int64_t[]){2, 3, 4, 5, 6}));
    TU_OK(cn_tensor_alloc(ctx, &y, 5, (int64_t[]){2, 3, 4, 3, 3}));
    TU_OK(cn_tensor_alloc(ctx, &x4, 4, (int64_t[]){2, 3, 5, 6}));
    TU_OK(cn_tensor_alloc(ctx, &y4, 4, (int64_t[]){2, 3, 2, 3}));
    const int k[3] = {1, 3, 3}, s[3] = {1, 2, 2}, p[3] = {0, 1, 1};
    TU_OK(cn_maxpool3d(ctx, k, s, p, &x, &y)); /* the baseline is valid */
    TU_OK(cn_maxpool2d(ctx, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}, &x4, &y4));
    /* parameters */
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, (int[]){1, 3, 3}, s, (int[]){0, 2, 1}, &x, &y));
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, (int[]){1, 2, 2}, s, (int[]){1, 1, 1}, &x, &y));
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, (int[]){0, 3, 3}, s, p, &x, &y));
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, k, (int[]){1, 0, 2}, p, &x, &y));
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, k, s, (int[]){0, -1, 1}, &x, &y));
    TU_FAILS(CN_ERR_ARG, cn_maxpool2d(ctx, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 2}, &x4, &y4));
    /* shapes */
    TU_FAILS(CN_ERR_SHAPE, cn_maxpool3d(ctx, k, s, p, &x, &x4));  /* y rank */
    TU_FAILS(CN_ERR_SHAPE, cn_maxpool3d(ctx, (int[]){1, 2, 2}, s, p, &x, &y)); /* y size */
    TU_FAILS(CN_ERR_SHAPE, cn_maxpool3d(ctx, k, s, p, &x4, &y));  /* x rank */
    TU_FAILS(CN_ERR_SHAPE, cn_maxpool2d(ctx, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}, &x,
                                        &y4));
    TU_FAILS(CN_ERR_SHAPE, cn_maxpool3d(ctx, (int[]){5, 3, 3}, s, p, &x, &y)); /* k > T */
    int64_t out[5];
    TU_FAILS(CN_ERR_SHAPE, cn_maxpool3d_out_shape(&x, (int[]){1, 9, 3}, s, p, out));
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, k, s, p, &empty, &y));
    TU_FAILS(CN_ERR_ARG, cn_maxpool3d(ctx, k, s, p, &x, &empty));
    TU_FAILS(CN_ERR_ARG, cn_maxpool2d(ctx, (int[]){1, 1}, (int[]){1, 1}, (int[]){0, 0}, &x4,
                                      &x4)); /* in place */
    cn_tensor_release(ctx, &x);
    cn_tensor_release(ctx, &y);
    cn_tensor_release(ctx, &x4);
    cn_tensor_release(ctx, &y4);
}

/* Each row on data in [-1, 1) and on all large negative data. */
static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, -1.0, 1.0, "data in [-1,1)", CN_F32, CN_F32);
    run_case(ctx, r, arg, -3e30, -1e30, "all large negative", CN_F32, CN_F32);
}

/* Half storage: both half, and each mixed pair; large negative data within
 * half's range (its largest finite magnitude is 65504). */
static void case_table_half(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, -1.0, 1.0, "data in [-1,1)", CN_F16, CN_F16);
    run_case(ctx, r, arg, -6e4, -1e4, "all large negative", CN_F16, CN_F16);
    run_case(ctx, r, arg, -1.0, 1.0, "data in [-1,1)", CN_F32, CN_F16);
    run_case(ctx, r, arg, -1.0, 1.0, "data in [-1,1)", CN_F16, CN_F32);
}

static void add_cases(op_cases *l)
{
    for (int i = 0; i < NCASES; i++)
        op_add(l, case_table, &cases[i], "%s", cases[i].name);
    for (int i = 0; i < NCASES; i++)
        op_add(l, case_table_half, &cases[i], "%s, half", cases[i].name);
    op_add_plain(l, test_nan, "NaN propagation");
    op_add_plain(l, test_rejections, "rejections");
}

const op_family op_family_pool = {"pool", 7, add_cases, NULL};
