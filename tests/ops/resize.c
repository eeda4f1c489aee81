/* Op family resize: bilinear resize (PyTorch align_corners=False) against the double reference: up/down sampling, non-integer ratios, accumulate mode, float and half storage, shape errors. */
#include <math.h>
#include <stdlib.h>

#include "pool_ref.h"
#include "ops/op_test.h"

/* The kernel computes source coordinates with the same float steps as the
 * reference, so neighbours and weights agree; only the float blend of four
 * |v| < 1 values differs from the double one, by ~1 ulp of 1 (accumulate adds
 * one rounding of |y| < 3): 2.3e-7 seen. 5e-7 still catches a contracted
 * (fma) coordinate, which moves weights by an ulp of the coordinate (9e-7). */
#define ATOL 5e-7
#define RTOL 1e-6
/* A half output adds its one rounding (testutil.h); half inputs are exact
 * (the reference blends the same half-rounded values). The rounding of a
 * half y0 before accumulation is reproduced in the reference too. */
static double atol_of(cn_dtype yd) { return ATOL + (yd == CN_F16 ? TU_HALF_ABS : 0); }
static double rtol_of(cn_dtype yd) { return RTOL + (yd == CN_F16 ? TU_HALF_U : 0); }

typedef struct resize_case {
    const char *name;
    int ndim;
    int64_t lead[3]; /* leading axes (ndim - 2 of them) */
    int64_t hi, wi, ho, wo;
} resize_case;

static const resize_case cases[] = {
    {"decoder head 7x12 -> 64x96", 5, {2, 1, 1}, 7, 12, 64, 96},
    {"2x up 14x24 -> 28x48", 5, {2, 13, 1}, 14, 24, 28, 48},
    {"down 13x9 -> 5x7", 4, {3, 13}, 13, 9, 5, 7},
    {"2x down 28x48 -> 14x24", 5, {2, 5, 1}, 28, 48, 14, 24},
    {"mixed 11x10 -> 17x4", 3, {13}, 11, 10, 17, 4},
    {"identity 9x11", 4, {2, 3}, 9, 11, 9, 11},
    {"single row/column 1x1 -> 5x3", 4, {2, 3}, 1, 1, 5, 3},
    {"to one pixel 6x8 -> 1x1", 2, {0}, 6, 8, 1, 1},
    {"224x384 from 56x96 (4x up)", 4, {1, 2}, 56, 96, 224, 384},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void run_case(cn_ctx *ctx, tu_rng *r, const resize_case *rc, cn_dtype xd, cn_dtype yd)
{
    int64_t L = 1, xs[5], ys[5];
    for (int i = 0; i < rc->ndim - 2; i++) {
        L *= rc->lead[i];
        xs[i] = ys[i] = rc->lead[i];
    }
    xs[rc->ndim - 2] = rc->hi, xs[rc->ndim - 1] = rc->wi;
    ys[rc->ndim - 2] = rc->ho, ys[rc->ndim - 1] = rc->wo;
    int64_t nx = L * rc->hi * rc->wi, ny = L * rc->ho * rc->wo;
    float *x = tu_rand_array(r, nx, -1, 1), *y0 = tu_rand_array(r, ny, -2, 2);
    float *got = malloc((size_t)ny * sizeof *got);
    double *want = malloc((size_t)ny * sizeof *want);
    tu_half_inputs(xd, x, nx);
    tu_half_inputs(yd, y0, ny);
    cn_tensor tx;
    TU_OK(cn_tensor_from_host_as(ctx, &tx, xd, rc->ndim, xs, x));

    char what[128];
    snprintf(what, sizeof what, "%s, %s to %s", rc->name, cn_dtype_name(xd), cn_dtype_name(yd));
    tu_guarded g;
    TU_OK(tu_guarded_alloc_as(ctx, &g, yd, rc->ndim, ys));
    TU_OK(cn_resize_bilinear(ctx, &tx, &g.t, 0));
    tu_guard_check(ctx, &g, got, what);
    ref_resize_bilinear(L, rc->hi, rc->wi, rc->ho, rc->wo, x, want, 0);
    tu_compare(what, got, want, ny, atol_of(yd), rtol_of(yd));

    /* accumulate: y starts as y0, becomes y0 + resize(x) */
    snprintf(what, sizeof what, "%s, %s to %s, accumulate", rc->name, cn_dtype_name(xd),
             cn_dtype_name(yd));
    TU_OK(cn_tensor_upload(ctx, &g.t, y0));
    TU_OK(cn_resize_bilinear(ctx, &tx, &g.t, 1));
    tu_guard_check(ctx, &g, got, what);
    for (int64_t i = 0; i < ny; i++)
        want[i] = y0[i];
    ref_resize_bilinear(L, rc->hi, rc->wi, rc->ho, rc->wo, x, want, 1);
    tu_compare(what, got, want, ny, atol_of(yd), rtol_of(yd));

    tu_guarded_free(&g);
    cn_tensor_release(ctx, &tx);
    free(x), free(y0), free(got), free(want);
}

/* Hand-checked values: 2x upsampling of [0, 1] gives [0, .25, .75, 1]
 * (PyTorch's output for F.interpolate(size=4, align_corners=False)). */
static void test_known_values(cn_ctx *ctx)
{
    float x[2] = {0.0f, 1.0f}, got[4];
    cn_tensor tx, ty;
    TU_OK(cn_tensor_from_host(ctx, &tx, 2, (int64_t[]){1, 2}, x));
    TU_OK(cn_tensor_alloc(ctx, &ty, 2, (int64_t[]){1, 4}));
    TU_OK(cn_resize_bilinear(ctx, &tx, &ty, 0));
    TU_OK(cn_tensor_download(ctx, &ty, got));
    TU_CHECK(got[0] == 0.0f && got[1] == 0.25f && got[2] == 0.75f && got[3] == 1.0f,
             "1x2 -> 1x4: got %g %g %g %g, want 0 0.25 0.75 1", got[0], got[1], got[2], got[3]);
    cn_tensor_release(ctx, &tx);
    cn_tensor_release(ctx, &ty);
}

static void test_rejections(cn_ctx *ctx)
{
    cn_tensor x = {0}, y = {0}, yc = {0}, y4 = {0}, v = {0}, v2 = {0}, empty = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 5, (int64_t[]){2, 3, 1, 7, 12}));
    TU_OK(cn_tensor_alloc(ctx, &y, 5, (int64_t[]){2, 3, 1, 14, 24}));
    TU_OK(cn_tensor_alloc(ctx, &yc, 5, (int64_t[]){2, 4, 1, 14, 24}));
    TU_OK(cn_tensor_alloc(ctx, &y4, 4, (int64_t[]){2, 3, 14, 24}));
    TU_OK(cn_tensor_alloc(ctx, &v, 1, (int64_t[]){5}));
    TU_OK(cn_tensor_alloc(ctx, &v2, 1, (int64_t[]){5}));
    TU_OK(cn_resize_bilinear(ctx, &x, &y, 0)); /* the baseline is valid */
    TU_FAILS(CN_ERR_SHAPE, cn_resize_bilinear(ctx, &x, &yc, 0)); /* channels differ */
    TU_FAILS(CN_ERR_SHAPE, cn_resize_bilinear(ctx, &x, &y4, 0)); /* rank differs */
    TU_FAILS(CN_ERR_SHAPE, cn_resize_bilinear(ctx, &v, &v2, 0));  /* rank 1 */
    TU_FAILS(CN_ERR_ARG, cn_resize_bilinear(ctx, &x, &y, 2));    /* accumulate flag */
    TU_FAILS(CN_ERR_ARG, cn_resize_bilinear(ctx, &empty, &y, 0));
    TU_FAILS(CN_ERR_ARG, cn_resize_bilinear(ctx, &x, &empty, 1));
    TU_FAILS(CN_ERR_ARG, cn_resize_bilinear(ctx, &y, &y, 1));    /* in place */
    cn_tensor_release(ctx, &x);
    cn_tensor_release(ctx, &y);
    cn_tensor_release(ctx, &yc);
    cn_tensor_release(ctx, &y4);
    cn_tensor_release(ctx, &v);
    cn_tensor_release(ctx, &v2);
}

static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, CN_F32, CN_F32);
}

/* half in and out (the decoder's), and each mixed pair */
static void case_table_half(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, CN_F16, CN_F16);
    run_case(ctx, r, arg, CN_F32, CN_F16);
    run_case(ctx, r, arg, CN_F16, CN_F32);
}

static void add_cases(op_cases *l)
{
    for (int i = 0; i < NCASES; i++)
        op_add(l, case_table, &cases[i], "%s", cases[i].name);
    for (int i = 0; i < NCASES; i++)
        op_add(l, case_table_half, &cases[i], "%s, half", cases[i].name);
    op_add_plain(l, test_known_values, "hand-checked values");
    op_add_plain(l, test_rejections, "rejections");
}

const op_family op_family_resize = {"resize", 23, add_cases, NULL};
